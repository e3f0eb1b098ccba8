"""The recording rules: what a valid start and stop are, how stream ids and times are
read, when a stop changes nothing, how list pages are cut.

No I/O here: the store persists, the handlers translate.
"""

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from webinar_contracts import InvalidInput, NotFound
from webinar_contracts.recording import Instant, StartRecording, StreamId
from webinar_contracts.validation import required_text

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 12, 31, 23, 59, 59, 999000, tzinfo=UTC)
MAX_EPOCH_MS = (LATEST - EPOCH) // timedelta(milliseconds=1)
EPOCH_MS_TEXT = re.compile(r"[0-9]{1,15}")
OBJECT_ID = re.compile(r"[0-9a-f]{24}")
STOPPED = "stopped"

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

    @property
    def stopped(self) -> bool:
        return self.ended_at is not None


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
    return NewRecording(
        tenant_id=tenant_id,
        room_id=required_text(request.room_id, "roomId", MAX_ID),
        user_name=required_text(request.user_name, "userName", MAX_NAME),
        stream_id=normalise_stream_id(request.stream_id),
        recording_id=required_text(request.recording_id, "recordingId", MAX_ID),
        started_at=parse_instant(request.start_time, "startTime"),
        video_type=required_text(request.video_type, "videoType", MAX_LABEL),
        status=required_text(request.status, "status", MAX_LABEL),
    )


def check_stop(session: RecordingSession, stream_id: str, ended_at: datetime) -> None:
    """Refuse a stop that names another stream than the recording's, or ends before it began.
    Stopping a stopped recording is allowed: it changes nothing."""
    if stream_id != session.stream_id:
        raise NotFound("this recording has no stream with this streamId", field="streamId")
    if ended_at < session.started_at:
        raise InvalidInput("endTime must not be before the recording's startTime", field="endTime")


def stopped_event_id(tenant_id: str, recording_id: str) -> str:
    """One id per recording's stop, so a repeated stop (or a retried publish) is stored once."""
    return f"recording-stopped:{tenant_id}:{recording_id}"
