"""The only module of the whiteboard service that talks to MongoDB.

Database `whiteboard`: `boards` (one per tenant and room: on/off, the last stage as JSON
text, the last sequence number and how many drawing events it holds) and `drawings` (the
drawing events since the last stage, in sequence order). Every query is scoped to a tenant.
"""

from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase

from webinar_contracts.whiteboard import Brush, Drawing, DrawingType, Position


def _board_key(tenant_id: str, room_id: str) -> dict[str, str]:
    return {"tenant_id": tenant_id, "room_id": room_id}


class Board:
    """A board as stored: on/off, its stage text (None: none yet), its drawing count."""

    def __init__(self, doc: dict[str, Any] | None) -> None:
        doc = doc or {}
        self.enabled = bool(doc.get("enabled", False))
        self.stage: str | None = doc.get("stage")
        self.seq = int(doc.get("seq", 0))
        self.count = int(doc.get("count", 0))


def _drawing(doc: dict[str, Any]) -> Drawing:
    payload = doc["payload"]
    return Drawing(
        seq=int(doc["seq"]),
        author=doc["author"],
        socket_id=doc["socket_id"],
        stroke_id=doc["stroke_id"],
        drawing_type=doc["drawing_type"],
        payload=Brush(
            pos=Position(x=payload["pos"]["x"], y=payload["pos"]["y"]),
            eraser=payload["eraser"],
            brush_size=payload["brush_size"],
            ink_color=payload["ink_color"],
            brush_opacity=payload["brush_opacity"],
        ),
    )


class BoardStore:
    def __init__(self, db: AsyncDatabase[Any]) -> None:
        self.boards = db["boards"]
        self.drawings = db["drawings"]

    async def create_indexes(self) -> None:
        await self.boards.create_indexes(
            [IndexModel([("tenant_id", ASCENDING), ("room_id", ASCENDING)], unique=True, name="by_room")]
        )
        await self.drawings.create_indexes(
            [
                IndexModel([("tenant_id", ASCENDING), ("room_id", ASCENDING), ("seq", ASCENDING)], name="in_order"),
                IndexModel(
                    [("tenant_id", ASCENDING), ("room_id", ASCENDING), ("author", ASCENDING), ("seq", DESCENDING)],
                    name="by_author_newest_first",
                ),
            ]
        )

    async def board(self, tenant_id: str, room_id: str) -> Board:
        return Board(await self.boards.find_one(_board_key(tenant_id, room_id)))

    async def drawings_of(self, tenant_id: str, room_id: str) -> list[Drawing]:
        cursor = self.drawings.find(_board_key(tenant_id, room_id), sort=[("seq", ASCENDING)])
        return [_drawing(doc) async for doc in cursor]

    async def set_enabled(self, tenant_id: str, room_id: str, enabled: bool) -> None:
        await self.boards.update_one(
            _board_key(tenant_id, room_id),
            {"$set": {"enabled": enabled}, "$setOnInsert": {"seq": 0, "count": 0}},
            upsert=True,
        )

    async def take_seq(self, tenant_id: str, room_id: str, max_drawings: int) -> int | None:
        """The next sequence number of an enabled board with room for one more drawing
        event (counted in); None when the board is off or full."""
        doc = await self.boards.find_one_and_update(
            {**_board_key(tenant_id, room_id), "enabled": True, "count": {"$lt": max_drawings}},
            {"$inc": {"seq": 1, "count": 1}},
            return_document=ReturnDocument.AFTER,
        )
        return None if doc is None else int(doc["seq"])

    async def last_of(self, tenant_id: str, room_id: str, author: str) -> tuple[str, str] | None:
        """The author's last drawing event on the board: (stroke id, drawing type)."""
        doc = await self.drawings.find_one(
            {**_board_key(tenant_id, room_id), "author": author}, sort=[("seq", DESCENDING)]
        )
        return None if doc is None else (doc["stroke_id"], doc["drawing_type"])

    async def add_drawing(
        self,
        tenant_id: str,
        room_id: str,
        *,
        seq: int,
        author: str,
        socket_id: str,
        stroke_id: str,
        drawing_type: DrawingType,
        payload: Brush,
    ) -> None:
        await self.drawings.insert_one(
            {
                **_board_key(tenant_id, room_id),
                "seq": seq,
                "author": author,
                "socket_id": socket_id,
                "stroke_id": stroke_id,
                "drawing_type": drawing_type,
                "payload": {
                    "pos": {"x": payload.pos.x, "y": payload.pos.y},
                    "eraser": payload.eraser,
                    "brush_size": payload.brush_size,
                    "ink_color": payload.ink_color,
                    "brush_opacity": payload.brush_opacity,
                },
            }
        )

    async def remove_stroke(self, tenant_id: str, room_id: str, stroke_id: str) -> None:
        key = _board_key(tenant_id, room_id)
        removed = await self.drawings.delete_many({**key, "stroke_id": stroke_id})
        await self.boards.update_one(key, {"$inc": {"count": -removed.deleted_count}})

    async def replace_stage(self, tenant_id: str, room_id: str, stage: str | None) -> None:
        """Keep `stage` (None: a blank board) and drop the drawing events it replaces."""
        key = _board_key(tenant_id, room_id)
        await self.boards.update_one(
            key, {"$set": {"stage": stage, "count": 0}, "$setOnInsert": {"seq": 0, "enabled": False}}, upsert=True
        )
        await self.drawings.delete_many(key)
