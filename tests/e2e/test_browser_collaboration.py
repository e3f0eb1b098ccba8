"""Collaboration in the web app, through its pages: chat between the host page and viewer
pages (history after a reload, a file the host attaches and a viewer downloads with the
link's ticket, text never taken as HTML, a host deleting a message for everyone); a viewer
raising a hand, the host approving, and the viewer's camera reaching another viewer; and
the whiteboard: the host opens it, host and viewer draw, a late joiner sees the same
board, and undo and clear reach everyone."""

import secrets
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, expect

from e2e.browser import REPO_ROOT, BrowserPages, on_session_loop
from e2e.webapp import (
    TILE_DECODED,
    new_context,
    new_webinar,
    open_host_page,
    open_viewer,
    screenshot,
    wait_true,
)
from webinar_devstack.suite import Suite

APP_PAGE = REPO_ROOT / "services/gateway/gateway/static/app/index.html"
pytestmark = [
    on_session_loop,
    pytest.mark.skipif(not APP_PAGE.exists(), reason="the web app is not built: `make webclient` builds it"),
]

MESSAGES = (
    "() => [...document.querySelectorAll('.chat .messages li')].map((li) => li.querySelector('.text').textContent)"
)
BOARD = "() => window.{page}.whiteboard.snapshot().map((line) => line.points.join(',')).sort()"


async def send_chat(page: Page, text: str) -> None:
    await page.get_by_label("Message", exact=True).fill(text)
    await page.get_by_role("button", name="Send").click()
    await expect(page.locator(".chat .messages li .text").filter(has_text=text)).to_have_count(1)


async def messages(page: Page) -> list[str]:
    return list(await page.evaluate(MESSAGES))


async def test_host_and_viewers_chat_with_history_files_and_deletion(
    browser_pages: BrowserPages, browser: Browser, suite: Suite, tmp_path: Path
) -> None:
    webinar = await new_webinar(suite, f"Chat {secrets.token_hex(3)}")
    host = await open_host_page(browser_pages, suite, webinar)
    viewer_context = await new_context(browser)
    try:
        viewer = await open_viewer(viewer_context, browser_pages, "casey viewer", webinar.viewer_link)
        await send_chat(host, "Welcome, everyone")
        await send_chat(viewer, "Hello from the back row <b>bold?</b>")
        for page in (host, viewer):
            await wait_true(page, f"() => ({MESSAGES})().length === 2")
            assert await messages(page) == ["Welcome, everyone", "Hello from the back row <b>bold?</b>"]
        assert await viewer.locator(".chat .messages b").count() == 0, "chat text is never HTML"

        # The host attaches a file; the viewer's link downloads it with the ticket.
        slides = tmp_path / "slides.txt"
        slides.write_text("slide 1: the plan\n")
        await host.get_by_label("Attach a file").set_input_files(str(slides))
        await send_chat(host, "The slides")
        link = viewer.locator(".chat .messages a.file")
        await expect(link).to_have_text("slides.txt (18 B)")
        href = await link.get_attribute("href")
        assert href is not None
        assert "ticket=" in href
        downloaded = await viewer.evaluate("async (href) => (await fetch(href)).text()", href)
        assert downloaded == "slide 1: the plan\n"

        # A reload brings the history back, in order.
        await viewer.close()
        again = await open_viewer(viewer_context, browser_pages, "casey again", webinar.viewer_link)
        await wait_true(again, f"() => ({MESSAGES})().length === 3")
        assert await messages(again) == ["Welcome, everyone", "Hello from the back row <b>bold?</b>", "The slides"]
        assert await again.locator(".delete-message").first.is_hidden(), "a viewer cannot delete"

        # The host deletes a message: it goes for everyone.
        await host.get_by_role("button", name="Delete the message of Casey Viewer").click()
        await wait_true(again, f"() => ({MESSAGES})().length === 2")
        assert await messages(again) == ["Welcome, everyone", "The slides"]
        await screenshot(again, "viewer-chat")
    finally:
        await viewer_context.close()
    assert browser_pages.console_errors() == ""


async def test_a_viewer_raises_a_hand_and_once_approved_is_seen_by_the_other_viewers(
    browser_pages: BrowserPages, browser: Browser, suite: Suite
) -> None:
    webinar = await new_webinar(suite, f"Panel {secrets.token_hex(3)}")
    host = await open_host_page(browser_pages, suite, webinar)
    contexts = [await new_context(browser), await new_context(browser)]
    try:
        speaker = await open_viewer(contexts[0], browser_pages, "jordan speaker", webinar.viewer_link)
        audience = await open_viewer(contexts[1], browser_pages, "sam audience", webinar.viewer_link)
        await expect(speaker.get_by_role("button", name="Start camera")).to_be_hidden()

        await speaker.get_by_role("button", name="Raise hand to present").click()
        await expect(speaker.get_by_role("status")).to_have_text("Your hand is raised: the host will answer.")
        await host.get_by_role("button", name="Approve Jordan Speaker as a co-host").click()
        await expect(speaker.get_by_role("status")).to_contain_text("made you a co-host: you may present now.")
        await expect(host.locator('.person-list li[data-role="co-host"] .who')).to_have_text("Jordan Speaker")

        await speaker.get_by_role("button", name="Start camera").click()
        await expect(speaker.get_by_role("button", name="Stop camera")).to_be_visible()
        await wait_true(audience, TILE_DECODED, {"source": "camera", "name": "Jordan Speaker"})
        await wait_true(host, TILE_DECODED, {"source": "camera", "name": "Jordan Speaker"})
        await screenshot(audience, "viewer-sees-cohost")

        # A co-host opens and closes the whiteboard; a viewer has no such button.
        await expect(audience.get_by_role("button", name="Open whiteboard")).to_be_hidden()
        await speaker.get_by_role("button", name="Open whiteboard").click()
        await expect(audience.locator(".whiteboard .board")).to_be_visible()
        await speaker.get_by_role("button", name="Close whiteboard").click()
        await expect(audience.get_by_text("The host has not opened the whiteboard.")).to_be_visible()

        # Demoted, the co-host's camera leaves everyone's stage and the hand can go up again.
        await host.get_by_role("button", name="Make Jordan Speaker a viewer again").click()
        await expect(audience.locator(".tile .name").filter(has_text="Jordan Speaker")).to_have_count(0)
        await expect(speaker.get_by_role("button", name="Raise hand to present")).to_be_visible()
        await expect(speaker.get_by_role("button", name="Open whiteboard")).to_be_hidden()
    finally:
        for context in contexts:
            await context.close()
    assert browser_pages.console_errors() == ""


def same_board(board: str) -> str:
    """A predicate: the page's board is the one given (its lines' points, sorted)."""
    return f"(expected) => JSON.stringify(({board})()) === JSON.stringify(expected)"


async def draw(page: Page, points: list[tuple[float, float]]) -> None:
    """A stroke through `points` (fractions of the board's width and height)."""
    board = page.locator(".whiteboard .board canvas").first
    await board.scroll_into_view_if_needed()
    box = await board.bounding_box()
    assert box is not None
    (x, y), *rest = points
    await page.mouse.move(box["x"] + x * box["width"], box["y"] + y * box["height"])
    await page.mouse.down()
    for x, y in rest:
        await page.mouse.move(box["x"] + x * box["width"], box["y"] + y * box["height"], steps=4)
    await page.mouse.up()


async def test_the_whiteboard_is_shared_kept_for_late_joiners_and_undo_and_clear_reach_everyone(
    browser_pages: BrowserPages, browser: Browser, suite: Suite
) -> None:
    webinar = await new_webinar(suite, f"Board {secrets.token_hex(3)}")
    host = await open_host_page(browser_pages, suite, webinar, go_live=False)
    contexts = [await new_context(browser), await new_context(browser)]
    try:
        viewer = await open_viewer(contexts[0], browser_pages, "drew viewer", webinar.viewer_link)
        await expect(viewer.get_by_text("The host has not opened the whiteboard.")).to_be_visible()
        await host.get_by_role("button", name="Open whiteboard").click()
        await expect(viewer.locator(".whiteboard .board")).to_be_visible()

        await draw(host, [(0.1, 0.1), (0.3, 0.2), (0.5, 0.4)])
        await draw(viewer, [(0.6, 0.7), (0.8, 0.75)])
        await draw(host, [(0.2, 0.8), (0.25, 0.6)])
        host_board = BOARD.format(page="hostPage")
        viewer_board = BOARD.format(page="watchPage")
        await wait_true(host, f"() => ({host_board})().length === 3")
        drawn = await host.evaluate(host_board)
        await wait_true(viewer, same_board(viewer_board), drawn)

        late = await open_viewer(contexts[1], browser_pages, "lee late", webinar.viewer_link)
        await wait_true(late, same_board(viewer_board), drawn)
        await screenshot(late, "viewer-whiteboard")

        # The host's undo takes back the host's last stroke, everywhere.
        await host.locator(".whiteboard").get_by_role("button", name="Undo").click()
        await wait_true(host, f"() => ({host_board})().length === 2")
        undone = await host.evaluate(host_board)
        assert len(set(drawn) - set(undone)) == 1
        for page in (viewer, late):
            await wait_true(page, same_board(viewer_board), undone)

        # A viewer clears the board for everyone.
        await viewer.locator(".whiteboard").get_by_role("button", name="Clear").click()
        for page, board in ((host, host_board), (viewer, viewer_board), (late, viewer_board)):
            await wait_true(page, f"() => ({board})().length === 0")
    finally:
        for context in contexts:
            await context.close()
    assert browser_pages.console_errors() == ""
