"""Browser fixtures: Debian's Chromium driven by Playwright (one browser per session,
one context per test), with fake camera and microphone. On a failure each page's
console errors join the report and its screenshot goes to test-artifacts/."""

from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio
from playwright.async_api import Browser, async_playwright

from e2e.browser import DEMO_BUNDLE, REPO_ROOT, BrowserPages
from webinar_devstack.chromium import CHROMIUM, CHROMIUM_ARGS
from webinar_devstack.suite import Suite

CALL_REPORT = pytest.StashKey[pytest.TestReport]()


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def browser() -> AsyncIterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: `make browser` installs Debian's chromium package")
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield launched
        await launched.close()


@pytest.fixture(scope="session")
def demo_url(suite: Suite) -> str:
    if not DEMO_BUNDLE.exists():
        pytest.fail(f"{DEMO_BUNDLE.relative_to(REPO_ROOT)} is missing: `make webclient` builds it")
    return suite.url + "/demo/"


@pytest_asyncio.fixture(loop_scope="session")
async def browser_pages(browser: Browser, request: pytest.FixtureRequest) -> AsyncIterator[BrowserPages]:
    context = await browser.new_context(permissions=["camera", "microphone"])
    context.set_default_timeout(15000)
    pages = BrowserPages(context)
    yield pages
    report = request.node.stash.get(CALL_REPORT, None)
    if report is not None and report.failed:
        # The report is printed at the end of the session, so what is added here shows.
        errors = pages.console_errors()
        if errors:
            report.sections.append(("browser console errors", errors))
        saved = await pages.save_screenshots(request.node.name)
        if saved:
            report.sections.append(("browser screenshots", "\n".join(str(path) for path in saved)))
    await context.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    report = yield
    if report.when == "call":
        item.stash[CALL_REPORT] = report
    return report
