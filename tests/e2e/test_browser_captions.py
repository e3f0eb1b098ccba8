"""Live captions in the web app: the host's fake microphone plays a spoken sentence
(espeak-ng, made by the test) and a viewer's page shows it as captions under the host's
name, partial then final; the host mutes, a co-host the host approved speaks another
sentence from their own browser, and the captions and the transcript tag the two apart.
The meeting's transcript (GET /view-transcript) holds both lines, in spoken order, and the
landing page shows it with its summary."""

import secrets
import shutil
import subprocess
import wave
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio
from playwright.async_api import Browser, expect

from e2e.browser import REPO_ROOT, BrowserPages, on_session_loop
from e2e.webapp import new_context, new_webinar, open_host_page, open_viewer, screenshot, wait_true
from webinar_devstack.chromium import CHROMIUM, CHROMIUM_ARGS
from webinar_devstack.suite import Suite

APP_PAGE = REPO_ROOT / "services/gateway/gateway/static/app/index.html"
pytestmark = [
    on_session_loop,
    pytest.mark.slow,
    pytest.mark.skipif(not APP_PAGE.exists(), reason="the web app is not built: `make webclient` builds it"),
    pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is missing: `make install` installs it"),
]

HOST_SAYS = "Welcome everyone to the quarterly product review."
COHOST_SAYS = "Thank you. The launch went very well this spring."
# The final caption lines the page's transcript panel holds: [name, text].
FINAL_LINES = "() => window.{page}.captions.finalLines().map((line) => [line.name, line.text.toLowerCase()])"


def spoken(path: Path, text: str, voice: str) -> Path:
    """`text` spoken by espeak-ng, then two seconds of silence (the utterance ends)."""
    subprocess.run(["espeak-ng", "-v", voice, "-s", "150", "-w", str(path), text], check=True, timeout=60)
    padded = path.with_suffix(".padded.wav")

    with wave.open(str(path), "rb") as source:
        params, frames = source.getparams(), source.readframes(source.getnframes())
    with wave.open(str(padded), "wb") as out:
        out.setparams(params)
        out.writeframes(frames + b"\0" * (2 * params.framerate * params.sampwidth * params.nchannels))
    return padded


async def speaking(browser: Browser, wav: Path) -> Browser:
    return await browser.browser_type.launch(
        executable_path=str(CHROMIUM), headless=True, args=[*CHROMIUM_ARGS, f"--use-file-for-fake-audio-capture={wav}"]
    )


@pytest_asyncio.fixture(loop_scope="session")
async def speakers(browser: Browser, tmp_path: Path) -> AsyncIterator[tuple[Browser, Browser]]:
    host = await speaking(browser, spoken(tmp_path / "host.wav", HOST_SAYS, "en-us"))
    cohost = await speaking(browser, spoken(tmp_path / "cohost.wav", COHOST_SAYS, "en-gb+f3"))
    yield host, cohost
    await host.close()
    await cohost.close()


def said(lines: list[list[str]], name: str, *words: str) -> bool:
    return any(who == name and all(word in text for word in words) for who, text in lines)


async def test_captions_tag_each_speaker_and_fill_the_transcript(
    browser_pages: BrowserPages, browser: Browser, speakers: tuple[Browser, Browser], suite: Suite
) -> None:
    host_browser, cohost_browser = speakers
    webinar = await new_webinar(suite, f"Review {secrets.token_hex(3)}", captions=True)
    host_name = f"{webinar.user['fName']} {webinar.user['lName']}"
    host_context = await new_context(host_browser)
    cohost_context = await new_context(cohost_browser)
    viewer_context = await new_context(browser)
    try:
        host = await open_host_page(BrowserPages(host_context), suite, webinar)
        viewer = await open_viewer(viewer_context, browser_pages, "vic viewer", webinar.viewer_link)
        cohost = await open_viewer(cohost_context, browser_pages, "cory cohost", webinar.viewer_link)
        viewer_lines = FINAL_LINES.format(page="watchPage")

        # The host speaks: partial then final captions under the host's name.
        await expect(viewer.locator(".caption-overlay strong").first).to_have_text(f"{host_name}: ", timeout=60000)
        await wait_true(viewer, f"() => ({viewer_lines})()", timeout=60)
        # The fake microphone loops the file, and captions start when the tap does, which may
        # be mid-sentence: the first line can lack its first word; the next loop is whole.
        lines = await wait_true(
            viewer,
            f"() => {{ const l = ({viewer_lines})(); "
            "return l.some(([, t]) => t.includes('welcome') && t.includes('review')) && l; }",
            timeout=60,
        )
        assert said(lines, host_name, "welcome", "review"), lines
        await screenshot(viewer, "viewer-captions")

        # The host mutes; the approved co-host speaks in turn.
        await host.get_by_role("button", name="Mute microphone").click()
        await cohost.get_by_role("button", name="Raise hand to present").click()
        await host.get_by_role("button", name="Approve Cory Cohost as a co-host").click()
        await cohost.get_by_role("button", name="Start microphone").click()
        lines = await wait_true(
            viewer,
            f"() => {{ const l = ({viewer_lines})(); "
            "return l.some(([n, t]) => n === 'Cory Cohost' && t.includes('launch') && t.includes('spring')) && l; }",
            timeout=60,
        )
        assert said(lines, "Cory Cohost", "launch", "spring"), lines
        assert {name for name, _ in lines} == {host_name, "Cory Cohost"}

        async with (
            aiohttp.ClientSession() as http,
            http.get(
                f"{suite.url}/view-transcript/{webinar.meeting_id}", headers={"x-api-key": suite.api_key}
            ) as answer,
        ):
            stored = (await answer.json())["data"]
        names = [line["userName"] for line in stored]
        assert host_name in names
        assert "Cory Cohost" in names
        assert names.index(host_name) < len(names) - 1 - names[::-1].index("Cory Cohost"), "spoken order"
    finally:
        for context in (host_context, cohost_context, viewer_context):
            await context.close()
