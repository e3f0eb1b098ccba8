"""The analytics store against the real MongoDB-compatible server: events in any order and
any number of times leave the same reports, no address is kept, and every report's first
$match is served by an index (from the server's own explain output)."""

import itertools
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from analytics.domain import UNKNOWN_LOCATION, CompletedSession, Location, ReportFilter
from analytics.handlers import AnalyticsHandlers
from analytics.store import (
    REPORT_INDEXES,
    sessions_by_city_pipeline,
    sessions_by_day_pipeline,
    sessions_by_place_pipeline,
    statistics_pipeline,
    total_sessions_pipeline,
)
from webinar_contracts import RequestContext
from webinar_contracts.sessions import (
    PARTICIPANT_JOINED,
    PARTICIPANT_LEFT,
    SESSION_ENDED,
    SESSION_STARTED,
    ParticipantJoined,
    ParticipantLeft,
    SessionEnded,
    SessionStarted,
    SessionType,
)
from webinar_runtime.bus import Event

TENANT = "tenant-a"
LAHORE = Location(country_code="PK", country_name="Pakistan", region="Punjab", city="Lahore")
KARACHI = Location(country_code="PK", country_name="Pakistan", region="Sindh", city="Karachi")
PLACES = {"203.0.113.10": LAHORE, "203.0.113.11": LAHORE, "203.0.113.20": KARACHI}
START = datetime(2025, 10, 12, 9, 0, tzinfo=UTC)


class FakeLocator:
    """Places from a table; counts lookups."""

    def __init__(self) -> None:
        self.lookups: list[str | None] = []

    async def locate(self, client_ip: str | None) -> Location:
        self.lookups.append(client_ip)
        return PLACES.get(client_ip or "", UNKNOWN_LOCATION)


def event(event_type, payload, tenant: str = TENANT) -> Event[Any]:
    return Event(
        id=f"{event_type.subject}:{id(payload)}",
        subject=event_type.subject,
        occurred_at=datetime.now(UTC),
        context=RequestContext(tenant_id=tenant),
        payload=payload,
    )


def session_events(session_id: str, *, ips: list[str | None], ended: bool = True, tenant: str = TENANT):
    started_at = START
    events = [
        event(
            SESSION_STARTED,
            SessionStarted(
                session_id=session_id,
                room_id=f"room-{session_id}",
                session_type=SessionType.WEBINAR,
                host_user_id="host-1",
                domain="Example.org",
                started_at=started_at,
            ),
            tenant,
        )
    ]
    for number, ip in enumerate(ips):
        participant = f"{session_id}-p{number}"
        events.append(
            event(
                PARTICIPANT_JOINED,
                ParticipantJoined(
                    session_id=session_id,
                    participant_id=participant,
                    room_id=f"room-{session_id}",
                    name=f"Guest {number}",
                    client_ip=ip,
                    joined_at=started_at + timedelta(minutes=number),
                ),
                tenant,
            )
        )
        events.append(
            event(
                PARTICIPANT_LEFT,
                ParticipantLeft(
                    session_id=session_id, participant_id=participant, left_at=started_at + timedelta(hours=1)
                ),
                tenant,
            )
        )
    if ended:
        events.append(
            event(SESSION_ENDED, SessionEnded(session_id=session_id, ended_at=started_at + timedelta(hours=2)), tenant)
        )
    return events


async def deliver(handlers: AnalyticsHandlers, events) -> None:
    by_subject = {
        SESSION_STARTED.subject: handlers.on_session_started,
        PARTICIPANT_JOINED.subject: handlers.on_participant_joined,
        PARTICIPANT_LEFT.subject: handlers.on_participant_left,
        SESSION_ENDED.subject: handlers.on_session_ended,
    }
    for each in events:
        await by_subject[each.subject](each)


async def reports(store, tenant: str = TENANT) -> tuple[Any, ...]:
    everything = ReportFilter(tenant_id=tenant)
    return (
        await store.total_sessions(everything),
        await store.sessions_by_day(everything),
        await store.statistics(everything),
        await store.sessions_by_place(everything),
        await store.sessions_by_city(everything),
    )


async def test_a_completed_session_is_reported_with_its_places(store):
    handlers = AnalyticsHandlers(store=store, locator=FakeLocator())
    await deliver(handlers, session_events("s1", ips=["203.0.113.10", "203.0.113.11", "203.0.113.20", "127.0.0.1"]))
    total, by_day, statistics, by_place, by_city = await reports(store)
    assert total == 1
    assert [(day.day, day.domain_counts) for day in by_day] == [
        (datetime(2025, 10, 12, tzinfo=UTC), [("example.org", 1)])
    ]
    assert (statistics.total_sessions, statistics.by_type) == (1, [("webinar", 1)])
    assert {(found.place, found.sessions) for found in by_place} == {(LAHORE, 1), (KARACHI, 1), (UNKNOWN_LOCATION, 1)}
    assert {(found.city, found.sessions, found.participants) for found in by_city} == {
        ("Lahore", 1, 2),
        ("Karachi", 1, 1),
        ("unknown", 1, 1),
    }


async def test_a_session_still_running_is_not_counted_until_it_ends(store):
    handlers = AnalyticsHandlers(store=store, locator=FakeLocator())
    events = session_events("s1", ips=["203.0.113.10"])
    await deliver(handlers, events[:-1])
    assert await store.total_sessions(ReportFilter(tenant_id=TENANT)) == 0
    await deliver(handlers, events[-1:])
    assert await store.total_sessions(ReportFilter(tenant_id=TENANT)) == 1


async def test_events_in_any_order_and_delivered_twice_give_the_same_reports(store):
    events = session_events("s1", ips=["203.0.113.10", "203.0.113.20", None]) + session_events(
        "s2", ips=["203.0.113.11"]
    )
    in_order = AnalyticsHandlers(store=store, locator=FakeLocator())
    await deliver(in_order, events)
    expected = await reports(store)
    shuffled = random.Random(7)
    for attempt in range(4):
        other = store.__class__(store.db.client[f"{store.db.name}_{attempt}"])
        await other.create_indexes()
        try:
            replay = [*events, *events]
            shuffled.shuffle(replay)
            await deliver(AnalyticsHandlers(store=other, locator=FakeLocator()), replay)
            assert await reports(other) == expected
        finally:
            await store.db.client.drop_database(other.db.name)


async def test_each_join_is_located_once_and_no_address_is_kept(store):
    locator = FakeLocator()
    handlers = AnalyticsHandlers(store=store, locator=locator)
    events = session_events("s1", ips=["203.0.113.10", "203.0.113.20"])
    await deliver(handlers, events)
    await deliver(handlers, events)
    assert sorted(locator.lookups) == ["203.0.113.10", "203.0.113.20"]
    for collection in (store.sessions, store.participants):
        async for doc in collection.find({}):
            assert "203.0.113" not in repr(doc)


async def test_events_without_a_tenant_are_ignored(store):
    handlers = AnalyticsHandlers(store=store, locator=FakeLocator())
    await deliver(handlers, session_events("s1", ips=["203.0.113.10"], tenant=""))
    assert await store.sessions.count_documents({}) == 0
    assert await store.participants.count_documents({}) == 0


async def test_a_tenant_sees_only_its_own_sessions(store):
    handlers = AnalyticsHandlers(store=store, locator=FakeLocator())
    await deliver(handlers, session_events("s1", ips=["203.0.113.10"]))
    await deliver(handlers, session_events("s1", ips=["203.0.113.20"], tenant="tenant-b"))
    assert (await reports(store))[3][0].place == LAHORE
    assert (await reports(store, "tenant-b"))[3][0].place == KARACHI
    assert await store.total_sessions(ReportFilter(tenant_id="tenant-c")) == 0


# -- indexes ----------------------------------------------------------------------------

PIPELINES = [
    total_sessions_pipeline,
    sessions_by_day_pipeline,
    statistics_pipeline,
    sessions_by_place_pipeline,
    sessions_by_city_pipeline,
]
OCTOBER = {"start": datetime(2025, 10, 1, tzinfo=UTC), "end": datetime(2025, 10, 31, 23, 59, 59, tzinfo=UTC)}
FILTERS_AND_INDEXES = [
    ({}, {"report_by_start"}),
    (OCTOBER, {"report_by_start"}),
    ({"start": OCTOBER["start"]}, {"report_by_start"}),
    ({"host_user_id": "host-1", **OCTOBER}, {"report_by_host"}),
    ({"host_user_id": "host-1", "city": "Lahore", "session_type": "webinar"}, {"report_by_host"}),
    ({"city": "Lahore", **OCTOBER}, {"report_by_city"}),
    ({"city": "Lahore", "country_code": "PK", "country_name": "Pakistan"}, {"report_by_city"}),
    ({"country_code": "PK", **OCTOBER}, {"report_by_country"}),
    ({"country_name": "Pakistan"}, {"report_by_country_name"}),
    # The other filters follow in a second $match.
    ({"domain": "example.org", "session_type": "live", **OCTOBER}, {"report_by_domain"}),
    ({"session_type": "live", **OCTOBER}, {"report_by_type"}),
]


def index_scans(plan: Any) -> tuple[set[str], set[str]]:
    """(index names scanned, stages seen) anywhere in an explain document."""
    names: set[str] = set()
    stages: set[str] = set()
    if isinstance(plan, dict):
        if "stage" in plan:
            stages.add(plan["stage"])
        if plan.get("stage") == "IXSCAN":
            names.add(plan["indexName"])
        for value in plan.values():
            found_names, found_stages = index_scans(value)
            names |= found_names
            stages |= found_stages
    elif isinstance(plan, list):
        for value in plan:
            found_names, found_stages = index_scans(value)
            names |= found_names
            stages |= found_stages
    return names, stages


async def test_the_report_indexes_exist(store):
    indexes = {index["name"]: list(index["key"].items()) async for index in await store.sessions.list_indexes()}
    for name, keys in REPORT_INDEXES.items():
        assert indexes[name] == [(field, 1) for field, _ in keys]


@pytest.mark.parametrize(("filters", "expected"), FILTERS_AND_INDEXES)
async def test_every_report_pipeline_starts_on_an_index(store, filters, expected):
    await store.insert_completed_sessions(
        TENANT,
        [
            CompletedSession(
                session_id=f"s{number}",
                room_id="room",
                session_type=kind,
                host_user_id=f"host-{number % 3}",
                domain="example.org",
                started_at=OCTOBER["start"] + timedelta(hours=number),
                ended_at=OCTOBER["start"] + timedelta(hours=number + 1),
                places=[(LAHORE if number % 2 else KARACHI, 3)],
            )
            for number, kind in zip(range(40), itertools.cycle(["webinar", "live"]), strict=False)
        ],
    )
    report = ReportFilter(tenant_id=TENANT, **filters)
    for pipeline in PIPELINES:
        plan = await store.db.command(
            {
                "explain": {"aggregate": "sessions", "pipeline": pipeline(report), "cursor": {}},
                "verbosity": "queryPlanner",
            }
        )
        names, stages = index_scans(plan)
        assert names == expected, (pipeline.__name__, filters, plan)
        assert "COLLSCAN" not in stages


async def test_a_summary_counting_fewer_participants_never_overwrites_a_newer_one(store):
    handlers = AnalyticsHandlers(store=store, locator=FakeLocator())
    await deliver(handlers, session_events("s1", ips=["203.0.113.10", "203.0.113.20"]))
    # What a replica that read the participants before the second join was stored would compute:
    await store.participants.delete_one({"participant_id": "s1-p1"})
    await store.refresh_session(TENANT, "s1")
    places = {(found.place, found.sessions) for found in await store.sessions_by_place(ReportFilter(tenant_id=TENANT))}
    assert places == {(LAHORE, 1), (KARACHI, 1)}
