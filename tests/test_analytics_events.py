"""The analytics service as its own process on a NATS server of the test's own: it consumes
the session events durably, so replaying the whole stream changes no report, and a service
that was down (or not yet started) catches up on what was published meanwhile."""

import random
import secrets
from collections.abc import AsyncIterator, Iterator
from typing import Any

import msgspec
import nats
import pytest
from analytics_events import CONSUMER, Expected, PlannedSession, generate, publish, wait_consumed

from webinar_contracts import RequestContext
from webinar_contracts import analytics as contract
from webinar_contracts.analytics import ReportFilters
from webinar_contracts.plans import Plan
from webinar_devstack.processes import ServiceProcess
from webinar_runtime.bus import EVENT_STREAM, Bus

pytestmark = pytest.mark.slow

TENANT = "tenant-events"
REPORTS = {
    "total": contract.TOTAL_SESSIONS,
    "by_day": contract.SESSIONS_BY_DAY,
    "statistics": contract.SESSION_STATISTICS,
    "by_place": contract.SESSIONS_BY_PLACE,
    "by_city": contract.SESSIONS_BY_CITY,
}
QUERIES = [{}, {"countryCode": "US"}, {"userID": "host-b", "startDateRange": "2025-10-10"}]


@pytest.fixture
def analytics(private_nats_url, mongo_url, tmp_path) -> Iterator[ServiceProcess]:
    """An analytics service (not started) on the test's own NATS server and its own database."""
    env = {
        "NATS_URL": private_nats_url,
        "MONGO_URL": mongo_url,
        "ANALYTICS_DATABASE": f"analytics_events_{secrets.token_hex(5)}",
    }
    process = ServiceProcess("analytics", env, log_path=tmp_path / "analytics.log")
    yield process
    process.stop()


@pytest.fixture
async def bus(private_nats_url) -> AsyncIterator[Bus]:
    connected = await Bus.connect(private_nats_url, service="analytics-events-test", instance="publisher", attempts=3)
    await connected.ensure_event_stream()
    yield connected
    await connected.close()


async def reports(bus: Bus) -> list[dict[str, Any]]:
    context = RequestContext(tenant_id=TENANT, plan=Plan.PROFESSIONAL)
    answers = []
    for query in QUERIES:
        filters = msgspec.convert(query, ReportFilters)
        for endpoint in REPORTS.values():
            answers.append(msgspec.to_builtins(await bus.request(endpoint, filters, context=context)))
    return answers


def expected(sessions: list[PlannedSession]) -> list[dict[str, Any]]:
    return [Expected(sessions, query).report(name) for query in QUERIES for name in REPORTS]


async def pending(nats_url: str) -> int:
    nc = await nats.connect(nats_url, connect_timeout=2)
    try:
        return int((await nc.jetstream().consumer_info(EVENT_STREAM, CONSUMER, timeout=2)).num_pending)
    finally:
        await nc.close()


async def test_replaying_every_event_changes_no_report(analytics, bus, private_nats_url):
    sessions = generate(TENANT, count=20, hosts=["host-a", "host-b"], seed=21)
    # Each event twice under two event ids, shuffled: participants leave before they join,
    # sessions end before they start.
    await publish(bus, sessions, copies=2, shuffle=random.Random(3))
    analytics.start_and_wait()
    await wait_consumed(private_nats_url)
    first = await reports(bus)
    assert first == expected(sessions)
    assert first[0]["data"]["totalSessions"] > 0

    # The operator replays the stream: a new consumer delivers every event once more.
    analytics.stop()
    nc = await nats.connect(private_nats_url, connect_timeout=2)
    try:
        assert await nc.jetstream().delete_consumer(EVENT_STREAM, CONSUMER)
    finally:
        await nc.close()
    analytics.start_and_wait()
    await wait_consumed(private_nats_url)
    assert await reports(bus) == first


async def test_a_late_service_catches_up_on_events_published_while_it_was_down(analytics, bus, private_nats_url):
    before = generate(TENANT, count=8, hosts=["host-a", "host-b"], seed=31)
    await publish(bus, before)  # before the service ever ran
    analytics.start_and_wait()
    await wait_consumed(private_nats_url)
    assert await reports(bus) == expected(before)

    analytics.stop()
    during = generate(TENANT, count=8, hosts=["host-a", "host-b"], seed=32)
    published = await publish(bus, during)
    assert await pending(private_nats_url) == published  # kept for the consumer while nobody reads

    analytics.start_and_wait()
    await wait_consumed(private_nats_url)
    assert await reports(bus) == expected(before + during)
