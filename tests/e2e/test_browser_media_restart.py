"""The SDK outlives its media node: a host page publishes a camera through the SDK, a
viewer page receives it; the media node is killed (SIGKILL) and a new one started. Both
pages notice their transports went quiet, say `reconnecting`, rejoin by themselves (the
room opens again on the new node: the viewer, who notices first, waits for the host to
reopen it, so the host still hosts it), the host's camera is published again from the
same track, and the viewer decodes it again. Nobody touches either page in between.

A suite of this module's own (its own NATS, and one media node the test kills), so no
other test's rooms are on the node that dies."""

import os
import secrets
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.async_api import Page

from e2e.browser import REPO_ROOT, BrowserPages, on_session_loop, wait_for
from webinar_devstack.processes import ServiceProcess
from webinar_devstack.servers import start_nats
from webinar_devstack.suite import Suite

SDK_BUNDLE = REPO_ROOT / "services/gateway/gateway/static/demo/webinar.js"
pytestmark = [
    on_session_loop,
    pytest.mark.slow,
    pytest.mark.skipif(not SDK_BUNDLE.exists(), reason="the SDK bundle is not built: `make webclient` builds it"),
]
PORTS = (47200, 47299)

# The SDK in the page as `window.sdk`: one Webinar, the connection states it went
# through, and the received camera in a <video>.
LOAD_SDK = """async ({ apiKey, room, name, stalledMs }) => {
    const { Webinar } = await import('/demo/webinar.js');
    const webinar = new Webinar({ apiKey, stalledTransportMs: stalledMs });
    const states = [];
    const errors = [];
    const video = document.createElement('video');
    video.autoplay = true;
    video.muted = true;
    document.body.append(video);
    webinar.addEventListener('connectionstate', ({ detail }) => states.push({ ...detail, at: Date.now() }));
    webinar.addEventListener('error', ({ detail }) => errors.push({ ...detail, at: Date.now() }));
    webinar.addEventListener('trackadded', ({ detail }) => {
        if (detail.kind === 'video') video.srcObject = new MediaStream([detail.track]);
    });
    window.sdk = { webinar, states, errors, video };
    await webinar.join(room, { name });
}"""
PUBLISH_CAMERA = """async () => {
    const stream = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 360, frameRate: 15 } });
    window.sdk.cameraTrack = stream.getVideoTracks()[0];
    return (await window.sdk.webinar.publish.camera({ track: window.sdk.cameraTrack })).id;
}"""
DECODING = """async (least) => {
    const frames = (await window.sdk.webinar.client?.inboundStats() ?? [])
        .filter((row) => row.kind === 'video').reduce((sum, row) => sum + row.framesDecoded, 0);
    return window.sdk.video.videoWidth > 0 && frames >= least && frames;
}"""
REJOINED = "() => window.sdk.states.some((s) => s.state === 'joined' && s.reason === 'reconnected')"


def media_node(suite: Suite, log_dir: Path) -> ServiceProcess:
    node_id = f"restart-{secrets.token_hex(3)}"
    env = {
        **suite.env,
        "MEDIA_NODE_ID": node_id,
        "MEDIA_WORKERS": "1",
        "MEDIA_RTC_MIN_PORT": str(PORTS[0]),
        "MEDIA_RTC_MAX_PORT": str(PORTS[1]),
        "MEDIA_HEARTBEAT_SECONDS": "0.5",
    }
    return ServiceProcess("media", env, log_path=log_dir / f"{node_id}.log").start_and_wait(90)


@pytest.fixture(scope="module")
def restart_suite(tmp_path_factory: pytest.TempPathFactory, redis_url: str, mongo_url: str) -> Iterator[Suite]:
    workdir = tmp_path_factory.mktemp("restart-suite")
    nats_server = start_nats(workdir / "nats")
    running = Suite(
        workdir=workdir,
        nats_url=f"nats://127.0.0.1:{nats_server.port}",
        redis_url=redis_url,
        mongo_url=mongo_url,
        services=["auth", "meetings", "gateway"],
        env={"AUTH_DATABASE": "auth_restart", "MEETINGS_DATABASE": "meetings_restart"},
    ).start()
    yield running
    running.stop()
    nats_server.stop()


async def open_sdk_page(pages: BrowserPages, suite: Suite, name: str, room: str, *, stalled_ms: int) -> Page:
    page = await pages.open(name, suite.url + "/demo/")
    await page.evaluate(LOAD_SDK, {"apiKey": suite.api_key, "room": room, "name": name, "stalledMs": stalled_ms})
    return page


async def test_pages_rejoin_by_themselves_when_their_media_node_is_replaced(
    browser_pages: BrowserPages, restart_suite: Suite, tmp_path: Path
) -> None:
    first_node = media_node(restart_suite, tmp_path)
    second_node: ServiceProcess | None = None
    try:
        room = f"restart-{secrets.token_hex(4)}"
        # The viewer notices first and finds the room open nowhere: it must leave reopening
        # it to the host (who opened it: a room opened on the socket is its opener's).
        host = await open_sdk_page(browser_pages, restart_suite, "host", room, stalled_ms=6000)
        camera = await host.evaluate(PUBLISH_CAMERA)
        viewer = await open_sdk_page(browser_pages, restart_suite, "viewer", room, stalled_ms=3000)
        decoded_before = await wait_for(viewer, DECODING, 10)

        assert first_node.process is not None
        os.kill(first_node.process.pid, signal.SIGKILL)
        first_node.process.wait(timeout=10)
        second_node = media_node(restart_suite, tmp_path)

        for page in (host, viewer):
            try:
                await wait_for(page, REJOINED, timeout=60)
            except AssertionError as failed:
                # What the SDK went through, for the reader of a failed run.
                history = await page.evaluate("({states: window.sdk.states, errors: window.sdk.errors})")
                raise AssertionError(f"{failed}\nSDK history: {history}") from None
        await wait_for(viewer, DECODING, 10, timeout=30)
        states = [s["state"] for s in await viewer.evaluate("window.sdk.states")]
        assert states[-2:] == ["reconnecting", "joined"], states
        republished = await host.evaluate("window.sdk.webinar.client.producers.get('camera').id")
        assert republished != camera, "a new producer on the new node"
        assert await host.evaluate("window.sdk.cameraTrack.readyState") == "live", "the same camera track"
        assert decoded_before
    finally:
        first_node.stop(timeout=10)
        if second_node is not None:
            second_node.stop(timeout=30)
