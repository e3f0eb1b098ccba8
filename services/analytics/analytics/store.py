"""The only module of the analytics service that talks to MongoDB (database `analytics`).

`participants`: one document per join (participant id), with the place it came from
(never the address) and when it joined and left. `sessions`: one document per session,
shaped for the reports: its type, host, domain and start, `ended` once both its start and
its end are known, and `locations`, the places its participants came from with how many
came from each (derived from `participants` whenever a completed session changes).

Every write is an idempotent upsert keyed by the ids the events carry, and `locations` is
recomputed rather than incremented, so replayed, duplicated and out-of-order events leave
the same documents. (Two replicas upserting one document at once: the loser's duplicate-key
error sends its event back to be delivered again, and then it finds the document.)

Each report is one aggregation pipeline whose first `$match` fits one of the report indexes
exactly (equalities, then the start range), so even a simple planner serves it from an
index; the remaining filters follow in a second `$match`.
"""

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase

from analytics.domain import (
    CityTotal,
    CompletedSession,
    DayCount,
    Location,
    PlaceCount,
    ReportFilter,
    Statistics,
)

PLACE_FIELDS = ("country_code", "country_name", "region", "city")

# Each report's first $match is {tenant_id, ended, [one of these], [started_at range]}.
REPORT_INDEXES = {
    "report_by_start": [("tenant_id", ASCENDING), ("ended", ASCENDING), ("started_at", ASCENDING)],
    "report_by_host": [
        ("tenant_id", ASCENDING),
        ("ended", ASCENDING),
        ("host_user_id", ASCENDING),
        ("started_at", ASCENDING),
    ],
    "report_by_city": [
        ("tenant_id", ASCENDING),
        ("ended", ASCENDING),
        ("locations.city", ASCENDING),
        ("started_at", ASCENDING),
    ],
    "report_by_country": [
        ("tenant_id", ASCENDING),
        ("ended", ASCENDING),
        ("locations.country_code", ASCENDING),
        ("started_at", ASCENDING),
    ],
    "report_by_country_name": [
        ("tenant_id", ASCENDING),
        ("ended", ASCENDING),
        ("locations.country_name", ASCENDING),
        ("started_at", ASCENDING),
    ],
    "report_by_domain": [
        ("tenant_id", ASCENDING),
        ("ended", ASCENDING),
        ("domain", ASCENDING),
        ("started_at", ASCENDING),
    ],
    "report_by_type": [
        ("tenant_id", ASCENDING),
        ("ended", ASCENDING),
        ("session_type", ASCENDING),
        ("started_at", ASCENDING),
    ],
}
# The filter that rides an index, most selective first: (attribute of ReportFilter, stored field).
INDEXED_FILTERS = (
    ("host_user_id", "host_user_id"),
    ("city", "locations.city"),
    ("country_code", "locations.country_code"),
    ("country_name", "locations.country_name"),
    ("domain", "domain"),
    ("session_type", "session_type"),
)


def report_match(report: ReportFilter) -> list[dict[str, Any]]:
    """The $match stages of every report: completed sessions of the tenant matching `report`."""
    first: dict[str, Any] = {"tenant_id": report.tenant_id, "ended": True}
    rest: dict[str, Any] = {}
    leading = next(((attr, path) for attr, path in INDEXED_FILTERS if getattr(report, attr) is not None), None)
    if leading is not None:
        first[leading[1]] = getattr(report, leading[0])
    started: dict[str, datetime] = {}
    if report.start is not None:
        started["$gte"] = report.start
    if report.end is not None:
        started["$lte"] = report.end
    if started:
        first["started_at"] = started
    for attr, path in (("host_user_id", "host_user_id"), ("domain", "domain"), ("session_type", "session_type")):
        value = getattr(report, attr)
        if value is not None and path not in first:
            rest[path] = value
    place = report.place_conditions()
    if place and not (len(place) == 1 and leading is not None and leading[0] in place):
        # One place must meet every location condition (a Lahore in another country does not count).
        rest["locations"] = {"$elemMatch": place}
    return [{"$match": first}, *([{"$match": rest}] if rest else [])]


def _places_of(report: ReportFilter) -> list[dict[str, Any]]:
    """After $unwind: keep only the places the location filters ask for."""
    place = report.place_conditions()
    return [{"$match": {f"locations.{name}": value for name, value in place.items()}}] if place else []


def total_sessions_pipeline(report: ReportFilter) -> list[dict[str, Any]]:
    return [*report_match(report), {"$count": "sessions"}]


def sessions_by_day_pipeline(report: ReportFilter) -> list[dict[str, Any]]:
    return [
        *report_match(report),
        {
            "$group": {
                "_id": {
                    "day": {"$dateTrunc": {"date": "$started_at", "unit": "day", "timezone": "UTC"}},
                    "domain": "$domain",
                },
                "count": {"$sum": 1},
            }
        },
        {"$group": {"_id": "$_id.day", "domains": {"$push": {"domain": "$_id.domain", "count": "$count"}}}},
        {"$project": {"domains": {"$sortArray": {"input": "$domains", "sortBy": {"count": -1, "domain": 1}}}}},
        {"$sort": {"_id": 1}},
    ]


def statistics_pipeline(report: ReportFilter) -> list[dict[str, Any]]:
    return [
        *report_match(report),
        {"$group": {"_id": "$session_type", "sessions": {"$sum": 1}}},
        {
            "$group": {
                "_id": None,
                "total": {"$sum": "$sessions"},
                "by_type": {"$push": {"session_type": "$_id", "sessions": "$sessions"}},
            }
        },
        {
            "$project": {
                "total": 1,
                "by_type": {"$sortArray": {"input": "$by_type", "sortBy": {"sessions": -1, "session_type": 1}}},
            }
        },
    ]


def sessions_by_place_pipeline(report: ReportFilter) -> list[dict[str, Any]]:
    return [
        *report_match(report),
        {"$unwind": "$locations"},
        *_places_of(report),
        {
            "$group": {
                "_id": {
                    "city": "$locations.city",
                    "region": "$locations.region",
                    "country": "$locations.country_code",
                    "country_name": "$locations.country_name",
                },
                "count": {"$sum": 1},
            }
        },
        {"$sort": {"count": -1, "_id.country": 1, "_id.region": 1, "_id.city": 1}},
    ]


def sessions_by_city_pipeline(report: ReportFilter) -> list[dict[str, Any]]:
    return [
        *report_match(report),
        {"$unwind": "$locations"},
        *_places_of(report),
        # A session counts once per city name, even with participants from two places so named.
        {
            "$group": {
                "_id": {"session": "$_id", "city": "$locations.city"},
                "participants": {"$sum": "$locations.participants"},
            }
        },
        {"$group": {"_id": "$_id.city", "sessions": {"$sum": 1}, "participants": {"$sum": "$participants"}}},
        {"$sort": {"sessions": -1, "participants": -1, "_id": 1}},
    ]


def _place_document(place: Location, participants: int) -> dict[str, Any]:
    return {
        "country_code": place.country_code,
        "country_name": place.country_name,
        "region": place.region,
        "city": place.city,
        "participants": participants,
    }


def _sorted_places(places: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(places, key=lambda place: tuple(place[name] for name in PLACE_FIELDS))


class AnalyticsStore:
    def __init__(self, db: AsyncDatabase[Any]) -> None:
        self.db = db
        self.sessions = db["sessions"]
        self.participants = db["participants"]

    async def create_indexes(self) -> None:
        await self.sessions.create_indexes(
            [
                IndexModel([("tenant_id", ASCENDING), ("session_id", ASCENDING)], unique=True, name="session"),
                *(IndexModel(keys, name=name) for name, keys in REPORT_INDEXES.items()),
            ]
        )
        await self.participants.create_indexes(
            [
                IndexModel([("tenant_id", ASCENDING), ("participant_id", ASCENDING)], unique=True, name="participant"),
                IndexModel([("tenant_id", ASCENDING), ("session_id", ASCENDING)], name="participants_of_session"),
            ]
        )

    # -- facts from events ------------------------------------------------------

    async def record_session_started(
        self,
        tenant_id: str,
        session_id: str,
        *,
        room_id: str,
        session_type: str,
        host_user_id: str | None,
        domain: str,
        started_at: datetime,
    ) -> None:
        await self.sessions.update_one(
            {"tenant_id": tenant_id, "session_id": session_id},
            {
                "$set": {
                    "room_id": room_id,
                    "session_type": session_type,
                    "host_user_id": host_user_id,
                    "domain": domain,
                    "started_at": started_at,
                },
                "$setOnInsert": {"ended": False, "locations": [], "participants_located": 0},
            },
            upsert=True,
        )

    async def record_session_ended(self, tenant_id: str, session_id: str, *, ended_at: datetime) -> None:
        await self.sessions.update_one(
            {"tenant_id": tenant_id, "session_id": session_id},
            {
                "$set": {"ended_at": ended_at},
                "$setOnInsert": {"ended": False, "locations": [], "participants_located": 0},
            },
            upsert=True,
        )

    async def participant_location(self, tenant_id: str, participant_id: str) -> Location | None:
        """The place already recorded for a join (a replayed event is not looked up again)."""
        doc = await self.participants.find_one(
            {"tenant_id": tenant_id, "participant_id": participant_id}, {"location": 1}
        )
        if doc is None or "location" not in doc:
            return None
        return Location(**{name: doc["location"][name] for name in PLACE_FIELDS})

    async def record_participant_joined(
        self, tenant_id: str, participant_id: str, *, session_id: str, joined_at: datetime, location: Location
    ) -> None:
        await self.participants.update_one(
            {"tenant_id": tenant_id, "participant_id": participant_id},
            {
                "$set": {
                    "session_id": session_id,
                    "joined_at": joined_at,
                    "location": {name: getattr(location, name) for name in PLACE_FIELDS},
                }
            },
            upsert=True,
        )

    async def record_participant_left(
        self, tenant_id: str, participant_id: str, *, session_id: str, left_at: datetime
    ) -> None:
        await self.participants.update_one(
            {"tenant_id": tenant_id, "participant_id": participant_id},
            {"$set": {"session_id": session_id, "left_at": left_at}},
            upsert=True,
        )

    async def refresh_session(self, tenant_id: str, session_id: str) -> None:
        """Mark a session completed once its start and end are both known, and (re)derive the
        places of its participants; a session still missing either is left as it is."""
        session = await self.sessions.find_one(
            {"tenant_id": tenant_id, "session_id": session_id}, {"started_at": 1, "ended_at": 1}
        )
        if session is None or session.get("started_at") is None or session.get("ended_at") is None:
            return
        grouped = await self.participants.aggregate(
            [
                {"$match": {"tenant_id": tenant_id, "session_id": session_id}},
                {"$match": {"location": {"$exists": True}}},
                {
                    "$group": {
                        "_id": {name: f"$location.{name}" for name in PLACE_FIELDS},
                        "participants": {"$sum": 1},
                    }
                },
            ]
        )
        places = [{**doc["_id"], "participants": doc["participants"]} async for doc in grouped]
        located = sum(place["participants"] for place in places)
        # A join's place never changes and joins are never removed, so the summary counting more
        # participants is the newer one: a replica that computed an older one concurrently loses.
        await self.sessions.update_one(
            {"_id": session["_id"], "participants_located": {"$lte": located}},
            {"$set": {"ended": True, "locations": _sorted_places(places), "participants_located": located}},
        )

    async def insert_completed_sessions(self, tenant_id: str, sessions: Iterable[CompletedSession]) -> int:
        """Store finished sessions not stored yet, as their events would have left them
        (imports and benchmarks); how many were written."""
        documents = [
            {
                "tenant_id": tenant_id,
                "session_id": session.session_id,
                "room_id": session.room_id,
                "session_type": session.session_type,
                "host_user_id": session.host_user_id,
                "domain": session.domain,
                "started_at": session.started_at,
                "ended_at": session.ended_at,
                "ended": True,
                "locations": _sorted_places([_place_document(place, count) for place, count in session.places]),
                "participants_located": sum(count for _, count in session.places),
            }
            for session in sessions
        ]
        if not documents:
            return 0
        result = await self.sessions.insert_many(documents, ordered=False)
        return len(result.inserted_ids)

    # -- the five reports -------------------------------------------------------

    async def _run(self, pipeline: list[dict[str, Any]]) -> list[dict[str, Any]]:
        cursor = await self.sessions.aggregate(pipeline)
        return [doc async for doc in cursor]

    async def total_sessions(self, report: ReportFilter) -> int:
        found = await self._run(total_sessions_pipeline(report))
        return int(found[0]["sessions"]) if found else 0

    async def sessions_by_day(self, report: ReportFilter) -> list[DayCount]:
        return [
            DayCount(day=doc["_id"], domain_counts=[(entry["domain"], entry["count"]) for entry in doc["domains"]])
            for doc in await self._run(sessions_by_day_pipeline(report))
        ]

    async def statistics(self, report: ReportFilter) -> Statistics:
        found = await self._run(statistics_pipeline(report))
        if not found:
            return Statistics(total_sessions=0, by_type=[])
        by_type = [(entry["session_type"], entry["sessions"]) for entry in found[0]["by_type"]]
        return Statistics(total_sessions=found[0]["total"], by_type=by_type)

    async def sessions_by_place(self, report: ReportFilter) -> list[PlaceCount]:
        return [
            PlaceCount(
                place=Location(
                    country_code=doc["_id"]["country"],
                    country_name=doc["_id"]["country_name"],
                    region=doc["_id"]["region"],
                    city=doc["_id"]["city"],
                ),
                sessions=doc["count"],
            )
            for doc in await self._run(sessions_by_place_pipeline(report))
        ]

    async def sessions_by_city(self, report: ReportFilter) -> list[CityTotal]:
        return [
            CityTotal(city=doc["_id"], sessions=doc["sessions"], participants=doc["participants"])
            for doc in await self._run(sessions_by_city_pipeline(report))
        ]
