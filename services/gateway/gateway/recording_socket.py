"""The seed's recording socket: a Socket.IO server at /recording/socket.io whose events are
relayed over the bus to the recording service, which keeps the files. The vendor ran it on
a port of its own; here it is a path of the gateway, authenticated as /socket.io (API key
and optional user token in the `auth` payload, or the headers).

- `create-file` `{recordingId, trackId, mimeType, roomId?, userName?, startTime?}`: opens
  the file of one track; acknowledged with `{recordingId, trackId, mimeType, status,
  nextSeq, bytes}`.
- `stream` `{recordingId, trackId, seq, data}` (`data` binary): stores chunk `seq`;
  acknowledged with `{seq, duplicate, recordingBytes}`. A resent chunk is not written again.
- `stop-writing` `{recordingId, trackId, lastSeq?}`: closes the file; acknowledged with
  `{recordingId, trackId, chunks, bytes, complete, missing, missingCount}`.
- `process-recording` `{recordingId, width?, height?}`: queues the joining of every file into
  one MP4; acknowledged with `{recordingId, status, percent, downloadUrl?, reason?}`.

A socket that opens a file of a recording or asks to process it hears, for that recording,
`recording:progress` `{recordingId, percent}`, then `recording:ready` `{recordingId,
downloadUrl, size, duration, width, height}` or `recording:failed` `{recordingId, reason}`.
The recording service pushes these on one NATS subject that the gateway processes share as
a queue group; the one that takes a push emits it to the recording's Socket.IO room, which
the client manager fans out to every gateway process. A refusal is acknowledged as
`{error, code, field?}`. Payloads and the whole flow: docs/recording.md.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
import socketio
from aiohttp import web
from nats.aio.msg import Msg

from gateway.access import ApiKeyAuthority, TokenVerifier
from gateway.push_relay import relay_pushes
from gateway.socket_fanout import NatsClientManager
from gateway.sockets import create_socket_server, session_context
from webinar_contracts import Forbidden, InvalidInput, RequestContext, ServiceError, TooLarge
from webinar_contracts import recording as contract
from webinar_contracts.validation import convert
from webinar_contracts.wire import to_wire
from webinar_runtime.bus import Bus

log = logging.getLogger("gateway.recording")

SOCKETIO_PATH = "recording/socket.io"
FANOUT_CHANNEL = "recording"
PUSH_QUEUE_GROUP = "gateway-recording"
# A chunk crosses the bus base64-encoded (4 bytes for 3) beside its other fields and headers.
BUS_MESSAGE_MARGIN = 8 * 1024
# Chunks of one socket relayed at once; more wait their turn (a client pipelines its sends).
MAX_CHUNKS_IN_FLIGHT = 8

CREATE_FILE = "create-file"
STREAM = "stream"
STOP_WRITING = "stop-writing"
PROCESS_RECORDING = "process-recording"
PROGRESS = "recording:progress"
READY = "recording:ready"
FAILED = "recording:failed"


def recording_room(tenant_id: str, recording_id: str) -> str:
    """The Socket.IO room of a recording's sockets (rooms are per tenant)."""
    return f"recording:{tenant_id}:{recording_id}"


def push_event(push: contract.RecordingPush) -> tuple[str, dict[str, Any]]:
    """The Socket.IO event and payload a push from the recording service becomes."""
    if push.status == contract.READY:
        return READY, {
            "recordingId": push.recording_id,
            "downloadUrl": push.download_url,
            "size": push.size,
            "duration": push.duration,
            "width": push.width,
            "height": push.height,
        }
    if push.status == contract.FAILED:
        return FAILED, {"recordingId": push.recording_id, "reason": push.reason}
    return PROGRESS, {"recordingId": push.recording_id, "percent": push.percent}


def error_ack(error: ServiceError) -> dict[str, Any]:
    answer: dict[str, Any] = {"error": error.message, "code": error.code.value}
    if error.field:
        answer["field"] = error.field
    return answer


def chunk_request(payload: dict[str, Any]) -> contract.WriteChunk:
    """A `stream` payload as the bus message; `data` must be binary (Socket.IO attachments)."""
    data = payload.get("data")
    if data is None:
        raise InvalidInput("data is required", field="data")
    if not isinstance(data, bytes | bytearray | memoryview):
        raise InvalidInput("data must be binary (an ArrayBuffer, a Blob or a typed array)", field="data")
    fields = {key: payload[key] for key in ("recordingId", "trackId", "seq") if key in payload}
    return convert({**fields, "data": bytes(data)}, contract.WriteChunk)


Handler = Callable[[str, dict[str, Any]], Awaitable[Any]]


class RecordingSocket:
    def __init__(self, server: socketio.AsyncServer, bus: Bus) -> None:
        self.server = server
        self.bus = bus
        self._chunk_slots: dict[str, asyncio.Semaphore] = {}

    def register(self) -> None:
        events: dict[str, Handler] = {
            CREATE_FILE: self.create_file,
            STREAM: self.stream,
            STOP_WRITING: self.stop_writing,
            PROCESS_RECORDING: self.process_recording,
        }
        for event, handler in events.items():
            self.server.on(event, self._acknowledged(event, handler))
        self.server.on("disconnect", self.disconnected)

    def _acknowledged(self, event: str, handler: Handler) -> Callable[..., Awaitable[Any]]:
        async def on_event(sid: str, payload: Any = None) -> Any:
            if payload is None or payload == []:
                payload = {}
            if not isinstance(payload, dict):
                return {"error": f"{event} takes an object", "code": "invalid"}
            try:
                return await handler(sid, payload)
            except ServiceError as error:
                return error_ack(error)
            except Exception:
                log.exception("recording socket event failed", extra={"event": event, "sid": sid})
                return {"error": f"{event} failed: internal error", "code": "internal"}

        return on_event

    async def _context(self, sid: str) -> RequestContext:
        session = await self.server.get_session(sid)
        if session.get("room_ticket") is not None:
            raise Forbidden("a viewer link cannot record: connect with the tenant's API key")
        return session_context(session)

    async def _follow(self, sid: str, context: RequestContext, recording_id: str) -> None:
        """The socket hears what happens to the recording from now on."""
        await self.server.enter_room(sid, recording_room(context.require_tenant(), recording_id.strip()))

    # --- events ---

    async def create_file(self, sid: str, payload: dict[str, Any]) -> Any:
        request = convert(payload, contract.CreateFile)
        context = await self._context(sid)
        opened = await self.bus.request(contract.CREATE_FILE, request, context=context)
        await self._follow(sid, context, opened.recording_id)
        return to_wire(opened)

    async def stream(self, sid: str, payload: dict[str, Any]) -> Any:
        request = chunk_request(payload)
        limit = (self.bus.nc.max_payload - BUS_MESSAGE_MARGIN) * 3 // 4
        if len(request.data) > limit:
            raise TooLarge(f"a chunk is {len(request.data)} bytes; at most {limit} go at once", field="data")
        context = await self._context(sid)
        async with self._chunk_slots.setdefault(sid, asyncio.Semaphore(MAX_CHUNKS_IN_FLIGHT)):
            written = await self.bus.request(contract.WRITE_CHUNK, request, context=context)
        return to_wire(written)

    async def stop_writing(self, sid: str, payload: dict[str, Any]) -> Any:
        request = convert(payload, contract.StopWriting)
        context = await self._context(sid)
        closed = await self.bus.request(contract.STOP_WRITING, request, context=context)
        return to_wire(closed)

    async def process_recording(self, sid: str, payload: dict[str, Any]) -> Any:
        request = convert(payload, contract.ProcessRecording)
        context = await self._context(sid)
        # In the room before asking: a short job may finish before the answer comes back.
        await self._follow(sid, context, request.recording_id)
        state = await self.bus.request(contract.PROCESS, request, context=context)
        return to_wire(state)

    async def disconnected(self, sid: str, reason: Any = None) -> None:
        self._chunk_slots.pop(sid, None)

    async def relay_push(self, msg: Msg) -> None:
        try:
            push = msgspec.json.decode(msg.data, type=contract.RecordingPush)
        except msgspec.MsgspecError:
            log.warning("unreadable recording push dropped")
            return
        event, data = push_event(push)
        try:
            await self.server.emit(event, data, room=recording_room(push.tenant_id, push.recording_id))
        except Exception:
            log.exception("recording push not relayed", extra={"recording_id": push.recording_id})


def mount_recording_socket(
    app: web.Application, bus: Bus, keys: ApiKeyAuthority, tokens: TokenVerifier, *, cors_origins: list[str]
) -> RecordingSocket:
    """The recording socket at /recording/socket.io on `app`, authenticated as /socket.io, its
    emits fanned out across gateway processes on its own channel; the push relay runs while
    `app` does."""
    server = create_socket_server(
        keys, tokens, cors_origins=cors_origins, client_manager=NatsClientManager(bus.nc, channel=FANOUT_CHANNEL)
    )
    server.attach(app, socketio_path=SOCKETIO_PATH)
    socket = RecordingSocket(server, bus)
    socket.register()
    relay_pushes(app, bus, contract.PUSH_SUBJECT, PUSH_QUEUE_GROUP, socket.relay_push)
    return socket
