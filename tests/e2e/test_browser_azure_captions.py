"""The browser path of captions, as the seed's clients caption: a live host page loads
the SDK's Azure captions (/demo/azure-captions.js, Microsoft's Speech SDK inside), which
fetch a speech token from the gateway (GET /api/get-speech-token: the transcription
service exchanges the Azure key at the token service) and caption the microphone the host
publishes with continuous recognition; partial and final captions show in the host page's
captions panel, and the final line is stored with the host's name (POST /send-transcript).

No Azure key exists here: a local stand-in (e2e/azure_standin.py) plays the token service
and the recognition WebSocket, on loopback. It checks our side of the protocol (the token
handed out is the one the browser connects with, the language, the audio), not Azure's
recognition. A suite of this module's own: the transcription service needs the Azure
settings, pointed at the stand-in, which the session's suite does not have."""

import secrets
from collections.abc import AsyncIterator, Iterator

import aiohttp
import pytest
import pytest_asyncio
from playwright.async_api import expect

from e2e.azure_standin import AzureStandIn
from e2e.browser import REPO_ROOT, BrowserPages, on_session_loop
from e2e.webapp import new_webinar, open_host_page, wait_true
from webinar_devstack.servers import start_nats
from webinar_devstack.suite import Suite

CAPTIONS_BUNDLE = REPO_ROOT / "services/gateway/gateway/static/demo/azure-captions.js"
APP_PAGE = REPO_ROOT / "services/gateway/gateway/static/app/host.html"
pytestmark = [
    on_session_loop,
    pytest.mark.slow,
    pytest.mark.skipif(
        not (CAPTIONS_BUNDLE.exists() and APP_PAGE.exists()),
        reason="the web app and SDK are not built: `make webclient` builds them",
    ),
]
AZURE_KEY = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
REGION = "westeurope"

# Browser captions of the host's published microphone, against the stand-in's host, shown
# in the page's captions panel; what they emit is kept in `window.azure`.
START_CAPTIONS = """async ({ meetingId, host }) => {
    const { AzureCaptions } = await import('/demo/azure-captions.js');
    const page = window.hostPage;
    const captions = new AzureCaptions(page.webinar, { meetingId, host, language: 'en-GB' });
    const azure = { captions, seen: [], sent: [], errors: [], tokens: [] };
    captions.addEventListener('caption', ({ detail }) => {
        azure.seen.push(detail);
        page.captions.show(detail);
    });
    captions.addEventListener('sent', ({ detail }) => azure.sent.push(detail.line));
    captions.addEventListener('error', ({ detail }) => azure.errors.push(detail));
    captions.addEventListener('token', ({ detail }) => azure.tokens.push(detail));
    window.azure = azure;
    await captions.start();
    return captions.token.token;
}"""


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def azure() -> AsyncIterator[AzureStandIn]:
    stand_in = await AzureStandIn(key=AZURE_KEY, region=REGION).start()
    yield stand_in
    await stand_in.stop()


@pytest.fixture(scope="module")
def azure_suite(
    tmp_path_factory: pytest.TempPathFactory, redis_url: str, mongo_url: str, azure: AzureStandIn
) -> Iterator[Suite]:
    """Auth, meetings, a media node, transcription (Azure settings for the stand-in, no
    caption workers) and a gateway, on a NATS and databases of their own."""
    workdir = tmp_path_factory.mktemp("azure-suite")
    nats = start_nats(workdir / "nats")
    suffix = secrets.token_hex(4)
    running = Suite(
        workdir=workdir,
        nats_url=f"nats://127.0.0.1:{nats.port}",
        redis_url=redis_url,
        mongo_url=mongo_url,
        services=["auth", "meetings", "media", "transcription", "gateway"],
        env={
            "BUS_REQUEST_TIMEOUT": "3",
            "MEDIA_WORKERS": "1",
            "CAPTION_WORKERS": "0",
            "AUTH_DATABASE": f"auth_azure_{suffix}",
            "MEETINGS_DATABASE": f"meetings_azure_{suffix}",
            "TRANSCRIPTION_DATABASE": f"transcription_azure_{suffix}",
            "AZURE_SPEECH_KEY": AZURE_KEY,
            "AZURE_SPEECH_REGION": REGION,
            "AZURE_SPEECH_STS_URL": azure.url,
        },
    )
    try:
        yield running.start()
    finally:
        running.stop()
        nats.stop()


async def test_the_host_captions_their_microphone_with_azure_in_the_browser_and_the_lines_are_stored(
    browser_pages: BrowserPages, azure_suite: Suite, azure: AzureStandIn
) -> None:
    webinar = await new_webinar(azure_suite, f"Azure {secrets.token_hex(3)}")
    host_name = f"{webinar.user['fName']} {webinar.user['lName']}"
    host = await open_host_page(browser_pages, azure_suite, webinar)

    token = await host.evaluate(START_CAPTIONS, {"meetingId": webinar.meeting_id, "host": azure.host})
    sent = await wait_true(host, "() => window.azure.sent.length && window.azure.sent", timeout=30)

    # The token came from the gateway, which had it from the token service for its key,
    # and the browser connected to the recognition service with it, in the asked language.
    assert token in azure.issued
    assert azure.refused_keys == []
    (connection,) = azure.connections
    assert connection.token == token
    assert connection.language == "en-GB"
    assert "speech.config" in connection.paths
    assert connection.audio_bytes >= azure.answer_after_bytes, "the microphone's audio reached the service"
    tokens = await host.evaluate("window.azure.tokens")
    assert tokens[0]["region"] == REGION
    assert tokens[0]["expiresAt"] > 0, "the token's expiry is known, so it is replaced in time"

    # Partial captions, then the final line, as the server's caption events, shown in the panel.
    seen = await host.evaluate("window.azure.seen")
    assert [(c["text"], c["final"]) for c in seen] == [
        ("we agreed", False),
        ("we agreed to ship", False),
        ("We agreed to ship.", True),
    ]
    assert {c["utterance_id"] for c in seen} == {seen[0]["utterance_id"]}
    me = await host.evaluate(
        "({ peerId: window.hostPage.webinar.me.peerId,"
        " mic: window.hostPage.webinar.client.producers.get('microphone').id })"
    )
    for caption in seen:
        assert caption["name"] == host_name
        assert caption["meeting_id"] == webinar.meeting_id
        assert caption["peer_id"] == me["peerId"]
        assert caption["producer_id"] == me["mic"]
    overlay = host.locator(".caption-overlay p")
    await expect(overlay).to_have_text([f"{host_name}: We agreed to ship."])
    assert await host.evaluate("window.hostPage.captions.finalLines().map((line) => [line.name, line.text])") == [
        [host_name, "We agreed to ship."]
    ]

    # The final line is the meeting's transcript, with the host's name.
    assert [(line["userName"], line["message"]) for line in sent] == [(host_name, "We agreed to ship.")]
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http,
        http.get(
            f"{azure_suite.url}/view-transcript/{webinar.meeting_id}", headers={"x-api-key": azure_suite.api_key}
        ) as answer,
    ):
        assert answer.status == 200
        stored = (await answer.json())["data"]
    assert [(line["userName"], line["message"]) for line in stored] == [(host_name, "We agreed to ship.")]

    # Stopping captions leaves the microphone live and published.
    await host.evaluate("window.azure.captions.stop()")
    state = await host.evaluate(
        "({ running: window.azure.captions.running,"
        " mic: window.hostPage.webinar.client.producers.get('microphone').track.readyState,"
        " errors: window.azure.errors })"
    )
    assert state == {"running": False, "mic": "live", "errors": []}
