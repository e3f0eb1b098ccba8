"""The meetings service's subjects and messages: rooms, meetings, room files.

Cross-service pieces are declared first (other services ask them); the REST
messages follow. Wire names keep the seed's camelCase (`hostId`, `_id`).
"""

from datetime import datetime

import msgspec

from webinar_contracts.bus import Empty, Endpoint, EventType


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
    recording_ids: list[str] = msgspec.field(default_factory=list)


GET_MEETING = Endpoint("meetings.meetings.get", GetMeeting, MeetingInfo)


class GetRoom(msgspec.Struct, kw_only=True):
    room_id: str


class RoomDetails(msgspec.Struct, kw_only=True):
    """What another service may know of a room (the media node asks, to know who may
    produce): its type, the hosts of the meetings held in it, and when its host ended it
    (an ended room is never opened again)."""

    id: str
    name: str
    type: str
    host_ids: list[str] = msgspec.field(default_factory=list)
    ended_at: datetime | None = None
    # The newest meeting held in the room with `transcriptEnabled` on: live captions store its lines.
    transcript_meeting_id: str | None = None


class EndRoom(msgspec.Struct, kw_only=True):
    """The host ended the room's webinar: record it (once; asking again changes nothing)."""

    room_id: str


class RoomEnded(msgspec.Struct, kw_only=True):
    room_id: str
    ended_at: datetime  # when it first ended


GET_ROOM = Endpoint("meetings.rooms.get", GetRoom, RoomDetails)
END_ROOM = Endpoint("meetings.rooms.end", EndRoom, RoomEnded)


class MeetingUpdated(msgspec.Struct, kw_only=True):
    """A meeting was updated (POST /meetings/update/:meetingId): the fields the update set
    (`updated`, wire names such as `transcriptEnabled` and `roomId`, whether or not their value
    differed), and the meeting's room and `transcriptEnabled` after it; `previous_room_id` is
    the room it left when the update moved it. The tenant travels in the event's context.
    Media nodes react to it: a live room's captions follow `transcriptEnabled`
    (docs/captions.md)."""

    meeting_id: str
    updated: list[str]
    room_id: str | None = None
    transcript_enabled: bool = False
    previous_room_id: str | None = None


MEETING_UPDATED = EventType("events.meetings.meeting.updated", MeetingUpdated)


# -- rooms -------------------------------------------------------------------------


class CreateRoom(msgspec.Struct, kw_only=True):
    """POST /room/create. Types are checked here; the rules (known type, bounds)
    live in the meetings service's domain."""

    name: str
    type: str
    max_participants: int | None = msgspec.field(name="maxParticipants", default=None)
    is_private: bool = msgspec.field(name="isPrivate", default=False)


class Room(msgspec.Struct, kw_only=True):
    """A room as the seed shows it after creation."""

    id: str
    name: str
    type: str
    p2p: bool


# -- meetings ----------------------------------------------------------------------


class CreateMeeting(msgspec.Struct, kw_only=True):
    """POST /meetings/create."""

    title: str
    host_id: str = msgspec.field(name="hostId")
    transcript_enabled: bool = msgspec.field(name="transcriptEnabled")


class Meeting(msgspec.Struct, kw_only=True):
    """A meeting as the seed lists it."""

    id: str = msgspec.field(name="_id")
    title: str
    host_id: str = msgspec.field(name="hostId")
    room_id: str | None = msgspec.field(name="roomId", default=None)
    recording_ids: list[str] = msgspec.field(name="recordingIds", default_factory=list)
    summary_generated: bool = msgspec.field(name="summaryGenerated", default=False)
    transcript_enabled: bool = msgspec.field(name="transcriptEnabled", default=False)
    created_at: datetime = msgspec.field(name="createdAt")


class MeetingChanges(msgspec.Struct, kw_only=True):
    """The body of POST /meetings/update/:meetingId: who asks, and what changes."""

    user_id: str = msgspec.field(name="userId")
    room_id: str | None = msgspec.field(name="roomId", default=None)
    recording_id: str | None = msgspec.field(name="recordingId", default=None)
    title: str | None = None
    summary_generated: bool | None = msgspec.field(name="summaryGenerated", default=None)
    transcript_enabled: bool | None = msgspec.field(name="transcriptEnabled", default=None)


class UpdateMeeting(msgspec.Struct, kw_only=True):
    meeting_id: str
    changes: MeetingChanges


class ListMeetings(msgspec.Struct, kw_only=True):
    """GET /meetings/list/:userId?limit=&cursor=: newest first, `cursor` from the previous page."""

    user_id: str
    limit: int = 50
    cursor: str | None = None


class MeetingPage(msgspec.Struct, kw_only=True):
    data: list[Meeting]
    next_cursor: str | None = msgspec.field(name="nextCursor", default=None)


# -- room files --------------------------------------------------------------------
#
# An upload travels without the gateway holding it: the gateway asks for a ticket
# (the room exists, where to stage, how large it may be), streams the multipart part
# into the staging object-store bucket, then asks meetings to attach the staged
# object, which meetings copies into its own blob store and deletes from staging.
# A download is a series of bounded reads.

MAX_READ_BYTES = 512 * 1024


class PrepareUpload(msgspec.Struct, kw_only=True):
    room_id: str


class UploadTicket(msgspec.Struct, kw_only=True):
    """Where the gateway stages an upload: a JetStream object-store bucket and object name."""

    bucket: str
    object_name: str
    max_bytes: int


class AttachFile(msgspec.Struct, kw_only=True):
    room_id: str
    bucket: str
    object_name: str
    original_name: str
    content_type: str
    size: int


class StoredFile(msgspec.Struct, kw_only=True):
    """An upload's answer, as in the seed."""

    original_name: str = msgspec.field(name="originalName")
    filename: str
    size: int
    room_id: str = msgspec.field(name="roomId")
    path: str


class GetFile(msgspec.Struct, kw_only=True):
    room_id: str
    filename: str


class FileDetails(msgspec.Struct, kw_only=True):
    """A stored file's details, as in the seed, plus its content type."""

    filename: str
    original_name: str = msgspec.field(name="originalName")
    size: int
    upload_date: datetime = msgspec.field(name="uploadDate")
    path: str
    content_type: str = msgspec.field(name="contentType", default="application/octet-stream")


class ReadFile(msgspec.Struct, kw_only=True):
    """Up to `length` bytes (at most MAX_READ_BYTES) of a stored file from `offset`."""

    room_id: str
    filename: str
    offset: int = 0
    length: int = MAX_READ_BYTES


class FileChunk(msgspec.Struct, kw_only=True):
    data: bytes
    eof: bool


class DeleteRoomFiles(msgspec.Struct, kw_only=True):
    room_id: str


class FilesDeleted(msgspec.Struct, kw_only=True):
    room_id: str = msgspec.field(name="roomId")
    deleted: int


CREATE_ROOM = Endpoint("meetings.rooms.create", CreateRoom, Room)
CREATE_MEETING = Endpoint("meetings.meetings.create", CreateMeeting, Meeting)
UPDATE_MEETING = Endpoint("meetings.meetings.update", UpdateMeeting, Empty)
LIST_MEETINGS = Endpoint("meetings.meetings.list", ListMeetings, MeetingPage)
PREPARE_UPLOAD = Endpoint("meetings.files.prepare-upload", PrepareUpload, UploadTicket)
ATTACH_FILE = Endpoint("meetings.files.attach", AttachFile, StoredFile)
GET_FILE = Endpoint("meetings.files.get", GetFile, FileDetails)
READ_FILE = Endpoint("meetings.files.read", ReadFile, FileChunk)
DELETE_ROOM_FILES = Endpoint("meetings.files.delete-room", DeleteRoomFiles, FilesDeleted)


# -- chat --------------------------------------------------------------------------
#
# The SFU socket's `sendMessage` (docs/realtime-events.md): the gateway learns the sender's
# name and role from the media node holding the room, asks meetings to keep the message
# (Redis, one capped list per room), and broadcasts what meetings answers. `join` gets the
# history. A message may carry a file uploaded with POST /room/:roomId/upload.


class ChatFile(msgspec.Struct, kw_only=True):
    """The room file a chat message carries, and where a viewer downloads it."""

    filename: str
    original_name: str = msgspec.field(name="originalName")
    size: int
    content_type: str = msgspec.field(name="contentType")
    url: str  # the gateway's /room/{roomId}/files/{filename}/download


class ChatMessage(msgspec.Struct, kw_only=True, omit_defaults=True):
    """A chat message as the seed's `chatHistory` lists it (`room_id, name, message,
    timestamp` in milliseconds since the epoch), with its id (what a deletion names), the
    sender's socket (`peer_id`) and, for a file message, the file."""

    id: str
    room_id: str
    name: str
    message: str
    timestamp: int
    peer_id: str = ""
    file: ChatFile | None = None


class SendChatMessage(msgspec.Struct, kw_only=True):
    room_id: str
    peer_id: str  # the sender's socket
    sender_key: str  # whom the rate limit counts: the user of the token, else the socket
    name: str
    message: str
    filename: str | None = None  # a file of the room to attach (its stored name)


class GetChatHistory(msgspec.Struct, kw_only=True):
    room_id: str


class ChatHistory(msgspec.Struct, kw_only=True):
    messages: list[ChatMessage]  # oldest first


class DeleteChatMessage(msgspec.Struct, kw_only=True):
    room_id: str
    message_id: str
    role: str  # the caller's role in the room, as the media node holding it says


class ChatMessageDeleted(msgspec.Struct, kw_only=True):
    room_id: str
    id: str


class KeepChat(msgspec.Struct, kw_only=True):
    """Someone left the room: keep its history for the retention period from now."""

    room_id: str


SEND_CHAT_MESSAGE = Endpoint("meetings.chat.send", SendChatMessage, ChatMessage)
GET_CHAT_HISTORY = Endpoint("meetings.chat.history", GetChatHistory, ChatHistory)
DELETE_CHAT_MESSAGE = Endpoint("meetings.chat.delete", DeleteChatMessage, ChatMessageDeleted)
KEEP_CHAT = Endpoint("meetings.chat.keep", KeepChat, Empty)
