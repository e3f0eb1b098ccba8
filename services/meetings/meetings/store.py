"""The only module of the meetings service that talks to MongoDB and Redis.

MongoDB db `meetings`: `rooms` (with `ended_at` once the host ended one), `meetings`
(listed per host newest first; linked to recordings by room), `files` (metadata of room
files; the bytes are in a blob store).
Redis `meetings:chat:*`: each room's chat history and the senders' rate counters.
Every query is scoped to a tenant.
"""

import hashlib
import logging
from datetime import datetime
from typing import Any

import msgspec
import redis.asyncio as aioredis
from bson import ObjectId
from bson.errors import InvalidId
from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from meetings.domain import MeetingUpdate, NewMeeting, NewRoom, RoomFile, StoredMeeting, StoredRoom
from webinar_contracts import Conflict, InvalidInput
from webinar_contracts.meetings import ChatMessage
from webinar_contracts.paging import PagePosition

log = logging.getLogger("meetings.store")


def _object_id(value: str) -> ObjectId | None:
    try:
        return ObjectId(value)
    except (InvalidId, TypeError):
        return None


def _meeting(doc: dict[str, Any]) -> StoredMeeting:
    return StoredMeeting(
        id=str(doc["_id"]),
        tenant_id=doc["tenant_id"],
        title=doc["title"],
        host_id=doc["host_id"],
        room_id=doc.get("room_id"),
        recording_ids=list(doc.get("recording_ids", [])),
        summary_generated=bool(doc.get("summary_generated", False)),
        transcript_enabled=bool(doc.get("transcript_enabled", False)),
        created_at=doc["created_at"],
    )


def _file(doc: dict[str, Any]) -> RoomFile:
    return RoomFile(
        tenant_id=doc["tenant_id"],
        room_id=doc["room_id"],
        filename=doc["filename"],
        original_name=doc["original_name"],
        content_type=doc["content_type"],
        size=int(doc["size"]),
        uploaded_at=doc["uploaded_at"],
    )


class MeetingsStore:
    def __init__(self, db: AsyncDatabase[Any]) -> None:
        self.db = db
        self.rooms = db["rooms"]
        self.meetings = db["meetings"]
        self.files = db["files"]

    async def create_indexes(self) -> None:
        await self.rooms.create_indexes([IndexModel([("tenant_id", ASCENDING), ("_id", ASCENDING)])])
        await self.meetings.create_indexes(
            [
                IndexModel(
                    [("tenant_id", ASCENDING), ("host_id", ASCENDING), ("created_at", DESCENDING), ("_id", DESCENDING)],
                    name="by_host_newest_first",
                ),
                IndexModel([("tenant_id", ASCENDING), ("room_id", ASCENDING)], name="by_room"),
            ]
        )
        await self.files.create_indexes(
            [
                IndexModel(
                    [("tenant_id", ASCENDING), ("room_id", ASCENDING), ("filename", ASCENDING)],
                    unique=True,
                    name="filename_per_room",
                )
            ]
        )

    # -- rooms ---------------------------------------------------------------

    async def insert_room(self, room: NewRoom, created_at: datetime) -> StoredRoom:
        doc = {
            "_id": ObjectId(),
            "tenant_id": room.tenant_id,
            "name": room.name,
            "type": room.type,
            "max_participants": room.max_participants,
            "is_private": room.is_private,
            "p2p": room.p2p,
            "created_at": created_at,
        }
        await self.rooms.insert_one(doc)
        return StoredRoom(id=str(doc["_id"]), tenant_id=room.tenant_id, name=room.name, type=room.type, p2p=room.p2p)

    async def room_exists(self, tenant_id: str, room_id: str) -> bool:
        oid = _object_id(room_id)
        if oid is None:
            return False
        return await self.rooms.find_one({"_id": oid, "tenant_id": tenant_id}, projection={"_id": 1}) is not None

    async def find_room(self, tenant_id: str, room_id: str) -> StoredRoom | None:
        oid = _object_id(room_id)
        doc = await self.rooms.find_one({"_id": oid, "tenant_id": tenant_id}) if oid else None
        if doc is None:
            return None
        return StoredRoom(
            id=str(doc["_id"]),
            tenant_id=tenant_id,
            name=doc["name"],
            type=doc["type"],
            p2p=doc["p2p"],
            ended_at=doc.get("ended_at"),
        )

    async def end_room(self, tenant_id: str, room_id: str, ended_at: datetime) -> datetime | None:
        """Record that the room's webinar ended at `ended_at`, unless it ended before; when it
        (first) ended, or None when there is no such room."""
        oid = _object_id(room_id)
        if oid is None:
            return None
        # `ended_at: None` matches a room never ended (the field is absent): the first end wins.
        await self.rooms.update_one(
            {"_id": oid, "tenant_id": tenant_id, "ended_at": None}, {"$set": {"ended_at": ended_at}}
        )
        doc = await self.rooms.find_one({"_id": oid, "tenant_id": tenant_id}, projection={"ended_at": 1})
        return doc.get("ended_at") if doc else None

    async def room_host_ids(self, tenant_id: str, room_id: str) -> list[str]:
        """The hosts of the meetings held in the room."""
        cursor = self.meetings.find({"tenant_id": tenant_id, "room_id": room_id}, projection={"host_id": 1})
        return sorted({str(doc["host_id"]) async for doc in cursor})

    async def room_transcript_meeting(self, tenant_id: str, room_id: str) -> str | None:
        """The newest meeting held in the room with transcripts on (live captions go to it)."""
        doc = await self.meetings.find_one(
            {"tenant_id": tenant_id, "room_id": room_id, "transcript_enabled": True},
            projection={"_id": 1},
            sort=[("created_at", DESCENDING), ("_id", DESCENDING)],
        )
        return str(doc["_id"]) if doc else None

    # -- meetings ------------------------------------------------------------

    async def insert_meeting(self, meeting: NewMeeting) -> StoredMeeting:
        doc = {
            "_id": ObjectId(),
            "tenant_id": meeting.tenant_id,
            "title": meeting.title,
            "host_id": meeting.host_id,
            "room_id": None,
            "recording_ids": [],
            "summary_generated": False,
            "transcript_enabled": meeting.transcript_enabled,
            "created_at": meeting.created_at,
        }
        await self.meetings.insert_one(doc)
        return _meeting(doc)

    async def find_meeting(self, tenant_id: str, meeting_id: str) -> StoredMeeting | None:
        oid = _object_id(meeting_id)
        doc = await self.meetings.find_one({"_id": oid, "tenant_id": tenant_id}) if oid else None
        return _meeting(doc) if doc else None

    async def update_meeting(self, tenant_id: str, meeting_id: str, update: MeetingUpdate) -> bool:
        """Apply `update`; a recording id joins the meeting's list at most once. False when no such meeting."""
        oid = _object_id(meeting_id)
        if oid is None:
            return False
        fields = {
            "title": update.title,
            "room_id": update.room_id,
            "summary_generated": update.summary_generated,
            "transcript_enabled": update.transcript_enabled,
        }
        changes: dict[str, Any] = {}
        if to_set := {name: value for name, value in fields.items() if value is not None}:
            changes["$set"] = to_set
        if update.recording_id is not None:
            changes["$addToSet"] = {"recording_ids": update.recording_id}
        if not changes:
            return await self.meetings.count_documents({"_id": oid, "tenant_id": tenant_id}, limit=1) == 1
        result = await self.meetings.update_one({"_id": oid, "tenant_id": tenant_id}, changes)
        return result.matched_count == 1

    async def list_meetings(
        self, tenant_id: str, host_id: str, *, limit: int, after: PagePosition | None = None
    ) -> tuple[list[StoredMeeting], bool]:
        """Up to `limit` meetings of `host_id`, newest first, after `after`; and whether more follow."""
        query: dict[str, Any] = {"tenant_id": tenant_id, "host_id": host_id}
        if after is not None:
            last_id = _object_id(after.id)
            if last_id is None:
                raise InvalidInput("cursor is not one a previous page gave", field="cursor")
            query["$or"] = [
                {"created_at": {"$lt": after.created_at}},
                {"created_at": after.created_at, "_id": {"$lt": last_id}},
            ]
        cursor = self.meetings.find(query).sort([("created_at", DESCENDING), ("_id", DESCENDING)]).limit(limit + 1)
        found = [_meeting(doc) async for doc in cursor]
        return found[:limit], len(found) > limit

    async def link_recording_to_room(self, tenant_id: str, room_id: str, recording_id: str) -> int:
        """Add `recording_id` to every meeting of the room (once); how many meetings changed."""
        result = await self.meetings.update_many(
            {"tenant_id": tenant_id, "room_id": room_id}, {"$addToSet": {"recording_ids": recording_id}}
        )
        return result.modified_count

    async def mark_summary_generated(self, tenant_id: str, meeting_id: str) -> bool:
        """Set `summaryGenerated`; False when there is no such meeting."""
        oid = _object_id(meeting_id)
        if oid is None:
            return False
        result = await self.meetings.update_one(
            {"_id": oid, "tenant_id": tenant_id}, {"$set": {"summary_generated": True}}
        )
        return result.matched_count == 1

    # -- room files ----------------------------------------------------------

    async def insert_file(self, file: RoomFile) -> None:
        try:
            await self.files.insert_one(
                {
                    "tenant_id": file.tenant_id,
                    "room_id": file.room_id,
                    "filename": file.filename,
                    "original_name": file.original_name,
                    "content_type": file.content_type,
                    "size": file.size,
                    "uploaded_at": file.uploaded_at,
                }
            )
        except DuplicateKeyError:
            raise Conflict("a file with this name is already stored in the room", field="filename") from None

    async def find_file(self, tenant_id: str, room_id: str, filename: str) -> RoomFile | None:
        doc = await self.files.find_one({"tenant_id": tenant_id, "room_id": room_id, "filename": filename})
        return _file(doc) if doc else None

    async def remove_room_files(self, tenant_id: str, room_id: str) -> tuple[list[RoomFile], int]:
        """Forget every file of the room: the files (their bytes are the caller's to delete)
        and how many records this call removed (a concurrent call may have taken some)."""
        docs = [doc async for doc in self.files.find({"tenant_id": tenant_id, "room_id": room_id})]
        if not docs:
            return [], 0
        result = await self.files.delete_many({"_id": {"$in": [doc["_id"] for doc in docs]}})
        return [_file(doc) for doc in docs], result.deleted_count


class ChatStore:
    """Each room's chat in Redis. `meetings:chat:room:<digest>` lists the room's messages
    (JSON, oldest first, at most `max_messages`) and expires `retention_seconds` after the
    room's last activity (a message, a history read, a keep); `meetings:chat:rate:<digest>`
    counts one sender's messages in a fixed window. Digests hash the tenant and room ids,
    so any id fits in a key and two tenants never share one."""

    def __init__(
        self, redis: "aioredis.Redis", *, max_messages: int, retention_seconds: int, rate_window_seconds: int
    ) -> None:
        self.redis = redis
        self.max_messages = max_messages
        self.retention_seconds = retention_seconds
        self.rate_window_seconds = rate_window_seconds

    @staticmethod
    def _digest(*parts: str) -> str:
        return hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:40]

    def room_key(self, tenant_id: str, room_id: str) -> str:
        return f"meetings:chat:room:{self._digest(tenant_id, room_id)}"

    def rate_key(self, tenant_id: str, room_id: str, sender_key: str) -> str:
        return f"meetings:chat:rate:{self._digest(tenant_id, room_id, sender_key)}"

    async def count_sent(self, tenant_id: str, room_id: str, sender_key: str) -> tuple[int, float]:
        """Count one more message of the sender: how many it sent in the current window,
        this one included, and the seconds left in that window."""
        key = self.rate_key(tenant_id, room_id, sender_key)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.incr(key)
            pipe.expire(key, self.rate_window_seconds, nx=True)
            pipe.pttl(key)
            sent, _, left_ms = await pipe.execute()
        return int(sent), max(int(left_ms), 0) / 1000

    async def append(self, tenant_id: str, message: ChatMessage) -> None:
        key = self.room_key(tenant_id, message.room_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.rpush(key, msgspec.json.encode(message))
            pipe.ltrim(key, -self.max_messages, -1)
            pipe.expire(key, self.retention_seconds)
            await pipe.execute()

    async def history(self, tenant_id: str, room_id: str) -> list[ChatMessage]:
        """The room's messages, oldest first (reading is activity: the history is kept longer)."""
        key = self.room_key(tenant_id, room_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.lrange(key, 0, -1)
            pipe.expire(key, self.retention_seconds)
            items, _ = await pipe.execute()
        messages = []
        for item in items:
            try:
                messages.append(msgspec.json.decode(item, type=ChatMessage))
            except msgspec.DecodeError:
                log.warning("an unreadable chat message was skipped", extra={"room_id": room_id})
        return messages

    async def remove(self, tenant_id: str, room_id: str, message_id: str) -> bool:
        """Delete the message with this id; False when the room's chat holds none."""
        key = self.room_key(tenant_id, room_id)
        for item in await self.redis.lrange(key, 0, -1):
            try:
                found = msgspec.json.decode(item, type=ChatMessage).id == message_id
            except msgspec.DecodeError:
                continue
            if found:
                # The exact bytes read: LREM removes equal elements only.
                return int(await self.redis.lrem(key, 1, item)) > 0  # type: ignore[arg-type]
        return False

    async def keep(self, tenant_id: str, room_id: str) -> None:
        """Keep the room's history `retention_seconds` from now."""
        await self.redis.expire(self.room_key(tenant_id, room_id), self.retention_seconds)
