"""The meetings service's subjects and messages: rooms, meetings, room files.

Cross-service pieces are declared first (other services ask them); the REST
messages follow.
"""

import msgspec

from webinar_contracts.bus import Endpoint


class GetMeeting(msgspec.Struct, kw_only=True):
    meeting_id: str


class MeetingInfo(msgspec.Struct, kw_only=True):
    """What another service may know of a meeting (the tenant comes from the context)."""

    id: str
    title: str
    host_id: str
    room_id: str | None = None
    transcript_enabled: bool = False
    summary_generated: bool = False


GET_MEETING = Endpoint("meetings.meetings.get", GetMeeting, MeetingInfo)
