"""Recording in the browser, through the host page: the host goes live and presses Start
recording; MediaRecorder's chunks go over the recording socket as they come; on Stop the
server makes one MP4 (ffmpeg) and the page links to it. The file plays: it holds video and
audio, and its duration is within 10% of the time recorded. The link serves byte ranges,
as a <video> seeking in it asks."""

import secrets
import time
from pathlib import Path

import aiohttp
import pytest
from playwright.async_api import Browser, expect
from recordingclient import probe

from e2e.browser import REPO_ROOT, BrowserPages, on_session_loop
from e2e.webapp import new_context, new_webinar, open_host_page, open_viewer, screenshot
from recording.transcode import Ffmpeg, find_ffmpeg
from webinar_devstack.suite import Suite

APP_PAGE = REPO_ROOT / "services/gateway/gateway/static/app/index.html"
pytestmark = [
    on_session_loop,
    pytest.mark.skipif(not APP_PAGE.exists(), reason="the web app is not built: `make webclient` builds it"),
]
RECORD_SECONDS = 6.0


async def test_the_host_records_in_the_browser_and_gets_a_playable_mp4(
    browser_pages: BrowserPages, suite: Suite, tmp_path: Path
) -> None:
    webinar = await new_webinar(suite, f"Recorded {secrets.token_hex(3)}")
    host = await open_host_page(browser_pages, suite, webinar)
    await host.get_by_role("button", name="Start recording").click()
    await expect(host.get_by_role("status")).to_have_text("Recording.")
    started = time.monotonic()
    await host.wait_for_timeout(RECORD_SECONDS * 1000)
    await host.get_by_role("button", name="Stop recording").click()
    recorded = time.monotonic() - started
    await expect(host.get_by_role("status")).to_contain_text("The recording is ready", timeout=90000)
    link = host.get_by_role("link", name="Download the recording")
    url = await link.evaluate("(a) => a.href")  # absolute, as the browser resolves it

    target = tmp_path / "recording.mp4"
    async with aiohttp.ClientSession() as http:
        async with http.get(url, headers={"Range": "bytes=0-99"}) as part:
            assert part.status == 206
            assert len(await part.read()) == 100
        async with http.get(url) as whole:
            assert whole.status == 200
            target.write_bytes(await whole.read())
    found = await probe(target)
    assert found.has_video
    assert found.has_audio
    # MediaRecorder starts a little after the click and stops a little after the other one.
    assert abs(found.duration - recorded) <= 0.1 * recorded, (found.duration, recorded)
    assert await host.evaluate("document.querySelector('#preview').videoWidth") > 0, "the preview goes on"
    assert browser_pages.console_errors() == ""


async def test_the_host_records_the_room_on_the_server_without_reencoding(
    browser_pages: BrowserPages, browser: Browser, suite: Suite, tmp_path: Path
) -> None:
    webinar = await new_webinar(suite, f"Server recorded {secrets.token_hex(3)}")
    host = await open_host_page(browser_pages, suite, webinar)
    contexts = [await new_context(browser), await new_context(browser)]
    try:
        viewer = await open_viewer(contexts[0], browser_pages, "vera viewer", webinar.viewer_link)
        await expect(viewer.locator("#rec-badge")).to_be_hidden()
        await host.get_by_role("button", name="Record the room on the server").click()
        await expect(host.get_by_role("status")).to_have_text("Recording the room on the server.")
        started = time.monotonic()
        # Everybody is told the room is recorded: those present, and one who joins later.
        await expect(viewer.locator("#rec-badge")).to_have_text("Recording")
        await expect(host.locator("#rec-badge")).to_be_visible()
        late = await open_viewer(contexts[1], browser_pages, "lee late", webinar.viewer_link)
        await expect(late.locator("#rec-badge")).to_be_visible()
        await screenshot(late, "viewer-told-recording")
        await host.wait_for_timeout(max(0.0, RECORD_SECONDS - (time.monotonic() - started)) * 1000)
        await host.get_by_role("button", name="Stop the room recording").click()
        recorded = time.monotonic() - started
        for page in (viewer, late, host):
            await expect(page.locator("#rec-badge")).to_be_hidden()
        await expect(host.get_by_role("status")).to_have_text("The room recording is ready.", timeout=90000)
    finally:
        for context in contexts:
            await context.close()

    async with aiohttp.ClientSession() as http:
        headers = {"x-api-key": suite.api_key}
        async with http.get(f"{suite.url}/recordings/list", params={"roomId": webinar.room_id}, headers=headers) as got:
            (recording,) = [r for r in await got.json() if r.get("source") == "server"]
        files = {"composed": recording["downloadUrl"]} | {
            track["kind"]: track["downloadUrl"] for track in recording["tracks"]
        }
        found = {}
        for name, url in files.items():
            async with http.get(url if url.startswith("http") else suite.url + url, headers=headers) as answer:
                assert answer.status == 200, (name, answer.status)
                (tmp_path / name).write_bytes(await answer.read())
            found[name] = await Ffmpeg(find_ffmpeg()).probe(tmp_path / name)
    # The browser's tracks as it sent them (VP8 and Opus, no re-encoding), and the composed MP4.
    assert found["video"].video_codec == "vp8"
    assert found["audio"].audio_codec == "opus"
    assert (found["composed"].video_codec, found["composed"].audio_codec) == ("h264", "aac")
    assert abs(found["composed"].duration - recorded) <= 0.15 * recorded, (found["composed"].duration, recorded)
