"""The only module of the recording service that talks to MongoDB.

MongoDB db `recording`, collection `recordings`: one document per recording, unique
`recording_id` per tenant; listed newest first, all of a tenant's or one room's.
"""

from datetime import datetime
from typing import Any

from bson import ObjectId
from pymongo import ASCENDING, DESCENDING, IndexModel, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from recording.domain import STOPPED, NewRecording, RecordingSession, to_millis
from webinar_contracts import Conflict
from webinar_contracts.paging import PagePosition


def _session(doc: dict[str, Any]) -> RecordingSession:
    return RecordingSession(
        id=str(doc["_id"]),
        tenant_id=doc["tenant_id"],
        recording_id=doc["recording_id"],
        room_id=doc["room_id"],
        user_name=doc["user_name"],
        stream_id=doc["stream_id"],
        video_type=doc["video_type"],
        status=doc["status"],
        started_at=doc["started_at"],
        ended_at=doc.get("ended_at"),
        created_at=doc["created_at"],
        updated_at=doc["updated_at"],
    )


class RecordingStore:
    def __init__(self, db: AsyncDatabase[Any]) -> None:
        self.recordings = db["recordings"]

    async def create_indexes(self) -> None:
        newest_first = [("created_at", DESCENDING), ("_id", DESCENDING)]
        await self.recordings.create_indexes(
            [
                IndexModel([("tenant_id", ASCENDING), ("recording_id", ASCENDING)], unique=True, name="recording_id"),
                IndexModel([("tenant_id", ASCENDING), *newest_first], name="tenant_newest"),
                IndexModel([("tenant_id", ASCENDING), ("room_id", ASCENDING), *newest_first], name="room_newest"),
            ]
        )

    async def insert(self, new: NewRecording, now: datetime) -> RecordingSession:
        """Store a started recording; Conflict when the tenant already has its recordingId."""
        now = to_millis(now)
        doc = {
            "_id": ObjectId(),
            "tenant_id": new.tenant_id,
            "recording_id": new.recording_id,
            "room_id": new.room_id,
            "user_name": new.user_name,
            "stream_id": new.stream_id,
            "video_type": new.video_type,
            "status": new.status,
            "started_at": new.started_at,
            "ended_at": None,
            "created_at": now,
            "updated_at": now,
        }
        try:
            await self.recordings.insert_one(doc)
        except DuplicateKeyError:
            raise Conflict("a recording with this recordingId already exists", field="recordingId") from None
        return _session(doc)

    async def find(self, tenant_id: str, recording_id: str) -> RecordingSession | None:
        doc = await self.recordings.find_one({"tenant_id": tenant_id, "recording_id": recording_id})
        return _session(doc) if doc else None

    async def mark_stopped(
        self, tenant_id: str, recording_id: str, ended_at: datetime, now: datetime
    ) -> RecordingSession | None:
        """Set the end of a running recording; None when it was stopped already (or is gone)."""
        doc = await self.recordings.find_one_and_update(
            {"tenant_id": tenant_id, "recording_id": recording_id, "ended_at": None},
            {"$set": {"ended_at": ended_at, "status": STOPPED, "updated_at": to_millis(now)}},
            return_document=ReturnDocument.AFTER,
        )
        return _session(doc) if doc else None

    async def newest(
        self, tenant_id: str, *, room_id: str | None, limit: int, after: PagePosition | None
    ) -> tuple[list[RecordingSession], bool]:
        """Up to `limit` recordings, newest first, after `after`; and whether more follow."""
        query: dict[str, Any] = {"tenant_id": tenant_id}
        if room_id is not None:
            query["room_id"] = room_id
        if after is not None:
            after_id = ObjectId(after.id)
            query["$or"] = [
                {"created_at": {"$lt": after.created_at}},
                {"created_at": after.created_at, "_id": {"$lt": after_id}},
            ]
        cursor = self.recordings.find(query).sort([("created_at", DESCENDING), ("_id", DESCENDING)]).limit(limit + 1)
        found = [_session(doc) async for doc in cursor]
        return found[:limit], len(found) > limit
