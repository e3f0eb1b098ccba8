"""A real session in the reports, against the running suite: two sockets join a webinar room
made with POST /room/create and leave; the media node publishes the session's facts, the
analytics service keeps them, and the five reporting routes show the session with its
type, its two participants, the page's domain and an unknown (loopback) location."""

import asyncio
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import aiohttp
from analytics_events import REPORTS
from roomclients import enter, rest_room, room_clients, user_with_token
from sfuclient import SfuClient

from restclient import call

PAGE_ORIGIN = "https://Events.Example.test:8443"
UNKNOWN_PLACE = {"city": "unknown", "region": "unknown", "country": "unknown", "country_name": "unknown"}


def utc_day() -> str:
    """Today (UTC) as the by-day report labels it."""
    return f"{datetime.now(UTC).date().isoformat()}T00:00:00.000Z"


async def report(suite: Any, http: aiohttp.ClientSession, name: str, query: dict[str, str]) -> Any:
    status, body, _ = await call(http, "GET", f"{suite.url}{REPORTS[name]}?{urlencode(query)}", key=suite.api_key)
    assert status == 200, body
    return body["data"]


async def wait_for_sessions(suite: Any, http: aiohttp.ClientSession, query: dict[str, str], count: int) -> None:
    """Until the reports count `count` completed sessions for the query (events are consumed
    in the background), for at most 30 seconds."""
    deadline = time.monotonic() + 30
    while True:
        total = (await report(suite, http, "total", query))["totalSessions"]
        if total >= count:
            assert total == count
            return
        assert time.monotonic() < deadline, f"the reports still show {total} sessions, not {count}"
        await asyncio.sleep(0.2)


async def test_a_webinar_two_sockets_joined_and_left_appears_in_every_report(suite, http):
    host_id, token = await user_with_token(suite, http)
    room = await rest_room(suite, http, "webinar")
    day = utc_day()
    async with room_clients(suite) as clients:
        # The host's page sends its Origin: the session is reported under that domain.
        host = SfuClient(suite.url, api_key=suite.api_key, token=token, timeout=5)
        await host.socket.connect(
            suite.url, socketio_path="socket.io", auth=host.auth, headers={"Origin": PAGE_ORIGIN}, wait_timeout=5
        )
        try:
            joined = await enter(host, room, "Harper")
            assert joined["room"]["type"] == "webinar"
            viewer = await clients()
            await enter(viewer, room, "Quinn")
            assert await viewer.request("exitRoom") == "successfully exited room"
            assert await host.request("exitRoom") == "successfully exited room"
        finally:
            await host.close()

    # The room's opener (it has no meeting) hosts it: its sessions are reported under the user.
    query = {"userID": host_id, "sessionType": "", "domain": ""}
    await wait_for_sessions(suite, http, query, 1)
    assert await report(suite, http, "statistics", query) == {
        "totalSessions": 1,
        "totalSessionsByType": [{"sessionType": "webinar", "totalSessions": 1}],
    }
    assert await report(suite, http, "by_day", query) == [
        {"domainCounts": [{"domain": "events.example.test", "count": 1}], "date": day}
    ]
    # Both sockets came from loopback: no place, one session, two participants.
    assert await report(suite, http, "by_place", query) == [{"_id": UNKNOWN_PLACE, "count": 1}]
    assert await report(suite, http, "by_city", query) == [
        {"_id": "unknown", "totalSessions": 1, "totalParticipants": 2}
    ]
    assert (await report(suite, http, "total", {**query, "domain": "events.example.test"}))["totalSessions"] == 1
    assert (await report(suite, http, "total", {**query, "sessionType": "meeting"}))["totalSessions"] == 0


async def test_a_room_filled_again_is_a_second_session(suite, http):
    host_id, token = await user_with_token(suite, http)
    room = await rest_room(suite, http, "conference")
    day = utc_day()
    async with room_clients(suite) as clients:
        host = await clients(token=token)
        for _ in range(2):
            await enter(host, room, "Harper")
            assert await host.request("exitRoom") == "successfully exited room"

    query = {"userID": host_id}
    await wait_for_sessions(suite, http, query, 2)
    # No Origin header: the sessions are reported under the host's email domain (restclient's users).
    assert await report(suite, http, "by_day", query) == [
        {
            "domainCounts": [{"domain": "example.test", "count": 2}],
            "date": day,
        }
    ]
    assert await report(suite, http, "by_city", query) == [
        {"_id": "unknown", "totalSessions": 2, "totalParticipants": 2}
    ]
