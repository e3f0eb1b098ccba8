"""The web app in Chromium, through its pages only: a host registers on the landing page,
creates a webinar and copies its viewer link; a viewer who opens the link early is told
the webinar has not started; the host goes live from the host page and two viewers (each
in a browser context of their own, joined by the link's room ticket, no API key) see the
camera and receive the sound; the host shares a screen and the viewers see it; the
host's voice (a tone the fake microphone plays from a file) highlights the host's tile
as the active speaker, and muting takes the highlight away; a viewer whose connection
drops (offline, then online) gets the stream back; the host ends the webinar and the
viewers, and anyone opening the link afterwards, are told it has ended.

Screenshots of the landing, host and viewer pages are kept in test-artifacts/."""

import math
import re
import secrets
import struct
import wave
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio
from playwright.async_api import Browser, expect

from e2e.browser import ARTIFACTS, REPO_ROOT, BrowserPages, on_session_loop
from e2e.webapp import TILE_DECODED, new_context, open_viewer, screenshot, wait_true
from webinar_devstack.chromium import CHROMIUM, CHROMIUM_ARGS
from webinar_devstack.suite import Suite

APP_PAGE = REPO_ROOT / "services/gateway/gateway/static/app/index.html"
pytestmark = [
    on_session_loop,
    pytest.mark.skipif(not APP_PAGE.exists(), reason="the web app is not built: `make webclient` builds it"),
]

# Decoded video of a tile (its <video> has a size), by the tile's source.
# Audio packets received from the host, at least `least`.
AUDIO_RECEIVED = """async (least) => {
    const client = window.watchPage.webinar?.client;
    if (!client) return false;
    const rows = await client.inboundStats();
    return rows.some((row) => row.kind === 'audio' && row.packetsReceived >= least);
}"""
VIEWER_LINK = re.compile(r"^http://127\.0\.0\.1:\d+/app/watch\.html\?room=[^#]+#ticket=[\w.-]+$")
SPEAKING_TILES = "() => [...document.querySelectorAll('.tile[data-speaking=\"true\"]')].map((t) => t.dataset.source)"


def tone_file(path: Path, seconds: float = 4.0, rate: int = 48000) -> Path:
    """A steady 440 Hz tone at -12 dBFS: what the host's fake microphone plays (looped)."""
    amplitude = 0.25 * 32767
    frames = b"".join(
        struct.pack("<h", int(amplitude * math.sin(2 * math.pi * 440 * n / rate))) for n in range(int(seconds * rate))
    )
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(frames)
    return path


@pytest_asyncio.fixture(loop_scope="session")
async def speaking_browser(browser: Browser, tmp_path: Path) -> AsyncIterator[Browser]:
    """A Chromium whose fake microphone plays a tone, so there is a voice to detect."""
    tone = tone_file(tmp_path / "tone.wav")
    launched = await browser.browser_type.launch(
        executable_path=str(CHROMIUM),
        headless=True,
        args=[*CHROMIUM_ARGS, f"--use-file-for-fake-audio-capture={tone}"],
    )
    yield launched
    await launched.close()


async def test_a_webinar_run_from_the_pages(
    browser_pages: BrowserPages, browser: Browser, speaking_browser: Browser, suite: Suite
) -> None:
    # The host: landing page with the key from the address, an account, a webinar.
    host_context = await new_context(speaking_browser)
    host_pages = BrowserPages(host_context)
    try:
        landing = await host_pages.open("landing", f"{suite.url}/app/#key={suite.api_key}")
        assert "#key" not in landing.url, "the key leaves the address bar"
        email = f"host.{secrets.token_hex(4)}@example.test"
        register = landing.locator("#register-form")
        await register.get_by_label("First name").fill("Robin")
        await register.get_by_label("Last name").fill("Example")
        await register.get_by_label("Email").fill(email)
        await register.get_by_label("Phone number").fill("+1 555 0177")
        await register.get_by_label("Country").fill("Nowhere")
        await register.get_by_label("Password (at least 12 characters)").fill("a long passphrase")
        await register.get_by_role("button", name="Create account").click()
        await expect(landing.locator("#signed-in-as")).to_have_text("Signed in as Robin Example")

        await landing.get_by_label("Title of a new webinar").fill("Quarterly town hall")
        await landing.get_by_role("button", name="Create webinar").click()
        await landing.get_by_role("button", name="Copy the viewer link of Quarterly town hall").click()
        link_field = landing.locator(".webinar .viewer-link")
        await expect(link_field).to_have_value(VIEWER_LINK)
        link = await link_field.input_value()
        assert suite.api_key not in link, "a viewer link never carries the API key"
        await screenshot(landing, "landing")

        # A viewer who comes early: joined, told the webinar has not started.
        first_context = await new_context(browser)
        second_context = await new_context(browser)
        try:
            first = await open_viewer(first_context, browser_pages, "first viewer", link)
            await expect(first.get_by_role("status")).to_contain_text("has not started")

            # The host goes live.
            await landing.get_by_role("link", name="Open the host page of Quarterly town hall").click()
            host = landing
            await expect(host.get_by_role("status")).to_have_text("Check your camera and microphone, then go live.")
            assert await host.locator("#camera-select option").count() >= 1
            await host.get_by_role("button", name="Go live").click()
            await expect(host.get_by_role("status")).to_contain_text("You are live")

            second = await open_viewer(second_context, browser_pages, "second viewer", link)
            for viewer in (first, second):
                await expect(viewer.get_by_role("status")).to_have_text("Live.")
                await wait_true(viewer, TILE_DECODED, {"source": "camera", "name": None})
                await wait_true(viewer, AUDIO_RECEIVED, 20)
            await expect(host.locator("#viewer-count")).to_have_text("2 viewers")
            await expect(host.locator(".person-list li")).to_have_count(2)

            # The host's voice makes the host the active speaker; muting takes it away.
            for viewer in (first, second):
                await wait_true(viewer, f"() => ({SPEAKING_TILES})().includes('camera')")
            await host.get_by_role("button", name="Mute microphone").click()
            await expect(host.get_by_role("button", name="Unmute microphone")).to_have_attribute("aria-pressed", "true")
            for viewer in (first, second):
                await wait_true(viewer, f"() => ({SPEAKING_TILES})().length === 0")
            await host.get_by_role("button", name="Unmute microphone").click()
            await wait_true(first, f"() => ({SPEAKING_TILES})().includes('camera')")

            # A shared screen reaches both viewers as a tile of its own.
            await host.get_by_role("button", name="Share screen").click()
            await expect(host.get_by_role("button", name="Stop sharing")).to_be_visible()
            for viewer in (first, second):
                await wait_true(viewer, TILE_DECODED, {"source": "screen", "name": None})
            await screenshot(host, "host")
            await screenshot(first, "viewer")

            # The second viewer's network drops, then comes back: the streams come back.
            await second_context.set_offline(True)
            await expect(second.get_by_role("status")).to_contain_text("reconnecting")
            await second_context.set_offline(False)
            await expect(second.get_by_role("status")).to_have_text("Live.", timeout=30000)
            await wait_true(second, TILE_DECODED, {"source": "camera", "name": None}, timeout=30)
            await wait_true(second, TILE_DECODED, {"source": "screen", "name": None}, timeout=30)

            # The host ends the webinar: everyone is told, and so is anyone who comes later.
            await host.get_by_role("button", name="End webinar").click()
            for viewer in (first, second):
                await expect(viewer.get_by_role("status")).to_have_text(
                    "This webinar has ended. Thank you for watching."
                )
                assert await viewer.locator(".tile").count() == 0
            await expect(host.get_by_role("status")).to_have_text("The webinar has ended.")
            late = await open_viewer(first_context, browser_pages, "late viewer", link, expect_joined=False)
            await expect(late.get_by_role("status")).to_have_text("This webinar has ended. Thank you for watching.")
        finally:
            await first_context.close()
            await second_context.close()
        assert browser_pages.console_errors() == ""
    finally:
        await host_context.close()


async def test_a_viewer_link_without_a_ticket_says_it_is_incomplete(browser_pages: BrowserPages, suite: Suite) -> None:
    page = await browser_pages.open("viewer", f"{suite.url}/app/watch.html?room=somewhere")
    await expect(page.get_by_role("status")).to_contain_text("This link is incomplete")
    assert await page.get_by_role("button", name="Join").is_hidden()


async def test_the_host_page_asks_for_a_login_first(browser_pages: BrowserPages, suite: Suite) -> None:
    page = await browser_pages.open("host", f"{suite.url}/app/host.html?room=somewhere")
    await expect(page.get_by_role("status")).to_contain_text("Log in on the webinars page first")
    assert await page.get_by_role("button", name="Go live").is_disabled()


async def test_the_pages_work_at_phone_width(browser: Browser, suite: Suite) -> None:
    context = await browser.new_context(viewport={"width": 375, "height": 740}, is_mobile=True)
    try:
        page = await context.new_page()
        await page.goto(f"{suite.url}/app/#key={suite.api_key}")
        await expect(page.get_by_role("button", name="Log in")).to_be_visible()
        width = await page.evaluate("() => document.documentElement.scrollWidth")
        assert width <= 375, f"the landing page scrolls sideways at phone width ({width} px)"
        # Every control is reachable from the keyboard, and has a name.
        unnamed = await page.evaluate(
            """() => [...document.querySelectorAll('button, input, select, a[href]')]
                .filter((el) => !el.closest('[hidden]') && !el.closest('template'))
                .filter((el) => !(el.labels?.length || el.getAttribute('aria-label') || el.textContent.trim()))
                .map((el) => el.outerHTML)"""
        )
        assert unnamed == []
        ARTIFACTS.mkdir(exist_ok=True)
        await page.screenshot(path=str(ARTIFACTS / "webapp-landing-phone.png"), full_page=True)
    finally:
        await context.close()


async def test_the_root_address_leads_to_the_web_app(suite: Suite) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(suite.url + "/", allow_redirects=False) as answer:
            assert (answer.status, answer.headers["Location"]) == (302, "/app/")
        async with http.get(suite.url + "/app/watch.html") as answer:
            assert answer.status == 200
            assert answer.headers["Referrer-Policy"] == "same-origin"
