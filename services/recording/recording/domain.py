"""The recording rules: what a valid start and stop are, how stream ids and times are
read, when a stop changes nothing; what a valid file, chunk and processing request are,
which chunks are missing, the size limits, the order files are joined in, and when a
processed file is good enough to call the recording ready.

No I/O here: the store persists, the handlers translate.
"""

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from webinar_contracts import Conflict, Forbidden, InvalidInput, NotFound, TooLarge, Unauthorized
from webinar_contracts.recording import (
    CLIENT,
    FAILED,
    PENDING,
    PROCESSING,
    READY,
    RECORDING,
    SERVER,
    STOPPED,
    CreateFile,
    Instant,
    ProcessRecording,
    StartRecording,
    StreamId,
)
from webinar_contracts.validation import required_text

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 12, 31, 23, 59, 59, 999000, tzinfo=UTC)
MAX_EPOCH_MS = (LATEST - EPOCH) // timedelta(milliseconds=1)
EPOCH_MS_TEXT = re.compile(r"[0-9]{1,15}")
OBJECT_ID = re.compile(r"[0-9a-f]{24}")

MAX_ID = 128
MAX_NAME = 100
MAX_LABEL = 32


@dataclass(frozen=True, kw_only=True)
class NewRecording:
    tenant_id: str
    recording_id: str
    room_id: str
    user_name: str
    stream_id: str
    video_type: str
    status: str
    started_at: datetime


@dataclass(frozen=True, kw_only=True)
class RecordingSession:
    """A stored recording: `ended_at` is None until it is stopped."""

    id: str
    tenant_id: str
    recording_id: str
    room_id: str
    user_name: str
    stream_id: str
    video_type: str
    status: str
    started_at: datetime
    ended_at: datetime | None
    created_at: datetime
    updated_at: datetime
    bytes: int = 0  # chunk bytes stored for it (its limit counts these)
    job_id: str | None = None
    attempts: int = 0
    percent: int = 0
    failure_reason: str | None = None
    output_key: str | None = None
    output_size: int | None = None
    duration: float | None = None
    download_token: str | None = None
    source: str = CLIENT
    tracks: tuple["StoredTrack", ...] = ()  # of a server-side recording, once stored
    recorder_id: str | None = None  # the replica recording it (server-side)

    @property
    def stopped(self) -> bool:
        return self.ended_at is not None

    @property
    def server_side(self) -> bool:
        return self.source == SERVER


def to_millis(moment: datetime) -> datetime:
    """`moment` in UTC, cut to the millisecond, which is what MongoDB keeps."""
    moment = moment.astimezone(UTC)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def normalise_stream_id(value: StreamId, field: str = "streamId") -> str:
    """A stream id as digits or text, exactly as sent: the integer 755961800257348400 and
    the string "755961800257348400" are the same stream; no digit is ever rounded away."""
    if isinstance(value, bool):  # bool is an int in Python; JSON true is not a stream id
        raise InvalidInput(f"{field} must be an integer or a string", field=field)
    if isinstance(value, int):
        if value < 0:
            raise InvalidInput(f"{field} must not be negative", field=field)
        text = str(value)
        if len(text) > MAX_ID:
            raise InvalidInput(f"{field} must be at most {MAX_ID} digits", field=field)
        return text
    return required_text(value, field, MAX_ID)


def _from_epoch_ms(value: int | float, field: str) -> datetime:
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidInput(f"{field} must be a finite number of milliseconds", field=field)
        value = round(value)
    if not 0 <= value <= MAX_EPOCH_MS:
        raise InvalidInput(f"{field} must be milliseconds since 1970 before the year 10000", field=field)
    return EPOCH + timedelta(milliseconds=value)


def parse_instant(value: Instant, field: str) -> datetime:
    """A time from epoch milliseconds (a number, or a string of digits) or an ISO 8601 string
    (no offset means UTC); returned in UTC to the millisecond."""
    if isinstance(value, bool):
        raise InvalidInput(f"{field} must be epoch milliseconds or an ISO 8601 date", field=field)
    if isinstance(value, int | float):
        return _from_epoch_ms(value, field)
    text = value.strip()
    if not text:
        raise InvalidInput(f"{field} must not be empty", field=field)
    if EPOCH_MS_TEXT.fullmatch(text):
        return _from_epoch_ms(int(text), field)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"{field} must be epoch milliseconds or an ISO 8601 date", field=field) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return to_millis(parsed)


def validate_start(request: StartRecording, tenant_id: str) -> NewRecording:
    """The recording to store, or InvalidInput naming the first field at fault (seed order)."""
    status = required_text(request.status, "status", MAX_LABEL)
    if status in SERVICE_STATUSES:
        raise InvalidInput(f"status {status!r} is set by the recording service, not at start", field="status")
    return NewRecording(
        tenant_id=tenant_id,
        room_id=required_text(request.room_id, "roomId", MAX_ID),
        user_name=required_text(request.user_name, "userName", MAX_NAME),
        stream_id=normalise_stream_id(request.stream_id),
        recording_id=required_text(request.recording_id, "recordingId", MAX_ID),
        started_at=parse_instant(request.start_time, "startTime"),
        video_type=required_text(request.video_type, "videoType", MAX_LABEL),
        status=status,
    )


def check_stop(session: RecordingSession, stream_id: str, ended_at: datetime) -> None:
    """Refuse a stop that names another stream than the recording's, or ends before it began,
    or a server-side recording (its room's host stops it). Stopping a stopped recording is
    allowed: it changes nothing."""
    if session.server_side:
        raise Conflict(server_side_refusal(session), field="recordingId")
    if stream_id != session.stream_id:
        raise NotFound("this recording has no stream with this streamId", field="streamId")
    if ended_at < session.started_at:
        raise InvalidInput("endTime must not be before the recording's startTime", field="endTime")


def stopped_event_id(tenant_id: str, recording_id: str) -> str:
    """One id per recording's stop, so a repeated stop (or a retried publish) is stored once."""
    return f"recording-stopped:{tenant_id}:{recording_id}"


# -- files, chunks and processing (the recording socket) --------------------------------

SERVICE_STATUSES = frozenset({STOPPED, PROCESSING, READY, FAILED})
"""Statuses only the service sets; the pipeline's own (processing, ready, failed) are never
overwritten by a stop."""
PIPELINE_STATUSES = frozenset({PROCESSING, READY, FAILED})
WRITING = RECORDING
"""A recording a file is opened in is `recording`, unless it was stopped or the service set
its status already (the store applies this in one atomic update)."""
MAX_SEQ = 10_000_000
MAX_MIME = 200
MIN_SIDE, MAX_SIDE = 16, 4096
MAX_LISTED_MISSING = 100
MIME_TYPE = re.compile(r"(video|audio)/(webm|mp4|x-matroska|ogg)(\s*;.*)?", re.IGNORECASE)


@dataclass(frozen=True, kw_only=True)
class NewFile:
    recording_id: str
    track_id: str
    mime_type: str
    room_id: str | None
    user_name: str | None
    started_at: datetime | None


@dataclass(frozen=True, kw_only=True)
class TrackFile:
    """One file of a recording: its chunks are numbered from 0; `closed` after stop-writing,
    with the last chunk number then known and how many before it are missing."""

    id: str
    tenant_id: str
    recording_id: str
    track_id: str
    mime_type: str
    started_at: datetime
    opened_at: datetime
    closed: bool = False
    last_seq: int | None = None
    chunks: int = 0
    bytes: int = 0
    missing_count: int = 0


@dataclass(frozen=True, kw_only=True)
class Limits:
    max_chunk_bytes: int
    max_recording_bytes: int
    max_tenant_bytes: int


@dataclass(frozen=True)
class MissingChunks:
    count: int
    first: list[int]  # at most MAX_LISTED_MISSING of them, in order


def validate_file(request: CreateFile) -> NewFile:
    """The file to open, or InvalidInput naming the field at fault."""
    recording_id = required_text(request.recording_id, "recordingId", MAX_ID)
    track_id = required_text(request.track_id, "trackId", MAX_ID)
    mime_type = required_text(request.mime_type, "mimeType", MAX_MIME)
    if not MIME_TYPE.fullmatch(mime_type):
        raise InvalidInput(
            "mimeType must be a video/ or audio/ webm, mp4, x-matroska or ogg type (codecs may follow)",
            field="mimeType",
        )
    room_id = required_text(request.room_id, "roomId", MAX_ID) if request.room_id is not None else None
    user_name = required_text(request.user_name, "userName", MAX_NAME) if request.user_name is not None else None
    started_at = parse_instant(request.start_time, "startTime") if request.start_time is not None else None
    return NewFile(
        recording_id=recording_id,
        track_id=track_id,
        mime_type=mime_type,
        room_id=room_id,
        user_name=user_name,
        started_at=started_at,
    )


def check_open_for_files(session: RecordingSession) -> None:
    """Files are added and written until processing starts; Conflict afterwards, and always
    for a server-side recording (the service writes its tracks)."""
    if session.server_side:
        raise Conflict(server_side_refusal(session), field="recordingId")
    if session.status in PIPELINE_STATUSES:
        raise Conflict(
            f"recording {session.recording_id} is {session.status}: no file can be written to it any more",
            field="recordingId",
        )


def check_same_file(track: TrackFile, mime_type: str) -> None:
    """Opening a file again (a client that reconnected) must name the same type; a closed file stays closed."""
    if track.mime_type != mime_type:
        raise Conflict(f"track {track.track_id} was opened as {track.mime_type}", field="mimeType")
    if track.closed:
        raise Conflict(f"the file of track {track.track_id} is closed (stop-writing)", field="trackId")


def check_chunk(seq: int, size: int, limits: Limits) -> None:
    if isinstance(seq, bool) or not 0 <= seq <= MAX_SEQ:
        raise InvalidInput(f"seq must be an integer from 0 to {MAX_SEQ}", field="seq")
    if size == 0:
        raise InvalidInput("data must hold at least one byte", field="data")
    if size > limits.max_chunk_bytes:
        raise TooLarge(
            f"a chunk is {size} bytes; at most {limits.max_chunk_bytes} are taken at once: send it in parts",
            field="data",
        )


def check_chunk_fits_track(track: TrackFile, seq: int) -> None:
    """A closed file takes only the chunks it misses (below its last), so a lost chunk can
    still be sent after stop-writing; anything else is refused."""
    if track.closed and (track.last_seq is None or seq > track.last_seq):
        raise Conflict(f"the file of track {track.track_id} is closed (stop-writing)", field="trackId")


def check_fits(size: int, used: int, limit: int, what: str) -> None:
    """TooLarge when `size` more bytes would take `used` past `limit`."""
    if used + size > limit:
        raise TooLarge(f"{what} would pass its limit of {limit} bytes ({used} stored, {size} more)", field="data")


def recording_limit_refusal(recording_id: str, limit: int) -> TooLarge:
    return TooLarge(f"recording {recording_id} would pass its limit of {limit} bytes", field="data")


def tenant_limit_refusal(limit: int) -> TooLarge:
    return TooLarge(f"this tenant's recordings would pass their limit of {limit} bytes", field="data")


def missing_chunks(received: list[int], last_seq: int | None) -> MissingChunks:
    """Which of 0..last (the client's last, else the highest received) never arrived;
    `received` is sorted and without repeats."""
    highest = received[-1] if received else -1
    last = highest if last_seq is None else max(last_seq, highest)
    count = last + 1 - len(received)
    first: list[int] = []
    expected = 0
    for seq in [*received, last + 1]:
        first.extend(range(expected, min(seq, expected + MAX_LISTED_MISSING - len(first))))
        if len(first) >= MAX_LISTED_MISSING:
            break
        expected = seq + 1
    return MissingChunks(count=count, first=first)


def check_last_seq(last_seq: int | None) -> None:
    if last_seq is not None and (isinstance(last_seq, bool) or not -1 <= last_seq <= MAX_SEQ):
        raise InvalidInput(f"lastSeq must be an integer from -1 to {MAX_SEQ}", field="lastSeq")


def target_size(request: ProcessRecording) -> tuple[int, int] | None:
    """The size asked for (width and height both, even numbers from 16 to 4096), or None."""
    if request.width is None and request.height is None:
        return None
    for value, field in ((request.width, "width"), (request.height, "height")):
        if value is None:
            raise InvalidInput("width and height go together: give both or neither", field=field)
        if isinstance(value, bool) or not MIN_SIDE <= value <= MAX_SIDE or value % 2:
            raise InvalidInput(f"{field} must be an even number from {MIN_SIDE} to {MAX_SIDE}", field=field)
    return request.width or 0, request.height or 0


def check_processable(recording_id: str, tracks: list[TrackFile]) -> None:
    """Processing needs at least one file, every file closed and none missing a chunk."""
    if not tracks:
        raise InvalidInput(f"recording {recording_id} has no file to process (create-file first)", field="recordingId")
    for track in tracks:
        if not track.closed:
            raise Conflict(
                f"the file of track {track.track_id} is still open: send stop-writing first", field="trackId"
            )
        if track.missing_count:
            raise Conflict(
                f"the file of track {track.track_id} misses {track.missing_count} chunk(s): send them, "
                "then stop-writing again",
                field="trackId",
            )
        if track.chunks == 0:
            raise InvalidInput(f"the file of track {track.track_id} is empty", field="trackId")


def in_time_order(tracks: list[TrackFile]) -> list[TrackFile]:
    """Files in the order they are joined: by start time, then by when they were opened."""
    return sorted(tracks, key=lambda track: (track.started_at, track.opened_at, track.id))


def even(value: float) -> int:
    return max(MIN_SIDE, min(MAX_SIDE, int(value) // 2 * 2))


def largest_size(sizes: list[tuple[int, int]]) -> tuple[int, int]:
    """The default target: the largest picture among the files (even sides), 640x360 if none has video."""
    if not sizes:
        return 640, 360
    width, height = max(sizes, key=lambda size: (size[0] * size[1], size[0]))
    return even(width), even(height)


def duration_tolerance(expected: float) -> float:
    """How far a joined file's length may be from the sum of its parts: a frame or two per
    part and the audio encoder's padding, never less than half a second."""
    return max(0.5, expected * 0.03)


def check_output(
    *,
    has_video: bool,
    has_audio: bool,
    size: tuple[int, int] | None,
    duration: float,
    target: tuple[int, int],
    expected: float,
) -> None:
    """Raise ValueError saying what is wrong with a processed file; a recording is only
    called ready when this passes."""
    if not has_video or not has_audio:
        raise ValueError("the processed file lacks its video or its audio")
    if size != target:
        raise ValueError(f"the processed file is {size}, not {target}")
    if abs(duration - expected) > duration_tolerance(expected):
        raise ValueError(f"the processed file lasts {duration:.2f}s, its parts {expected:.2f}s")


def percent_done(done_seconds: float, total_seconds: float) -> int:
    """Progress of a job, 0..99 (100 is said only once the recording is ready)."""
    if total_seconds <= 0:
        return 0
    return max(0, min(99, int(done_seconds * 100 / total_seconds)))


# -- server-side recording of a room --------------------------------------------------------

SERVER_STREAM_ID = "room"  # what a server-side recording shows as its streamId: the whole room
GRID_VIDEO_TYPE = "grid"
RECORDER_STATUSES = frozenset({PENDING, RECORDING, STOPPED})
"""A server-side recording's recorder (one replica) holds it in these statuses: from start
until its tracks are stored and its composition is queued."""
_NOT_SLUG = re.compile(r"[^a-z0-9]+")
MAX_TRACK_NAME = 24


@dataclass(frozen=True, kw_only=True)
class StoredTrack:
    """One track of a server-side recording: one producer, in its own file as it was encoded
    (`key` in the blob store); `offset` is when its first frame came after the start. A track
    longer than a segment is stored as several files while it is recorded: segment 0 has the
    track's id, segment n the id `<track>.<n>` and `segment_of` the track's."""

    track_id: str
    kind: str
    mime_type: str
    extension: str
    producer_id: str
    peer_id: str
    peer_name: str
    offset: float
    duration: float
    size: int
    key: str
    frames: int = 0
    packets: int = 0
    lost: int = 0
    width: int = 0
    height: int = 0
    segment: int = 0
    segment_of: str = ""

    @property
    def track(self) -> str:
        """The track this file is (a segment of)."""
        return self.segment_of or self.track_id


def segment_track_id(track_id: str, segment: int) -> str:
    return track_id if segment == 0 else f"{track_id}.{segment}"


def tracks_in_segments(stored: list[StoredTrack]) -> list[list[StoredTrack]]:
    """The stored files grouped by track (in the order the tracks came), each track's
    segments in order."""
    grouped: dict[str, list[StoredTrack]] = {}
    for file in stored:
        grouped.setdefault(file.track, []).append(file)
    return [sorted(segments, key=lambda file: file.segment) for segments in grouped.values()]


def server_side_refusal(session: RecordingSession) -> str:
    return (
        f"recording {session.recording_id} is a server-side recording of room {session.room_id}: its host "
        f"stops it with POST /room/{{roomId}}/recording/stop, and the service writes and processes its tracks"
    )


def check_room_host(user_id: str | None, host_ids: list[str], room_id: str) -> None:
    """Only a host records a room: the signed-in user must be the hostId of a meeting held in it."""
    if user_id is None:
        raise Unauthorized("recording a room needs the host's bearer token from /auth/login")
    if user_id not in host_ids:
        raise Forbidden(f"only the host of room {room_id} may record it (the hostId of its meeting)", field="roomId")


def room_recording_id(started_at: datetime, random_digits: int) -> str:
    """A server-side recording's id, in the seed's form: epoch milliseconds, `_`, six digits."""
    millis = (to_millis(started_at) - EPOCH) // timedelta(milliseconds=1)
    return f"{millis}_{random_digits % 1_000_000:06d}"


def track_name(number: int, kind: str, peer_name: str) -> str:
    """A track's id within its recording: its number, its kind and its peer's name, for
    people reading a list of files (`01-video-avery`)."""
    slug = _NOT_SLUG.sub("-", peer_name.lower()).strip("-")[:MAX_TRACK_NAME].strip("-") or "peer"
    return f"{number:02d}-{kind}-{slug}"


@dataclass(frozen=True)
class GridLayout:
    """Where each video goes on the canvas: `columns` x `rows` cells of `cell` size."""

    columns: int
    rows: int
    cell: tuple[int, int]

    def position(self, index: int) -> tuple[int, int]:
        return (index % self.columns) * self.cell[0], (index // self.columns) * self.cell[1]


def grid_layout(videos: int, canvas: tuple[int, int]) -> GridLayout:
    """The smallest near-square grid holding `videos` cells on `canvas` (even cell sides)."""
    count = max(1, videos)
    columns = math.ceil(math.sqrt(count))
    rows = math.ceil(count / columns)
    width, height = canvas
    return GridLayout(columns, rows, (max(2, width // columns // 2 * 2), max(2, height // rows // 2 * 2)))


def parse_size(text: str) -> tuple[int, int]:
    """`1280x720` as (1280, 720): even sides from 16 to 4096; ValueError otherwise."""
    width_text, _, height_text = text.strip().lower().partition("x")
    if not width_text.isdigit() or not height_text.isdigit():
        raise ValueError(f"expected WIDTHxHEIGHT, got {text!r}")
    width, height = int(width_text), int(height_text)
    if not (MIN_SIDE <= width <= MAX_SIDE and MIN_SIDE <= height <= MAX_SIDE) or width % 2 or height % 2:
        raise ValueError(f"sides must be even numbers from {MIN_SIDE} to {MAX_SIDE}, got {text!r}")
    return width, height


def check_tenant_has_room(used: int, limit: int) -> None:
    """A tenant whose recordings hold its whole limit starts no server-side recording."""
    if used >= limit:
        raise TooLarge(
            f"this tenant's recordings hold {used} bytes, their limit of {limit}: nothing more can be recorded",
            field="roomId",
        )


LOST_SEGMENTS = (
    "the recording service replica that recorded it stopped: the recording ends where its stored segments end "
    "(the last seconds of each track, which it had not finished, are lost)"
)


RESUMED = (
    "the recording service replica that recorded it stopped; another one goes on recording it "
    "(what the stopped one had not stored, up to RECORDING_LOST_AFTER_SECONDS and a segment, is missing)"
)


def recorded_until(tracks: list[StoredTrack]) -> float:
    """Seconds from the recording's start to the end of its last stored file."""
    return max((track.offset + track.duration for track in tracks), default=0.0)


def nothing_recorded(tracks: list[StoredTrack]) -> str | None:
    """Why a stopped server-side recording cannot be composed, or None when it can."""
    if not tracks:
        return "nothing was recorded: no producer of the room sent media while it was recorded"
    return None
