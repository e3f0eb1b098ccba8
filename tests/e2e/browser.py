"""What the browser tests share: how Chromium is started, the pages a test opens
(with their console errors and screenshots), and waits on page state.

Playwright's async API, on one event loop for the whole session (the browser
lives that long): its sync API keeps its own loop marked as running between calls,
which breaks every asyncio test that runs after it in the same process."""

import json
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from playwright.async_api import BrowserContext, ConsoleMessage, Error, Page

REPO_ROOT = Path(__file__).resolve().parents[2]
DEMO_BUNDLE = REPO_ROOT / "services/gateway/gateway/static/demo/demo.js"
ARTIFACTS = REPO_ROOT / "test-artifacts"

# Every browser test runs on the session's loop, the one the browser was started on.
on_session_loop = pytest.mark.asyncio(loop_scope="session")


@dataclass
class BrowserPages:
    """The pages a test opened in its context, with what each logged as an error."""

    context: BrowserContext
    pages: dict[str, Page] = field(default_factory=dict)
    errors: dict[str, list[str]] = field(default_factory=dict)

    async def open(self, name: str, url: str) -> Page:
        page = await self.context.new_page()
        errors = self.errors.setdefault(name, [])

        def on_console(message: ConsoleMessage) -> None:
            if message.type == "error":
                errors.append(message.text)

        page.on("console", on_console)
        page.on("pageerror", lambda error: errors.append(f"uncaught: {error}"))
        self.pages[name] = page
        await page.goto(url)
        return page

    def console_errors(self) -> str:
        return "\n".join(f"[{name}] {line}" for name, lines in self.errors.items() for line in lines)

    async def save_screenshots(self, test_name: str) -> list[Path]:
        ARTIFACTS.mkdir(exist_ok=True)
        saved = []
        for name, page in self.pages.items():
            path = ARTIFACTS / f"{re.sub(r'[^A-Za-z0-9_.-]+', '_', test_name)}-{name}.png"
            try:
                await page.screenshot(path=str(path), full_page=True, timeout=5000)
            except Error:
                continue  # a closed or crashed page has nothing to show
            saved.append(path)
        return saved


async def login_token(base_url: str, api_key: str) -> str:
    """An access token of a new made-up user of the key's tenant."""
    user = {
        "email": f"viewer.{secrets.token_hex(4)}@example.test",
        "fName": "Avery",
        "lName": "Browser",
        "phoneNumber": "+1 555 0142",
        "country": "Nowhere",
        "password": "a long passphrase",
    }
    headers = {"x-api-key": api_key}
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
        async with http.post(base_url + "/auth/register", json=user, headers=headers) as registered:
            registered.raise_for_status()
        login = {"userName": user["email"], "password": user["password"]}
        async with http.post(base_url + "/auth/login", json=login, headers=headers) as answer:
            answer.raise_for_status()
            return str((await answer.json())["data"]["accessToken"])


async def join_room(
    page: Page, *, room: str, api_key: str, token: str = "", name: str, send_resume: bool = False
) -> Any:
    """Joins `room` from the demo page with a SeedClient (window.seedClient); returns its snapshot."""
    await page.wait_for_function("window.seedDemo !== undefined")
    return await page.evaluate(
        """async (options) => {
            const client = window.seedDemo.createClient(options);
            await client.join(options.room);
            return client.snapshot();
        }""",
        {"room": room, "apiKey": api_key, "token": token, "name": name, "sendResume": send_resume},
    )


async def join_with_form(page: Page, *, room: str, api_key: str, name: str) -> Any:
    """Joins `room` as a person would: the demo page's form and its Join button."""
    await page.get_by_label("Room id").fill(room)
    await page.get_by_label("Your name").fill(name)
    await page.get_by_label("API key").fill(api_key)
    await page.get_by_role("button", name="Join room").click()
    await page.get_by_role("status").filter(has_text="Joined.").wait_for()
    return await snapshot(page)


async def snapshot(page: Page) -> Any:
    return await page.evaluate("window.seedClient.snapshot()")


async def wait_for(page: Page, predicate: str, arg: Any = None, timeout: float = 15.0) -> Any:
    """Polls `predicate` (a JavaScript function of `arg`, may be async) in the page every
    250 ms until it returns something truthy, and returns that. On a timeout the
    AssertionError shows the page's client state and what it receives."""
    try:
        return await page.evaluate(
            f"""async ({{ arg, timeoutMs }}) => {{
                const predicate = {predicate};
                const deadline = performance.now() + timeoutMs;
                for (;;) {{
                    const value = await predicate(arg);
                    if (value) return value;
                    if (performance.now() > deadline) throw new Error('timed out');
                    await new Promise((resolve) => setTimeout(resolve, 250));
                }}
            }}""",
            {"arg": arg, "timeoutMs": timeout * 1000},
        )
    except Error as error:
        state = await page.evaluate(
            """async () => window.seedClient
                ? { client: window.seedClient.snapshot(), inbound: await window.seedClient.inboundStats() }
                : 'no client on this page'"""
        )
        raise AssertionError(
            f"{error.message.splitlines()[0]} after {timeout}s waiting for {predicate} with {arg}\n"
            f"page state: {json.dumps(state, indent=1)}"
        ) from None
