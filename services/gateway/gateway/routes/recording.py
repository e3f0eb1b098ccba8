"""REST routes of the recording service (seed: "Recording Controls"), and the download of a
processed recording.

The download answers HTTP range requests (a `<video>` seeks with them): the file's details
first (404, 409 while it is not ready), then bounded reads over the bus, each written to
the client before the next is asked for. It takes an `x-api-key` of the recording's tenant,
or the `token` of the recording's download link (a `<video src>` sends no header).
"""

import logging
import re

import msgspec
from aiohttp import web

from gateway.rest import Access, Call, Route, error_body, json_response
from webinar_contracts import ServiceError, Unauthorized, recording
from webinar_contracts.recording import (
    GetOutput,
    ListRecordings,
    ReadOutput,
    Recording,
    RecordingStartedReply,
    RoomRecordingRequest,
    StartRecording,
    StartRoomRecording,
    StopRecording,
    StopRoomRecording,
)
from webinar_contracts.validation import convert
from webinar_runtime.logs import trace_id_var

log = logging.getLogger("gateway.recording")

NEXT_CURSOR_HEADER = "X-Next-Cursor"
TRANSFER_CHUNK = 256 * 1024
_BYTE_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


class RangeNotSatisfiable(Exception):
    """The Range header asks for no byte of the file."""


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The one byte range (first, last, inclusive) a Range header asks of a `size`-byte file,
    or None to send it whole (no header, a form this server does not serve, or several
    ranges: RFC 9110 lets a server answer those with the whole file)."""
    if header is None:
        return None
    found = _BYTE_RANGE.match(header.strip().replace(" ", ""))
    if not found:
        return None
    first, last = found.groups()
    if not first and not last:
        return None
    if not first:  # the last N bytes
        suffix = int(last)
        if suffix == 0 or size == 0:
            raise RangeNotSatisfiable
        return max(0, size - suffix), size - 1
    start = int(first)
    if start >= size:
        raise RangeNotSatisfiable
    end = min(int(last), size - 1) if last else size - 1
    if end < start:
        return None
    return start, end


async def start_recording(call: Call) -> web.Response:
    started = await call.ask(recording.START, await call.body(StartRecording))
    return json_response(RecordingStartedReply(data=started), 201)


async def stop_recording(call: Call) -> web.Response:
    await call.ask(recording.STOP, await call.body(StopRecording))
    return web.Response(status=204)


async def list_recordings(call: Call) -> web.Response:
    page = await call.ask(recording.LIST, convert(dict(call.request.query), ListRecordings))
    # The seed answers a bare array, so the next page's cursor travels in a header.
    headers = {NEXT_CURSOR_HEADER: page.next_cursor} if page.next_cursor else None
    return json_response(page.data, headers=headers)


class DownloadQuery(msgspec.Struct, kw_only=True):
    """The download's query: the `token` of its link (instead of an x-api-key), and `track`:
    one track's own file of a server-side recording (its `trackId`), instead of the MP4."""

    token: str | None = None
    track: str | None = None


async def start_room_recording(call: Call) -> web.Response:
    """The room's host records the room on the server (docs/recording.md)."""
    call.require_user()
    body = await call.body(RoomRecordingRequest, default=RoomRecordingRequest())
    request = StartRoomRecording(room_id=call.param("roomId"), user_name=body.user_name)
    return json_response(RecordingStartedReply(data=await call.ask(recording.START_ROOM, request)), 201)


async def stop_room_recording(call: Call) -> web.Response:
    call.require_user()
    stopped = await call.ask(recording.STOP_ROOM, StopRoomRecording(room_id=call.param("roomId")))
    return json_response(RecordingStartedReply(data=stopped))


async def download_recording(call: Call) -> web.StreamResponse:
    recording_id = call.param("recordingId")
    token: str | None = call.request.query.get("token") or None
    track_id: str | None = call.request.query.get("track") or None
    api_key = call.request.headers.get("x-api-key")
    if api_key:
        tenant = await call.gate.keys.resolve(api_key, call.context)
        call.context = msgspec.structs.replace(call.context, tenant_id=tenant.tenant_id, plan=tenant.plan)
        token = None
    elif token is None:
        raise Unauthorized("an x-api-key header, or the token of the recording's download link, is required")
    details = await call.ask(recording.GET_OUTPUT, GetOutput(recording_id=recording_id, token=token, track_id=track_id))
    headers = {
        "Content-Type": details.content_type,
        "Accept-Ranges": "bytes",
        "Content-Disposition": f'inline; filename="{details.filename}"',
        "Cache-Control": "private, no-store",
        "X-Content-Type-Options": "nosniff",
        "X-Request-Id": trace_id_var.get(),
    }
    try:
        wanted = parse_range(call.request.headers.get("Range"), details.size)
    except RangeNotSatisfiable:
        return json_response(
            error_body(f"the file has {details.size} bytes: no byte of that range"),
            416,
            headers={"Content-Range": f"bytes */{details.size}", "Accept-Ranges": "bytes"},
        )
    start, end = wanted or (0, details.size - 1)
    if wanted is not None:
        headers["Content-Range"] = f"bytes {start}-{end}/{details.size}"
    response = web.StreamResponse(status=206 if wanted is not None else 200, headers=headers)
    response.content_length = end - start + 1
    await response.prepare(call.request)
    position = start
    try:
        while position <= end:
            length = min(TRANSFER_CHUNK, end + 1 - position)
            chunk = await call.ask(
                recording.READ_OUTPUT,
                ReadOutput(recording_id=recording_id, offset=position, length=length, token=token, track_id=track_id),
            )
            if not chunk.data:
                break
            await response.write(chunk.data)
            position += len(chunk.data)
    except (ServiceError, ConnectionError) as error:
        log.warning("download cut short", extra={"recording_id": recording_id, "reason": str(error)})
    if position != end + 1:
        # The status is sent already: closing before Content-Length bytes tells the client it failed.
        response.force_close()
        return response
    await response.write_eof()
    return response


ROUTES = [
    Route("POST", "/recording/start", start_recording, "recording",
          "Start a recording of a room's stream; streamId may be a number (kept digit for digit) or a string, "
          "startTime epoch milliseconds or ISO 8601",
          body=StartRecording, responses={201: RecordingStartedReply}, errors=(400, 409, 413)),
    Route("POST", "/recording/stop", stop_recording, "recording",
          "Stop a recording (stopping it again changes nothing); publishes recording stopped",
          body=StopRecording, responses={204: None}, errors=(400, 404, 413)),
    Route("GET", "/recordings/list", list_recordings, "recording",
          "Recordings newest first; `roomId` filters, `limit` (1-100, default 50) and `cursor` page them; "
          "the next page's cursor comes in the X-Next-Cursor header (the seed answers a bare array)",
          query=ListRecordings, responses={200: list[Recording]}, errors=(400,)),
    Route("GET", "/recordings/{recordingId}/download", download_recording, "recording",
          "The processed MP4 of a ready recording, with HTTP range requests (206, Content-Range) so a <video> "
          "seeks in it; for an x-api-key of the recording's tenant, or with `?token=` of its downloadUrl "
          "(a <video src> sends no header); 409 until it is ready. `?track=` serves one track's own file of a "
          "server-side recording instead (WebM or Matroska, as it was recorded), once its tracks are stored",
          access=Access.PUBLIC, query=DownloadQuery, responses={200: None, 206: None},
          errors=(401, 404, 409, 416, 503)),
    Route("POST", "/room/{roomId}/recording/start", start_room_recording, "recording",
          "The room's host (a signed-in user who is the hostId of a meeting held in the room) records the room "
          "on the server: every producer's track in its own file, composed into one MP4 when stopped; the room "
          "hears recording:started. 409 when the room is being recorded already or nobody is in it; 503 when "
          "this recording replica records as many rooms as it may (RECORDING_MAX_ROOMS)",
          access=Access.USER, body=RoomRecordingRequest, body_required=False,
          responses={201: RecordingStartedReply}, errors=(400, 401, 403, 404, 409, 413, 503)),
    Route("POST", "/room/{roomId}/recording/stop", stop_room_recording, "recording",
          "The room's host stops its server-side recording: `stopped`, then `processing` while its tracks are "
          "composed, then `ready` or `failed` (GET /recordings/list); the room hears recording:stopped. "
          "Stopping again changes nothing and answers the room's last server-side recording",
          access=Access.USER, body_required=False, responses={200: RecordingStartedReply},
          errors=(401, 403, 404, 503)),
]  # fmt: skip
