"""The five reporting routes over HTTP through the gateway, with the analytics service behind
it fed by session events published on the bus (as the media node publishes them). Every
expected answer is computed from the generated dataset in tests/analytics_events.py."""

import asyncio
import random
from datetime import UTC, datetime
from urllib.parse import urlencode

import pytest
from analytics_events import REPORTS, Expected, PlannedSession, generate, publish, wait_consumed

from restclient import call
from webinar_contracts.auth import RESOLVE_API_KEY, ResolveApiKey
from webinar_runtime.bus import Bus

HOSTS = ["host-ana", "host-ben", "host-chen"]
EDGE_HOST = "host-edge"
EMPTY = {
    "domain": "",
    "sessionType": "",
    "countryCode": "",
    "countryName": "",
    "cityName": "",
    "startDateRange": "",
    "endDateRange": "",
    "userID": "",
}
OCTOBER = {"startDateRange": "2025-10-01T00:00:00.000Z", "endDateRange": "2025-10-31T23:59:59.999Z"}


def edge_sessions(tenant_id: str) -> list[PlannedSession]:
    """Sessions of one host on both sides of October's first and last instants."""
    return [
        PlannedSession(
            tenant_id=tenant_id,
            session_id=f"edge-{number}",
            session_type="live",
            host=EDGE_HOST,
            domain="edge.example",
            start=start,
            addresses=["8.8.8.8"],
        )
        for number, start in enumerate(
            [
                datetime(2025, 9, 30, 23, 59, 59, 999000, tzinfo=UTC),
                datetime(2025, 10, 1, 0, 0, 0, tzinfo=UTC),
                datetime(2025, 10, 31, 23, 59, 59, 999000, tzinfo=UTC),
                datetime(2025, 11, 1, 0, 0, 0, tzinfo=UTC),
            ]
        )
    ]


class Dataset:
    def __init__(self, key: str, other_key: str, sessions: list[PlannedSession], others: list[PlannedSession]):
        self.key = key
        self.other_key = other_key
        self.sessions = sessions
        self.others = others


async def _tenant_id(bus: Bus, key: str) -> str:
    return (await bus.request(RESOLVE_API_KEY, ResolveApiKey(api_key=key))).tenant_id


async def _load(suite, key: str, other_key: str) -> Dataset:
    bus = await Bus.connect(suite.env["NATS_URL"], service="analytics-rest-test", instance="loader", attempts=3)
    try:
        tenant, other = await _tenant_id(bus, key), await _tenant_id(bus, other_key)
        sessions = generate(tenant, count=48, hosts=HOSTS, seed=11) + edge_sessions(tenant)
        # The other tenant has the same hosts, domains and places: only the tenant tells them apart.
        others = generate(other, count=12, hosts=HOSTS, seed=12)
        # Twice each, with fresh event ids, and shuffled: later facts may arrive first.
        await publish(bus, sessions + others, copies=2, shuffle=random.Random(5))
    finally:
        await bus.close()
    await wait_consumed(suite.env["NATS_URL"])
    return Dataset(key, other_key, sessions, others)


@pytest.fixture(scope="module")
def dataset(suite) -> Dataset:
    key, other_key = suite.create_tenant("professional"), suite.create_tenant("professional")
    return asyncio.run(_load(suite, key, other_key))


async def report(suite, http, name: str, query: dict[str, str], key: str):
    status, body, _ = await call(http, "GET", f"{suite.url}{REPORTS[name]}?{urlencode(query)}", key=key)
    return status, body


async def assert_reports(suite, http, dataset: Dataset, query: dict[str, str]) -> None:
    expected = Expected(dataset.sessions, query)
    for name in REPORTS:
        status, body = await report(suite, http, name, query, dataset.key)
        assert status == 200, (name, query, body)
        assert body == expected.report(name), (name, query)


async def test_every_report_with_empty_filters_covers_all_completed_sessions(suite, http, dataset):
    await assert_reports(suite, http, dataset, EMPTY)
    status, body = await report(suite, http, "total", {}, dataset.key)
    completed = sum(session.ended for session in dataset.sessions)
    assert (status, body) == (200, {"success": True, "data": {"totalSessions": completed}})
    assert completed < len(dataset.sessions), "the dataset should hold sessions still running"


@pytest.mark.parametrize(
    "filters",
    [
        {"domain": "alpha.example"},
        {"domain": "BETA.example"},
        {"domain": "unknown"},
        {"sessionType": "webinar"},
        {"countryCode": "us"},
        {"countryName": "Pakistan"},
        {"cityName": "London"},
        {"cityName": "unknown"},
        {"userID": "host-ben"},
        {"startDateRange": "2025-10-15T12:00:00.000Z"},
        {"endDateRange": "2025-10-10T00:00:00.000Z"},
    ],
    ids=lambda filters: "-".join(f"{name}={value}" for name, value in filters.items()),
)
async def test_each_filter_on_its_own(suite, http, dataset, filters):
    await assert_reports(suite, http, dataset, {**EMPTY, **filters})


@pytest.mark.parametrize(
    "filters",
    [
        {**OCTOBER, "userID": "host-ana"},  # the seed's examples
        {**OCTOBER, "sessionType": "live", "domain": "alpha.example"},
        {"countryCode": "GB", "cityName": "London", "userID": "host-chen"},
        {"countryCode": "PK", "cityName": "London"},  # no place is both: nothing
        {"countryName": "United States", "sessionType": "meeting", "startDateRange": "2025-10-05"},
        {"userID": "nobody"},
    ],
    ids=["seed-example", "type-domain-month", "place-host", "impossible-place", "name-type-start", "no-match"],
)
async def test_filters_combined(suite, http, dataset, filters):
    await assert_reports(suite, http, dataset, {**EMPTY, **filters})


async def test_sessions_on_the_first_and_last_instant_of_the_range_count(suite, http, dataset):
    query = {**EMPTY, **OCTOBER, "userID": EDGE_HOST}
    await assert_reports(suite, http, dataset, query)
    status, body = await report(suite, http, "by_day", query, dataset.key)
    assert status == 200
    assert [day["date"] for day in body["data"]] == ["2025-10-01T00:00:00.000Z", "2025-10-31T00:00:00.000Z"]
    # A bare day as the end includes all of that day.
    whole_days = {**EMPTY, "startDateRange": "2025-10-01", "endDateRange": "2025-10-31", "userID": EDGE_HOST}
    await assert_reports(suite, http, dataset, whole_days)
    assert (await report(suite, http, "total", whole_days, dataset.key))[1]["data"] == {"totalSessions": 2}


async def test_places_come_from_the_participants_addresses(suite, http, dataset):
    status, body = await report(suite, http, "by_place", {"userID": EDGE_HOST}, dataset.key)
    assert status == 200
    assert body["data"] == [
        {
            "_id": {"city": "Mountain View", "region": "California", "country": "US", "country_name": "United States"},
            "count": 4,
        }
    ]
    # Loopback and private addresses (and none at all) are "unknown", not an error.
    unknown = {"city": "unknown", "region": "unknown", "country": "unknown", "country_name": "unknown"}
    status, body = await report(suite, http, "by_place", {"countryCode": "unknown"}, dataset.key)
    assert status == 200
    assert [entry["_id"] for entry in body["data"]] == [unknown]
    assert body["data"][0]["count"] > 0


async def test_a_tenant_sees_only_its_own_sessions(suite, http, dataset):
    for name in REPORTS:
        status, body = await report(suite, http, name, EMPTY, dataset.other_key)
        assert status == 200
        assert body == Expected(dataset.others, EMPTY).report(name), name
    status, body = await report(suite, http, "total", {}, suite.create_tenant("professional"))
    assert (status, body["data"]) == (200, {"totalSessions": 0})


async def test_essential_tenants_are_refused_with_403(suite, http, essential_key):
    for name in REPORTS:
        status, body = await report(suite, http, name, EMPTY, essential_key)
        assert status == 403, name
        assert body["success"] is False
        assert "Professional plan" in body["message"]


async def test_a_call_without_an_api_key_is_401(suite, http):
    status, _, _ = await call(http, "GET", suite.url + REPORTS["total"])
    assert status == 401


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"startDateRange": "last tuesday"}, "startDateRange"),
        ({"endDateRange": "2025-02-30T00:00:00Z"}, "endDateRange"),
        ({"startDateRange": "2025-10-31T00:00:00.000Z", "endDateRange": "2025-10-01T00:00:00.000Z"}, "endDateRange"),
        ({"sessionType": "party"}, "sessionType"),
    ],
)
async def test_a_bad_parameter_is_400_naming_it(suite, http, dataset, query, field):
    for name in REPORTS:
        status, body = await report(suite, http, name, {**EMPTY, **query}, dataset.key)
        assert (status, body["field"]) == (400, field), name
        assert field in body["message"]
