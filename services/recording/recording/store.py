"""The only module of the recording service that talks to MongoDB.

MongoDB db `recording`:
- `recordings`: one document per recording, unique `recording_id` per tenant; listed newest
  first, all of a tenant's or one room's. Beside the seed's fields it keeps the bytes of
  chunks stored for it, its processing job (id, attempts, percent) and its outcome.
- `files`: one document per track's file of a recording (unique `track_id` per recording).
- `chunks`: one document per stored chunk (unique `seq` per file), naming its blob; a chunk
  is counted once, however often it is sent.
- `usage`: the bytes each tenant's recordings hold, for its limit.
- `room_locks`: one document per room being recorded server-side (its id is the tenant and
  room), so that a room has one server-side recording at a time.

A server-side recording is a `recordings` document with `source: server`, the replica that
records it (`recorder_id`, `recorder_seen_at`: its heartbeat) and, once stopped, its tracks.
"""

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from bson import ObjectId
from pymongo import ASCENDING, DESCENDING, IndexModel, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from recording.domain import (
    PIPELINE_STATUSES,
    RECORDER_STATUSES,
    SERVICE_STATUSES,
    WRITING,
    Limits,
    NewFile,
    NewRecording,
    RecordingSession,
    StoredTrack,
    TrackFile,
    check_open_for_files,
    recording_limit_refusal,
    tenant_limit_refusal,
    to_millis,
)
from webinar_contracts import Conflict, NotFound
from webinar_contracts.paging import PagePosition
from webinar_contracts.recording import CLIENT, FAILED, PENDING, PROCESSING, READY, RECORDING, SERVER, STOPPED


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
        bytes=doc.get("bytes", 0),
        job_id=doc.get("job_id"),
        attempts=doc.get("attempts", 0),
        percent=doc.get("percent", 0),
        failure_reason=doc.get("failure_reason"),
        output_key=doc.get("output_key"),
        output_size=doc.get("output_size"),
        duration=doc.get("duration"),
        download_token=doc.get("download_token"),
        source=doc.get("source", CLIENT),
        tracks=tuple(_stored_track(track) for track in doc.get("tracks", [])),
        recorder_id=doc.get("recorder_id"),
    )


def _stored_track(doc: dict[str, Any]) -> StoredTrack:
    return StoredTrack(**{name: doc[name] for name in _TRACK_FIELDS if name in doc})


_TRACK_FIELDS = tuple(StoredTrack.__dataclass_fields__)


def _track(doc: dict[str, Any]) -> TrackFile:
    return TrackFile(
        id=str(doc["_id"]),
        tenant_id=doc["tenant_id"],
        recording_id=doc["recording_id"],
        track_id=doc["track_id"],
        mime_type=doc["mime_type"],
        started_at=doc["started_at"],
        opened_at=doc["opened_at"],
        closed=doc.get("closed", False),
        last_seq=doc.get("last_seq"),
        chunks=doc.get("chunks", 0),
        bytes=doc.get("bytes", 0),
        missing_count=doc.get("missing_count", 0),
    )


def _recording(tenant_id: str, recording_id: str) -> dict[str, Any]:
    return {"tenant_id": tenant_id, "recording_id": recording_id}


class RecordingStore:
    def __init__(self, db: AsyncDatabase[Any]) -> None:
        self.recordings = db["recordings"]
        self.files = db["files"]
        self.chunks = db["chunks"]
        self.usage = db["usage"]
        self.room_locks = db["room_locks"]

    async def create_indexes(self) -> None:
        newest_first = [("created_at", DESCENDING), ("_id", DESCENDING)]
        await self.recordings.create_indexes(
            [
                IndexModel([("tenant_id", ASCENDING), ("recording_id", ASCENDING)], unique=True, name="recording_id"),
                IndexModel([("tenant_id", ASCENDING), *newest_first], name="tenant_newest"),
                IndexModel([("tenant_id", ASCENDING), ("room_id", ASCENDING), *newest_first], name="room_newest"),
                IndexModel([("download_token", ASCENDING)], name="download_token"),
                IndexModel([("status", ASCENDING), ("last_written_at", ASCENDING)], name="idle_uploads"),
                IndexModel([("recorder_id", ASCENDING), ("status", ASCENDING)], name="recorder"),
                IndexModel([("source", ASCENDING), ("recorder_seen_at", ASCENDING)], name="recorder_seen"),
            ]
        )
        await self.files.create_indexes(
            [
                IndexModel(
                    [("tenant_id", ASCENDING), ("recording_id", ASCENDING), ("track_id", ASCENDING)],
                    unique=True,
                    name="track_id",
                ),
            ]
        )
        await self.chunks.create_indexes(
            [IndexModel([("file_id", ASCENDING), ("seq", ASCENDING)], unique=True, name="file_seq")]
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
            "bytes": 0,
            "open_files": 0,
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
        """Set the end of a running recording; None when it was stopped already (or is gone).
        Its status becomes `stopped` unless processing set it already (then it stays)."""
        running = {**_recording(tenant_id, recording_id), "ended_at": None}
        doc = await self.recordings.find_one_and_update(
            {**running, "status": {"$nin": sorted(PIPELINE_STATUSES)}},
            {"$set": {"ended_at": ended_at, "status": STOPPED, "updated_at": to_millis(now)}},
            return_document=ReturnDocument.AFTER,
        )
        if doc is None:
            doc = await self.recordings.find_one_and_update(
                running,
                {"$set": {"ended_at": ended_at, "updated_at": to_millis(now)}},
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

    # -- files and chunks ------------------------------------------------------------

    async def open_file(self, session: RecordingSession, new: NewFile, now: datetime) -> tuple[TrackFile, bool]:
        """The track's file, created unless it exists (then returned as it is: False); the
        recording's status becomes `recording` unless the service set it already."""
        now = to_millis(now)
        doc = {
            "_id": ObjectId(),
            "tenant_id": session.tenant_id,
            "recording_id": session.recording_id,
            "track_id": new.track_id,
            "mime_type": new.mime_type,
            "started_at": new.started_at or now,
            "opened_at": now,
            "closed": False,
            "last_seq": None,
            "chunks": 0,
            "bytes": 0,
            "missing_count": 0,
        }
        try:
            await self.files.insert_one(doc)
        except DuplicateKeyError:
            existing = await self.find_file(session.tenant_id, session.recording_id, new.track_id)
            if existing is None:  # removed between the two calls: nothing removes files
                raise Conflict("the file could not be opened: try again", field="trackId") from None
            return existing, False
        recording = _recording(session.tenant_id, session.recording_id)
        await self.recordings.update_one(recording, {"$inc": {"open_files": 1}, "$set": {"last_written_at": now}})
        await self.recordings.update_one(
            {**recording, "status": {"$nin": sorted(SERVICE_STATUSES)}},
            {"$set": {"status": WRITING, "updated_at": now}},
        )
        return _track(doc), True

    async def find_file(self, tenant_id: str, recording_id: str, track_id: str) -> TrackFile | None:
        doc = await self.files.find_one({**_recording(tenant_id, recording_id), "track_id": track_id})
        return _track(doc) if doc else None

    async def files_of(self, tenant_id: str, recording_id: str) -> list[TrackFile]:
        return [_track(doc) async for doc in self.files.find(_recording(tenant_id, recording_id)).sort("_id", 1)]

    async def has_chunk(self, file: TrackFile, seq: int) -> bool:
        return await self.chunks.find_one({"file_id": ObjectId(file.id), "seq": seq}, {"_id": 1}) is not None

    async def reserve(self, tenant_id: str, recording_id: str, size: int, limits: Limits, now: datetime) -> int:
        """Count `size` more bytes for the recording and its tenant, or TooLarge (nothing
        counted) when either would pass its limit; returns the recording's new total."""
        doc = await self.recordings.find_one_and_update(
            {
                **_recording(tenant_id, recording_id),
                "status": {"$nin": sorted(PIPELINE_STATUSES)},
                "$or": [{"bytes": {"$lte": limits.max_recording_bytes - size}}, {"bytes": {"$exists": False}}],
            },
            {"$inc": {"bytes": size}, "$set": {"last_written_at": to_millis(now)}},
            return_document=ReturnDocument.AFTER,
        )
        if doc is None:
            current = await self.find(tenant_id, recording_id)
            if current is None:
                raise NotFound("no recording with this recordingId", field="recordingId")
            check_open_for_files(current)
            raise recording_limit_refusal(recording_id, limits.max_recording_bytes)
        try:
            # No usage document yet, or one under the limit: counted. One at the limit does
            # not match, so the upsert tries to insert a second document for the tenant.
            await self.usage.update_one(
                {"_id": tenant_id, "bytes": {"$lte": limits.max_tenant_bytes - size}},
                {"$inc": {"bytes": size}},
                upsert=True,
            )
        except DuplicateKeyError:
            await self.recordings.update_one(_recording(tenant_id, recording_id), {"$inc": {"bytes": -size}})
            raise tenant_limit_refusal(limits.max_tenant_bytes) from None
        return int(doc["bytes"])

    async def release(self, tenant_id: str, recording_id: str, size: int) -> None:
        """Undo a reservation (the chunk was not kept)."""
        await self.recordings.update_one(_recording(tenant_id, recording_id), {"$inc": {"bytes": -size}})
        await self.add_usage(tenant_id, -size)

    async def add_usage(self, tenant_id: str, delta: int) -> None:
        if delta:
            await self.usage.update_one({"_id": tenant_id}, {"$inc": {"bytes": delta}}, upsert=True)

    async def tenant_usage(self, tenant_id: str) -> int:
        doc = await self.usage.find_one({"_id": tenant_id})
        return int(doc["bytes"]) if doc else 0

    async def add_chunk(self, file: TrackFile, seq: int, size: int, key: str, now: datetime) -> bool:
        """Record a stored chunk; False when it was recorded already (a resend won the race)."""
        try:
            await self.chunks.insert_one(
                {"file_id": ObjectId(file.id), "seq": seq, "size": size, "key": key, "written_at": to_millis(now)}
            )
        except DuplicateKeyError:
            return False
        return True

    async def received(self, file: TrackFile) -> tuple[list[int], int]:
        """The chunk numbers stored for a file, in order, and their bytes together."""
        seqs: list[int] = []
        total = 0
        cursor = self.chunks.find({"file_id": ObjectId(file.id)}, {"seq": 1, "size": 1}).sort("seq", 1)
        async for doc in cursor:
            seqs.append(int(doc["seq"]))
            total += int(doc["size"])
        return seqs, total

    async def chunk_keys(self, file: TrackFile) -> AsyncIterator[str]:
        """The blob keys of a file's chunks in order."""
        async for doc in self.chunks.find({"file_id": ObjectId(file.id)}, {"key": 1, "seq": 1}).sort("seq", 1):
            yield str(doc["key"])

    async def close_file(
        self, file: TrackFile, *, last_seq: int, chunks: int, size: int, missing_count: int, now: datetime
    ) -> TrackFile:
        """Close a file (again: after missing chunks came) with what it holds."""
        fields = {"last_seq": last_seq, "chunks": chunks, "bytes": size, "missing_count": missing_count}
        before = await self.files.find_one_and_update(
            {"_id": ObjectId(file.id)},
            {"$set": {**fields, "closed": True, "closed_at": to_millis(now)}},
            return_document=ReturnDocument.BEFORE,
        )
        if before is None:
            raise NotFound("no file for this trackId", field="trackId")
        if not before.get("closed"):
            await self.recordings.update_one(
                _recording(file.tenant_id, file.recording_id), {"$inc": {"open_files": -1}}
            )
        return _track({**before, **fields, "closed": True})

    async def drop_chunks(self, files: list[TrackFile]) -> None:
        """Forget the chunks of these files (their blobs are deleted by the caller first)."""
        await self.chunks.delete_many({"file_id": {"$in": [ObjectId(file.id) for file in files]}})

    async def reconcile_bytes(self, session: RecordingSession, stored: int) -> None:
        """Set the recording's byte count to what its chunks hold (a crash between counting
        and storing a chunk may have counted it twice) and correct its tenant's usage."""
        doc = await self.recordings.find_one_and_update(
            {"_id": ObjectId(session.id)}, {"$set": {"bytes": stored}}, return_document=ReturnDocument.BEFORE
        )
        if doc is not None:
            await self.add_usage(session.tenant_id, stored - int(doc.get("bytes", 0)))

    # -- processing --------------------------------------------------------------------

    async def start_processing(
        self, session: RecordingSession, job_id: str, target: tuple[int, int] | None, now: datetime
    ) -> str | None:
        """Move the recording to `processing` under `job_id`; returns the status it had, or
        None when it is processing or ready already (another request won)."""
        doc = await self.recordings.find_one_and_update(
            {"_id": ObjectId(session.id), "status": {"$nin": [PROCESSING, READY]}},
            {
                "$set": {
                    "status": PROCESSING,
                    "job_id": job_id,
                    "attempts": 0,
                    "percent": 0,
                    "failure_reason": None,
                    "target": list(target) if target else None,
                    "updated_at": to_millis(now),
                }
            },
            return_document=ReturnDocument.BEFORE,
        )
        return str(doc["status"]) if doc else None

    async def undo_processing(self, session: RecordingSession, job_id: str, status: str) -> None:
        """Put back the status a recording had when its job could not be queued."""
        await self.recordings.update_one(
            {"_id": ObjectId(session.id), "job_id": job_id, "status": PROCESSING},
            {"$set": {"status": status, "job_id": None}},
        )

    async def claim_job(self, tenant_id: str, recording_id: str, job_id: str, now: datetime) -> RecordingSession | None:
        """Count one more attempt at the job; None when the job is not the recording's
        current one or is finished (a repeated delivery: nothing to do)."""
        doc = await self.recordings.find_one_and_update(
            {**_recording(tenant_id, recording_id), "job_id": job_id, "status": PROCESSING},
            {"$inc": {"attempts": 1}, "$set": {"updated_at": to_millis(now)}},
            return_document=ReturnDocument.AFTER,
        )
        return _session(doc) if doc else None

    async def give_back_job(self, session: RecordingSession, job_id: str) -> None:
        """A job stopped by a shutdown, not by a fault: its attempt does not count."""
        await self.recordings.update_one(
            {"_id": ObjectId(session.id), "job_id": job_id, "status": PROCESSING, "attempts": {"$gt": 0}},
            {"$inc": {"attempts": -1}},
        )

    async def set_percent(self, session: RecordingSession, job_id: str, percent: int) -> None:
        await self.recordings.update_one(
            {"_id": ObjectId(session.id), "job_id": job_id, "status": PROCESSING}, {"$set": {"percent": percent}}
        )

    async def mark_ready(
        self,
        session: RecordingSession,
        job_id: str,
        *,
        output_key: str,
        size: int,
        duration: float,
        token: str,
        now: datetime,
    ) -> RecordingSession | None:
        """The job's file is stored and checked: the recording is ready. None when the job
        is no longer the recording's (nothing changed)."""
        doc = await self.recordings.find_one_and_update(
            {"_id": ObjectId(session.id), "job_id": job_id, "status": PROCESSING},
            {
                "$set": {
                    "status": READY,
                    "percent": 100,
                    "output_key": output_key,
                    "output_size": size,
                    "duration": duration,
                    "download_token": token,
                    "failure_reason": None,
                    "updated_at": to_millis(now),
                }
            },
            return_document=ReturnDocument.AFTER,
        )
        return _session(doc) if doc else None

    async def mark_failed(self, session: RecordingSession, reason: str, now: datetime, *, job_id: str) -> bool:
        """The job failed for `reason`: the recording is `failed` (unless it moved on)."""
        result = await self.recordings.update_one(
            {"_id": ObjectId(session.id), "job_id": job_id, "status": PROCESSING},
            {"$set": {"status": FAILED, "failure_reason": reason, "updated_at": to_millis(now)}},
        )
        return result.modified_count == 1

    async def find_by_token(self, recording_id: str, token: str) -> RecordingSession | None:
        doc = await self.recordings.find_one({"download_token": token, "recording_id": recording_id})
        return _session(doc) if doc else None

    # -- abandoned uploads -------------------------------------------------------------

    @staticmethod
    def _idle(written_before: datetime) -> dict[str, Any]:
        return {
            "status": {"$in": [RECORDING, STOPPED]},
            "open_files": {"$gt": 0},
            "last_written_at": {"$lt": written_before},
        }

    async def idle_uploads(self, written_before: datetime, limit: int = 100) -> list[RecordingSession]:
        """Recordings with a file still open whose last chunk (or file) came before `written_before`."""
        cursor = self.recordings.find(self._idle(written_before)).limit(limit)
        return [_session(doc) async for doc in cursor]

    async def fail_idle_upload(
        self, session: RecordingSession, written_before: datetime, reason: str, now: datetime
    ) -> bool:
        """Mark an idle upload failed, unless a chunk arrived (or its files were closed) meanwhile."""
        result = await self.recordings.update_one(
            {"_id": ObjectId(session.id), **self._idle(written_before)},
            {"$set": {"status": FAILED, "failure_reason": reason, "updated_at": to_millis(now)}},
        )
        return result.modified_count == 1

    # -- server-side recordings of rooms -------------------------------------------------

    async def lock_room(
        self, tenant_id: str, room_id: str, recording_id: str, now: datetime, *, stale_before: datetime
    ) -> None:
        """Take the room for one server-side recording; Conflict naming the one that has it. A
        lock left behind (its recording ended without releasing it, or was never stored and
        the lock is older than `stale_before`) is taken over."""
        lock_id = _room_lock(tenant_id, room_id)
        for _ in range(2):
            try:
                lock = {"_id": lock_id, "recording_id": recording_id, "since": to_millis(now)}
                await self.room_locks.insert_one(lock)
                return
            except DuplicateKeyError:
                holder = await self.room_locks.find_one({"_id": lock_id})
                if holder is None:
                    continue
                session = await self.find(tenant_id, holder["recording_id"])
                running = session is not None and session.status in (PENDING, RECORDING)
                starting = session is None and holder["since"] >= stale_before
                if running or starting:
                    raise Conflict(
                        f"room {room_id} is being recorded already ({holder['recording_id']})", field="roomId"
                    ) from None
                await self.room_locks.delete_one({"_id": lock_id, "recording_id": holder["recording_id"]})
        raise Conflict(f"room {room_id} is being recorded already", field="roomId")

    async def unlock_room(self, tenant_id: str, room_id: str, recording_id: str) -> None:
        await self.room_locks.delete_one({"_id": _room_lock(tenant_id, room_id), "recording_id": recording_id})

    async def room_lock_holder(self, tenant_id: str, room_id: str) -> str | None:
        """The recording id that records the room now, if any."""
        doc = await self.room_locks.find_one({"_id": _room_lock(tenant_id, room_id)})
        return str(doc["recording_id"]) if doc else None

    async def insert_server(self, new: NewRecording, recorder_id: str, now: datetime) -> RecordingSession:
        """Store a server-side recording, held by `recorder_id` (the room is locked first)."""
        session = await self.insert(new, now)
        doc = await self.recordings.find_one_and_update(
            {"_id": ObjectId(session.id)},
            {"$set": {"source": SERVER, "recorder_id": recorder_id, "recorder_seen_at": to_millis(now), "tracks": []}},
            return_document=ReturnDocument.AFTER,
        )
        return _session(doc) if doc else session

    async def latest_server_recording(self, tenant_id: str, room_id: str) -> RecordingSession | None:
        cursor = (
            self.recordings.find({"tenant_id": tenant_id, "room_id": room_id, "source": SERVER})
            .sort([("created_at", DESCENDING), ("_id", DESCENDING)])
            .limit(1)
        )
        found = [_session(doc) async for doc in cursor]
        return found[0] if found else None

    async def mark_recording(self, session: RecordingSession, now: datetime) -> RecordingSession | None:
        """The recorder runs: pending -> recording."""
        doc = await self.recordings.find_one_and_update(
            {"_id": ObjectId(session.id), "status": PENDING},
            {"$set": {"status": RECORDING, "updated_at": to_millis(now)}},
            return_document=ReturnDocument.AFTER,
        )
        return _session(doc) if doc else None

    async def mark_server_stopped(
        self, session: RecordingSession, ended_at: datetime, now: datetime, *, recorder_id: str
    ) -> RecordingSession | None:
        """The recorder `recorder_id` stopped: `stopped` with its end (None when it was stopped
        or failed already, or another replica records it now)."""
        doc = await self.recordings.find_one_and_update(
            {"_id": ObjectId(session.id), "status": {"$in": [PENDING, RECORDING]}, "recorder_id": recorder_id},
            {"$set": {"status": STOPPED, "ended_at": to_millis(ended_at), "updated_at": to_millis(now)}},
            return_document=ReturnDocument.AFTER,
        )
        return _session(doc) if doc else None

    async def add_tracks(
        self, session: RecordingSession, tracks: list[StoredTrack], recorder_id: str, now: datetime
    ) -> bool:
        """Track files (segments) of a recording `recorder_id` still holds are in the blob store:
        keep them, counted for its tenant. False when the recording is past its recorder, or
        another replica took it over (its files are not the recording's any more)."""
        if not tracks:
            return True
        result = await self.recordings.update_one(
            {"_id": ObjectId(session.id), "status": {"$in": sorted(RECORDER_STATUSES)}, "recorder_id": recorder_id},
            {"$push": {"tracks": {"$each": [vars(track) for track in tracks]}}, "$set": {"updated_at": to_millis(now)}},
        )
        if result.modified_count:
            await self.add_usage(session.tenant_id, sum(track.size for track in tracks))
        return result.modified_count == 1

    async def claim_lost(
        self, session: RecordingSession, recorder_id: str, seen_before: datetime, now: datetime
    ) -> RecordingSession | None:
        """Take over a recording whose replica stopped beating before `seen_before` (one
        replica wins); None when it beat again or another replica took it first."""
        doc = await self.recordings.find_one_and_update(
            {
                "_id": ObjectId(session.id),
                "status": {"$in": sorted(RECORDER_STATUSES)},
                "recorder_id": session.recorder_id,
                "recorder_seen_at": {"$lt": to_millis(seen_before)},
            },
            {"$set": {"recorder_id": recorder_id, "recorder_seen_at": to_millis(now), "updated_at": to_millis(now)}},
            return_document=ReturnDocument.AFTER,
        )
        return _session(doc) if doc else None

    async def fail_server(self, session: RecordingSession, reason: str, now: datetime) -> bool:
        """A server-side recording its recorder could not finish: `failed` with the reason
        (unless it got past its recorder already)."""
        result = await self.recordings.update_one(
            {"_id": ObjectId(session.id), "status": {"$in": sorted(RECORDER_STATUSES)}},
            {"$set": {"status": FAILED, "failure_reason": reason, "updated_at": to_millis(now)}},
        )
        return result.modified_count == 1

    async def heartbeat(self, recorder_id: str, now: datetime) -> None:
        """The replica `recorder_id` still holds its recordings."""
        await self.recordings.update_many(
            {"recorder_id": recorder_id, "status": {"$in": sorted(RECORDER_STATUSES)}},
            {"$set": {"recorder_seen_at": to_millis(now)}},
        )

    async def lost_recordings(self, seen_before: datetime, limit: int = 100) -> list[RecordingSession]:
        """Server-side recordings whose replica stopped beating before `seen_before`."""
        cursor = self.recordings.find(
            {
                "source": SERVER,
                "status": {"$in": sorted(RECORDER_STATUSES)},
                "recorder_seen_at": {"$lt": seen_before},
            }
        ).limit(limit)
        return [_session(doc) async for doc in cursor]


def _room_lock(tenant_id: str, room_id: str) -> str:
    return f"{len(tenant_id)}:{tenant_id}:{room_id}"  # the length keeps any two pairs apart
