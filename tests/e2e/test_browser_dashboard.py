"""The analytics dashboard (/demo/dashboard.html) in Chromium: sessions published on the bus
show in its tables exactly as computed here from the planned sessions, its Chart.js charts
draw bars, and an Essential key or a backwards date range gets a clear message."""

import json
import secrets
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from analytics_events import Expected, PlannedSession, publish, wait_consumed
from playwright.async_api import Page, expect

from e2e.browser import REPO_ROOT, BrowserPages, on_session_loop
from webinar_contracts.auth import RESOLVE_API_KEY, ResolveApiKey
from webinar_devstack.suite import Suite
from webinar_runtime.bus import Bus

pytestmark = on_session_loop

DASHBOARD_BUNDLE = REPO_ROOT / "services/gateway/gateway/static/demo/dashboard.js"
MARCH = {"startDateRange": "2025-03-01T00:00:00.000Z", "endDateRange": "2025-03-31T23:59:59.999Z"}
# The colour of the first dataset's bars (src/dashboard.js COLOURS[0]).
FIRST_BAR_RGB = (0x1A, 0x5F, 0xB4)
CHARTS = ["by-day", "by-type", "by-place", "by-city"]
# Addresses whose places the pinned DB-IP database gives (tests/analytics_events.py PLACES).
MOUNTAIN_VIEW, LONDON, SYDNEY, LOOPBACK = "8.8.8.8", "81.2.69.142", "1.1.1.1", "127.0.0.1"
ALPHA, BETA = "alpha.example", "beta.example"


@pytest.fixture(scope="module")
def dashboard_url(suite: Suite) -> str:
    if not DASHBOARD_BUNDLE.exists():
        pytest.fail(f"{DASHBOARD_BUNDLE.relative_to(REPO_ROOT)} is missing: `make webclient` builds it")
    return f"{suite.url}/demo/dashboard.html"


def march_sessions(tenant_id: str, host: str) -> list[PlannedSession]:
    """A host's sessions in March 2025, with one on each side of the month and one still running."""

    def planned(
        start: datetime, kind: str, domain: str, addresses: list[str | None], ended: bool = True
    ) -> PlannedSession:
        return PlannedSession(
            tenant_id=tenant_id,
            session_id=f"dashboard-{secrets.token_hex(6)}",
            session_type=kind,
            host=host,
            domain=domain,
            start=start,
            ended=ended,
            addresses=addresses,
        )

    return [
        planned(datetime(2025, 2, 28, 23, 59, tzinfo=UTC), "webinar", ALPHA, [MOUNTAIN_VIEW]),
        planned(datetime(2025, 3, 1, 0, 0, tzinfo=UTC), "webinar", ALPHA, [MOUNTAIN_VIEW, MOUNTAIN_VIEW, LONDON]),
        planned(datetime(2025, 3, 1, 9, 30, tzinfo=UTC), "meeting", BETA, [LONDON]),
        planned(datetime(2025, 3, 4, 14, 0, tzinfo=UTC), "webinar", ALPHA, [LOOPBACK, SYDNEY]),
        planned(datetime(2025, 3, 9, 18, 0, tzinfo=UTC), "live", "", []),
        planned(datetime(2025, 3, 12, 8, 0, tzinfo=UTC), "conference", ALPHA, [MOUNTAIN_VIEW], ended=False),
        planned(datetime(2025, 4, 1, 0, 0, tzinfo=UTC), "meeting", BETA, [LONDON]),
    ]  # fmt: skip


async def publish_sessions(suite: Suite, sessions_of: Callable[[str], list[PlannedSession]]) -> list[PlannedSession]:
    """Publishes the sessions `sessions_of(tenant_id)` of the suite key's tenant and waits until consumed."""
    bus = await Bus.connect(suite.env["NATS_URL"], service="dashboard-test", instance="loader", attempts=3)
    try:
        tenant_id = (await bus.request(RESOLVE_API_KEY, ResolveApiKey(api_key=suite.api_key))).tenant_id
        sessions = sessions_of(tenant_id)
        await publish(bus, sessions)
    finally:
        await bus.close()
    await wait_consumed(suite.env["NATS_URL"])
    return sessions


async def fill_form(page: Page, *, api_key: str, start: str, end: str, host: str = "", session_type: str = "") -> None:
    await page.get_by_label("API key").fill(api_key)
    await page.get_by_label("From", exact=True).fill(start)
    await page.get_by_label("To", exact=True).fill(end)
    await page.get_by_label("Host user ID").fill(host)
    await page.get_by_label("Session type", exact=True).select_option(session_type)
    await page.get_by_role("button", name="Show reports").click()


async def table_rows(page: Page, name: str) -> list[list[str]]:
    rows: list[list[str]] = await page.locator(f"#{name}-table tbody tr").evaluate_all(
        "rows => rows.map((row) => [...row.cells].map((cell) => cell.textContent))"
    )
    return rows


def expected_rows(expected: Expected) -> dict[str, list[list[str]]]:
    """The four tables as the page should show them, from the reports computed in Python."""
    return {
        "by-day": [
            [entry["date"][:10], count["domain"], str(count["count"])]
            for entry in expected.by_day()["data"]
            for count in entry["domainCounts"]
        ],
        "by-type": [
            [kind["sessionType"], str(kind["totalSessions"])]
            for kind in expected.statistics()["data"]["totalSessionsByType"]
        ],
        "by-place": [
            [
                place["_id"]["city"],
                place["_id"]["region"],
                place["_id"]["country"],
                place["_id"]["country_name"],
                str(place["count"]),
            ]
            for place in expected.by_place()["data"]
        ],
        "by-city": [
            [city["_id"], str(city["totalSessions"]), str(city["totalParticipants"])]
            for city in expected.by_city()["data"]
        ],
    }


async def bar_pixels(page: Page, chart: str) -> int:
    """How many pixels of the chart's canvas have the first dataset's bar colour."""
    count: int = await page.evaluate(
        """([id, [r, g, b]]) => {
            const canvas = document.getElementById(id);
            const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
            let count = 0;
            for (let i = 0; i < pixels.length; i += 4) {
                if (pixels[i] === r && pixels[i + 1] === g && pixels[i + 2] === b && pixels[i + 3] === 255) count++;
            }
            return count;
        }""",
        [f"{chart}-chart", list(FIRST_BAR_RGB)],
    )
    return count


async def assert_page_shows(page: Page, expected: Expected) -> None:
    total = expected.total()["data"]["totalSessions"]
    await expect(page.get_by_role("status")).to_have_text(
        f"Showing {total} completed session{'' if total == 1 else 's'}."
    )
    assert await page.locator("#total-sessions").inner_text() == str(total)
    for name, rows in expected_rows(expected).items():
        assert await table_rows(page, name) == (rows or [["No completed sessions match."]]), name


async def test_dashboard_shows_the_published_sessions_as_tables_and_charts(
    suite: Suite, browser_pages: BrowserPages, dashboard_url: str
) -> None:
    host = f"dashboard-host-{secrets.token_hex(4)}"
    sessions = await publish_sessions(suite, lambda tenant_id: march_sessions(tenant_id, host))
    page = await browser_pages.open("dashboard", dashboard_url)

    await fill_form(page, api_key=suite.api_key, start="2025-03-01", end="2025-03-31", host=host)
    march = Expected(sessions, {**MARCH, "userID": host})
    # The month's four completed sessions, from three known cities and a loopback address.
    assert march.total()["data"]["totalSessions"] == 4
    assert {city["_id"] for city in march.by_city()["data"]} == {"Mountain View", "London", "Sydney", "unknown"}
    await assert_page_shows(page, march)
    for chart in CHARTS:
        assert await bar_pixels(page, chart) > 0, f"no bars drawn on the {chart} chart"

    await fill_form(
        page, api_key=suite.api_key, start="2025-03-01", end="2025-03-31", host=host, session_type="webinar"
    )
    webinars = Expected(sessions, {**MARCH, "userID": host, "sessionType": "webinar"})
    assert webinars.total()["data"]["totalSessions"] == 2
    await assert_page_shows(page, webinars)

    # The bundle carries Chart.js exactly as the lock file pins it.
    lock = json.loads((REPO_ROOT / "libs/webclient/package-lock.json").read_text())
    pinned = lock["packages"]["node_modules/chart.js"]["version"]
    assert await page.evaluate("window.seedDashboard.chartVersion") == pinned


async def test_an_essential_key_gets_the_plan_message(
    essential_key: str, browser_pages: BrowserPages, dashboard_url: str
) -> None:
    page = await browser_pages.open("dashboard", dashboard_url)
    await fill_form(page, api_key=essential_key, start="2025-03-01", end="2025-03-31")
    status = page.get_by_role("status")
    await expect(status).to_contain_text("Analytics are part of the Professional plan")
    await expect(status).to_contain_text("Essential")
    assert await page.locator("#reports").is_hidden()


async def test_an_end_before_the_start_gets_the_date_message(
    suite: Suite, browser_pages: BrowserPages, dashboard_url: str
) -> None:
    page = await browser_pages.open("dashboard", dashboard_url)
    await fill_form(page, api_key=suite.api_key, start="2025-03-31", end="2025-03-01")
    status = page.get_by_role("status")
    await expect(status).to_contain_text("Check the date range")
    await expect(status).to_contain_text("(endDateRange)")
    assert await page.locator("#reports").is_hidden()


async def test_every_control_is_labelled_reachable_by_keyboard_and_the_geolocation_is_attributed(
    browser_pages: BrowserPages, dashboard_url: str
) -> None:
    page = await browser_pages.open("dashboard", dashboard_url)
    unlabelled = await page.evaluate(
        "[...document.querySelectorAll('input, select, button')].filter((el) => !el.labels?.length"
        " && !el.textContent.trim()).map((el) => el.id)"
    )
    assert unlabelled == []
    controls = await page.evaluate(
        "[...document.querySelectorAll('#filters-form input, select, button')].map((el) => el.id)"
    )
    reached: list[str] = []
    for _ in range(3 * len(controls)):  # a date input takes a Tab per part (month, day, year)
        await page.keyboard.press("Tab")
        focused = await page.evaluate("document.activeElement.id")
        if focused and (not reached or reached[-1] != focused):
            reached.append(focused)
        if focused == "show":
            break
    assert reached == controls
    attribution = page.get_by_role("link", name="IP geolocation by DB-IP")
    assert await attribution.get_attribute("href") == "https://db-ip.com"
    assert await page.get_by_role("link", name="CC BY 4.0").get_attribute("href") == (
        "https://creativecommons.org/licenses/by/4.0/"
    )
