"""The recording service's subjects, messages and events.

Wire names keep the seed's camelCase (`roomId`, `streamId`, `startTime`). Two seed
fields arrive in more than one shape and are read as they come, without loss:
`streamId` is a number or a string (the seed's example is a 19-digit integer,
which msgspec decodes from the JSON text exactly, at any size), and times are
epoch milliseconds (what the seed sends) or ISO 8601 strings. The recording
service's domain turns both into one form.
"""

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar
from urllib.parse import quote

import msgspec

from webinar_contracts.bus import Empty, Endpoint, EventType

Req = TypeVar("Req", bound=msgspec.Struct)
Rep = TypeVar("Rep", bound=msgspec.Struct)

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
    at start, `recording` once a file is written, `stopped` once stopped, then `processing`
    and `ready` (with `downloadUrl`, `size` in bytes, `duration` in seconds) or `failed`
    (with `failureReason`)."""

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
    download_url: str | None = msgspec.field(name="downloadUrl", default=None)
    size: int | None = None
    duration: float | None = None
    failure_reason: str | None = msgspec.field(name="failureReason", default=None)
    # `client`: recorded in the browser (the recording socket); `server`: the room's tracks
    # recorded by the recording service from the SFU, one file per track (`tracks`).
    source: str = "client"
    tracks: list["RecordedTrack"] = msgspec.field(default_factory=list)


class RecordedTrack(msgspec.Struct, kw_only=True):
    """One producer of a room as a server-side recording wrote it, in its own file, as the
    publisher encoded it (VP8 or Opus in WebM, H.264 in Matroska): `offset` is when its first
    frame came, in seconds after the recording's start; `downloadUrl` once it is stored. A
    track longer than RECORDING_SEGMENT_SECONDS is stored in segments as it is recorded, each
    a whole file: `segment` 0, 1, ... of the track `segmentOf` (the first segment's trackId)."""

    track_id: str = msgspec.field(name="trackId")
    kind: str
    mime_type: str = msgspec.field(name="mimeType")
    peer_id: str = msgspec.field(name="peerId")
    peer_name: str = msgspec.field(name="peerName")
    offset: float
    duration: float
    size: int
    download_url: str | None = msgspec.field(name="downloadUrl", default=None)
    segment: int = 0
    segment_of: str = msgspec.field(name="segmentOf", default="")


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


# -- client-side recording: the recording socket's files, processing and downloads ---------
#
# A recording holds files, one per track the browser records (`create-file`), each written
# as numbered chunks (`stream`) and closed (`stop-writing`); `process-recording` scales every
# file to one size and joins them in time order into one MP4, in the background. Its status
# moves pending -> recording -> processing -> ready or failed (docs/recording.md).

PENDING = "pending"
RECORDING = "recording"
STOPPED = "stopped"
PROCESSING = "processing"
READY = "ready"
FAILED = "failed"


class CreateFile(msgspec.Struct, kw_only=True):
    """`create-file`: open the file of one track of a recording. A recording not started with
    POST /recording/start is started here when `roomId` is given (`userName` and `startTime`
    then as at start). `startTime` orders the files when they are joined (default: now)."""

    recording_id: str = msgspec.field(name="recordingId")
    track_id: str = msgspec.field(name="trackId")
    mime_type: str = msgspec.field(name="mimeType")
    room_id: str | None = msgspec.field(name="roomId", default=None)
    user_name: str | None = msgspec.field(name="userName", default=None)
    start_time: Instant | None = msgspec.field(name="startTime", default=None)


class FileOpened(msgspec.Struct, kw_only=True):
    """A file open for writing; `nextSeq` is where a client that reconnects carries on."""

    recording_id: str = msgspec.field(name="recordingId")
    track_id: str = msgspec.field(name="trackId")
    mime_type: str = msgspec.field(name="mimeType")
    status: str
    next_seq: int = msgspec.field(name="nextSeq")
    bytes: int


class WriteChunk(msgspec.Struct, kw_only=True):
    """`stream`: chunk number `seq` (0, 1, 2, ...) of a track's file."""

    recording_id: str = msgspec.field(name="recordingId")
    track_id: str = msgspec.field(name="trackId")
    seq: int
    data: bytes


class ChunkWritten(msgspec.Struct, kw_only=True):
    """A chunk is stored (or was already: `duplicate`, and it was not written again)."""

    seq: int
    duplicate: bool
    recording_bytes: int = msgspec.field(name="recordingBytes")


class StopWriting(msgspec.Struct, kw_only=True):
    """`stop-writing`: close a track's file; `lastSeq` is the last chunk the client sent
    (so a lost last chunk is noticed too); without it, the highest one received."""

    recording_id: str = msgspec.field(name="recordingId")
    track_id: str = msgspec.field(name="trackId")
    last_seq: int | None = msgspec.field(name="lastSeq", default=None)


class FileClosed(msgspec.Struct, kw_only=True):
    """A closed file: `complete` unless chunks are missing (the first 100 are listed in
    `missing`, all counted in `missingCount`); a missing chunk may still be sent."""

    recording_id: str = msgspec.field(name="recordingId")
    track_id: str = msgspec.field(name="trackId")
    chunks: int
    bytes: int
    complete: bool
    missing: list[int]
    missing_count: int = msgspec.field(name="missingCount")


class ProcessRecording(msgspec.Struct, kw_only=True):
    """`process-recording`: join every file of the recording into one MP4 of `width` x
    `height` (both or neither; default: the largest file's size)."""

    recording_id: str = msgspec.field(name="recordingId")
    width: int | None = None
    height: int | None = None


class ProcessingState(msgspec.Struct, kw_only=True, omit_defaults=True):
    """Where a recording's processing is: its status, percent done, and once ready its link."""

    recording_id: str = msgspec.field(name="recordingId")
    status: str
    percent: int = 0
    download_url: str | None = msgspec.field(name="downloadUrl", default=None)
    reason: str | None = None


JOIN = "join"  # a client-side recording's files scaled to one size and joined in time order
GRID = "grid"  # a server-side recording's tracks side by side, their sound mixed


class ProcessingRequested(msgspec.Struct, kw_only=True):
    """A processing job, queued on JetStream; the recording service's replicas share them.
    The tenant travels in the event's context."""

    recording_id: str
    job_id: str
    width: int | None = None
    height: int | None = None
    kind: str = JOIN


class RecordingPush(msgspec.Struct, kw_only=True, omit_defaults=True):
    """What the recording service tells sockets of a recording (core NATS on PUSH_SUBJECT,
    relayed once by one gateway process): progress, ready (with its link) or failed."""

    tenant_id: str
    recording_id: str
    status: str
    percent: int = 0
    download_url: str | None = None
    size: int | None = None
    duration: float | None = None
    width: int | None = None
    height: int | None = None
    reason: str | None = None


class GetOutput(msgspec.Struct, kw_only=True):
    """The finished file of a recording (or, with `track_id`, one track's file of a server-side
    recording): by the caller's tenant, or (no tenant) by the recording's download `token`,
    which its links carry."""

    recording_id: str
    token: str | None = None
    track_id: str | None = None


class OutputDetails(msgspec.Struct, kw_only=True):
    tenant_id: str
    recording_id: str
    size: int
    content_type: str
    filename: str


class ReadOutput(msgspec.Struct, kw_only=True):
    """At most `length` bytes of a finished file from `offset` (same access as GetOutput)."""

    recording_id: str
    offset: int
    length: int
    token: str | None = None
    track_id: str | None = None


class OutputChunk(msgspec.Struct, kw_only=True):
    data: bytes


CREATE_FILE = Endpoint("recording.files.create", CreateFile, FileOpened)
WRITE_CHUNK = Endpoint("recording.files.write", WriteChunk, ChunkWritten)
STOP_WRITING = Endpoint("recording.files.stop", StopWriting, FileClosed)
PROCESS = Endpoint("recording.recordings.process", ProcessRecording, ProcessingState)
GET_OUTPUT = Endpoint("recording.outputs.get", GetOutput, OutputDetails)
READ_OUTPUT = Endpoint("recording.outputs.read", ReadOutput, OutputChunk)

PROCESSING_REQUESTED = EventType("events.recording.processing.requested", ProcessingRequested)
PUSH_SUBJECT = "recording.pushes"


def download_path(recording_id: str) -> str:
    """The gateway path that serves a recording's finished file (percent-encoded id)."""
    return f"/recordings/{quote(recording_id, safe='')}/download"


# -- server-side recording of a room (beyond the seed; docs/recording.md) -----------------
#
# The room's host starts and stops it (REST, or `recording:start` / `recording:stop` on the
# SFU socket). A recorder of the recording service taps every producer of the room on its
# media node (media.taps), writes each track to a file as it was encoded, and on stop the
# tracks are composed into one MP4 (a grid of the videos, the sounds mixed) by a processing
# job. Status: pending -> recording -> stopped -> processing -> ready or failed.

CLIENT = "client"
SERVER = "server"


class RoomRecordingRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The body of POST /room/{roomId}/recording/start (optional): who asks (`hostName`)."""

    user_name: str | None = msgspec.field(name="userName", default=None)


class StartRoomRecording(msgspec.Struct, kw_only=True):
    """Record the room. The caller must host it: the user of the request is the `hostId` of
    a meeting held in the room, or (`room_host`, set by the gateway's SFU socket only) the
    media node names the caller's peer the room's host."""

    room_id: str
    user_name: str | None = None
    room_host: bool = False


class StopRoomRecording(msgspec.Struct, kw_only=True):
    """Stop the room's recording (the same hosts as StartRoomRecording); stopping a room that
    is not being recorded answers its last server-side recording and changes nothing."""

    room_id: str
    room_host: bool = False


class StopRecorder(msgspec.Struct, kw_only=True):
    """To the replica whose recorder records it: stop this recording (tenant in the context)."""

    recording_id: str
    reason: str = "stopped by the host"


class RoomRecordingEvent(msgspec.Struct, kw_only=True, omit_defaults=True):
    """What the room hears of its server-side recording: `recording:started`,
    `recording:stopped`, then `recording:ready` (with `downloadUrl`) or `recording:failed`."""

    recording_id: str = msgspec.field(name="recordingId")
    room_id: str = msgspec.field(name="roomId")
    status: str
    host_name: str | None = msgspec.field(name="hostName", default=None)
    start_time: datetime | None = msgspec.field(name="startTime", default=None)
    end_time: datetime | None = msgspec.field(name="endTime", default=None)
    download_url: str | None = msgspec.field(name="downloadUrl", default=None)
    size: int | None = None
    duration: float | None = None
    reason: str | None = None


class RoomRecordingQuery(msgspec.Struct, kw_only=True):
    """Is the room being recorded on the server now? (tenant in the context)"""

    room_id: str


class CurrentRoomRecording(msgspec.Struct, kw_only=True):
    """The room's server-side recording while it records (`recording:started` as the room
    heard it), or None: what a page that joins late must show, as those present were told."""

    recording: RoomRecordingEvent | None = None


@dataclass(frozen=True)
class RecorderEndpoint(Generic[Req, Rep]):
    """A request one replica's recorders serve on its own subject (`recorder_id` is chosen by
    each process at start)."""

    verb: str
    request: type[Req]
    reply: type[Rep]

    def at(self, recorder_id: str) -> Endpoint[Req, Rep]:
        if not RECORDER_ID.fullmatch(recorder_id):
            raise ValueError(f"not a recorder id: {recorder_id!r}")
        return Endpoint(f"recording.recorder.{recorder_id}.{self.verb}", self.request, self.reply)


RECORDER_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")

START_ROOM = Endpoint("recording.rooms.start", StartRoomRecording, Recording)
STOP_ROOM = Endpoint("recording.rooms.stop", StopRoomRecording, Recording)
ROOM_RECORDING = Endpoint("recording.rooms.current", RoomRecordingQuery, CurrentRoomRecording)
RECORDER_STOP = RecorderEndpoint("stop", StopRecorder, Recording)

# Pushed to the room (media.PUSH_SUBJECT, relayed by a gateway to the room's SFU sockets).
RECORDING_STARTED_EVENT = "recording:started"
RECORDING_STOPPED_EVENT = "recording:stopped"
RECORDING_READY_EVENT = "recording:ready"
RECORDING_FAILED_EVENT = "recording:failed"
