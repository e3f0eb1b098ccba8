"""Session facts: a session of a room starts when its first peer joins and ends when
the last one leaves (or the host ends it). The node that holds the room publishes
them; the analytics service consumes them. The tenant travels in each event's
context; ids make replays harmless (one session id per session, one participant id
per join)."""

from datetime import datetime
from enum import StrEnum
from typing import Any

import msgspec

from webinar_contracts.bus import EventType


class SessionType(StrEnum):
    MEETING = "meeting"
    CONFERENCE = "conference"
    WEBINAR = "webinar"
    LIVE = "live"


class SessionStarted(msgspec.Struct, kw_only=True):
    session_id: str
    room_id: str
    session_type: SessionType
    host_user_id: str | None = None
    # The host of the page's Origin when the first socket connected, else the host's email domain.
    domain: str = ""
    started_at: datetime


class ParticipantJoined(msgspec.Struct, kw_only=True):
    session_id: str
    participant_id: str  # unique per join
    room_id: str
    user_id: str | None = None
    name: str = ""
    # The socket's remote address, or the first X-Forwarded-For hop behind a trusted proxy.
    client_ip: str | None = None
    joined_at: datetime


class ParticipantLeft(msgspec.Struct, kw_only=True):
    session_id: str
    participant_id: str
    left_at: datetime


class SessionEnded(msgspec.Struct, kw_only=True):
    session_id: str
    ended_at: datetime


SESSION_STARTED = EventType("events.sessions.session.started", SessionStarted)
PARTICIPANT_JOINED = EventType("events.sessions.participant.joined", ParticipantJoined)
PARTICIPANT_LEFT = EventType("events.sessions.participant.left", ParticipantLeft)
SESSION_ENDED = EventType("events.sessions.session.ended", SessionEnded)

SessionFact = SessionStarted | ParticipantJoined | ParticipantLeft | SessionEnded
EVENT_TYPES: dict[type[SessionFact], EventType[Any]] = {
    SessionStarted: SESSION_STARTED,
    ParticipantJoined: PARTICIPANT_JOINED,
    ParticipantLeft: PARTICIPANT_LEFT,
    SessionEnded: SESSION_ENDED,
}


def event_type_of(fact: SessionFact) -> EventType[Any]:
    """The event type a session fact is published as."""
    return EVENT_TYPES[type(fact)]


def event_id_of(fact: SessionFact) -> str:
    """The event id of a session fact, the same each time it is published (so a retried publish
    is stored once): its kind and the session or the join it is about."""
    about = fact.session_id if isinstance(fact, SessionStarted | SessionEnded) else fact.participant_id
    return f"{event_type_of(fact).subject}:{about}"
