"""Bus subjects and events -> meetings rules, store and blob calls; nothing else."""

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from meetings.domain import (
    MAX_PAGE,
    RoomFile,
    StoredMeeting,
    chat_text,
    check_acting_user,
    check_chat_rate,
    check_has_content,
    check_may_delete_message,
    check_may_update,
    content_type_of,
    display_path,
    download_url,
    is_stored_filename,
    new_chat_message,
    original_name_of,
    stored_filename,
    to_milliseconds,
    updated_fields,
    validate_changes,
    validate_new_meeting,
    validate_read,
    validate_room,
)
from meetings.store import ChatStore, MeetingsStore
from webinar_contracts import Empty, InvalidInput, NotFound, RequestContext, TooLarge
from webinar_contracts import auth as auth_contract
from webinar_contracts.meetings import (
    MEETING_UPDATED,
    AttachFile,
    ChatFile,
    ChatHistory,
    ChatMessage,
    ChatMessageDeleted,
    CreateMeeting,
    CreateRoom,
    DeleteChatMessage,
    DeleteRoomFiles,
    EndRoom,
    FileChunk,
    FileDetails,
    FilesDeleted,
    GetChatHistory,
    GetFile,
    GetMeeting,
    GetRoom,
    KeepChat,
    ListMeetings,
    Meeting,
    MeetingInfo,
    MeetingPage,
    MeetingUpdated,
    PrepareUpload,
    ReadFile,
    Room,
    RoomDetails,
    RoomEnded,
    SendChatMessage,
    StoredFile,
    UpdateMeeting,
    UploadTicket,
)
from webinar_contracts.paging import PagePosition, check_limit, decode_cursor, encode_cursor
from webinar_contracts.recording import RecordingStopped
from webinar_contracts.transcription import SummaryGenerated
from webinar_runtime.blobs import BlobNotFound, BlobStore, BlobTooLarge
from webinar_runtime.bus import Bus, Event

log = logging.getLogger("meetings")


class UserDirectory(Protocol):
    """Who the users of a tenant are (the auth service knows)."""

    async def is_user(self, user_id: str, context: RequestContext) -> bool: ...


class AuthUsers:
    """Asks the auth service over the bus; its database stays its own."""

    def __init__(self, bus: Bus) -> None:
        self.bus = bus

    async def is_user(self, user_id: str, context: RequestContext) -> bool:
        try:
            await self.bus.request(auth_contract.GET_USER, auth_contract.GetUser(user_id=user_id), context=context)
        except NotFound:
            return False
        return True


def _meeting(meeting: StoredMeeting) -> Meeting:
    return Meeting(
        id=meeting.id,
        title=meeting.title,
        host_id=meeting.host_id,
        room_id=meeting.room_id,
        recording_ids=meeting.recording_ids,
        summary_generated=meeting.summary_generated,
        transcript_enabled=meeting.transcript_enabled,
        created_at=meeting.created_at,
    )


@dataclass
class MeetingsHandlers:
    store: MeetingsStore
    users: UserDirectory
    blobs: BlobStore
    staging: Callable[[str], BlobStore]  # bucket -> the staging store uploads arrive in
    staging_bucket: str
    max_file_bytes: int
    bus: Bus  # MEETING_UPDATED goes out on it

    # -- meetings for other services -----------------------------------------

    async def get_meeting(self, request: GetMeeting, context: RequestContext) -> MeetingInfo:
        meeting = await self.store.find_meeting(context.require_tenant(), request.meeting_id)
        if meeting is None:
            raise NotFound("no such meeting", field="meetingId")
        return MeetingInfo(
            id=meeting.id,
            title=meeting.title,
            host_id=meeting.host_id,
            room_id=meeting.room_id,
            transcript_enabled=meeting.transcript_enabled,
            summary_generated=meeting.summary_generated,
            recording_ids=meeting.recording_ids,
        )

    async def get_room(self, request: GetRoom, context: RequestContext) -> RoomDetails:
        tenant_id = context.require_tenant()
        room = await self.store.find_room(tenant_id, request.room_id)
        if room is None:
            raise NotFound("no such room", field="roomId")
        host_ids = await self.store.room_host_ids(tenant_id, room.id)
        return RoomDetails(
            id=room.id,
            name=room.name,
            type=room.type,
            host_ids=host_ids,
            ended_at=room.ended_at,
            transcript_meeting_id=await self.store.room_transcript_meeting(tenant_id, room.id),
        )

    async def end_room(self, request: EndRoom, context: RequestContext) -> RoomEnded:
        """The host ended the room's webinar (the media node asks, before closing the room):
        from now on it is not opened again. Ending it again changes nothing."""
        tenant_id = context.require_tenant()
        ended_at = await self.store.end_room(tenant_id, request.room_id, to_milliseconds(datetime.now(UTC)))
        if ended_at is None:
            raise NotFound("no such room", field="roomId")
        log.info("room ended", extra={"room_id": request.room_id, "tenant_id": tenant_id})
        return RoomEnded(room_id=request.room_id, ended_at=ended_at)

    # -- rooms and meetings --------------------------------------------------

    async def create_room(self, request: CreateRoom, context: RequestContext) -> Room:
        new_room = validate_room(request, context.require_tenant())
        room = await self.store.insert_room(new_room, to_milliseconds(datetime.now(UTC)))
        log.info("room created", extra={"room_id": room.id, "tenant_id": room.tenant_id})
        return Room(id=room.id, name=room.name, type=room.type, p2p=room.p2p)

    async def create_meeting(self, request: CreateMeeting, context: RequestContext) -> Meeting:
        new_meeting = validate_new_meeting(request, context.require_tenant())
        check_acting_user(context.user_id, new_meeting.host_id, "hostId")
        if not await self.users.is_user(new_meeting.host_id, context):
            raise NotFound("hostId is not a user of this tenant", field="hostId")
        meeting = await self.store.insert_meeting(new_meeting)
        log.info("meeting created", extra={"meeting_id": meeting.id, "tenant_id": meeting.tenant_id})
        return _meeting(meeting)

    async def update_meeting(self, request: UpdateMeeting, context: RequestContext) -> Empty:
        tenant_id = context.require_tenant()
        update = validate_changes(request.changes)
        user_id = request.changes.user_id.strip()
        check_acting_user(context.user_id, user_id, "userId")
        meeting = await self.store.find_meeting(tenant_id, request.meeting_id)
        if meeting is None:
            raise NotFound("no such meeting", field="meetingId")
        check_may_update(meeting, user_id)
        if update.room_id is not None and not await self.store.room_exists(tenant_id, update.room_id):
            raise NotFound("no such room", field="roomId")
        if not await self.store.update_meeting(tenant_id, meeting.id, update):
            raise NotFound("no such meeting", field="meetingId")
        if fields := updated_fields(update):
            # After the write, so that whoever reacts (a live room's captions) reads the new
            # state. A failed publish fails the call: sending the same update again is harmless.
            room_id = meeting.room_id if update.room_id is None else update.room_id
            await self.bus.publish(
                MEETING_UPDATED,
                MeetingUpdated(
                    meeting_id=meeting.id,
                    updated=fields,
                    room_id=room_id,
                    transcript_enabled=meeting.transcript_enabled
                    if update.transcript_enabled is None
                    else update.transcript_enabled,
                    previous_room_id=meeting.room_id if meeting.room_id != room_id else None,
                ),
                context=context,
            )
        return Empty()

    async def list_meetings(self, request: ListMeetings, context: RequestContext) -> MeetingPage:
        tenant_id = context.require_tenant()
        check_acting_user(context.user_id, request.user_id, "userId")
        limit = check_limit(request.limit, MAX_PAGE)
        after = decode_cursor(request.cursor) if request.cursor else None
        meetings, more = await self.store.list_meetings(tenant_id, request.user_id, limit=limit, after=after)
        next_cursor = None
        if more and meetings:
            next_cursor = encode_cursor(PagePosition(meetings[-1].created_at, meetings[-1].id))
        return MeetingPage(data=[_meeting(meeting) for meeting in meetings], next_cursor=next_cursor)

    # -- room files ----------------------------------------------------------

    async def prepare_upload(self, request: PrepareUpload, context: RequestContext) -> UploadTicket:
        tenant_id = context.require_tenant()
        if not await self.store.room_exists(tenant_id, request.room_id):
            raise NotFound("no such room", field="roomId")
        return UploadTicket(
            bucket=self.staging_bucket,
            object_name=f"{tenant_id}/{request.room_id}/{uuid.uuid4().hex}",
            max_bytes=self.max_file_bytes,
        )

    async def attach_file(self, request: AttachFile, context: RequestContext) -> StoredFile:
        """Take a staged upload over: copy it into this service's blob store, record it,
        and delete it from staging whatever happens."""
        tenant_id = context.require_tenant()
        if request.bucket != self.staging_bucket or not request.object_name.startswith(
            f"{tenant_id}/{request.room_id}/"
        ):
            raise InvalidInput("the upload was not staged where this room's ticket said", field="file")
        staged = self.staging(request.bucket)
        try:
            return await self._copy_staged(tenant_id, request, staged)
        finally:
            try:
                await staged.delete(request.object_name)
            except Exception:
                log.exception("could not delete a staged upload", extra={"object": request.object_name})

    async def _copy_staged(self, tenant_id: str, request: AttachFile, staged: BlobStore) -> StoredFile:
        if not await self.store.room_exists(tenant_id, request.room_id):
            raise NotFound("no such room", field="roomId")
        if request.size > self.max_file_bytes:
            raise TooLarge(f"file is larger than {self.max_file_bytes} bytes", field="file")
        original_name = original_name_of(request.original_name)
        filename = stored_filename(original_name)
        file = RoomFile(
            tenant_id=tenant_id,
            room_id=request.room_id,
            filename=filename,
            original_name=original_name,
            content_type=content_type_of(request.content_type, filename),
            size=request.size,
            uploaded_at=to_milliseconds(datetime.now(UTC)),
        )
        try:
            size = await self.blobs.write(
                file.blob_key, staged.read(request.object_name), max_bytes=self.max_file_bytes
            )
        except BlobTooLarge:
            raise TooLarge(f"file is larger than {self.max_file_bytes} bytes", field="file") from None
        except BlobNotFound:
            raise NotFound("the staged upload is gone; upload again", field="file") from None
        try:
            if size != request.size:
                raise InvalidInput(f"the staged upload has {size} bytes, not {request.size}", field="file")
            await self.store.insert_file(file)
        except BaseException:
            await self.blobs.delete(file.blob_key)
            raise
        log.info("file stored", extra={"room_id": file.room_id, "stored_name": file.filename, "size": size})
        return StoredFile(
            original_name=file.original_name, filename=file.filename, size=size, room_id=file.room_id, path=file.path
        )

    async def _file(self, context: RequestContext, room_id: str, filename: str) -> RoomFile:
        tenant_id = context.require_tenant()
        found = await self.store.find_file(tenant_id, room_id, filename) if is_stored_filename(filename) else None
        if found is None:
            raise NotFound("no such file in this room", field="filename")
        return found

    async def get_file(self, request: GetFile, context: RequestContext) -> FileDetails:
        file = await self._file(context, request.room_id, request.filename)
        return FileDetails(
            filename=file.filename,
            original_name=file.original_name,
            size=file.size,
            upload_date=file.uploaded_at,
            path=display_path(file.room_id, file.filename),
            content_type=file.content_type,
        )

    async def read_file(self, request: ReadFile, context: RequestContext) -> FileChunk:
        validate_read(request.offset, request.length)
        file = await self._file(context, request.room_id, request.filename)
        try:
            pieces = [
                piece async for piece in self.blobs.read(file.blob_key, offset=request.offset, length=request.length)
            ]
        except BlobNotFound:
            raise NotFound("the file's content is gone", field="filename") from None
        data = b"".join(pieces)
        return FileChunk(data=data, eof=request.offset + len(data) >= file.size)

    async def delete_room_files(self, request: DeleteRoomFiles, context: RequestContext) -> FilesDeleted:
        tenant_id = context.require_tenant()
        if not await self.store.room_exists(tenant_id, request.room_id):
            raise NotFound("no such room", field="roomId")
        files, removed = await self.store.remove_room_files(tenant_id, request.room_id)
        for file in files:
            # The records are gone already; bytes left behind by a failure here are unreachable, not wrong.
            try:
                await self.blobs.delete(file.blob_key)
            except Exception:
                log.exception("could not delete a room file's bytes", extra={"blob": file.blob_key})
        log.info("room files deleted", extra={"room_id": request.room_id, "count": removed})
        return FilesDeleted(room_id=request.room_id, deleted=removed)

    # -- events from other services (idempotent: JetStream delivers at least once) --

    async def on_recording_stopped(self, event: Event[Any]) -> None:
        stopped: RecordingStopped = event.payload
        if not event.context.tenant_id:
            log.warning("recording stopped without a tenant; ignored", extra={"event_id": event.id})
            return
        changed = await self.store.link_recording_to_room(
            event.context.tenant_id, stopped.room_id, stopped.recording_id
        )
        log.info(
            "recording linked to meetings",
            extra={"recording_id": stopped.recording_id, "room_id": stopped.room_id, "meetings": changed},
        )

    async def on_summary_generated(self, event: Event[Any]) -> None:
        generated: SummaryGenerated = event.payload
        if not event.context.tenant_id:
            log.warning("summary generated without a tenant; ignored", extra={"event_id": event.id})
            return
        if not await self.store.mark_summary_generated(event.context.tenant_id, generated.meeting_id):
            log.info("summary of an unknown meeting; ignored", extra={"meeting_id": generated.meeting_id})


# -- chat ------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class ChatLimits:
    max_chars: int
    rate_messages: int
    rate_window: int


@dataclass
class ChatHandlers:
    """The rooms' chat: messages kept in Redis, files found among the room's files."""

    chat: ChatStore
    files: MeetingsStore
    limits: ChatLimits
    clock: Callable[[], float] = time.time

    async def send(self, request: SendChatMessage, context: RequestContext) -> ChatMessage:
        tenant_id = context.require_tenant()
        text = chat_text(request.message, max_chars=self.limits.max_chars)
        check_has_content(text, has_file=request.filename is not None)
        sent, window_left = await self.chat.count_sent(tenant_id, request.room_id, request.sender_key)
        check_chat_rate(sent, limit=self.limits.rate_messages, window=self.limits.rate_window, retry_after=window_left)
        file = await self._file(tenant_id, request.room_id, request.filename) if request.filename else None
        message = new_chat_message(
            room_id=request.room_id,
            peer_id=request.peer_id,
            name=request.name,
            text=text,
            timestamp_ms=int(self.clock() * 1000),
            file=file,
        )
        await self.chat.append(tenant_id, message)
        return message

    async def _file(self, tenant_id: str, room_id: str, filename: str) -> ChatFile:
        found = await self.files.find_file(tenant_id, room_id, filename) if is_stored_filename(filename) else None
        if found is None:
            raise NotFound("no such file in this room: upload it with POST /room/:roomId/upload first", field="file")
        return ChatFile(
            filename=found.filename,
            original_name=found.original_name,
            size=found.size,
            content_type=found.content_type,
            url=download_url(room_id, found.filename),
        )

    async def history(self, request: GetChatHistory, context: RequestContext) -> ChatHistory:
        return ChatHistory(messages=await self.chat.history(context.require_tenant(), request.room_id))

    async def delete(self, request: DeleteChatMessage, context: RequestContext) -> ChatMessageDeleted:
        tenant_id = context.require_tenant()
        check_may_delete_message(request.role)
        if not await self.chat.remove(tenant_id, request.room_id, request.message_id):
            raise NotFound("no such message in this room's chat", field="id")
        log.info("chat message deleted", extra={"room_id": request.room_id, "message_id": request.message_id})
        return ChatMessageDeleted(room_id=request.room_id, id=request.message_id)

    async def keep(self, request: KeepChat, context: RequestContext) -> Empty:
        await self.chat.keep(context.require_tenant(), request.room_id)
        return Empty()
