"""The gateway serves the demo page, and its bundle runs unmodified mediasoup-client in Chromium."""

import json

import aiohttp
import msgspec
import pytest

from e2e.browser import REPO_ROOT, BrowserPages, on_session_loop
from media.ortc import router_rtp_capabilities

pytestmark = on_session_loop


async def get(url: str) -> tuple[int, str, bytes]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http, http.get(url) as response:
        return response.status, response.content_type, await response.read()


async def test_gateway_serves_the_demo_page_and_its_bundle_without_a_key(demo_url: str) -> None:
    status, content_type, body = await get(demo_url)
    assert (status, content_type) == (200, "text/html")
    assert b'<script type="module" src="demo.js">' in body
    status, content_type, body = await get(demo_url + "demo.js")
    assert status == 200
    assert content_type in {"text/javascript", "application/javascript"}
    assert b"mediasoup-client" in body


@pytest.mark.parametrize("name", ["missing.js", ".hidden", "demo.js.map", "..%2Fapp%2Findex.html"])
async def test_unknown_or_hidden_demo_file_is_404_with_a_json_error(demo_url: str, name: str) -> None:
    status, content_type, body = await get(demo_url + name)
    assert (status, content_type) == (404, "application/json")
    assert json.loads(body)["success"] is False


async def test_bundled_mediasoup_client_loads_the_routers_capabilities_and_can_send_video(
    browser_pages: BrowserPages, demo_url: str
) -> None:
    page = await browser_pages.open("demo", demo_url)
    await page.wait_for_function("window.seedDemo !== undefined")
    assert await page.get_by_role("status").inner_text() == "Not connected."
    capabilities = msgspec.to_builtins(router_rtp_capabilities())
    device = await page.evaluate(
        """async (routerRtpCapabilities) => {
            const device = await window.seedDemo.Device.factory();
            await device.load({ routerRtpCapabilities });
            return {
                handlerName: device.handlerName,
                canProduceVideo: device.canProduce('video'),
                canProduceAudio: device.canProduce('audio'),
                receives: device.rtpCapabilities.codecs.map((codec) => codec.mimeType),
            };
        }""",
        capabilities,
    )
    assert device["canProduceVideo"] is True
    assert device["canProduceAudio"] is True
    assert device["handlerName"].startswith("Chrome")
    assert {"audio/opus", "video/VP8", "video/H264"} <= set(device["receives"])
    # The bundle carries mediasoup-client exactly as the lock file pins it.
    lock = json.loads((REPO_ROOT / "libs/webclient/package-lock.json").read_text())
    pinned = lock["packages"]["node_modules/mediasoup-client"]["version"]
    assert await page.evaluate("window.seedDemo.mediasoupClientVersion") == pinned
