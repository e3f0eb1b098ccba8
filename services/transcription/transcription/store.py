"""The only module of the transcription service that talks to MongoDB.

MongoDB db `transcription`: `lines` (one document per spoken line, read in spoken
order: time of arrival, then id) and `summaries` (one per meeting, replaced when
generated again).
"""

from datetime import datetime
from typing import Any

from bson import ObjectId
from pymongo import ASCENDING, IndexModel, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from transcription.domain import PAGE_TEXT_BUDGET, NewLine, SpokenLine, StoredSummary, to_millis
from webinar_contracts.paging import PagePosition

SPOKEN_ORDER = [("created_at", ASCENDING), ("_id", ASCENDING)]


def _line(doc: dict[str, Any]) -> SpokenLine:
    return SpokenLine(
        id=str(doc["_id"]),
        meeting_id=doc["meeting_id"],
        user_name=doc["user_name"],
        message=doc["message"],
        created_at=doc["created_at"],
    )


def _summary(doc: dict[str, Any]) -> StoredSummary:
    return StoredSummary(
        meeting_id=doc["meeting_id"], summary=doc["summary"], source=doc["source"], generated_at=doc["generated_at"]
    )


class TranscriptStore:
    def __init__(self, db: AsyncDatabase[Any]) -> None:
        self.lines = db["lines"]
        self.summaries = db["summaries"]

    async def create_indexes(self) -> None:
        await self.lines.create_indexes(
            [IndexModel([("tenant_id", ASCENDING), ("meeting_id", ASCENDING), *SPOKEN_ORDER], name="spoken_order")]
        )
        await self.summaries.create_indexes(
            [IndexModel([("tenant_id", ASCENDING), ("meeting_id", ASCENDING)], unique=True, name="one_per_meeting")]
        )

    async def add_line(self, new: NewLine, now: datetime) -> SpokenLine:
        doc = {
            "_id": ObjectId(),
            "tenant_id": new.tenant_id,
            "meeting_id": new.meeting_id,
            "user_name": new.user_name,
            "message": new.message,
            "created_at": to_millis(now),
        }
        if new.user_id is not None:
            doc["user_id"] = new.user_id
        if new.peer_id is not None:
            doc["peer_id"] = new.peer_id
        await self.lines.insert_one(doc)
        return _line(doc)

    async def page(
        self, tenant_id: str, meeting_id: str, *, limit: int, after: PagePosition | None
    ) -> tuple[list[SpokenLine], bool]:
        """Up to `limit` lines in spoken order after `after` (and no more text than a page
        holds); and whether more follow."""
        query: dict[str, Any] = {"tenant_id": tenant_id, "meeting_id": meeting_id}
        if after is not None:
            query["$or"] = [
                {"created_at": {"$gt": after.created_at}},
                {"created_at": after.created_at, "_id": {"$gt": ObjectId(after.id)}},
            ]
        found: list[SpokenLine] = []
        size = 0
        async for doc in self.lines.find(query).sort(SPOKEN_ORDER).limit(limit + 1):
            line_size = len(doc["message"].encode("utf-8")) + len(doc["user_name"].encode("utf-8"))
            if len(found) == limit or (found and size + line_size > PAGE_TEXT_BUDGET):
                return found, True
            found.append(_line(doc))
            size += line_size
        return found, False

    async def transcript(self, tenant_id: str, meeting_id: str) -> list[SpokenLine]:
        """Every line of a meeting in spoken order."""
        cursor = self.lines.find({"tenant_id": tenant_id, "meeting_id": meeting_id}).sort(SPOKEN_ORDER)
        return [_line(doc) async for doc in cursor]

    async def has_lines(self, tenant_id: str, meeting_id: str) -> bool:
        return await self.lines.find_one({"tenant_id": tenant_id, "meeting_id": meeting_id}, {"_id": 1}) is not None

    async def save_summary(
        self, tenant_id: str, meeting_id: str, *, summary: str, source: str, now: datetime
    ) -> StoredSummary:
        """Store a meeting's summary, replacing the one it had."""
        query = {"tenant_id": tenant_id, "meeting_id": meeting_id}
        update = {"$set": {"summary": summary, "source": source, "generated_at": to_millis(now)}}
        try:
            doc = await self.summaries.find_one_and_update(
                query, update, upsert=True, return_document=ReturnDocument.AFTER
            )
        except DuplicateKeyError:
            # Two first summaries of one meeting raced to insert; the loser now updates.
            doc = await self.summaries.find_one_and_update(query, update, return_document=ReturnDocument.AFTER)
        if doc is None:
            raise RuntimeError(f"the summary of meeting {meeting_id} vanished while it was written")
        return _summary(doc)

    async def summary(self, tenant_id: str, meeting_id: str) -> StoredSummary | None:
        doc = await self.summaries.find_one({"tenant_id": tenant_id, "meeting_id": meeting_id})
        return _summary(doc) if doc else None
