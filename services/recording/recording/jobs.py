"""Processing jobs: `process-recording` queues one on JetStream (an event on the events
stream), and every replica of the recording service pulls from one durable consumer, so
they share the jobs. A job's message is acknowledged only once the recording is ready or
failed; while it runs, the replica tells JetStream it is still working, so a replica that
crashes (and stops telling) loses its job to another after RECORDING_JOB_ACK_WAIT_SECONDS.
Each try is counted on the recording: past RECORDING_JOB_MAX_ATTEMPTS it is marked failed,
with the reason. A recording is ready only with a stored, checked file.

What a job does is pushed to the sockets of the recording (core NATS, relayed by a gateway):
its percent as it goes, then ready with its link, or failed with the reason.
"""

import asyncio
import contextlib
import logging
import secrets
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

import msgspec
import nats.errors
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from recording.domain import (
    MAX_ID,
    RecordingSession,
    TrackFile,
    check_processable,
    server_side_refusal,
    target_size,
)
from recording.handlers import download_link, room_event
from recording.processing import Output, PercentCallback, ProcessingFailed, Processor
from recording.pushes import RoomPushes
from recording.store import RecordingStore
from webinar_contracts import Conflict, NotFound, RequestContext, Unavailable
from webinar_contracts.recording import (
    FAILED,
    GRID,
    PROCESSING,
    PROCESSING_REQUESTED,
    PUSH_SUBJECT,
    READY,
    RECORDING_FAILED_EVENT,
    RECORDING_READY_EVENT,
    ProcessingRequested,
    ProcessingState,
    ProcessRecording,
    RecordingPush,
)
from webinar_contracts.validation import required_text
from webinar_runtime.blobs import BlobStore
from webinar_runtime.bus import EVENT_STREAM, Bus

log = logging.getLogger("recording.jobs")

DURABLE = "recording-processing"
PROGRESS_EVERY = 0.5  # seconds between two progress pushes of one job


def _utc_now() -> datetime:
    return datetime.now(UTC)


def processing_state(session: RecordingSession) -> ProcessingState:
    return ProcessingState(
        recording_id=session.recording_id,
        status=session.status,
        percent=session.percent,
        download_url=download_link(session),
        reason=session.failure_reason if session.status == FAILED else None,
    )


class Pushes:
    """Tells the sockets of a recording what its job does (best effort: a push that cannot be
    sent is logged; the recording's status says the same to anyone who asks)."""

    def __init__(self, bus: Bus) -> None:
        self.bus = bus

    async def send(self, push: RecordingPush) -> None:
        try:
            await self.bus.nc.publish(PUSH_SUBJECT, msgspec.json.encode(push))
        except nats.errors.Error as error:
            log.warning("recording push not sent", extra={"recording_id": push.recording_id, "reason": str(error)})


class ProcessingHandlers:
    """`process-recording` over the bus: check the files, queue the job."""

    def __init__(self, *, store: RecordingStore, bus: Bus, clock: Callable[[], datetime] = _utc_now) -> None:
        self.store = store
        self.bus = bus
        self.clock = clock

    async def process(self, request: ProcessRecording, context: RequestContext) -> ProcessingState:
        tenant_id = context.require_tenant()
        recording_id = required_text(request.recording_id, "recordingId", MAX_ID)
        target = target_size(request)
        session = await self.store.find(tenant_id, recording_id)
        if session is None:
            raise NotFound("no recording with this recordingId", field="recordingId")
        if session.status in (PROCESSING, READY):
            return processing_state(session)
        if session.server_side:
            raise Conflict(server_side_refusal(session), field="recordingId")
        files = await self.store.files_of(tenant_id, recording_id)
        check_processable(recording_id, files)
        await self.store.reconcile_bytes(session, sum(file.bytes for file in files))
        job_id = uuid.uuid4().hex
        previous = await self.store.start_processing(session, job_id, target, self.clock())
        if previous is None:  # another request started it first
            current = await self.store.find(tenant_id, recording_id)
            return processing_state(current or session)
        job = ProcessingRequested(
            recording_id=recording_id,
            job_id=job_id,
            width=target[0] if target else None,
            height=target[1] if target else None,
        )
        try:
            await self.bus.publish(PROCESSING_REQUESTED, job, context=context, event_id=f"recording-job:{job_id}")
        except (nats.errors.Error, TimeoutError) as error:
            await self.store.undo_processing(session, job_id, previous)
            raise Unavailable("the processing job could not be queued: try again") from error
        log.info("processing queued", extra={"tenant_id": tenant_id, "recording_id": recording_id, "job_id": job_id})
        return ProcessingState(recording_id=recording_id, status=PROCESSING, percent=0)


class JobRunner:
    """Pulls processing jobs and runs up to `workers` at once (each an ffmpeg process)."""

    def __init__(
        self,
        *,
        bus: Bus,
        store: RecordingStore,
        blobs: BlobStore,
        processor: Processor,
        workers: int,
        ack_wait: float,
        max_attempts: int,
        room_pushes: "RoomPushes | None" = None,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self.bus = bus
        self.store = store
        self.blobs = blobs
        self.processor = processor
        self.room_pushes = room_pushes
        self.pushes = Pushes(bus)
        self.ack_wait = ack_wait
        self.max_attempts = max_attempts
        self.clock = clock
        self._slots = asyncio.Semaphore(workers)
        self._running: set[asyncio.Task[None]] = set()
        self._loop: asyncio.Task[None] | None = None
        self._subscription: JetStreamContext.PullSubscription | None = None

    async def start(self) -> None:
        config = ConsumerConfig(
            durable_name=DURABLE,
            filter_subject=PROCESSING_REQUESTED.subject,
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            ack_wait=self.ack_wait,
            max_deliver=-1,  # the recording counts its tries (a job that never starts is not a try)
        )
        await self.bus.js.add_consumer(EVENT_STREAM, config)
        subscription = await self.bus.js.pull_subscribe_bind(durable=DURABLE, stream=EVENT_STREAM)
        self._subscription = subscription
        self._loop = asyncio.create_task(self._pull(subscription), name="recording:jobs")

    async def stop(self) -> None:
        """Take no more jobs; stop the running ones and hand them back at once (a shutdown is
        not a failed try)."""
        if self._loop is not None:
            self._loop.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop
            self._loop = None
        running = list(self._running)
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)
        if self._subscription is not None:
            with contextlib.suppress(nats.errors.Error):
                await self._subscription.unsubscribe()
            self._subscription = None

    async def _pull(self, subscription: JetStreamContext.PullSubscription) -> None:
        while True:
            await self._slots.acquire()
            try:
                batch = await subscription.fetch(batch=1, timeout=1)
            except nats.errors.TimeoutError:
                self._slots.release()
                continue
            except asyncio.CancelledError:
                self._slots.release()
                raise
            except Exception:
                self._slots.release()
                log.exception("job fetch failed")
                await asyncio.sleep(1)
                continue
            if not batch:
                self._slots.release()
                continue
            task = asyncio.create_task(self._deliver(batch[0]), name="recording:job")
            self._running.add(task)
            task.add_done_callback(self._job_done)

    def _job_done(self, task: asyncio.Task[None]) -> None:
        self._running.discard(task)
        self._slots.release()

    async def _keep_alive(self, msg: Msg) -> None:
        while True:
            await asyncio.sleep(self.ack_wait / 3)
            try:
                await msg.in_progress()
            except nats.errors.Error as error:
                log.warning("could not tell JetStream the job goes on", extra={"reason": str(error)})

    async def _deliver(self, msg: Msg) -> None:
        context = RequestContext.from_headers(msg.headers)
        try:
            job = msgspec.json.decode(msg.data, type=ProcessingRequested)
        except msgspec.MsgspecError:
            log.error("dropping a processing job that cannot be read")
            await msg.term()
            return
        if not context.tenant_id:
            log.error("dropping a processing job without a tenant", extra={"recording_id": job.recording_id})
            await msg.term()
            return
        keep_alive = asyncio.create_task(self._keep_alive(msg))
        try:
            finished = await self.run_job(context.tenant_id, job)
        except asyncio.CancelledError:
            with contextlib.suppress(nats.errors.Error):
                await asyncio.shield(msg.nak())
            raise
        except Exception:
            log.exception("processing job failed; it will be tried again", extra={"job_id": job.job_id})
            finished = False
        finally:
            keep_alive.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keep_alive
        if finished:
            await msg.ack()
        else:
            attempt = msg.metadata.num_delivered or 1
            await msg.nak(delay=min(30.0, 0.5 * 2**attempt))

    async def run_job(self, tenant_id: str, job: ProcessingRequested) -> bool:
        """Run one try of a job. True: the job is over (ready, failed, or not the recording's
        current job any more); False: try it again later. Raises on a passing fault."""
        session = await self.store.claim_job(tenant_id, job.recording_id, job.job_id, self.clock())
        if session is None:
            return True
        if session.attempts > self.max_attempts:
            reason = (
                f"processing was tried {self.max_attempts} times and never finished "
                "(its worker stopped or failed each time)"
            )
            await self._fail(session, job, reason)
            return True
        log.info(
            "processing", extra={"tenant_id": tenant_id, "recording_id": job.recording_id, "try": session.attempts}
        )
        await self.pushes.send(
            RecordingPush(tenant_id=tenant_id, recording_id=job.recording_id, status=PROCESSING, percent=0)
        )
        files = [] if job.kind == GRID else await self.store.files_of(tenant_id, job.recording_id)
        target = (job.width, job.height) if job.width and job.height else None
        try:
            if job.kind == GRID:
                output = await self._compose(session, job, target)
            else:
                output = await self.processor.process(
                    recording_key=session.id,
                    job_id=job.job_id,
                    files=files,
                    target=target,
                    on_percent=self._reporter(session, job),
                )
        except ProcessingFailed as failure:
            await self._fail(session, job, str(failure))
            return True
        except asyncio.CancelledError:
            await asyncio.shield(self.store.give_back_job(session, job.job_id))
            raise
        ready = await self.store.mark_ready(
            session,
            job.job_id,
            output_key=output.key,
            size=output.size,
            duration=output.duration,
            token=secrets.token_urlsafe(24),
            now=self.clock(),
        )
        if ready is None:  # the recording moved on meanwhile: this file is nobody's
            await self.blobs.delete(output.key)
            return True
        if job.kind == GRID:  # its tracks stay (they are counted already); the grid counts too
            await self.store.add_usage(tenant_id, output.size)
            await self._tell_room(ready, RECORDING_READY_EVENT)
        else:
            await self._drop_chunks(ready, files, output.size)
        log.info("recording ready", extra={"tenant_id": tenant_id, "recording_id": job.recording_id})
        await self.pushes.send(
            RecordingPush(
                tenant_id=tenant_id,
                recording_id=job.recording_id,
                status=READY,
                percent=100,
                download_url=download_link(ready),
                size=output.size,
                duration=output.duration,
                width=output.width,
                height=output.height,
            )
        )
        return True

    async def _compose(
        self, session: RecordingSession, job: ProcessingRequested, target: tuple[int, int] | None
    ) -> Output:
        if session.ended_at is None or target is None:
            raise ProcessingFailed("the recording has no end or no size to compose it to")
        return await self.processor.compose(
            recording_key=session.id,
            job_id=job.job_id,
            tracks=list(session.tracks),
            duration=(session.ended_at - session.started_at).total_seconds(),
            canvas=target,
            on_percent=self._reporter(session, job),
        )

    async def _tell_room(self, session: RecordingSession, event: str) -> None:
        """A server-side recording's room hears how its recording ended (best effort)."""
        if self.room_pushes is not None and session.server_side:
            await self.room_pushes.push(session.tenant_id, session.room_id, event, room_event(session))

    def _reporter(self, session: RecordingSession, job: ProcessingRequested) -> PercentCallback:
        last_percent = 0
        last_at = 0.0

        async def report(percent: int) -> None:
            nonlocal last_percent, last_at
            now = time.monotonic()
            if percent <= last_percent or now - last_at < PROGRESS_EVERY:
                return
            last_percent, last_at = percent, now
            try:
                await self.store.set_percent(session, job.job_id, percent)
            except Exception:  # progress is advisory: a missed update must not end the job
                log.warning("could not store a job's progress", exc_info=True)
            await self.pushes.send(
                RecordingPush(
                    tenant_id=session.tenant_id, recording_id=job.recording_id, status=PROCESSING, percent=percent
                )
            )

        return report

    async def _fail(self, session: RecordingSession, job: ProcessingRequested, reason: str) -> None:
        if await self.store.mark_failed(session, reason, self.clock(), job_id=job.job_id):
            log.warning(
                "recording failed",
                extra={"tenant_id": session.tenant_id, "recording_id": job.recording_id, "reason": reason},
            )
            await self.pushes.send(
                RecordingPush(tenant_id=session.tenant_id, recording_id=job.recording_id, status=FAILED, reason=reason)
            )
            failed = await self.store.find(session.tenant_id, session.recording_id)
            await self._tell_room(failed or session, RECORDING_FAILED_EVENT)

    async def _drop_chunks(self, session: RecordingSession, files: list[TrackFile], output_size: int) -> None:
        """The chunks are in the processed file now: delete them, and count the file instead."""
        try:
            for file in files:
                async for key in self.store.chunk_keys(file):
                    await self.blobs.delete(key)
            await self.store.drop_chunks(files)
            await self.store.add_usage(session.tenant_id, output_size - session.bytes)
        except Exception:
            log.exception("could not delete a processed recording's chunks", extra={"recording_id": session.id})
