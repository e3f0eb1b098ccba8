"""The recording service's subjects, messages and events.

Wire names keep the seed's camelCase (`roomId`, `streamId`, `startTime`). Two seed
fields arrive in more than one shape and are read as they come, without loss:
`streamId` is a number or a string (the seed's example is a 19-digit integer,
which msgspec decodes from the JSON text exactly, at any size), and times are
epoch milliseconds (what the seed sends) or ISO 8601 strings. The recording
service's domain turns both into one form.
"""

from datetime import datetime

import msgspec

from webinar_contracts.bus import Empty, Endpoint, EventType

StreamId = int | str
"""A stream id as a client sends it: digits as a JSON number (kept exact at any size) or a string."""

Instant = int | float | str
"""A time as a client sends it: epoch milliseconds (number or digit string) or ISO 8601."""


class StartRecording(msgspec.Struct, kw_only=True):
    """POST /recording/start: the seven fields of the seed, all required."""

    room_id: str = msgspec.field(name="roomId")
    user_name: str = msgspec.field(name="userName")
    stream_id: StreamId = msgspec.field(name="streamId")
    recording_id: str = msgspec.field(name="recordingId")
    start_time: Instant = msgspec.field(name="startTime")
    video_type: str = msgspec.field(name="videoType")
    status: str


class StopRecording(msgspec.Struct, kw_only=True):
    """POST /recording/stop."""

    recording_id: str = msgspec.field(name="recordingId")
    stream_id: StreamId = msgspec.field(name="streamId")
    end_time: Instant = msgspec.field(name="endTime")


class Recording(msgspec.Struct, kw_only=True):
    """A recording as the API shows it: the seed's list fields (`_id, roomId, recordingId,
    hostName, status, createdAt, updatedAt`) and what was given at start and stop.
    `hostName` is the `userName` that asked for the recording; `status` is the one given
    at start until the recording is stopped, then `stopped`."""

    id: str = msgspec.field(name="_id")
    room_id: str = msgspec.field(name="roomId")
    recording_id: str = msgspec.field(name="recordingId")
    host_name: str = msgspec.field(name="hostName")
    status: str
    stream_id: str = msgspec.field(name="streamId")
    video_type: str = msgspec.field(name="videoType")
    start_time: datetime = msgspec.field(name="startTime")
    end_time: datetime | None = msgspec.field(name="endTime", default=None)
    created_at: datetime = msgspec.field(name="createdAt")
    updated_at: datetime = msgspec.field(name="updatedAt")


class RecordingStartedReply(msgspec.Struct, kw_only=True):
    """201 of POST /recording/start."""

    success: bool = True
    data: Recording


class ListRecordings(msgspec.Struct, kw_only=True, forbid_unknown_fields=False):
    """The query of GET /recordings/list: recordings of `roomId` (all rooms if absent),
    newest first, `limit` (1-100) per page after `cursor` (the last page's X-Next-Cursor)."""

    room_id: str | None = msgspec.field(name="roomId", default=None)
    limit: int = 50
    cursor: str | None = None


class RecordingPage(msgspec.Struct, kw_only=True, omit_defaults=True):
    data: list[Recording]
    next_cursor: str | None = msgspec.field(name="nextCursor", default=None)


class RecordingStopped(msgspec.Struct, kw_only=True):
    """A recording ended; the meetings service links it to the room's meeting.
    The tenant travels in the event's context."""

    recording_id: str
    room_id: str
    stream_id: str
    user_name: str | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None


START = Endpoint("recording.recordings.start", StartRecording, Recording)
STOP = Endpoint("recording.recordings.stop", StopRecording, Empty)
LIST = Endpoint("recording.recordings.list", ListRecordings, RecordingPage)

RECORDING_STOPPED = EventType("events.recording.recording.stopped", RecordingStopped)
