"""The seed's ART socket: a second Socket.IO server at /erizocontroller/socket.io whose
whiteboard events are relayed over the bus to the whiteboard service (which keeps each
room's board) and, once it took them, to the rest of the room.

Sockets connect as on /socket.io (API key, optional user token: the same connect handler;
a viewer link's guest, with a room ticket, reaches its room's board only).
Each event's payload is the seed's `{type, msg: {...}}` (a bare `msg` is taken too). A
socket joins a board's room with the first event naming `room_id`; a later event naming
another room moves it there. Acknowledgements carry the answer or `{error}`.

- `whiteBoardToggle` `{room_id, enabled?, peer_id?, peer_key?}`: a host of the room (its
  meetings' `hostId`, by the socket's token), or a host or co-host of the room on the SFU
  socket, turns the board on or off (no `enabled`: the other way round). A co-host (or a
  socket-opened room's host, or a viewer link's guest approved as co-host) names its peer
  there: `peer_id` its SFU socket's id and `peer_key` the `peerKey` its `join` answered;
  the room's media node vouches for the role. The whole room hears `whiteBoardToggle`
  `{type, msg: {room_id, enabled, socketId}}`.
- `whiteBoardStateRequest` `{room_id}`: acknowledged with `{room_id, enabled, stage,
  strokes}`: the last stage and the drawing events since, in order.
- `white-board-stage` `{stage, room_id}`: replaces the stage (and the drawing events it
  holds); the others hear it.
- `sendDrawingData` `{drawingType, payload, room_id}`: kept on the board and relayed to the
  others in the order the socket sent them, with `socketId` and `strokeId`.
- `Un-do` `{room_id}`: removes the sender's last stroke (its mousedown..mouseup events);
  the others hear `Un-do` `{socketId, room_id, strokeId}`.
- `clear-whiteBoard` `{room_id}`: empties the board; the others hear it.
Drawing, stage, undo and clear need the board on; every event needs the Professional plan.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
import socketio
from aiohttp import web

from gateway.access import ApiKeyAuthority, TokenVerifier
from gateway.socket_fanout import NatsClientManager
from gateway.sockets import check_room_ticket, create_socket_server, session_context
from webinar_contracts import InvalidInput, RequestContext, ServiceError, TooLarge
from webinar_contracts import whiteboard as contract
from webinar_contracts.validation import convert
from webinar_contracts.wire import to_wire
from webinar_runtime.bus import Bus

log = logging.getLogger("gateway.whiteboard")

SOCKETIO_PATH = "erizocontroller/socket.io"
FANOUT_CHANNEL = "whiteboard"
# Room for the request's other fields and headers beside a stage in one bus message.
BUS_MESSAGE_MARGIN = 8 * 1024

TOGGLE = "whiteBoardToggle"
STATE_REQUEST = "whiteBoardStateRequest"
STAGE = "white-board-stage"
DRAWING = "sendDrawingData"
UNDO = "Un-do"
CLEAR = "clear-whiteBoard"


class ToggleMessage(msgspec.Struct):
    enabled: bool | None = None
    peer_id: str | None = None
    peer_key: str | None = None


class StageMessage(msgspec.Struct):
    stage: dict[str, Any]


class DrawingMessage(msgspec.Struct):
    drawing_type: contract.DrawingType = msgspec.field(name="drawingType")
    payload: contract.Brush


def board_room(tenant_id: str, room_id: str) -> str:
    """The Socket.IO room of a board (rooms are per tenant)."""
    return f"whiteboard:{tenant_id}:{room_id}"


def message_of(payload: dict[str, Any]) -> dict[str, Any]:
    """The seed's `msg` of a `{type, msg}` payload, or the payload itself."""
    msg = payload.get("msg", payload)
    if not isinstance(msg, dict):
        raise InvalidInput("msg must be an object", field="msg")
    return msg


def drawing_json(drawing: contract.Drawing, room_id: str) -> dict[str, Any]:
    return {
        "drawingType": drawing.drawing_type,
        "payload": to_wire(drawing.payload),
        "socketId": drawing.socket_id,
        "strokeId": drawing.stroke_id,
        "room_id": room_id,
    }


Handler = Callable[[str, dict[str, Any]], Awaitable[Any]]


class WhiteboardSocket:
    def __init__(self, server: socketio.AsyncServer, bus: Bus) -> None:
        self.server = server
        self.bus = bus
        self._rooms: dict[str, str] = {}  # sid -> board room it is in
        self._locks: dict[str, asyncio.Lock] = {}

    def register(self) -> None:
        events: dict[str, Handler] = {
            TOGGLE: self.toggle,
            STATE_REQUEST: self.state_request,
            STAGE: self.replace_stage,
            DRAWING: self.draw,
            UNDO: self.undo,
            CLEAR: self.clear,
        }
        for event, handler in events.items():
            self.server.on(event, self._acknowledged(event, handler))
        self.server.on("disconnect", self.disconnected)

    async def _context(self, sid: str) -> RequestContext:
        session = await self.server.get_session(sid)
        return session_context(session)

    async def _enter(self, sid: str, msg: dict[str, Any], context: RequestContext) -> tuple[str, str]:
        """The board the event is about (its `room_id`, else the socket's room); the socket
        joins that board's Socket.IO room. Returns (board id, Socket.IO room)."""
        named = msg.get("room_id", msg.get("roomId"))
        if named is not None and (not isinstance(named, str) or not named.strip()):
            raise InvalidInput("room_id must be a non-empty string", field="room_id")
        current = self._rooms.get(sid)
        if named is None:
            if current is None:
                raise InvalidInput("room_id is required (the socket is in no whiteboard room yet)", field="room_id")
            return current.split(":", 2)[2], current
        check_room_ticket(await self.server.get_session(sid), named)  # a viewer link's guest: its room's board only
        room = board_room(context.require_tenant(), named)
        if room != current:
            if current is not None:
                await self.server.leave_room(sid, current)
            await self.server.enter_room(sid, room)
            self._rooms[sid] = room
        return named, room

    def _acknowledged(self, event: str, handler: Handler) -> Callable[..., Awaitable[Any]]:
        async def on_event(sid: str, payload: Any = None) -> Any:
            # Taken first, before any await: a socket's events keep the order they came in.
            async with self._locks.setdefault(sid, asyncio.Lock()):
                if payload is None or payload == []:
                    payload = {}
                if not isinstance(payload, dict):
                    return {"error": f"{event} takes an object"}
                try:
                    answer = await handler(sid, payload)
                except ServiceError as error:
                    return {"error": error.message}
                except Exception:
                    log.exception("whiteboard socket event failed", extra={"event": event, "sid": sid})
                    return {"error": f"{event} failed: internal error"}
                return answer if answer is not None else "success"

        return on_event

    async def _tell(self, event: str, msg: dict[str, Any], room: str, *, skip_sid: str | None) -> None:
        await self.server.emit(event, {"type": event, "msg": msg}, room=room, skip_sid=skip_sid)

    # --- events ---

    async def toggle(self, sid: str, payload: dict[str, Any]) -> Any:
        msg = message_of(payload)
        request = convert({k: msg[k] for k in ("enabled", "peer_id", "peer_key") if k in msg}, ToggleMessage)
        context = await self._context(sid)
        room_id, room = await self._enter(sid, msg, context)
        toggle = contract.ToggleBoard(
            room_id=room_id, enabled=request.enabled, peer_id=request.peer_id, peer_key=request.peer_key
        )
        toggled = await self.bus.request(contract.TOGGLE_BOARD, toggle, context=context)
        await self._tell(TOGGLE, {"room_id": room_id, "enabled": toggled.enabled, "socketId": sid}, room, skip_sid=None)
        return {"enabled": toggled.enabled}

    async def state_request(self, sid: str, payload: dict[str, Any]) -> Any:
        context = await self._context(sid)
        room_id, _ = await self._enter(sid, message_of(payload), context)
        state = await self.bus.request(contract.GET_BOARD, contract.BoardCall(room_id=room_id), context=context)
        return {
            "room_id": room_id,
            "enabled": state.enabled,
            "stage": state.stage,
            "strokes": [drawing_json(drawing, room_id) for drawing in state.strokes],
        }

    async def replace_stage(self, sid: str, payload: dict[str, Any]) -> Any:
        msg = message_of(payload)
        request = convert({"stage": msg.get("stage")}, StageMessage)
        context = await self._context(sid)
        room_id, room = await self._enter(sid, msg, context)
        text = msgspec.json.encode(request.stage).decode("utf-8")
        if len(text) + BUS_MESSAGE_MARGIN > self.bus.nc.max_payload:
            raise TooLarge(f"the stage is {len(text)} bytes: too large to keep", field="stage")
        await self.bus.request(
            contract.REPLACE_STAGE, contract.ReplaceStage(room_id=room_id, stage=text), context=context
        )
        await self._tell(STAGE, {"stage": request.stage, "socketId": sid, "room_id": room_id}, room, skip_sid=sid)
        return "success"

    async def draw(self, sid: str, payload: dict[str, Any]) -> Any:
        msg = message_of(payload)
        request = convert({k: msg[k] for k in ("drawingType", "payload") if k in msg}, DrawingMessage)
        context = await self._context(sid)
        room_id, room = await self._enter(sid, msg, context)
        drawing = await self.bus.request(
            contract.DRAW,
            contract.Draw(
                room_id=room_id,
                author=_author(sid, context),
                socket_id=sid,
                drawing_type=request.drawing_type,
                payload=request.payload,
            ),
            context=context,
        )
        await self._tell(DRAWING, drawing_json(drawing, room_id), room, skip_sid=sid)
        return {"strokeId": drawing.stroke_id, "seq": drawing.seq}

    async def undo(self, sid: str, payload: dict[str, Any]) -> Any:
        context = await self._context(sid)
        room_id, room = await self._enter(sid, message_of(payload), context)
        removed = await self.bus.request(
            contract.UNDO_STROKE, contract.UndoStroke(room_id=room_id, author=_author(sid, context)), context=context
        )
        if removed.stroke_id is not None:
            await self._tell(
                UNDO, {"socketId": sid, "room_id": room_id, "strokeId": removed.stroke_id}, room, skip_sid=sid
            )
        return {"strokeId": removed.stroke_id}

    async def clear(self, sid: str, payload: dict[str, Any]) -> Any:
        context = await self._context(sid)
        room_id, room = await self._enter(sid, message_of(payload), context)
        await self.bus.request(contract.CLEAR_BOARD, contract.BoardCall(room_id=room_id), context=context)
        await self._tell(CLEAR, {"socketId": sid, "room_id": room_id}, room, skip_sid=sid)
        return "success"

    async def disconnected(self, sid: str, reason: Any = None) -> None:
        self._rooms.pop(sid, None)
        self._locks.pop(sid, None)


def _author(sid: str, context: RequestContext) -> str:
    """Whose strokes `Un-do` reaches: the signed-in user's (across reconnections), else the socket's."""
    return f"user:{context.user_id}" if context.user_id else f"socket:{sid}"


def mount_whiteboard_socket(
    app: web.Application, bus: Bus, keys: ApiKeyAuthority, tokens: TokenVerifier, *, cors_origins: list[str]
) -> socketio.AsyncServer:
    """The ART socket at /erizocontroller/socket.io on `app`, authenticated as /socket.io,
    its emits fanned out across gateway processes on its own channel."""
    server = create_socket_server(
        keys, tokens, cors_origins=cors_origins, client_manager=NatsClientManager(bus.nc, channel=FANOUT_CHANNEL)
    )
    server.attach(app, socketio_path=SOCKETIO_PATH)
    WhiteboardSocket(server, bus).register()
    return server
