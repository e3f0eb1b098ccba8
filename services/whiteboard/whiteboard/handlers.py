"""Bus subjects of the whiteboard service -> its rules and store."""

import logging
from typing import Protocol

import msgspec

from webinar_contracts import InvalidInput, NotFound, RequestContext
from webinar_contracts import media as media_contract
from webinar_contracts import meetings as meetings_contract
from webinar_contracts.whiteboard import (
    BoardCall,
    BoardCleared,
    BoardState,
    BoardToggled,
    Draw,
    Drawing,
    ReplaceStage,
    StrokeRemoved,
    ToggleBoard,
    UndoStroke,
)
from webinar_runtime.bus import Bus
from whiteboard.domain import (
    BoardLimits,
    check_brush,
    drawing_refused,
    parse_stage,
    require_enabled,
    require_moderator,
    require_professional,
    require_room_id,
    stroke_of,
)
from whiteboard.store import BoardStore

log = logging.getLogger("whiteboard.handlers")


class RoomRoles(Protocol):
    async def host_ids(self, room_id: str, context: RequestContext) -> list[str]: ...

    async def peer_role(self, proof: media_contract.PeerProof, context: RequestContext) -> str | None: ...


class RoomRolesOnTheBus:
    """Who moderates a room: the hosts of the meetings held in it, as the meetings service
    knows them (a room it does not know has none); and the role of a peer in the room, as
    the media node holding the room knows it (None: the room is not open or the peer is not
    in it; Forbidden when the key is not the peer's)."""

    def __init__(self, bus: Bus) -> None:
        self.bus = bus

    async def peer_role(self, proof: media_contract.PeerProof, context: RequestContext) -> str | None:
        try:
            placement = await self.bus.request(
                media_contract.PLACE_ROOM, media_contract.PlaceRoom(room_id=proof.room_id), context=context
            )
            peer = await self.bus.request(media_contract.NODE_VOUCH_PEER.at(placement.node_id), proof, context=context)
        except NotFound:
            return None
        return peer.role

    async def host_ids(self, room_id: str, context: RequestContext) -> list[str]:
        try:
            details = await self.bus.request(
                meetings_contract.GET_ROOM, meetings_contract.GetRoom(room_id=room_id), context=context
            )
        except NotFound:
            return []
        return list(details.host_ids)


class BoardHandlers:
    def __init__(self, *, store: BoardStore, roles: RoomRoles, limits: BoardLimits) -> None:
        self.store = store
        self.roles = roles
        self.limits = limits

    @staticmethod
    def _board(request_room_id: str, context: RequestContext) -> tuple[str, str]:
        tenant_id = context.require_tenant()
        require_professional(context.plan)
        return tenant_id, require_room_id(request_room_id)

    async def get_board(self, request: BoardCall, context: RequestContext) -> BoardState:
        tenant_id, room_id = self._board(request.room_id, context)
        board = await self.store.board(tenant_id, room_id)
        stage = msgspec.json.decode(board.stage) if board.stage is not None else None
        strokes = await self.store.drawings_of(tenant_id, room_id)
        return BoardState(room_id=room_id, enabled=board.enabled, stage=stage, strokes=strokes)

    async def toggle(self, request: ToggleBoard, context: RequestContext) -> BoardToggled:
        tenant_id, room_id = self._board(request.room_id, context)
        await self._require_moderator(request, room_id, context)
        enabled = request.enabled
        if enabled is None:
            enabled = not (await self.store.board(tenant_id, room_id)).enabled
        await self.store.set_enabled(tenant_id, room_id, enabled)
        log.info("whiteboard toggled", extra={"tenant_id": tenant_id, "room_id": room_id, "enabled": enabled})
        return BoardToggled(room_id=room_id, enabled=enabled)

    async def _require_moderator(self, request: ToggleBoard, room_id: str, context: RequestContext) -> None:
        host_ids = await self.roles.host_ids(room_id, context)
        peer_role = None
        if not (context.user_id and context.user_id in host_ids) and request.peer_id is not None:
            if not request.peer_key:
                raise InvalidInput(
                    "peer_key is required with peer_id (the peerKey its join answered)", field="peer_key"
                )
            proof = media_contract.PeerProof(room_id=room_id, peer_id=request.peer_id, peer_key=request.peer_key)
            peer_role = await self.roles.peer_role(proof, context)
        require_moderator(context.user_id, host_ids, peer_role)

    async def _require_enabled(self, tenant_id: str, room_id: str) -> None:
        require_enabled((await self.store.board(tenant_id, room_id)).enabled)

    async def replace_stage(self, request: ReplaceStage, context: RequestContext) -> BoardCall:
        tenant_id, room_id = self._board(request.room_id, context)
        parse_stage(request.stage, self.limits)
        await self._require_enabled(tenant_id, room_id)
        await self.store.replace_stage(tenant_id, room_id, request.stage)
        return BoardCall(room_id=room_id)

    async def draw(self, request: Draw, context: RequestContext) -> Drawing:
        tenant_id, room_id = self._board(request.room_id, context)
        payload = check_brush(request.payload)
        seq = await self.store.take_seq(tenant_id, room_id, self.limits.max_drawings)
        if seq is None:
            board = await self.store.board(tenant_id, room_id)
            raise drawing_refused(board.enabled, self.limits)
        previous = await self.store.last_of(tenant_id, room_id, request.author)
        stroke_id = stroke_of(request.author, seq, request.drawing_type, previous)
        await self.store.add_drawing(
            tenant_id,
            room_id,
            seq=seq,
            author=request.author,
            socket_id=request.socket_id,
            stroke_id=stroke_id,
            drawing_type=request.drawing_type,
            payload=payload,
        )
        return Drawing(
            seq=seq,
            author=request.author,
            socket_id=request.socket_id,
            stroke_id=stroke_id,
            drawing_type=request.drawing_type,
            payload=payload,
        )

    async def undo(self, request: UndoStroke, context: RequestContext) -> StrokeRemoved:
        tenant_id, room_id = self._board(request.room_id, context)
        await self._require_enabled(tenant_id, room_id)
        last = await self.store.last_of(tenant_id, room_id, request.author)
        if last is None:
            return StrokeRemoved(stroke_id=None)
        await self.store.remove_stroke(tenant_id, room_id, last[0])
        return StrokeRemoved(stroke_id=last[0])

    async def clear(self, request: BoardCall, context: RequestContext) -> BoardCleared:
        tenant_id, room_id = self._board(request.room_id, context)
        await self._require_enabled(tenant_id, room_id)
        await self.store.replace_stage(tenant_id, room_id, None)
        return BoardCleared(room_id=room_id)
