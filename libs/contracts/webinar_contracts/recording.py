"""The recording service's subjects, messages and events."""

import msgspec

from webinar_contracts.bus import EventType


class RecordingStopped(msgspec.Struct, kw_only=True):
    """A recording ended; the meetings service links it to the room's meeting.
    The tenant travels in the event's context."""

    recording_id: str
    room_id: str
    stream_id: str


RECORDING_STOPPED = EventType("events.recording.recording.stopped", RecordingStopped)
