"""The meetings rules: what a valid room and meeting are, who may change a meeting,
how pages of meetings are cut, how an uploaded file is named and stored, and what a
chat message may hold, how often one may be sent and who may delete one.

No I/O here: the store persists, the handlers translate.
"""

import math
import mimetypes
import re
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote

from webinar_contracts import Forbidden, InvalidInput, RateLimited, TooLarge
from webinar_contracts.meetings import (
    MAX_READ_BYTES,
    ChatFile,
    ChatMessage,
    CreateMeeting,
    CreateRoom,
    MeetingChanges,
)
from webinar_contracts.validation import required_text

ROOM_TYPES = ("meeting", "conference", "webinar", "live")
MAX_PARTICIPANTS = 10_000
MAX_NAME = 100
MAX_TITLE = 200
MAX_ID = 128
DEFAULT_PAGE = 50
MAX_PAGE = 100
MAX_ORIGINAL_NAME = 255
MAX_SAFE_NAME = 100
UNIQUE_PREFIX_HEX = 16
FALLBACK_CONTENT_TYPE = "application/octet-stream"

_SAFE_CHARS = re.compile(r"[^A-Za-z0-9._-]+")
_STORED_NAME = re.compile(rf"^[0-9a-f]{{{UNIQUE_PREFIX_HEX}}}_[A-Za-z0-9._-]{{1,{MAX_SAFE_NAME}}}$")
_CONTENT_TYPE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]{0,63}/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$")
# Only the standard library's built-in table: no reading of system files, same answer everywhere.
_MIME_TYPES = mimetypes.MimeTypes(filenames=())


def to_milliseconds(moment: datetime) -> datetime:
    """`moment` as MongoDB keeps it (millisecond precision), so what is answered equals what is read back."""
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


# -- rooms -------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class NewRoom:
    tenant_id: str
    name: str
    type: str
    max_participants: int | None
    is_private: bool
    # Media always flows through the SFU (browser -> media node), never browser to browser.
    p2p: bool = False


@dataclass(frozen=True, kw_only=True)
class StoredRoom:
    id: str
    tenant_id: str
    name: str
    type: str
    p2p: bool
    ended_at: datetime | None = None  # when its host ended the webinar: it is never opened again


def validate_room(request: CreateRoom, tenant_id: str) -> NewRoom:
    """The room to store, or InvalidInput naming the first field at fault."""
    name = required_text(request.name, "name", MAX_NAME)
    room_type = request.type.strip().lower()
    if room_type not in ROOM_TYPES:
        raise InvalidInput(f"type must be one of {', '.join(ROOM_TYPES)}", field="type")
    if request.max_participants is not None and not 1 <= request.max_participants <= MAX_PARTICIPANTS:
        raise InvalidInput(
            f"maxParticipants must be a whole number from 1 to {MAX_PARTICIPANTS}", field="maxParticipants"
        )
    return NewRoom(
        tenant_id=tenant_id,
        name=name,
        type=room_type,
        max_participants=request.max_participants,
        is_private=request.is_private,
    )


# -- meetings ----------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class NewMeeting:
    tenant_id: str
    title: str
    host_id: str
    transcript_enabled: bool
    created_at: datetime


@dataclass(frozen=True, kw_only=True)
class StoredMeeting:
    id: str
    tenant_id: str
    title: str
    host_id: str
    room_id: str | None
    recording_ids: list[str]
    summary_generated: bool
    transcript_enabled: bool
    created_at: datetime


@dataclass(frozen=True, kw_only=True)
class MeetingUpdate:
    """The validated changes of one update; None leaves a field as it is."""

    title: str | None = None
    room_id: str | None = None
    recording_id: str | None = None
    summary_generated: bool | None = None
    transcript_enabled: bool | None = None


def check_acting_user(token_user_id: str | None, claimed_user_id: str, field: str) -> None:
    """A caller with a bearer token acts only as itself: 403 when the body names someone else."""
    if token_user_id is not None and token_user_id != claimed_user_id:
        raise Forbidden(f"{field} must be the user of the access token", field=field)


def validate_new_meeting(request: CreateMeeting, tenant_id: str, now: datetime | None = None) -> NewMeeting:
    title = required_text(request.title, "title", MAX_TITLE)
    host_id = required_text(request.host_id, "hostId", MAX_ID)
    return NewMeeting(
        tenant_id=tenant_id,
        title=title,
        host_id=host_id,
        transcript_enabled=request.transcript_enabled,
        created_at=to_milliseconds(now or datetime.now(UTC)),
    )


def validate_changes(changes: MeetingChanges) -> MeetingUpdate:
    required_text(changes.user_id, "userId", MAX_ID)
    return MeetingUpdate(
        title=None if changes.title is None else required_text(changes.title, "title", MAX_TITLE),
        room_id=None if changes.room_id is None else required_text(changes.room_id, "roomId", MAX_ID),
        recording_id=None
        if changes.recording_id is None
        else required_text(changes.recording_id, "recordingId", MAX_ID),
        summary_generated=changes.summary_generated,
        transcript_enabled=changes.transcript_enabled,
    )


def updated_fields(update: MeetingUpdate) -> list[str]:
    """The fields an update sets, by their wire names (what MEETING_UPDATED lists)."""
    fields = {
        "title": update.title,
        "roomId": update.room_id,
        "recordingId": update.recording_id,
        "summaryGenerated": update.summary_generated,
        "transcriptEnabled": update.transcript_enabled,
    }
    return [name for name, value in fields.items() if value is not None]


def check_may_update(meeting: StoredMeeting, user_id: str) -> None:
    if meeting.host_id != user_id:
        raise Forbidden("only the meeting's host may update it", field="userId")


# -- pages -------------------------------------------------------------------------


# -- room files --------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class RoomFile:
    tenant_id: str
    room_id: str
    filename: str
    original_name: str
    content_type: str
    size: int
    uploaded_at: datetime

    @property
    def blob_key(self) -> str:
        return file_blob_key(self.tenant_id, self.room_id, self.filename)

    @property
    def path(self) -> str:
        """The path clients see (the seed's `documents/<room>/<file>`)."""
        return display_path(self.room_id, self.filename)


def safe_name(original: str) -> str:
    """The original name reduced to a harmless file name: its last path segment, only
    letters, digits, `.`, `_`, `-`, no leading dots, at most MAX_SAFE_NAME characters
    (the extension kept), `file` when nothing is left."""
    base = re.split(r"[/\\]", original)[-1]
    cleaned = _SAFE_CHARS.sub("_", base).strip("._-")
    if not cleaned:
        return "file"
    if len(cleaned) > MAX_SAFE_NAME:
        stem, dot, extension = cleaned.rpartition(".")
        if dot and stem and len(extension) <= 16:
            cleaned = stem[: MAX_SAFE_NAME - len(extension) - 1].rstrip("._-") + "." + extension
        else:
            cleaned = cleaned[:MAX_SAFE_NAME]
    return cleaned


def stored_filename(original: str, unique: str | None = None) -> str:
    """A new stored name for an upload: a random prefix (unique per upload) and the safe name."""
    prefix = unique if unique is not None else secrets.token_hex(UNIQUE_PREFIX_HEX // 2)
    return f"{prefix}_{safe_name(original)}"


def is_stored_filename(filename: str) -> bool:
    """Whether `filename` could be a name this service gave (anything else is not found)."""
    return bool(_STORED_NAME.match(filename))


def original_name_of(declared: str) -> str:
    """The client's name for the file, kept as metadata, bounded in length."""
    return declared[:MAX_ORIGINAL_NAME]


def content_type_of(declared: str, filename: str) -> str:
    """The declared media type when it is well formed and says something, else one
    guessed from the extension, else `application/octet-stream`."""
    media_type = declared.split(";", 1)[0].strip().lower()
    if _CONTENT_TYPE.match(media_type) and media_type != FALLBACK_CONTENT_TYPE:
        return media_type
    guessed, _ = _MIME_TYPES.guess_type(filename, strict=False)
    return guessed or FALLBACK_CONTENT_TYPE


def file_blob_key(tenant_id: str, room_id: str, filename: str) -> str:
    return f"rooms/{tenant_id}/{room_id}/{filename}"


def display_path(room_id: str, filename: str) -> str:
    return f"documents/{room_id}/{filename}"


def validate_read(offset: int, length: int) -> None:
    if offset < 0:
        raise InvalidInput("offset must not be negative", field="offset")
    if not 1 <= length <= MAX_READ_BYTES:
        raise InvalidInput(f"length must be from 1 to {MAX_READ_BYTES}", field="length")


# -- chat --------------------------------------------------------------------------

MODERATOR_ROLES = frozenset({"host", "co-host"})
MAX_CHAT_NAME = 100
DEFAULT_CHAT_NAME = "Guest"
MESSAGE_ID_HEX = 16
# Bidirectional-text controls reorder what a reader sees (the "trojan source" trick); they
# are format characters, not control characters, so they are named here.
_BIDI_CONTROLS = frozenset("\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def strip_control_characters(text: str, *, keep_newlines: bool) -> str:
    """`text` without control characters (C0, DEL, C1) and bidirectional controls; tabs
    become spaces, and line breaks stay when `keep_newlines` (else they become spaces)."""
    text = text.replace("\r\n", "\n").replace("\t", " ")
    if not keep_newlines:
        text = text.replace("\n", " ")
    return "".join(ch for ch in text if ch == "\n" or (unicodedata.category(ch) != "Cc" and ch not in _BIDI_CONTROLS))


def chat_text(message: str, *, max_chars: int) -> str:
    """A message's text as kept: stripped of control characters and surrounding blanks,
    at most `max_chars` characters (TooLarge above)."""
    text = strip_control_characters(message, keep_newlines=True).strip()
    if len(text) > max_chars:
        raise TooLarge(f"message is longer than {max_chars} characters", field="message")
    return text


def chat_name(name: str) -> str:
    """A sender's name as shown: one line, no control characters, bounded; `Guest` when empty."""
    cleaned = " ".join(strip_control_characters(name, keep_newlines=False).split())[:MAX_CHAT_NAME]
    return cleaned or DEFAULT_CHAT_NAME


def check_has_content(text: str, *, has_file: bool) -> None:
    """A message needs text or a file."""
    if not text and not has_file:
        raise InvalidInput("message is empty", field="message")


def new_chat_message(
    *,
    room_id: str,
    peer_id: str,
    name: str,
    text: str,
    timestamp_ms: int,
    file: ChatFile | None = None,
    message_id: str | None = None,
) -> ChatMessage:
    """The message to keep and broadcast."""
    check_has_content(text, has_file=file is not None)
    return ChatMessage(
        id=message_id if message_id is not None else secrets.token_hex(MESSAGE_ID_HEX // 2),
        room_id=room_id,
        name=chat_name(name),
        message=text,
        timestamp=timestamp_ms,
        peer_id=peer_id,
        file=file,
    )


def check_chat_rate(sent: int, *, limit: int, window: int, retry_after: float) -> None:
    """`sent` messages in the current window of `window` seconds: RateLimited past `limit`."""
    if sent > limit:
        wait = max(1, math.ceil(retry_after))
        raise RateLimited(
            f"too many messages: at most {limit} every {window} seconds; wait {wait} s",
            field="message",
            retry_after=float(wait),
        )


def check_may_delete_message(role: str) -> None:
    if role not in MODERATOR_ROLES:
        raise Forbidden("only the host and co-hosts may delete a chat message", field="id")


def download_url(room_id: str, filename: str) -> str:
    """Where a viewer downloads a room file through the gateway."""
    return f"/room/{quote(room_id, safe='')}/files/{quote(filename, safe='')}/download"
