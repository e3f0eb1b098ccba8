"""The whiteboard's rules: who may use it, what a valid stage and stroke are, how big a
board may grow. No I/O here."""

import math
import re
from dataclasses import dataclass
from typing import Any

import msgspec

from webinar_contracts import Conflict, Forbidden, InvalidInput, ServiceError, TooLarge
from webinar_contracts.plans import Plan
from webinar_contracts.whiteboard import Brush

PROFESSIONAL_ONLY = "the whiteboard is part of the Professional plan; this tenant is on Essential"
BOARD_OFF = "the whiteboard is off in this room: a host or co-host turns it on with whiteBoardToggle"
MAX_COORDINATE = 100_000.0
MAX_BRUSH_SIZE = 500.0
# A CSS colour as a drawing app sends it: #rgb, #rrggbb(aa), or a short name / rgb()/hsl() form.
_COLOR = re.compile(r"^(#[0-9a-fA-F]{3,8}|[a-zA-Z]{1,20}|(rgb|rgba|hsl|hsla)\([0-9.,%\s]{1,40}\))$")


@dataclass(frozen=True, kw_only=True)
class BoardLimits:
    max_stage_bytes: int
    max_drawings: int


def require_professional(plan: Plan | None) -> None:
    if plan is not Plan.PROFESSIONAL:
        raise Forbidden(PROFESSIONAL_ONLY, field="plan")


MODERATOR_ROLES = frozenset({"host", "co-host"})


def require_moderator(user_id: str | None, host_ids: list[str], peer_role: str | None) -> None:
    """Only a host or co-host turns the board on or off: a signed-in user (the socket's
    token) among the hosts of the meetings held in the room, or a peer of the room whose
    role there (`peer_role`, vouched for by its media node) is host or co-host."""
    if (user_id and user_id in host_ids) or peer_role in MODERATOR_ROLES:
        return
    if peer_role is not None:
        raise Forbidden(
            f"only a host or a co-host may turn the whiteboard on or off; you are a {peer_role}", field="peer_id"
        )
    if not user_id:
        raise Forbidden(
            "only a host or a co-host may turn the whiteboard on or off: connect with a host's token, "
            "or name your peer in the room (peer_id, and the peer_key its join answered)",
            field="token",
        )
    raise Forbidden("only a host of this room or a co-host may turn the whiteboard on or off", field="room_id")


def require_room_id(room_id: str) -> str:
    room_id = room_id.strip()
    if not room_id or len(room_id) > 200:
        raise InvalidInput("room_id is required (at most 200 characters)", field="room_id")
    return room_id


def require_enabled(enabled: bool) -> None:
    if not enabled:
        raise Conflict(BOARD_OFF, field="room_id")


def parse_stage(text: str, limits: BoardLimits) -> dict[str, Any]:
    """A Konva stage as JSON: an object with `attrs` (an object) and `children` (a list),
    at most `max_stage_bytes` long."""
    size = len(text.encode("utf-8"))
    if size > limits.max_stage_bytes:
        raise TooLarge(f"the stage is {size} bytes; at most {limits.max_stage_bytes} are kept", field="stage")
    try:
        stage = msgspec.json.decode(text)
    except msgspec.DecodeError:
        raise InvalidInput("stage is not JSON", field="stage") from None
    if not isinstance(stage, dict):
        raise InvalidInput("stage must be an object with attrs and children", field="stage")
    if not isinstance(stage.get("attrs", {}), dict):
        raise InvalidInput("stage.attrs must be an object", field="stage.attrs")
    if not isinstance(stage.get("children", []), list):
        raise InvalidInput("stage.children must be a list", field="stage.children")
    return stage


def check_brush(brush: Brush) -> Brush:
    for name, value in (("pos.x", brush.pos.x), ("pos.y", brush.pos.y)):
        if not math.isfinite(value) or abs(value) > MAX_COORDINATE:
            raise InvalidInput(f"{name} must be a number within ±{MAX_COORDINATE:g}", field=f"payload.{name}")
    if not math.isfinite(brush.brush_size) or not 0 < brush.brush_size <= MAX_BRUSH_SIZE:
        raise InvalidInput(f"brushSize must be above 0 and at most {MAX_BRUSH_SIZE:g}", field="payload.brushSize")
    if not math.isfinite(brush.brush_opacity) or not 0 <= brush.brush_opacity <= 1:
        raise InvalidInput("brushOpacity must be from 0 to 1", field="payload.brushOpacity")
    if not _COLOR.match(brush.ink_color):
        raise InvalidInput("inkColor must be a CSS colour such as #1a2b3c", field="payload.inkColor")
    return brush


def drawing_refused(enabled: bool, limits: BoardLimits) -> ServiceError:
    """Why a board took no drawing event: it is off, or it is full."""
    if not enabled:
        return Conflict(BOARD_OFF, field="room_id")
    return TooLarge(
        f"the board holds {limits.max_drawings} drawing events at most: clear it or save a stage", field="payload"
    )


def stroke_of(author: str, seq: int, drawing_type: str, previous: tuple[str, str] | None) -> str:
    """The stroke a drawing event belongs to: a `mousedown` (or a move after the author's
    `mouseup`) starts one; moves and the `mouseup` continue the author's open stroke.
    `previous` is the author's last (stroke id, drawing type) on the board."""
    if drawing_type == "mousedown" or previous is None or previous[1] == "mouseup":
        return f"{author}:{seq}"
    return previous[0]
