"""Server-side recordings of rooms, over the bus (docs/recording.md, "Server-side recording").

The room's host starts one (`recording.rooms.start`, any replica: the queue group picks);
the replica that takes it records the room itself (recording.recorder) and says so in the
recording's document (`recorder_id`, with a heartbeat), and a lock document keeps the room
to one recording at a time. A stop may reach any replica: it is handed to the recording's
own replica on that replica's subject (`recording.recorder.<id>.stop`). Tracks are
written in segments, and each finished segment goes to the blob store while the room is
still recorded; stopped, the last segments follow and a composition job is queued on
JetStream like any processing job; the room hears `recording:started`,
`recording:stopped`, then `recording:ready` or `recording:failed`.

A replica takes at most `max_rooms` rooms and refuses more, saying so. A replica that stops
with SIGTERM stops its recordings (each is stored and composed as it is); one that dies
stops beating, and after `lost_after` seconds another replica takes its recordings over:
each is stopped at the end of what was stored and composed from it (the segments the dead
replica had not finished are lost), or marked failed when nothing was stored.
"""

import asyncio
import contextlib
import logging
import secrets
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import nats.errors

from recording import metrics
from recording.domain import (
    GRID_VIDEO_TYPE,
    LOST_SEGMENTS,
    MAX_ID,
    MAX_NAME,
    RESUMED,
    SERVER_STREAM_ID,
    NewRecording,
    RecordingSession,
    StoredTrack,
    check_room_host,
    check_tenant_has_room,
    nothing_recorded,
    recorded_until,
    room_recording_id,
    segment_track_id,
    stopped_event_id,
)
from recording.handlers import recording_view, room_event
from recording.processing import read_file
from recording.pushes import RoomPushes
from recording.recorder import MediaNodes, RecordedTrackFile, RecorderSettings, Resumed, RoomRecorder
from recording.store import RecordingStore
from recording.track_files import MuxThread
from webinar_contracts import Conflict, NotFound, RequestContext, ServiceError, Unavailable
from webinar_contracts import media as media_contract
from webinar_contracts import meetings as meetings_contract
from webinar_contracts.media import RoomProducer, StartTap, TapRef, TapStarted
from webinar_contracts.recording import (
    GRID,
    PENDING,
    PROCESSING_REQUESTED,
    RECORDER_STOP,
    RECORDING,
    RECORDING_FAILED_EVENT,
    RECORDING_STARTED_EVENT,
    RECORDING_STOPPED,
    RECORDING_STOPPED_EVENT,
    ROOM_RECORDING,
    START_ROOM,
    STOP_ROOM,
    STOPPED,
    CurrentRoomRecording,
    ProcessingRequested,
    Recording,
    RecordingStopped,
    RoomRecordingQuery,
    StartRoomRecording,
    StopRecorder,
    StopRoomRecording,
)
from webinar_contracts.validation import required_text
from webinar_runtime.blobs import BlobStore
from webinar_runtime.bus import Bus
from webinar_runtime.node_taps import NodeTaps

log = logging.getLogger("recording.rooms")

DEFAULT_HOST_NAME = "host"
QUEUE_ATTEMPTS = 5  # tries to queue a composition job before the recording is marked failed
STALE_LOCK = timedelta(minutes=1)  # a room lock with no recording stored this long after is left behind


def _utc_now() -> datetime:
    return datetime.now(UTC)


class RoomHosts(Protocol):
    async def host_ids(self, tenant_id: str, room_id: str) -> list[str]:
        """The hostIds of the meetings held in the room; NotFound when no such room was made."""
        ...


@dataclass
class Active:
    """A recording this replica records now, and the task storing its finished segments."""

    session: RecordingSession
    recorder: RoomRecorder
    keeper: "asyncio.Task[None] | None" = None


class RoomRecordings:
    def __init__(
        self,
        *,
        store: RecordingStore,
        bus: Bus,
        blobs: BlobStore,
        nodes: MediaNodes,
        hosts: RoomHosts,
        pushes: RoomPushes,
        settings: RecorderSettings,
        recorder_id: str,
        max_rooms: int,
        max_tenant_bytes: int,
        canvas: tuple[int, int],
        beat_every: float = 5.0,
        lost_after: float = 30.0,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self.store = store
        self.bus = bus
        self.blobs = blobs
        self.nodes = nodes
        self.hosts = hosts
        self.pushes = pushes
        self.settings = settings
        self.recorder_id = recorder_id
        self.max_rooms = max_rooms
        self.max_tenant_bytes = max_tenant_bytes
        self.canvas = canvas
        self.beat_every = beat_every
        self.lost_after = lost_after
        self.clock = clock
        self.mux = MuxThread()
        self.active: dict[str, Active] = {}  # by the recording's document id
        self._starting = 0
        self._closing = False
        self._tasks: set[asyncio.Task[None]] = set()
        self._watch: asyncio.Task[None] | None = None

    # --- wiring ---

    async def serve(self, bus: Bus) -> None:
        await bus.serve(START_ROOM, self.start)
        await bus.serve(STOP_ROOM, self.stop)
        await bus.serve(ROOM_RECORDING, self.current)
        await bus.serve(RECORDER_STOP.at(self.recorder_id), self.stop_here)

    def start_watch(self) -> None:
        """Beat for this replica's recordings, and fail the ones of replicas that stopped beating."""
        self._watch = asyncio.create_task(self._keep_watch(), name="recording:recorders")

    async def close(self, timeout: float) -> None:
        """Stop every recording of this replica, then wait (up to `timeout`) for their tracks
        to be stored and their compositions queued."""
        self._closing = True
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch
        for key in list(self.active):
            with contextlib.suppress(Exception):
                await self._stop_local(key, "the recording service stopped")
        if self._tasks:
            _, pending = await asyncio.wait(set(self._tasks), timeout=timeout)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        await self.mux.close()

    # --- the host's requests ---

    async def start(self, request: StartRoomRecording, context: RequestContext) -> Recording:
        tenant_id = context.require_tenant()
        room_id = required_text(request.room_id, "roomId", MAX_ID)
        user_name = required_text(request.user_name, "userName", MAX_NAME) if request.user_name else DEFAULT_HOST_NAME
        if not request.room_host:
            check_room_host(context.user_id, await self.hosts.host_ids(tenant_id, room_id), room_id)
        if self._closing:
            raise Unavailable("this recording replica is shutting down: try again", retry_after=1)
        if len(self.active) + self._starting >= self.max_rooms:
            raise Unavailable(
                f"this recording replica records {self.max_rooms} rooms already, its limit (RECORDING_MAX_ROOMS): "
                "try again later (another replica may take it), or run more replicas",
                field="roomId",
                retry_after=5,
            )
        self._starting += 1
        try:
            check_tenant_has_room(await self.store.tenant_usage(tenant_id), self.max_tenant_bytes)
            return await self._start(tenant_id, room_id, user_name)
        finally:
            self._starting -= 1

    async def _start(self, tenant_id: str, room_id: str, user_name: str) -> Recording:
        recording_id = room_recording_id(self.clock(), secrets.randbelow(1_000_000))
        now = self.clock()
        await self.store.lock_room(tenant_id, room_id, recording_id, now, stale_before=now - STALE_LOCK)
        recorder = RoomRecorder(
            tenant_id=tenant_id,
            room_id=room_id,
            recording_id=recording_id,
            nodes=self.nodes,
            mux=self.mux,
            settings=self.settings,
            on_stop_needed=self._stop_needed,
        )
        try:
            try:
                await recorder.start()
            except NotFound:
                raise Conflict(
                    f"room {room_id} is not open: nobody is in it, so there is nothing to record", field="roomId"
                ) from None
            started_at = self.clock()
            new = NewRecording(
                tenant_id=tenant_id,
                recording_id=recording_id,
                room_id=room_id,
                user_name=user_name,
                stream_id=SERVER_STREAM_ID,
                video_type=GRID_VIDEO_TYPE,
                status=PENDING,
                started_at=started_at,
            )
            session = await self.store.insert_server(new, self.recorder_id, started_at)
        except BaseException:
            await asyncio.shield(self._undo_start(recorder, tenant_id, room_id, recording_id))
            raise
        active = self.active[session.id] = Active(session, recorder)
        active.keeper = asyncio.create_task(self._keep_segments(active), name=f"recording-segments:{recording_id}")
        metrics.RECORDING_ROOMS.set(len(self.active))
        active.session = await self.store.mark_recording(session, self.clock()) or session
        session = active.session
        log.info(
            "room recording started",
            extra={"tenant_id": tenant_id, "room_id": room_id, "recording_id": recording_id, "node": recorder.node_id},
        )
        await self.pushes.push(tenant_id, room_id, RECORDING_STARTED_EVENT, room_event(session))
        return recording_view(session)

    async def _undo_start(self, recorder: RoomRecorder, tenant_id: str, room_id: str, recording_id: str) -> None:
        await recorder.stop()
        await recorder.close_files()
        await recorder.discard()
        await self.store.unlock_room(tenant_id, room_id, recording_id)

    async def stop(self, request: StopRoomRecording, context: RequestContext) -> Recording:
        tenant_id = context.require_tenant()
        room_id = required_text(request.room_id, "roomId", MAX_ID)
        if not request.room_host:
            check_room_host(context.user_id, await self.hosts.host_ids(tenant_id, room_id), room_id)
        recording_id = await self.store.room_lock_holder(tenant_id, room_id)
        session = await self.store.find(tenant_id, recording_id) if recording_id else None
        if recording_id and (session is None or session.status not in (PENDING, RECORDING)):
            await self.store.unlock_room(tenant_id, room_id, recording_id)  # its recording ended without it
        if session is None or session.status not in (PENDING, RECORDING):
            # Nothing records the room: stopping again changes nothing and answers the last one.
            latest = await self.store.latest_server_recording(tenant_id, room_id)
            if latest is None:
                raise NotFound(f"room {room_id} has no server-side recording", field="roomId")
            return recording_view(latest)
        if session.recorder_id == self.recorder_id:
            return recording_view(await self._stop_local(session.id, "stopped by the host"))
        return await self.bus.request(
            RECORDER_STOP.at(session.recorder_id or "unknown"),
            StopRecorder(recording_id=session.recording_id),
            context=RequestContext(trace_id=context.trace_id, tenant_id=tenant_id),
        )

    async def current(self, request: RoomRecordingQuery, context: RequestContext) -> CurrentRoomRecording:
        """ROOM_RECORDING: the room's recording while it records (anyone in the room may know)."""
        tenant_id = context.require_tenant()
        room_id = required_text(request.room_id, "room_id", MAX_ID)
        recording_id = await self.store.room_lock_holder(tenant_id, room_id)
        session = await self.store.find(tenant_id, recording_id) if recording_id else None
        if session is None or session.status not in (PENDING, RECORDING):
            return CurrentRoomRecording()
        return CurrentRoomRecording(recording=room_event(session))

    async def stop_here(self, request: StopRecorder, context: RequestContext) -> Recording:
        """RECORDER_STOP: another replica hands over a stop of a recording this one records."""
        tenant_id = context.require_tenant()
        for key, active in list(self.active.items()):
            if (active.session.tenant_id, active.session.recording_id) == (tenant_id, request.recording_id):
                return recording_view(await self._stop_local(key, request.reason))
        session = await self.store.find(tenant_id, request.recording_id)
        if session is None:
            raise NotFound("no recording with this recordingId", field="recordingId")
        return recording_view(session)

    # --- stopping and storing ---

    def _stop_needed(self, recorder: RoomRecorder, reason: str) -> None:
        """A recorder must stop by itself (its room closed, or its limit was reached)."""
        for key, active in self.active.items():
            if active.recorder is recorder:
                self._spawn(self._stop_quietly(key, reason), name=f"recording-stop:{recorder.recording_id}")
                return

    async def _stop_quietly(self, key: str, reason: str) -> None:
        try:
            await self._stop_local(key, reason)
        except ServiceError as error:
            log.warning("recording could not be stopped: %s", error.message, extra={"recording_key": key})

    async def _stop_local(self, key: str, reason: str) -> RecordingSession:
        active = self.active.pop(key, None)
        if active is None:
            raise NotFound("this replica does not record it", field="recordingId")
        metrics.RECORDING_ROOMS.set(len(self.active))
        session, recorder = active.session, active.recorder
        await recorder.stop()
        now = self.clock()
        ended_at = session.started_at + timedelta(seconds=recorder.duration)
        stopped = await self.store.mark_server_stopped(session, ended_at, now, recorder_id=self.recorder_id)
        if stopped is None:  # failed, or taken over meanwhile (a replica took this one for lost)
            if active.keeper is not None:
                active.keeper.cancel()
            self._spawn(recorder.discard(), name=f"recording-discard:{session.recording_id}")
            return await self.store.find(session.tenant_id, session.recording_id) or session
        await self.store.unlock_room(session.tenant_id, session.room_id, session.recording_id)
        log.info(
            "room recording stopped",
            extra={"recording_id": session.recording_id, "reason": reason, "seconds": round(recorder.duration, 1)},
        )
        self._spawn(self._store_tracks(stopped, active), name=f"recording-store:{session.recording_id}")
        await self.pushes.push(
            session.tenant_id, session.room_id, RECORDING_STOPPED_EVENT, room_event(stopped, reason=reason)
        )
        await self._publish_stopped(stopped)
        return stopped

    async def _publish_stopped(self, session: RecordingSession) -> None:
        """The meetings service links the recording to the room's meeting (as for client-side ones)."""
        try:
            await self.bus.publish(
                RECORDING_STOPPED,
                RecordingStopped(
                    recording_id=session.recording_id,
                    room_id=session.room_id,
                    stream_id=session.stream_id,
                    user_name=session.user_name,
                    started_at=session.started_at,
                    ended_at=session.ended_at,
                ),
                context=RequestContext(tenant_id=session.tenant_id),
                event_id=stopped_event_id(session.tenant_id, session.recording_id),
            )
        except (nats.errors.Error, TimeoutError) as error:
            log.warning("recording stopped event not published: %s", error, extra={"recording_id": session.id})

    async def _keep_segments(self, active: Active) -> None:
        """Store each finished segment of the recording as it comes (the last ones come when
        the recording stops), until the recorder's closed files are all through."""
        segments = active.recorder.segments
        while True:
            file = await segments.get()
            try:
                await self._keep_segment(active.session, file)
            except asyncio.CancelledError:
                raise
            except Exception as error:  # this segment is lost, not the recording
                log.exception("segment not stored: %s", error, extra={"recording_id": active.session.recording_id})
            finally:
                segments.task_done()

    async def _keep_segment(self, session: RecordingSession, file: RecordedTrackFile) -> None:
        if file.failure:
            log.warning(file.failure, extra={"recording_id": session.recording_id})
        if file.written.frames:
            stored = await self._store_track(session, file)
            if not await self.store.add_tracks(session, [stored], self.recorder_id, self.clock()):
                log.warning(
                    "segment not kept: the recording is no longer this replica's",
                    extra={"recording_id": session.recording_id, "track_id": stored.track_id},
                )
                await self.blobs.delete(stored.key)
        # Stored (or empty): the disk holds only what is being written.
        await asyncio.to_thread(file.written.path.unlink, True)

    async def _store_tracks(self, session: RecordingSession, active: Active) -> None:
        """Finish the track files, put the last segments in the blob store after the others,
        and queue the composition."""
        recorder = active.recorder
        try:
            for file in await recorder.close_files():
                recorder.segments.put_nowait(file)
            await recorder.segments.join()
            if active.keeper is not None:
                active.keeper.cancel()
            stored = await self.store.find(session.tenant_id, session.recording_id)
            reason = nothing_recorded(list(stored.tracks) if stored is not None else [])
            if reason is not None:
                await self._fail(session, reason)
                return
            await self._queue_composition(session)
        except asyncio.CancelledError:
            await asyncio.shield(self._fail(session, "the recording service stopped before the tracks were stored"))
            raise
        except Exception as error:
            log.exception("tracks not stored", extra={"recording_id": session.recording_id})
            await self._fail(session, f"the tracks could not be stored: {error}")
        finally:
            await asyncio.shield(recorder.discard())

    async def _store_track(self, session: RecordingSession, file: RecordedTrackFile) -> StoredTrack:
        track_id = segment_track_id(file.track_id, file.segment)
        key = f"tracks/{session.id}/{track_id}.{file.codec.extension}"
        stored = await self.blobs.write(key, read_file(file.written.path))
        if stored != file.written.size:
            raise OSError(f"stored {stored} bytes of the {file.written.size}-byte file of track {track_id}")
        return StoredTrack(
            track_id=track_id,
            segment=file.segment,
            segment_of=file.track_id if file.segment else "",
            kind=file.codec.kind,
            mime_type=file.codec.mime_type,
            extension=file.codec.extension,
            producer_id=file.producer.producer_id,
            peer_id=file.producer.peer_id,
            peer_name=file.producer.name,
            offset=file.offset,
            duration=file.written.duration,
            size=stored,
            key=key,
            frames=file.written.frames,
            packets=file.packets,
            lost=file.lost,
            width=file.written.width,
            height=file.written.height,
        )

    async def _queue_composition(self, session: RecordingSession) -> None:
        job_id = uuid.uuid4().hex
        previous = await self.store.start_processing(session, job_id, self.canvas, self.clock())
        if previous is None:
            return
        job = ProcessingRequested(
            recording_id=session.recording_id, job_id=job_id, width=self.canvas[0], height=self.canvas[1], kind=GRID
        )
        context = RequestContext(tenant_id=session.tenant_id)
        for attempt in range(QUEUE_ATTEMPTS):
            try:
                await self.bus.publish(PROCESSING_REQUESTED, job, context=context, event_id=f"recording-job:{job_id}")
            except (nats.errors.Error, TimeoutError) as error:
                log.warning("composition job not queued yet: %s", error, extra={"recording_id": session.recording_id})
                await asyncio.sleep(0.5 * 2**attempt)
                continue
            log.info("composition queued", extra={"recording_id": session.recording_id, "job_id": job_id})
            return
        await self.store.undo_processing(session, job_id, previous)
        await self._fail(session, "the composition job could not be queued (JetStream did not answer)")

    async def _fail(self, session: RecordingSession, reason: str) -> None:
        if await self.store.fail_server(session, reason, self.clock()):
            log.warning("room recording failed: %s", reason, extra={"recording_id": session.recording_id})
            await self.pushes.push(
                session.tenant_id, session.room_id, RECORDING_FAILED_EVENT, room_event(session, reason=reason)
            )

    # --- replicas that went away ---

    async def _keep_watch(self) -> None:
        while True:
            try:
                await self.sweep()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("recorder heartbeat failed")
            await asyncio.sleep(self.beat_every)

    async def sweep(self) -> int:
        """Beat for this replica; take over the recordings of replicas silent for `lost_after`
        seconds: each ends where its stored segments end and is composed from them (what the
        silent replica had not finished is lost), or fails when none was stored. Returns how
        many were taken over."""
        now = self.clock()
        await self.store.heartbeat(self.recorder_id, now)
        seen_before = now - timedelta(seconds=self.lost_after)
        taken = 0
        for lost in await self.store.lost_recordings(seen_before):
            if lost.recorder_id == self.recorder_id:
                continue
            session = await self.store.claim_lost(lost, self.recorder_id, seen_before, now)
            if session is None:
                continue  # it beat again, or another replica took it
            taken += 1
            await self._salvage(session, now)
        return taken

    async def _salvage(self, session: RecordingSession, now: datetime) -> None:
        log.warning(
            "room recording of a silent replica taken over",
            extra={"recording_id": session.recording_id, "segments": len(session.tracks)},
        )
        if await self._resume(session, now):
            return
        await self.store.unlock_room(session.tenant_id, session.room_id, session.recording_id)
        if not session.tracks:
            reason = "the recording service replica that recorded it stopped before any of it was stored"
            await self._fail(session, reason)
            return
        if session.status != STOPPED:
            ended_at = session.started_at + timedelta(seconds=recorded_until(list(session.tracks)))
            stopped = await self.store.mark_server_stopped(session, ended_at, now, recorder_id=self.recorder_id)
            if stopped is None:
                return  # it ended meanwhile
            session = stopped
            await self.pushes.push(
                session.tenant_id, session.room_id, RECORDING_STOPPED_EVENT, room_event(session, reason=LOST_SEGMENTS)
            )
            await self._publish_stopped(session)
        await self._queue_composition(session)

    async def _resume(self, session: RecordingSession, now: datetime) -> bool:
        """Go on recording a taken-over recording whose room is still open, here: the tracks of
        producers still there go on in their next segments (what the silent replica had not
        stored is a gap), new producers get new tracks. False when it cannot (it was stopping
        already, the room is open nowhere, or this replica is full or closing)."""
        if session.status not in (PENDING, RECORDING) or self._closing:
            return False
        if len(self.active) + self._starting >= self.max_rooms:
            log.warning("taken-over recording not resumed: this replica is full", extra={"recording_id": session.id})
            return False
        recorder = RoomRecorder(
            tenant_id=session.tenant_id,
            room_id=session.room_id,
            recording_id=session.recording_id,
            nodes=self.nodes,
            mux=self.mux,
            settings=self.settings,
            on_stop_needed=self._stop_needed,
            resumed=resumed_from(list(session.tracks), (now - session.started_at).total_seconds()),
        )
        try:
            await recorder.start()
        except ServiceError:  # the room is open nowhere (or its node does not answer): finish it
            await recorder.discard()
            return False
        active = self.active[session.id] = Active(session, recorder)
        active.keeper = asyncio.create_task(
            self._keep_segments(active), name=f"recording-segments:{session.recording_id}"
        )
        metrics.RECORDING_ROOMS.set(len(self.active))
        active.session = await self.store.mark_recording(session, now) or session
        log.warning("taken-over room recording resumed", extra={"recording_id": session.recording_id})
        await self.pushes.push(
            session.tenant_id, session.room_id, RECORDING_STARTED_EVENT, room_event(active.session, reason=RESUMED)
        )
        return True

    def _spawn(self, work: Coroutine[Any, Any, None], *, name: str) -> None:
        task = asyncio.create_task(work, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def resumed_from(stored: list[StoredTrack], seconds_since_start: float) -> Resumed:
    """Where a taken-over recording goes on from its stored files: each producer's last track
    goes on in its next segment; a new track takes the next number."""
    latest: dict[str, StoredTrack] = {}  # producer id -> its latest file
    for file in stored:
        if file.producer_id not in latest or file.offset > latest[file.producer_id].offset:
            latest[file.producer_id] = file
    tracks = {
        producer_id: (file.track, 1 + max(other.segment for other in stored if other.track == file.track))
        for producer_id, file in latest.items()
    }
    return Resumed(
        seconds_since_start=max(0.0, seconds_since_start),
        tracks=tracks,
        next_number=len({file.track for file in stored}) + 1,
    )


# --- bus adapters ---


class BusMediaNodes:
    """The media nodes' room and tap endpoints (MediaNodes over the bus)."""

    def __init__(self, bus: Bus, *, timeout: float = 5.0) -> None:
        self._bus = bus
        self._timeout = timeout
        self._taps = NodeTaps(bus, timeout=timeout)

    async def place(self, tenant_id: str, room_id: str) -> str:
        placement = await self._bus.request(
            media_contract.PLACE_ROOM,
            media_contract.PlaceRoom(room_id=room_id),
            context=RequestContext(tenant_id=tenant_id),
            timeout=self._timeout,
        )
        return placement.node_id

    async def producers(self, tenant_id: str, node_id: str, room_id: str) -> list[RoomProducer]:
        answer = await self._bus.request(
            media_contract.NODE_ROOM_PRODUCERS.at(node_id),
            media_contract.RoomRef(room_id=room_id),
            context=RequestContext(tenant_id=tenant_id),
            timeout=self._timeout,
        )
        return answer.producers

    # The tap endpoints, asked as every tap receiver asks them.
    async def start_tap(self, tenant_id: str, node_id: str, request: StartTap) -> TapStarted:
        return await self._taps.start(tenant_id, node_id, request)

    async def renew_tap(self, tenant_id: str, node_id: str, request: TapRef) -> None:
        await self._taps.renew(tenant_id, node_id, request)

    async def stop_tap(self, tenant_id: str, node_id: str, request: TapRef) -> None:
        await self._taps.stop(tenant_id, node_id, request)


class BusRoomHosts:
    """Who hosts a room, as the meetings service says."""

    def __init__(self, bus: Bus) -> None:
        self._bus = bus

    async def host_ids(self, tenant_id: str, room_id: str) -> list[str]:
        try:
            details = await self._bus.request(
                meetings_contract.GET_ROOM,
                meetings_contract.GetRoom(room_id=room_id),
                context=RequestContext(tenant_id=tenant_id),
            )
        except NotFound:
            raise NotFound(
                f"no room {room_id}: a room to record is made with POST /room/create", field="roomId"
            ) from None
        return details.host_ids
