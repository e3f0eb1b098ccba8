"""Session events for the analytics tests: a generated dataset, publishing it as the media
node will, waiting until the analytics service has consumed it, and the five reports the
dataset should give, computed here in plain Python, independently of the service's code."""

import asyncio
import random
import secrets
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import msgspec
import nats
import nats.js.errors

from webinar_contracts import RequestContext
from webinar_contracts.bus import EventType
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
from webinar_runtime.bus import EVENT_STREAM, Bus

UNKNOWN = ("unknown", "unknown", "unknown", "unknown")
# (city, region, country, country_name) of addresses in the pinned DB-IP City Lite
# (2.3.2026060513), read off the database by hand; private and loopback ones have no place.
PLACES = {
    "8.8.8.8": ("Mountain View", "California", "US", "United States"),
    "81.2.69.142": ("London", "England", "GB", "United Kingdom"),
    "1.1.1.1": ("Sydney", "New South Wales", "AU", "Australia"),
    "39.32.0.1": ("Islamabad", "Islamabad", "PK", "Pakistan"),
    "127.0.0.1": UNKNOWN,
    "192.168.1.20": UNKNOWN,
    "::1": UNKNOWN,
}
ADDRESSES = [*PLACES, None]
DOMAINS = ["alpha.example", "Beta.Example", ""]
REPORTS = {
    "total": "/reporting/total-sessions-for-user",
    "by_day": "/reporting/total-sessions-aggregation-for-user",
    "statistics": "/reporting/total-sessions-statistics-for-user",
    "by_place": "/reporting/total-sessions-by-location-for-user",
    "by_city": "/reporting/total-sessions-and-participants-count-by-location-for-user",
}
CONSUMER = "analytics"


@dataclass
class PlannedSession:
    """One session as the test means it to be; `ended` False leaves it running."""

    tenant_id: str
    session_id: str
    session_type: str
    host: str
    domain: str
    start: datetime
    ended: bool = True
    addresses: list[str | None] = field(default_factory=list)

    @property
    def reported_domain(self) -> str:
        return self.domain.lower() or "unknown"

    def places(self) -> list[tuple[str, str, str, str]]:
        return [PLACES.get(address or "", UNKNOWN) for address in self.addresses]


def generate(tenant_id: str, *, count: int, hosts: list[str], seed: int) -> list[PlannedSession]:
    """`count` sessions spread over late September to early November 2025."""
    rnd = random.Random(seed)
    first = datetime(2025, 9, 25, tzinfo=UTC)
    sessions = []
    for _ in range(count):
        sessions.append(
            PlannedSession(
                tenant_id=tenant_id,
                session_id=f"session-{secrets.token_hex(6)}",
                session_type=rnd.choice([kind.value for kind in SessionType]),
                host=rnd.choice(hosts),
                domain=rnd.choice(DOMAINS),
                start=first + timedelta(minutes=rnd.randrange(0, 41 * 24 * 60), milliseconds=rnd.randrange(1000)),
                ended=rnd.random() > 0.1,
                addresses=[rnd.choice(ADDRESSES) for _ in range(rnd.randint(0, 4))],
            )
        )
    return sessions


def events_of(session: PlannedSession) -> list[tuple[EventType[Any], msgspec.Struct]]:
    room = f"room-{session.session_id}"
    events: list[tuple[EventType[Any], msgspec.Struct]] = [
        (
            SESSION_STARTED,
            SessionStarted(
                session_id=session.session_id,
                room_id=room,
                session_type=SessionType(session.session_type),
                host_user_id=session.host,
                domain=session.domain,
                started_at=session.start,
            ),
        )
    ]
    for number, address in enumerate(session.addresses):
        participant = f"{session.session_id}-{number}"
        joined = session.start + timedelta(seconds=number)
        events.append(
            (
                PARTICIPANT_JOINED,
                ParticipantJoined(
                    session_id=session.session_id,
                    participant_id=participant,
                    room_id=room,
                    name=f"Guest {number}",
                    client_ip=address,
                    joined_at=joined,
                ),
            )
        )
        events.append(
            (
                PARTICIPANT_LEFT,
                ParticipantLeft(session_id=session.session_id, participant_id=participant, left_at=joined),
            )
        )
    if session.ended:
        events.append(
            (SESSION_ENDED, SessionEnded(session_id=session.session_id, ended_at=session.start + timedelta(hours=1)))
        )
    return events


async def publish(
    bus: Bus, sessions: list[PlannedSession], *, copies: int = 1, shuffle: random.Random | None = None
) -> int:
    """Publish every session's events `copies` times, each copy with an event id of its own (as a
    node retrying after a lost acknowledgement would), in order or shuffled; the number published."""
    planned = [(session.tenant_id, each) for session in sessions for each in events_of(session)] * copies
    if shuffle is not None:
        shuffle.shuffle(planned)
    for tenant_id, (event_type, payload) in planned:
        await bus.publish(event_type, payload, context=RequestContext(tenant_id=tenant_id))
    return len(planned)


async def wait_consumed(nats_url: str, *, durable: str = CONSUMER, timeout: float = 60.0) -> None:
    """Until the analytics consumer has handled (acknowledged) every event in the stream."""
    nc = await nats.connect(nats_url, connect_timeout=2)
    try:
        js = nc.jetstream()
        deadline = time.monotonic() + timeout
        info = None
        while time.monotonic() < deadline:
            try:
                info = await js.consumer_info(EVENT_STREAM, durable, timeout=2)
            except nats.js.errors.NotFoundError:
                info = None
            if info is not None and info.num_pending == 0 and info.num_ack_pending == 0:
                return
            await asyncio.sleep(0.05)
        raise TimeoutError(f"the {durable} consumer still had work after {timeout}s: {info}")
    finally:
        await nc.close()


# -- what the reports should say ----------------------------------------------------------


def _instant(text: str, *, end: bool) -> datetime:
    if len(text) == 10:  # a bare day: the whole day
        day = datetime.combine(date.fromisoformat(text), datetime.min.time(), tzinfo=UTC)
        return day + timedelta(days=1) - timedelta(milliseconds=1) if end else day
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


class Expected:
    """The five reports for a query, computed from the planned sessions."""

    def __init__(self, sessions: list[PlannedSession], query: dict[str, str]) -> None:
        self.query = {name: value.strip() for name, value in query.items() if value.strip()}
        self.sessions = [session for session in sessions if self._counts(session)]

    def _place_wanted(self, place: tuple[str, str, str, str]) -> bool:
        city, _region, country, country_name = place
        wanted = {"countryCode": country, "countryName": country_name, "cityName": city}
        return all(self.query[name].lower() == value.lower() if name == "countryCode" else self.query[name] == value
                   for name, value in wanted.items() if name in self.query)  # fmt: skip

    def _has_place_filter(self) -> bool:
        return any(name in self.query for name in ("countryCode", "countryName", "cityName"))

    def _counts(self, session: PlannedSession) -> bool:
        q = self.query
        if not session.ended:
            return False
        if "domain" in q and session.reported_domain != q["domain"].lower():
            return False
        if "sessionType" in q and session.session_type != q["sessionType"].lower():
            return False
        if "userID" in q and session.host != q["userID"]:
            return False
        if "startDateRange" in q and session.start < _instant(q["startDateRange"], end=False):
            return False
        if "endDateRange" in q and session.start > _instant(q["endDateRange"], end=True):
            return False
        return not self._has_place_filter() or any(self._place_wanted(place) for place in session.places())

    def total(self) -> dict[str, Any]:
        return {"success": True, "data": {"totalSessions": len(self.sessions)}}

    def by_day(self) -> dict[str, Any]:
        days: dict[date, Counter[str]] = defaultdict(Counter)
        for session in self.sessions:
            days[session.start.astimezone(UTC).date()][session.reported_domain] += 1
        data = [
            {
                "domainCounts": [
                    {"domain": domain, "count": count}
                    for domain, count in sorted(days[day].items(), key=lambda item: (-item[1], item[0]))
                ],
                "date": f"{day.isoformat()}T00:00:00.000Z",
            }
            for day in sorted(days)
        ]
        return {"success": True, "data": data}

    def statistics(self) -> dict[str, Any]:
        kinds = Counter(session.session_type for session in self.sessions)
        by_type = [
            {"sessionType": kind, "totalSessions": count}
            for kind, count in sorted(kinds.items(), key=lambda item: (-item[1], item[0]))
        ]
        return {"success": True, "data": {"totalSessions": len(self.sessions), "totalSessionsByType": by_type}}

    def by_place(self) -> dict[str, Any]:
        places: Counter[tuple[str, str, str, str]] = Counter()
        for session in self.sessions:
            places.update({place for place in session.places() if self._place_wanted(place)})
        ordered = sorted(places.items(), key=lambda item: (-item[1], item[0][2], item[0][1], item[0][0]))
        data = [
            {"_id": {"city": city, "region": region, "country": country, "country_name": name}, "count": count}
            for (city, region, country, name), count in ordered
        ]
        return {"success": True, "data": data}

    def by_city(self) -> dict[str, Any]:
        sessions: Counter[str] = Counter()
        participants: Counter[str] = Counter()
        for session in self.sessions:
            cities = [place[0] for place in session.places() if self._place_wanted(place)]
            sessions.update(set(cities))
            participants.update(cities)
        ordered = sorted(sessions, key=lambda city: (-sessions[city], -participants[city], city))
        data = [
            {"_id": city, "totalSessions": sessions[city], "totalParticipants": participants[city]} for city in ordered
        ]
        return {"success": True, "data": data}

    def report(self, name: str) -> dict[str, Any]:
        return dict(getattr(self, name)())
