"""The recording socket's files, over the bus: open a track's file, store its chunks as they
come (each its own blob, counted once however often it is sent), close it saying what is
missing; and the watch that marks an upload nobody finishes as failed."""

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from recording.domain import (
    MAX_ID,
    Limits,
    NewRecording,
    check_chunk,
    check_chunk_fits_track,
    check_last_seq,
    check_open_for_files,
    check_same_file,
    missing_chunks,
    validate_file,
)
from recording.store import RecordingStore
from webinar_contracts import Conflict, InvalidInput, NotFound, RequestContext
from webinar_contracts.recording import (
    RECORDING,
    ChunkWritten,
    CreateFile,
    FileClosed,
    FileOpened,
    StopWriting,
    WriteChunk,
)
from webinar_contracts.validation import required_text
from webinar_runtime.blobs import BlobStore, stream_of

log = logging.getLogger("recording.uploads")


def _utc_now() -> datetime:
    return datetime.now(UTC)


def chunk_key(file_id: str, seq: int) -> str:
    """The blob of chunk `seq` of a file (a file's id is unique across tenants)."""
    return f"chunks/{file_id}/{seq:08d}"


@dataclass
class UploadHandlers:
    store: RecordingStore
    blobs: BlobStore
    limits: Limits
    clock: Callable[[], datetime] = field(default=_utc_now)

    async def create_file(self, request: CreateFile, context: RequestContext) -> FileOpened:
        tenant_id = context.require_tenant()
        new = validate_file(request)
        now = self.clock()
        session = await self.store.find(tenant_id, new.recording_id)
        if session is None:
            if new.room_id is None:
                raise NotFound(
                    "no recording with this recordingId: start it with POST /recording/start, or give roomId "
                    "and userName to start it here",
                    field="recordingId",
                )
            if new.user_name is None:
                raise InvalidInput("userName is required to start a recording with create-file", field="userName")
            started = NewRecording(
                tenant_id=tenant_id,
                recording_id=new.recording_id,
                room_id=new.room_id,
                user_name=new.user_name,
                stream_id=new.track_id,
                video_type=new.mime_type.split("/", 1)[0].lower(),
                status=RECORDING,
                started_at=new.started_at or now,
            )
            with contextlib.suppress(Conflict):  # another file of it started it first
                await self.store.insert(started, now)
            session = await self.store.find(tenant_id, new.recording_id)
            if session is None:
                raise NotFound("no recording with this recordingId", field="recordingId")
        check_open_for_files(session)
        file, created = await self.store.open_file(session, new, now)
        seqs: list[int] = []
        size = 0
        if not created:
            check_same_file(file, new.mime_type)
            seqs, size = await self.store.received(file)
        else:
            log.info(
                "file opened",
                extra={"tenant_id": tenant_id, "recording_id": new.recording_id, "track_id": new.track_id},
            )
        current = await self.store.find(tenant_id, new.recording_id) or session
        return FileOpened(
            recording_id=new.recording_id,
            track_id=new.track_id,
            mime_type=file.mime_type,
            status=current.status,
            next_seq=seqs[-1] + 1 if seqs else 0,
            bytes=size,
        )

    async def write_chunk(self, request: WriteChunk, context: RequestContext) -> ChunkWritten:
        tenant_id = context.require_tenant()
        recording_id = required_text(request.recording_id, "recordingId", MAX_ID)
        track_id = required_text(request.track_id, "trackId", MAX_ID)
        size = len(request.data)
        check_chunk(request.seq, size, self.limits)
        file = await self.store.find_file(tenant_id, recording_id, track_id)
        if file is None:
            raise NotFound("no file for this trackId: send create-file first", field="trackId")
        if await self.store.has_chunk(file, request.seq):
            return await self._duplicate(tenant_id, recording_id, request.seq)
        check_chunk_fits_track(file, request.seq)
        now = self.clock()
        total = await self.store.reserve(tenant_id, recording_id, size, self.limits, now)
        key = chunk_key(file.id, request.seq)
        try:
            await self.blobs.write(key, stream_of(request.data), max_bytes=size)
            added = await self.store.add_chunk(file, request.seq, size, key, now)
        except BaseException:
            # Not kept (or not known to be): count it out; the blob, if written, is
            # replaced by the resend under the same key.
            await asyncio.shield(self.store.release(tenant_id, recording_id, size))
            raise
        if not added:
            await self.store.release(tenant_id, recording_id, size)
            return await self._duplicate(tenant_id, recording_id, request.seq)
        return ChunkWritten(seq=request.seq, duplicate=False, recording_bytes=total)

    async def _duplicate(self, tenant_id: str, recording_id: str, seq: int) -> ChunkWritten:
        session = await self.store.find(tenant_id, recording_id)
        return ChunkWritten(seq=seq, duplicate=True, recording_bytes=session.bytes if session else 0)

    async def stop_writing(self, request: StopWriting, context: RequestContext) -> FileClosed:
        tenant_id = context.require_tenant()
        recording_id = required_text(request.recording_id, "recordingId", MAX_ID)
        track_id = required_text(request.track_id, "trackId", MAX_ID)
        check_last_seq(request.last_seq)
        file = await self.store.find_file(tenant_id, recording_id, track_id)
        if file is None:
            raise NotFound("no file for this trackId: send create-file first", field="trackId")
        seqs, size = await self.store.received(file)
        said = max(
            request.last_seq if request.last_seq is not None else -1,
            file.last_seq if file.last_seq is not None else -1,
        )
        missing = missing_chunks(seqs, said)
        last_seq = max(said, seqs[-1] if seqs else -1)
        closed = await self.store.close_file(
            file, last_seq=last_seq, chunks=len(seqs), size=size, missing_count=missing.count, now=self.clock()
        )
        if missing.count:
            log.warning(
                "file closed with chunks missing",
                extra={"tenant_id": tenant_id, "recording_id": recording_id, "missing": missing.count},
            )
        return FileClosed(
            recording_id=recording_id,
            track_id=track_id,
            chunks=closed.chunks,
            bytes=closed.bytes,
            complete=missing.count == 0,
            missing=missing.first,
            missing_count=missing.count,
        )


class IdleUploadWatch:
    """Marks failed, with the reason, a recording whose files are still open but which got
    no chunk for `idle_seconds` (its browser went away, or the upload died with it)."""

    def __init__(self, store: RecordingStore, *, idle_seconds: float, clock: Callable[[], datetime] = _utc_now) -> None:
        self.store = store
        self.idle_seconds = idle_seconds
        self.clock = clock
        self._task: asyncio.Task[None] | None = None

    async def sweep(self) -> int:
        """Fail every idle upload now; returns how many."""
        now = self.clock()
        cutoff = now - timedelta(seconds=self.idle_seconds)
        failed = 0
        for session in await self.store.idle_uploads(cutoff):
            reason = f"upload abandoned: no chunk for {self.idle_seconds:.0f}s while a file was still open"
            if await self.store.fail_idle_upload(session, cutoff, reason, now):
                failed += 1
                log.warning(
                    "idle upload marked failed",
                    extra={"tenant_id": session.tenant_id, "recording_id": session.recording_id},
                )
        return failed

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="recording:idle-uploads")

    async def _run(self) -> None:
        period = min(60.0, max(1.0, self.idle_seconds / 4))
        while True:
            try:
                await self.sweep()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("idle upload sweep failed")
            await asyncio.sleep(period)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
