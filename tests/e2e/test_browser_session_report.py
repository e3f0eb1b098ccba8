"""A webinar in two Chromium pages shows in the reports: the host and a viewer join a room
made with POST /room/create from the demo page, leave, and the reporting routes show one
webinar session with two participants, from an unknown (loopback) place, under the
page's domain (the host of its Origin)."""

from urllib.parse import urlsplit

import aiohttp
import pytest_asyncio
from roomclients import rest_room, user_with_token
from test_session_reports import UNKNOWN_PLACE, report, utc_day, wait_for_sessions

from e2e.browser import BrowserPages, join_room, on_session_loop
from webinar_devstack.suite import Suite

pytestmark = on_session_loop


@pytest_asyncio.fixture(loop_scope="session")
async def http():
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        yield session


async def test_a_webinar_in_two_browsers_appears_in_the_reports(
    suite: Suite, http: aiohttp.ClientSession, browser_pages: BrowserPages, demo_url: str
) -> None:
    host_id, token = await user_with_token(suite, http)
    room = await rest_room(suite, http, "webinar")
    day = utc_day()
    host = await browser_pages.open("host", demo_url)
    viewer = await browser_pages.open("viewer", demo_url)
    await join_room(host, room=room, api_key=suite.api_key, token=token, name="Harper")
    assert await host.evaluate("window.seedClient.room.type") == "webinar"
    await join_room(viewer, room=room, api_key=suite.api_key, name="Quinn")
    for page in (viewer, host):
        assert await page.evaluate("window.seedClient.exit()") == "successfully exited room"

    query = {"userID": host_id}
    await wait_for_sessions(suite, http, query, 1)
    assert await report(suite, http, "statistics", query) == {
        "totalSessions": 1,
        "totalSessionsByType": [{"sessionType": "webinar", "totalSessions": 1}],
    }
    page_host = urlsplit(demo_url).hostname
    assert await report(suite, http, "by_day", query) == [
        {"domainCounts": [{"domain": page_host, "count": 1}], "date": day}
    ]
    assert await report(suite, http, "by_place", query) == [{"_id": UNKNOWN_PLACE, "count": 1}]
    assert await report(suite, http, "by_city", query) == [
        {"_id": "unknown", "totalSessions": 1, "totalParticipants": 2}
    ]
