"""The seed's SFU flow in Chromium: unmodified mediasoup-client and socket.io-client
(the demo page's bundle) against the gateway's SFU socket and the media service.

The host publishes a simulcast camera (r0/r1/r2) and a microphone; viewers decode
and hear them, one never sending `resume`; a shared screen reaches them as a second
video; closing it sends them `consumerClosed`; a viewer that reloads gets the streams
again. The screen is Chromium's fake screen, from getDisplayMedia behind the demo's
"Share screen" button (granted by --use-fake-ui-for-media-stream; no canvas stand-in).
"""

import secrets
from typing import Any

import pytest
import pytest_asyncio
from playwright.sync_api import Page

from e2e.browser import (
    REPO_ROOT,
    BrowserPages,
    join_room,
    join_with_form,
    login_token,
    on_session_loop,
    snapshot,
    wait_for,
)
from webinar_devstack.suite import Suite

SFU_SIGNALLING = [REPO_ROOT / "services/media/media/__main__.py", REPO_ROOT / "services/gateway/gateway/sfu_socket.py"]
pytestmark = [
    on_session_loop,
    pytest.mark.skipif(
        not all(path.exists() for path in SFU_SIGNALLING),
        reason="the SFU signalling is not built yet: "
        + ", ".join(str(path.relative_to(REPO_ROOT)) for path in SFU_SIGNALLING if not path.exists()),
    ),
]

# A small camera: two cores run the host, two viewers and the SFU. 960x540
# is the smallest size at which Chromium sends all three simulcast layers.
PUBLISH_CAMERA_AND_MICROPHONE = """async () => {
    const stream = await navigator.mediaDevices.getUserMedia({ video: { width: 960, height: 540, frameRate: 15 } });
    const camera = await window.seedClient.publish('camera', { track: stream.getVideoTracks()[0] });
    const microphone = await window.seedClient.publish('microphone');
    return { camera: camera.id, microphone: microphone.id, rids: camera.rtpParameters.encodings.map((e) => e.rid) };
}"""
# Per producer id, the inbound row once it reaches `minimum`: decoded frames (and a
# sized <video>) for video, received packets for audio.
RECEIVING = """async (minimum) => {
    const rows = await window.seedClient.inboundStats();
    const media = window.seedDemo.remoteMedia();
    const found = {};
    for (const [producerId, least] of Object.entries(minimum)) {
        const row = rows.find((r) => r.producerId === producerId);
        if (!row) return false;
        if (row.kind === 'video') {
            const element = media.find((m) => m.consumerId === row.consumerId);
            if (!element || element.videoWidth === 0 || row.framesDecoded < least) return false;
            row.videoWidth = element.videoWidth;
        } else if (row.packetsReceived < least) {
            return false;
        }
        found[producerId] = row;
    }
    return found;
}"""
CLOSED_CONSUMER_OF = "(producerId) => window.seedClient.closedConsumers.find((c) => c.producerId === producerId)"
SENDING_LAYERS = """async (rids) => {
    const rows = (await window.seedClient.outboundStats()).filter((r) => r.type === 'camera' && r.packetsSent > 0);
    const sending = rows.map((r) => r.rid).sort();
    return rids.every((rid) => sending.includes(rid)) && sending;
}"""


def count(row: dict[str, Any]) -> int:
    return int(row["framesDecoded"] if row["kind"] == "video" else row["packetsReceived"])


async def wait_receiving(page: Page, producer_ids: list[str]) -> dict[str, Any]:
    """Waits until `page` decodes every video and receives every audio of `producer_ids`,
    then until each count rises again; returns the later rows by producer id."""
    first = await wait_for(page, RECEIVING, {producer_id: 1 for producer_id in producer_ids})
    rising = {pid: count(row) + (10 if row["kind"] == "video" else 25) for pid, row in first.items()}
    return dict(await wait_for(page, RECEIVING, rising))


async def consumer_of(page: Page, producer_id: str) -> dict[str, Any]:
    return next(c for c in (await snapshot(page))["consumers"] if c["producerId"] == producer_id)


@pytest_asyncio.fixture(loop_scope="session")
async def room(suite: Suite) -> dict[str, str]:
    """A new room id, and a host's token: the creator of a room is its host."""
    return {"room": f"e2e-{secrets.token_hex(4)}", "host_token": await login_token(suite.url, suite.api_key)}


async def test_two_viewers_receive_camera_microphone_and_screen_and_lose_a_closed_producer(
    browser_pages: BrowserPages, demo_url: str, suite: Suite, room: dict[str, str]
) -> None:
    host = await browser_pages.open("host", demo_url)
    await join_room(host, room=room["room"], api_key=suite.api_key, token=room["host_token"], name="Host")
    produced = await host.evaluate(PUBLISH_CAMERA_AND_MICROPHONE)
    assert produced["rids"] == ["r0", "r1", "r2"]

    # One viewer behaves as the seed's clients do (never `resume`), the other resumes.
    viewers = {name: await browser_pages.open(f"viewer-{name}", demo_url) for name in ("quiet", "resuming")}
    for name, viewer in viewers.items():
        await join_room(viewer, room=room["room"], api_key=suite.api_key, name=name, send_resume=name == "resuming")
    for viewer in viewers.values():
        received = await wait_receiving(viewer, [produced["camera"], produced["microphone"]])
        assert received[produced["camera"]]["videoWidth"] > 0
        assert (await consumer_of(viewer, produced["camera"]))["type"] == "simulcast"
        assert (await consumer_of(viewer, produced["microphone"]))["type"] == "simple"
    assert (await snapshot(viewers["quiet"]))["resumesSent"] == 0
    assert (await snapshot(viewers["resuming"]))["resumesSent"] == 2
    assert await wait_for(host, SENDING_LAYERS, ["r0", "r1", "r2"]) == ["r0", "r1", "r2"]

    # A shared screen (the demo's button) is a second video for every viewer.
    await host.get_by_role("button", name="Share screen").click()
    screen = await wait_for(host, "() => window.seedClient.snapshot().producers.screen")
    for viewer in viewers.values():
        await wait_receiving(viewer, [screen, produced["camera"]])
        assert (await consumer_of(viewer, screen))["type"] == "simple"
        shown = await viewer.evaluate("window.seedDemo.remoteMedia()")
        assert [media["kind"] for media in shown].count("video") == 2

    # Closing it (`producerClosed`) reaches every viewer as `consumerClosed`; the camera goes on.
    await host.get_by_role("button", name="Stop sharing").click()
    for viewer in viewers.values():
        closed = await wait_for(
            viewer, "(id) => window.seedClient.closedConsumers.find((c) => c.producerId === id)", screen
        )
        assert closed["by"] == "server"
        shown = await viewer.evaluate("window.seedDemo.remoteMedia()")
        assert closed["consumerId"] not in {media["consumerId"] for media in shown}
        await wait_receiving(viewer, [produced["camera"], produced["microphone"]])
    assert (await snapshot(host))["failures"] == []
    for viewer in viewers.values():
        assert (await snapshot(viewer))["failures"] == []


async def test_viewer_that_reloads_the_page_receives_the_streams_again(
    browser_pages: BrowserPages, demo_url: str, suite: Suite, room: dict[str, str]
) -> None:
    host = await browser_pages.open("host", demo_url)
    await join_room(host, room=room["room"], api_key=suite.api_key, token=room["host_token"], name="Host")
    produced = await host.evaluate(PUBLISH_CAMERA_AND_MICROPHONE)
    # The viewer uses the demo page's form, as a person watching in another tab would.
    viewer = await browser_pages.open("viewer", demo_url)
    await join_with_form(viewer, room=room["room"], api_key=suite.api_key, name="Viewer")
    before = await wait_receiving(viewer, [produced["camera"], produced["microphone"]])

    await viewer.reload()
    await join_with_form(viewer, room=room["room"], api_key=suite.api_key, name="Viewer")
    after = await wait_receiving(viewer, [produced["camera"], produced["microphone"]])
    assert {row["consumerId"] for row in after.values()}.isdisjoint(row["consumerId"] for row in before.values())
    assert after[produced["camera"]]["videoWidth"] > 0
    assert (await snapshot(viewer))["failures"] == []
