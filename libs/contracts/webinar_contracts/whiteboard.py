"""The whiteboard service's subjects and messages: one board per room (on/off, the last
Konva stage, the strokes drawn since), asked by the gateway's ART socket. The tenant, plan
and user come from the request context; `author` is the drawing socket's id."""

from typing import Any, Literal

import msgspec

from webinar_contracts.bus import Endpoint

DrawingType = Literal["mousedown", "mousemove", "mouseup"]


class Position(msgspec.Struct, kw_only=True):
    x: float
    y: float


class Brush(msgspec.Struct, kw_only=True, omit_defaults=True):
    """The seed's `sendDrawingData` payload: where the pointer is and how it paints."""

    pos: Position
    eraser: bool = False
    brush_size: float = msgspec.field(name="brushSize", default=3)
    ink_color: str = msgspec.field(name="inkColor", default="#000000")
    brush_opacity: float = msgspec.field(name="brushOpacity", default=1)


class Drawing(msgspec.Struct, kw_only=True):
    """One drawing event of the board's log, in the order the board took it."""

    seq: int
    author: str
    socket_id: str = msgspec.field(name="socketId")
    stroke_id: str = msgspec.field(name="strokeId")
    drawing_type: DrawingType = msgspec.field(name="drawingType")
    payload: Brush


class BoardState(msgspec.Struct, kw_only=True):
    """What a newcomer gets: on or off, the last stage (None: none yet; a JSON object as
    the seed's `{attrs, children}`), and the strokes drawn since that stage, in order."""

    room_id: str
    enabled: bool
    stage: dict[str, Any] | None = None
    strokes: list[Drawing] = msgspec.field(default_factory=list)


class BoardCall(msgspec.Struct, kw_only=True):
    room_id: str


class ToggleBoard(msgspec.Struct, kw_only=True):
    """On or off (None: the other way round). Only a host of the room may (its user id is
    in the meetings service's `host_ids` of the room), or a host or co-host in the room on
    the SFU socket: the page names its peer there (`peer_id`, its socket id) with the
    `peer_key` its join answered."""

    room_id: str
    enabled: bool | None = None
    peer_id: str | None = None
    peer_key: str | None = None


class BoardToggled(msgspec.Struct, kw_only=True):
    room_id: str
    enabled: bool


class ReplaceStage(msgspec.Struct, kw_only=True):
    """`white-board-stage`: the whole stage as JSON text (checked and bounded by the service)."""

    room_id: str
    stage: str


class Draw(msgspec.Struct, kw_only=True):
    """`author`: who undoes it later (the signed-in user, else the socket); `socket_id`:
    the socket that drew it, as the seed's clients are told."""

    room_id: str
    author: str
    socket_id: str
    drawing_type: DrawingType
    payload: Brush


class UndoStroke(msgspec.Struct, kw_only=True):
    room_id: str
    author: str


class StrokeRemoved(msgspec.Struct, kw_only=True):
    """The stroke `Un-do` removed (None: the author had none left on the board)."""

    stroke_id: str | None = None


class BoardCleared(msgspec.Struct, kw_only=True):
    room_id: str


GET_BOARD = Endpoint("whiteboard.boards.get", BoardCall, BoardState)
TOGGLE_BOARD = Endpoint("whiteboard.boards.toggle", ToggleBoard, BoardToggled)
REPLACE_STAGE = Endpoint("whiteboard.boards.stage", ReplaceStage, BoardCall)
DRAW = Endpoint("whiteboard.boards.draw", Draw, Drawing)
UNDO_STROKE = Endpoint("whiteboard.boards.undo", UndoStroke, StrokeRemoved)
CLEAR_BOARD = Endpoint("whiteboard.boards.clear", BoardCall, BoardCleared)
