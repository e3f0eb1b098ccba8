"""What the web app's browser tests share: a host with a webinar made over REST (what the
landing page does, which test_browser_webapp drives by hand), the host page signed in and
live, viewers who open the viewer link, and waits on page state."""

from dataclasses import dataclass
from typing import Any

import aiohttp
from playwright.async_api import Browser, BrowserContext, Page, expect

from e2e.browser import ARTIFACTS, BrowserPages
from restclient import call, new_user
from webinar_devstack.suite import Suite


@dataclass(frozen=True)
class Webinar:
    room_id: str
    meeting_id: str
    title: str
    user: dict[str, Any]
    token: str
    viewer_link: str


async def new_webinar(suite: Suite, title: str, *, captions: bool = False) -> Webinar:
    """A registered, logged-in host, a webinar room and a meeting they host in it (with live
    captions when `captions`), and its viewer link."""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15)) as http:
        return await _new_webinar(suite, http, title, captions)


async def _new_webinar(suite: Suite, http: aiohttp.ClientSession, title: str, captions: bool) -> Webinar:
    body = new_user()
    key = suite.api_key
    status, registered, _ = await call(http, "POST", suite.url + "/auth/register", key=key, json=body)
    assert status == 201, registered
    user = registered["data"]["user"]
    login = {"userName": body["email"], "password": body["password"]}
    status, granted, _ = await call(http, "POST", suite.url + "/auth/login", key=key, json=login)
    assert status == 200, granted
    token = granted["data"]["accessToken"]
    status, room, _ = await call(
        http, "POST", suite.url + "/room/create", key=key, json={"name": title, "type": "webinar"}
    )
    assert status == 201, room
    room_id = room["data"]["id"]
    meeting_body = {"title": title, "hostId": user["_id"], "transcriptEnabled": captions}
    status, meeting, _ = await call(
        http, "POST", suite.url + "/meetings/create", key=key, token=token, json=meeting_body
    )
    assert status == 201, meeting
    meeting_id = meeting["data"]["_id"]
    changes = {"userId": user["_id"], "roomId": room_id}
    status, answer, _ = await call(http, "POST", f"{suite.url}/meetings/update/{meeting_id}", key=key, json=changes)
    assert status == 204, answer
    status, link, _ = await call(http, "POST", f"{suite.url}/room/{room_id}/viewer-link", key=key, token=token)
    assert status == 201, link
    return Webinar(room_id, meeting_id, title, user, token, suite.url + link["data"]["path"])


async def new_context(browser: Browser) -> BrowserContext:
    context = await browser.new_context(permissions=["camera", "microphone"], viewport={"width": 1100, "height": 800})
    context.set_default_timeout(20000)
    return context


async def open_host_page(pages: BrowserPages, suite: Suite, webinar: Webinar, *, go_live: bool = True) -> Page:
    """The host page, signed in as the webinar's host (as the landing page leaves it), and live."""
    page = await pages.open("host", suite.url + "/app/")
    await page.evaluate(
        """({ apiKey, token, user }) => {
            localStorage.setItem('webinar.apiKey', apiKey);
            localStorage.setItem('webinar.token', token);
            localStorage.setItem('webinar.user', JSON.stringify(user));
        }""",
        {"apiKey": suite.api_key, "token": webinar.token, "user": webinar.user},
    )
    await page.goto(f"{suite.url}/app/host.html?room={webinar.room_id}&title={webinar.title}")
    await expect(page.get_by_role("status")).to_have_text("Check your camera and microphone, then go live.")
    if go_live:
        await page.get_by_role("button", name="Go live").click()
        await expect(page.get_by_role("status")).to_contain_text("You are live")
    return page


async def open_viewer(
    context: BrowserContext, pages: BrowserPages, name: str, link: str, *, expect_joined: bool = True
) -> Page:
    """A viewer who opens the link in `context`, types `name` (title-cased) and joins."""
    page = await context.new_page()
    errors = pages.errors.setdefault(name, [])
    page.on("pageerror", lambda error: errors.append(f"uncaught: {error}"))
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    pages.pages[name] = page
    await page.goto(link)
    await page.get_by_label("Your name").fill(name.title())
    await page.get_by_role("button", name="Join").click()
    if expect_joined:
        await expect(page.locator("#stage-section")).to_be_visible()
    return page


async def wait_true(page: Page, predicate: str, arg: object = None, timeout: float = 20.0) -> Any:
    """Polls `predicate` (a JavaScript function of `arg`) until it returns something truthy."""
    handle = await page.wait_for_function(predicate, arg=arg, timeout=timeout * 1000, polling=250)
    return await handle.json_value()


async def screenshot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"webapp-{name}.png"), full_page=True)


# Decoded video of a tile (its <video> has a size) from `source`, optionally of one person.
TILE_DECODED = """({ source, name }) => [...document.querySelectorAll(`.tile[data-source="${source}"]`)]
    .filter((tile) => !name || tile.querySelector('.name').textContent.startsWith(name))
    .some((tile) => {
        const video = tile.querySelector('video');
        return !video.hidden && video.videoWidth > 0 && video.currentTime > 0;
    })"""
