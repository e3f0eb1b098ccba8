"""The webinar SDK (the gateway's /demo/webinar.js bundle) in Chromium: a host registers
and logs in through the SDK's REST helpers, joins and publishes a simulcast camera and a
microphone; a viewer's page hears the host as peers come and go and receives both tracks
as `trackadded`, and the unpublished camera as `trackremoved`."""

import secrets

import pytest
from playwright.async_api import Page

from e2e.browser import REPO_ROOT, BrowserPages, on_session_loop, wait_for
from webinar_devstack.suite import Suite

SDK_BUNDLE = REPO_ROOT / "services/gateway/gateway/static/demo/webinar.js"
pytestmark = [
    on_session_loop,
    pytest.mark.skipif(not SDK_BUNDLE.exists(), reason="the SDK bundle is not built: `make webclient` builds it"),
]

# Loads the SDK into the page as `window.sdk`: one Webinar, what it heard, and the
# remote tracks shown in media elements (for their decoded size).
LOAD_SDK = """async (apiKey) => {
    const { Webinar } = await import('/demo/webinar.js');
    const webinar = new Webinar({ apiKey });
    const heard = [];
    const media = new Map();
    for (const name of ['trackadded', 'trackremoved', 'peerjoined', 'peerleft', 'connectionstate', 'error']) {
        webinar.addEventListener(name, ({ detail }) => {
            const { track, ...rest } = detail;
            heard.push({ event: name, ...rest });
            if (name === 'trackadded') {
                const element = document.createElement(detail.kind === 'audio' ? 'audio' : 'video');
                element.srcObject = new MediaStream([track]);
                element.autoplay = true;
                element.muted = true;
                document.body.append(element);
                media.set(detail.producerId, element);
            }
            if (name === 'trackremoved') media.get(detail.producerId)?.remove();
        });
    }
    window.sdk = { webinar, heard, media };
}"""
REGISTER_LOGIN_AND_JOIN = """async ({ room, user }) => {
    const { webinar } = window.sdk;
    await webinar.rest.register(user);
    await webinar.rest.login({ userName: user.email, password: user.password });
    await webinar.join(room, { name: 'Host' });
    const stream = await navigator.mediaDevices.getUserMedia({ video: { width: 960, height: 540, frameRate: 15 } });
    const camera = await webinar.publish.camera({ track: stream.getVideoTracks()[0] });
    const microphone = await webinar.publish.microphone();
    return { camera: camera.id, microphone: microphone.id, rids: camera.rtpParameters.encodings.map((e) => e.rid) };
}"""
HEARD = "(event) => window.sdk.heard.filter((h) => h.event === event)"
# What was heard of `event` once there are at least `count` of them.
HEARD_AT_LEAST = """({ event, count }) => {
    const found = window.sdk.heard.filter((h) => h.event === event);
    return found.length >= count && found;
}"""
VIDEO_DECODED = "(producerId) => (window.sdk.media.get(producerId)?.videoWidth ?? 0) > 0"


async def open_sdk_page(browser_pages: BrowserPages, name: str, url: str, api_key: str) -> Page:
    page = await browser_pages.open(name, url)
    await page.evaluate(LOAD_SDK, api_key)
    return page


async def test_viewer_receives_the_hosts_camera_and_microphone_through_the_sdk(
    browser_pages: BrowserPages, demo_url: str, suite: Suite
) -> None:
    room = f"sdk-{secrets.token_hex(4)}"
    user = {
        "email": f"sdk.host.{secrets.token_hex(4)}@example.test",
        "fName": "Morgan",
        "lName": "Sample",
        "phoneNumber": "+1 555 0199",
        "country": "Nowhere",
        "password": "a long passphrase",
    }
    host = await open_sdk_page(browser_pages, "host", demo_url, suite.api_key)
    published = await host.evaluate(REGISTER_LOGIN_AND_JOIN, {"room": room, "user": user})
    assert published["rids"] == ["r0", "r1", "r2"]

    viewer = await open_sdk_page(browser_pages, "viewer", demo_url, suite.api_key)
    await viewer.evaluate("(room) => window.sdk.webinar.join(room, { name: 'Viewer' })", room)
    joined = await wait_for(host, HEARD_AT_LEAST, {"event": "peerjoined", "count": 1})
    assert [(peer["name"], peer["role"]) for peer in joined] == [("Viewer", "viewer")]

    added = await wait_for(viewer, HEARD_AT_LEAST, {"event": "trackadded", "count": 2})
    assert {(track["producerId"], track["kind"]) for track in added} == {
        (published["camera"], "video"),
        (published["microphone"], "audio"),
    }
    await wait_for(viewer, VIDEO_DECODED, published["camera"])

    await host.evaluate("() => window.sdk.webinar.unpublish('camera')")
    removed = await wait_for(viewer, HEARD_AT_LEAST, {"event": "trackremoved", "count": 1})
    assert [(track["producerId"], track["by"]) for track in removed] == [(published["camera"], "server")]

    await host.evaluate("() => window.sdk.webinar.leave()")
    left = await wait_for(viewer, HEARD_AT_LEAST, {"event": "peerleft", "count": 1})
    assert [peer["name"] for peer in left] == ["Host"]
    for page in (host, viewer):
        assert await page.evaluate(HEARD, "error") == []


async def test_the_sdk_loads_from_a_plain_script_tag(browser_pages: BrowserPages, demo_url: str, suite: Suite) -> None:
    page = await browser_pages.open("page", demo_url)
    await page.add_script_tag(url="/demo/webinar.global.js")
    exported = await page.evaluate(
        """async (apiKey) => {
            const { Webinar, RestClient, ENDPOINTS } = window.WebinarSDK;
            const webinar = new Webinar({ apiKey });
            const me = await webinar.rest.me().catch((error) => error.status);
            return {
                webinar: webinar instanceof EventTarget,
                rest: webinar.rest instanceof RestClient,
                endpoints: Object.keys(ENDPOINTS).length,
                me,
            };
        }""",
        suite.api_key,
    )
    # /auth/me without a token: the SDK's REST helper reached the gateway, which refused it.
    assert exported == {"webinar": True, "rest": True, "endpoints": exported["endpoints"], "me": 401}
    assert exported["endpoints"] > 10
