"""Benchmark: the five reports over 100,000 completed sessions, against issue 10's target of
200 ms a report.

Starts its own MongoDB-compatible server (SecantusDB, as `make run` and the tests do) on a
free loopback port with a temporary data directory, stores the sessions through the
analytics store in the shape the events leave them, then times each report's aggregation
pipeline (the store's own) for a few filter sets and prints the median, the ratio to the
target, the sessions matched and the index the server's planner chose. It prints and ends;
it asserts nothing.

    .venv/bin/python bench/analytics_queries.py [--sessions 100000] [--repeat 3] [--mongo-url URL]

`--mongo-url` runs it against another server instead (a real MongoDB, say); the database
`analytics_bench` there is dropped before and after.
"""

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pymongo import AsyncMongoClient

from analytics.domain import UNKNOWN_LOCATION, CompletedSession, Location, ReportFilter
from analytics.store import (
    AnalyticsStore,
    sessions_by_city_pipeline,
    sessions_by_day_pipeline,
    sessions_by_place_pipeline,
    statistics_pipeline,
    total_sessions_pipeline,
)
from webinar_devstack.servers import start_mongo

TARGET_MS = 200.0
TENANT = "bench-tenant"
DATABASE = "analytics_bench"
FIRST_DAY = datetime(2025, 1, 1, tzinfo=UTC)
DAYS = 365
HOSTS = 200
DOMAINS = ["alpha.example", "beta.example", "gamma.example", "delta.example", "unknown"]
TYPES = ["meeting", "conference", "webinar", "live"]
PLACES = [
    Location(country_code=code, country_name=name, region=region, city=city)
    for code, name, region, city in [
        ("PK", "Pakistan", "Punjab", "Lahore"),
        ("PK", "Pakistan", "Sindh", "Karachi"),
        ("PK", "Pakistan", "Islamabad", "Islamabad"),
        ("US", "United States", "California", "Mountain View"),
        ("US", "United States", "New York", "New York City"),
        ("GB", "United Kingdom", "England", "London"),
        ("DE", "Germany", "Berlin", "Berlin"),
        ("FR", "France", "Ile-de-France", "Paris"),
        ("AE", "United Arab Emirates", "Dubai", "Dubai"),
        ("IN", "India", "Maharashtra", "Mumbai"),
        ("AU", "Australia", "New South Wales", "Sydney"),
        ("BR", "Brazil", "Sao Paulo", "Sao Paulo"),
    ]
] + [UNKNOWN_LOCATION]
# Each report: the store method the service calls, and the pipeline it runs (for explain).
REPORTS: dict[str, tuple[str, Callable[[ReportFilter], list[dict[str, Any]]]]] = {
    "total-sessions": ("total_sessions", total_sessions_pipeline),
    "aggregation": ("sessions_by_day", sessions_by_day_pipeline),
    "statistics": ("statistics", statistics_pipeline),
    "by-location": ("sessions_by_place", sessions_by_place_pipeline),
    "participants-by-city": ("sessions_by_city", sessions_by_city_pipeline),
}
MONTH = {"start": FIRST_DAY + timedelta(days=273), "end": FIRST_DAY + timedelta(days=304) - timedelta(milliseconds=1)}
WEEK = {"start": FIRST_DAY + timedelta(days=273), "end": FIRST_DAY + timedelta(days=280) - timedelta(milliseconds=1)}
SCENARIOS = {
    "one host, one month (the seed's examples)": ReportFilter(tenant_id=TENANT, host_user_id="host-7", **MONTH),
    "one city, one month": ReportFilter(tenant_id=TENANT, city="Karachi", **MONTH),
    "whole tenant, one week": ReportFilter(tenant_id=TENANT, **WEEK),
    "whole tenant, one month": ReportFilter(tenant_id=TENANT, **MONTH),
    "whole tenant, one month, one type": ReportFilter(tenant_id=TENANT, session_type="webinar", **MONTH),
    "whole tenant, all time": ReportFilter(tenant_id=TENANT),
}


def generate(count: int, seed: int = 1) -> list[CompletedSession]:
    """`count` sessions spread evenly over a year, 1-3 places each with 1-40 participants."""
    rnd = random.Random(seed)
    step = timedelta(days=DAYS) / count
    sessions = []
    for number in range(count):
        started = FIRST_DAY + step * number
        sessions.append(
            CompletedSession(
                session_id=f"s{number}",
                room_id=f"room-{rnd.randrange(5000)}",
                session_type=rnd.choice(TYPES),
                host_user_id=f"host-{rnd.randrange(HOSTS)}",
                domain=rnd.choice(DOMAINS),
                started_at=started.replace(microsecond=started.microsecond // 1000 * 1000),
                ended_at=started + timedelta(minutes=rnd.randint(5, 120)),
                places=[(place, rnd.randint(1, 40)) for place in rnd.sample(PLACES, rnd.randint(1, 3))],
            )
        )
    return sessions


def winning_index(plan: Any) -> str:
    """The index the planner scans first ("COLLSCAN" when none), wherever explain puts it."""
    if isinstance(plan, dict):
        if plan.get("stage") in {"IXSCAN", "COLLSCAN"}:
            return str(plan.get("indexName", plan["stage"]))
        children: list[Any] = list(plan.values())
    elif isinstance(plan, list):
        children = plan
    else:
        return ""
    for child in children:
        found = winning_index(child)
        if found:
            return found
    return ""


async def timed(action: Callable[[], Awaitable[Any]], repeat: int) -> tuple[float, int]:
    """The median time of `repeat` runs in milliseconds (one run when it takes over 2 s), and the runs."""
    times: list[float] = []
    while len(times) < repeat and sum(times) < 2000:
        started = time.perf_counter()
        await action()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), len(times)


async def run(mongo_url: str, count: int, repeat: int) -> int:
    # No client-side time limit (the services' clients have one): a slow report is measured, not cut off.
    client: AsyncMongoClient[Any] = AsyncMongoClient(mongo_url, tz_aware=True, appname="analytics-bench")
    try:
        await client.drop_database(DATABASE)
        store = AnalyticsStore(client[DATABASE])
        await store.create_indexes()
        sessions = generate(count)
        started = time.perf_counter()
        for offset in range(0, len(sessions), 2000):
            await store.insert_completed_sessions(TENANT, sessions[offset : offset + 2000])
        print(f"stored {count} completed sessions of one tenant in {time.perf_counter() - started:.1f}s")
        print(f"median of up to {repeat} runs per report; ratio = time / {TARGET_MS:.0f} ms (1.00 or less meets it)\n")
        within = total = 0
        for scenario, report in SCENARIOS.items():
            matched = await store.total_sessions(report)
            print(f"{scenario}: {matched} sessions match")
            for name, (method, pipeline) in REPORTS.items():
                elapsed, runs = await timed(lambda m=method, r=report: getattr(store, m)(r), repeat)
                plan = await store.db.command(
                    {
                        "explain": {"aggregate": "sessions", "pipeline": pipeline(report), "cursor": {}},
                        "verbosity": "queryPlanner",
                    }
                )
                ratio = elapsed / TARGET_MS
                within += ratio <= 1
                total += 1
                print(f"  {name:<22} {elapsed:9.1f} ms  ratio {ratio:6.2f}  index {winning_index(plan)}  ({runs} runs)")
        print(f"\n{within} of {total} report runs within {TARGET_MS:.0f} ms")
        await client.drop_database(DATABASE)
        return 0
    finally:
        await client.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--mongo-url", help="use this server instead of starting SecantusDB on loopback")
    args = parser.parse_args()
    if args.mongo_url:
        return asyncio.run(run(args.mongo_url, args.sessions, args.repeat))
    with tempfile.TemporaryDirectory(prefix="analytics-bench-") as workdir:
        server = start_mongo(Path(workdir) / "mongo", log_path=Path(workdir) / "mongo.log")
        try:
            print(f"SecantusDB on 127.0.0.1:{server.port} (temporary data directory)")
            return asyncio.run(run(f"mongodb://127.0.0.1:{server.port}/", args.sessions, args.repeat))
        finally:
            server.stop()


if __name__ == "__main__":
    sys.exit(main())
