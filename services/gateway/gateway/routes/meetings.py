"""REST routes of the meetings service (seed: "Room Management", "Meeting Management", "File Upload"),
and the room's viewer links (a room ticket from the auth service, for a room meetings knows).

Files pass through the gateway without being held here. An upload: ask meetings for
a ticket (the room exists; where to stage; the size limit), stream the multipart
`file` part in 256 KiB chunks into that JetStream object-store staging bucket
(counting, 413 past the limit), then ask meetings to attach the staged object:
meetings copies it into its own blob store and deletes it from staging, so any
replica can finish the upload, and the gateway keeps nothing. A download: the
file's details first (404, size, type), then bounded reads of 256 KiB over the bus,
each written to the client before the next is asked for.
"""

import logging
import re
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated
from urllib.parse import quote

import msgspec
from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import HttpProcessingError

from gateway.rest import Access, Call, Route, json_response
from webinar_contracts import InvalidInput, NotFound, ServiceError, TooLarge
from webinar_contracts import auth as auth_contract
from webinar_contracts import meetings as contract
from webinar_contracts.auth import (
    ROOM_TICKET_DEFAULT_SECONDS,
    ROOM_TICKET_MAX_SECONDS,
    ROOM_TICKET_MIN_SECONDS,
    IssueRoomTicket,
    check_ticket_lifetime,
)
from webinar_contracts.meetings import (
    AttachFile,
    CreateMeeting,
    CreateRoom,
    DeleteRoomFiles,
    FileDetails,
    FilesDeleted,
    GetFile,
    GetRoom,
    ListMeetings,
    Meeting,
    MeetingChanges,
    MeetingPage,
    PrepareUpload,
    ReadFile,
    Room,
    StoredFile,
    UpdateMeeting,
)
from webinar_contracts.validation import convert
from webinar_runtime.blobs import BlobTooLarge, JetStreamBlobStore
from webinar_runtime.logs import trace_id_var

log = logging.getLogger("gateway.files")

TRANSFER_CHUNK = 256 * 1024
# The viewer page a viewer link opens (served by the gateway under /app).
WATCH_PAGE = "/app/watch.html"
# Time allowed for meetings to copy a staged upload, beyond the usual deadline.
ATTACH_BYTES_PER_SECOND = 10_000_000
_NOT_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


class RoomCreated(msgspec.Struct, kw_only=True):
    success: bool = True
    data: Room
    msg: str = "Room created Successfully!"


class MeetingCreated(msgspec.Struct, kw_only=True):
    success: bool = True
    data: Meeting
    msg: str = "Meeting created successfully!"


class MeetingsQuery(msgspec.Struct, kw_only=True):
    """The query of GET /meetings/list/:userId."""

    limit: Annotated[int, msgspec.Meta(description="meetings per page, 1 to 100")] = 50
    cursor: Annotated[str, msgspec.Meta(description="`nextCursor` of the previous page; none for the first")] = ""


class UploadForm(msgspec.Struct, kw_only=True):
    """The multipart/form-data body of an upload."""

    file: Annotated[
        str,
        msgspec.Meta(
            description="the file's bytes, with its name in the part's Content-Disposition",
            extra_json_schema={"contentMediaType": "application/octet-stream"},
        ),
    ]


class FileUploaded(msgspec.Struct, kw_only=True):
    success: bool = True
    data: StoredFile
    msg: str = "File uploaded successfully!"


class FileRetrieved(msgspec.Struct, kw_only=True):
    success: bool = True
    data: FileDetails
    msg: str = "File retrieved successfully!"


class FilesRemoved(msgspec.Struct, kw_only=True):
    success: bool = True
    data: FilesDeleted
    msg: str = "Files deleted successfully!"


class ViewerLinkRequest(msgspec.Struct, kw_only=True):
    """The optional body of POST /room/:roomId/viewer-link."""

    expires_in_seconds: Annotated[
        int,
        msgspec.Meta(
            description=f"how long the link works: {ROOM_TICKET_MIN_SECONDS} to {ROOM_TICKET_MAX_SECONDS} seconds"
        ),
    ] = msgspec.field(name="expiresInSeconds", default=ROOM_TICKET_DEFAULT_SECONDS)


class ViewerLink(msgspec.Struct, kw_only=True):
    ticket: Annotated[str, msgspec.Meta(description="the room ticket: Socket.IO `auth: {ticket}` of a guest")]
    expires_at: datetime = msgspec.field(name="expiresAt")
    path: Annotated[str, msgspec.Meta(description="the viewer page with the room and ticket; prefix the origin")]


class ViewerLinkCreated(msgspec.Struct, kw_only=True):
    success: bool = True
    data: ViewerLink


# -- rooms and meetings --------------------------------------------------------------


async def create_room(call: Call) -> web.Response:
    room = await call.ask(contract.CREATE_ROOM, await call.body(CreateRoom))
    return json_response(RoomCreated(data=room), 201)


async def create_viewer_link(call: Call) -> web.Response:
    """A link for viewers with no API key and no account: the room's page and a room ticket
    (in the URL's fragment, which browsers do not send to servers)."""
    room_id = call.param("roomId")
    request = await call.body(ViewerLinkRequest, default=ViewerLinkRequest())
    check_ticket_lifetime(request.expires_in_seconds)
    try:
        await call.ask(contract.GET_ROOM, GetRoom(room_id=room_id))
    except NotFound:
        raise NotFound("room not found", field="roomId") from None
    issued = await call.ask(
        auth_contract.ISSUE_ROOM_TICKET, IssueRoomTicket(room_id=room_id, expires_in=request.expires_in_seconds)
    )
    path = f"{WATCH_PAGE}?room={quote(room_id, safe='')}#ticket={issued.ticket}"
    return json_response(
        ViewerLinkCreated(data=ViewerLink(ticket=issued.ticket, expires_at=issued.expires_at, path=path)), 201
    )


async def create_meeting(call: Call) -> web.Response:
    meeting = await call.ask(contract.CREATE_MEETING, await call.body(CreateMeeting))
    return json_response(MeetingCreated(data=meeting), 201)


async def update_meeting(call: Call) -> web.Response:
    changes = await call.body(MeetingChanges)
    await call.ask(contract.UPDATE_MEETING, UpdateMeeting(meeting_id=call.param("meetingId"), changes=changes))
    return web.Response(status=204)


async def list_meetings(call: Call) -> web.Response:
    query = convert(dict(call.request.query), MeetingsQuery)
    page = await call.ask(
        contract.LIST_MEETINGS,
        ListMeetings(user_id=call.param("userId"), limit=query.limit, cursor=query.cursor or None),
    )
    return json_response(page)


# -- room files ----------------------------------------------------------------------


async def _file_part(request: web.Request) -> BodyPartReader:
    """The multipart part named `file` that carries a file name; parts before it are skipped."""
    if not request.content_type.startswith("multipart/form-data"):
        raise InvalidInput("the body must be multipart/form-data with a file field", field="file")
    try:
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if isinstance(part, BodyPartReader) and part.name == "file":
                # A browser sends the field with an empty file name when no file was chosen.
                if not part.filename:
                    break
                return part
            await part.release()
    except (ValueError, RuntimeError, HttpProcessingError) as error:
        raise InvalidInput(f"malformed multipart body: {error}", field="file") from None
    raise InvalidInput("file is required", field="file")


async def _chunks_of(part: BodyPartReader) -> AsyncIterator[bytes]:
    while chunk := await part.read_chunk(TRANSFER_CHUNK):
        yield chunk


async def upload_file(call: Call) -> web.Response:
    room_id = call.param("roomId")
    ticket = await call.ask(contract.PREPARE_UPLOAD, PrepareUpload(room_id=room_id))
    part = await _file_part(call.request)
    staging = JetStreamBlobStore(call.gate.bus.js, ticket.bucket, chunk_size=TRANSFER_CHUNK)
    try:
        size = await staging.write(ticket.object_name, _chunks_of(part), max_bytes=ticket.max_bytes)
    except BlobTooLarge:
        raise TooLarge(f"file is larger than {ticket.max_bytes} bytes", field="file") from None
    except (ValueError, RuntimeError, HttpProcessingError) as error:
        raise InvalidInput(f"malformed multipart body: {error}", field="file") from None
    attach = AttachFile(
        room_id=room_id,
        bucket=ticket.bucket,
        object_name=ticket.object_name,
        original_name=part.filename or "",
        content_type=part.headers.get("Content-Type", ""),
        size=size,
    )
    timeout = call.gate.bus.request_timeout + size / ATTACH_BYTES_PER_SECOND
    stored = await call.gate.bus.request(contract.ATTACH_FILE, attach, context=call.context, timeout=timeout)
    return json_response(FileUploaded(data=stored))


async def get_file(call: Call) -> web.Response:
    details = await call.ask(contract.GET_FILE, GetFile(room_id=call.param("roomId"), filename=call.param("filename")))
    return json_response(FileRetrieved(data=details))


def content_disposition(original_name: str, stored_name: str) -> str:
    """`attachment` with the original name (RFC 6266 `filename*`) and a plain ASCII fallback;
    no control character or path of the client's naming reaches the header."""
    shown = "".join(ch for ch in re.split(r"[/\\]", original_name)[-1] if ch.isprintable()).strip()
    fallback = _NOT_SAFE.sub("_", stored_name.split("_", 1)[-1]) or "file"
    header = f'attachment; filename="{fallback}"'
    if shown:
        header += f"; filename*=UTF-8''{quote(shown, safe='')}"
    return header


async def download_file(call: Call) -> web.StreamResponse:
    room_id, filename = call.param("roomId"), call.param("filename")
    details = await call.ask(contract.GET_FILE, GetFile(room_id=room_id, filename=filename))
    response = web.StreamResponse(
        headers={
            "Content-Type": details.content_type,
            "Content-Disposition": content_disposition(details.original_name, details.filename),
            "X-Content-Type-Options": "nosniff",
            "X-Request-Id": trace_id_var.get(),
        }
    )
    response.content_length = details.size
    await response.prepare(call.request)
    sent = 0
    try:
        while sent < details.size:
            chunk = await call.ask(
                contract.READ_FILE, ReadFile(room_id=room_id, filename=filename, offset=sent, length=TRANSFER_CHUNK)
            )
            if not chunk.data:
                break
            await response.write(chunk.data)
            sent += len(chunk.data)
    except (ServiceError, ConnectionError) as error:
        log.warning("download cut short", extra={"room_id": room_id, "sent": sent, "reason": str(error)})
    if sent != details.size:
        # The status is sent already: closing before Content-Length bytes tells the client it failed.
        response.force_close()
        return response
    await response.write_eof()
    return response


async def delete_room_files(call: Call) -> web.Response:
    deleted = await call.ask(contract.DELETE_ROOM_FILES, DeleteRoomFiles(room_id=call.param("roomId")))
    return json_response(FilesRemoved(data=deleted))


ROUTES = [
    Route("POST", "/room/create", create_room, "meetings", "Create a room of this tenant",
          body=CreateRoom, responses={201: RoomCreated}, errors=(400, 413)),
    Route("POST", "/room/{roomId}/viewer-link", create_viewer_link, "meetings",
          "A link for viewers with no API key (a logged-in user asks): the viewer page and a room ticket for this "
          "room only; `expiresInSeconds` 60 to 604800, default 86400",
          access=Access.USER, body=ViewerLinkRequest, body_required=False, responses={201: ViewerLinkCreated},
          errors=(400, 401, 404, 413)),
    Route("POST", "/meetings/create", create_meeting, "meetings",
          "Create a meeting hosted by a user of this tenant (with a bearer token: that user)",
          body=CreateMeeting, responses={201: MeetingCreated}, errors=(400, 403, 404, 413)),
    Route("POST", "/meetings/update/{meetingId}", update_meeting, "meetings",
          "Update a meeting (its host only); a recordingId joins recordingIds once",
          body=MeetingChanges, responses={204: None}, errors=(400, 403, 404, 413)),
    Route("GET", "/meetings/list/{userId}", list_meetings, "meetings",
          "Meetings hosted by a user, newest first; `limit` (1-100, default 50) and `cursor` (nextCursor) page them",
          query=MeetingsQuery, responses={200: MeetingPage}, errors=(400, 403)),
    Route("POST", "/room/{roomId}/upload", upload_file, "meetings",
          "Upload a file to a room (multipart/form-data, field `file`); stored under a generated name",
          body=UploadForm, body_media_type="multipart/form-data", responses={200: FileUploaded},
          errors=(400, 404, 413)),
    Route("GET", "/room/{roomId}/files/{filename}", get_file, "meetings", "Details of a file of a room",
          responses={200: FileRetrieved}, errors=(404,)),
    Route("GET", "/room/{roomId}/files/{filename}/download", download_file, "meetings",
          "The bytes of a file of a room, as an attachment with its original name (a viewer link's guest: "
          "`?ticket=<room ticket>` instead of the key)",
          room_ticket=True, responses={200: None}, errors=(404,)),
    Route("DELETE", "/room/{roomId}/files", delete_room_files, "meetings",
          "Delete every file of a room (metadata and bytes); says how many",
          responses={200: FilesRemoved}, errors=(404,)),
]  # fmt: skip
