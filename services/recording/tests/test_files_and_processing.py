"""The recording socket's subjects on a real NATS (JetStream) and the MongoDB-compatible
server, wired as `python -m recording` wires them: files written chunk by chunk into a
local blob store, processed by ffmpeg in a job pulled from JetStream, read back."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
import pytest

from recording.domain import Limits
from recording.downloads import DownloadHandlers
from recording.handlers import RecordingHandlers
from recording.jobs import JobRunner, ProcessingHandlers
from recording.processing import Processor
from recording.store import RecordingStore
from recording.transcode import Ffmpeg, MediaInfo
from recording.uploads import IdleUploadWatch, UploadHandlers
from webinar_contracts import Conflict, InvalidInput, NotFound, RequestContext, TooLarge, Unauthorized
from webinar_contracts import recording as contract
from webinar_contracts.recording import (
    CreateFile,
    GetOutput,
    ListRecordings,
    ProcessRecording,
    ReadOutput,
    RecordingPush,
    StartRecording,
    StopRecording,
    StopWriting,
    WriteChunk,
)
from webinar_runtime.blobs import BlobStore, JetStreamBlobStore, LocalDirectoryBlobStore
from webinar_runtime.bus import Bus
from webinar_runtime.stores import connect_mongo

MIME = "video/webm;codecs=vp8,opus"
PIECE = 16 * 1024
LIMITS = Limits(max_chunk_bytes=64 * 1024, max_recording_bytes=1024 * 1024, max_tenant_bytes=1536 * 1024)


@dataclass
class Stack:
    bus: Bus
    store: RecordingStore
    blob_dir: Path
    runner: JobRunner
    pushes: "asyncio.Queue[RecordingPush]"
    ffmpeg: Ffmpeg

    async def ask(self, endpoint: Any, message: msgspec.Struct, context: RequestContext) -> Any:
        return await self.bus.request(endpoint, message, context=context, timeout=10)

    async def outcome(self, recording_id: str, timeout: float = 90) -> RecordingPush:
        """The ready or failed push of a recording (progress pushes are skipped)."""
        async with asyncio.timeout(timeout):
            while True:
                push = await self.pushes.get()
                if push.recording_id == recording_id and push.status in (contract.READY, contract.FAILED):
                    return push


@pytest.fixture
def blob_backend() -> str:
    """Where the stack keeps blobs: `local` (a directory), or `nats` (a JetStream object store)."""
    return "local"


@pytest.fixture
async def stack(private_nats_url, mongo_url, tmp_path, ffmpeg_program, blob_backend) -> AsyncIterator[Stack]:
    client = await connect_mongo(mongo_url, attempts=5)
    db = client[f"recording_files_{uuid.uuid4().hex[:8]}"]
    store = RecordingStore(db)
    await store.create_indexes()
    bus = await Bus.connect(private_nats_url, service="recording", instance="test", request_timeout=10)
    await bus.ensure_event_stream()
    blobs: BlobStore = LocalDirectoryBlobStore(tmp_path / "blobs")
    if blob_backend == "nats":
        blobs = await JetStreamBlobStore.ensure(bus.js, f"recording_test_{uuid.uuid4().hex[:8]}")
    ffmpeg = Ffmpeg(ffmpeg_program)
    recordings = RecordingHandlers(store=store, bus=bus, max_page_size=100)
    uploads = UploadHandlers(store=store, blobs=blobs, limits=LIMITS)
    processing = ProcessingHandlers(store=store, bus=bus)
    downloads = DownloadHandlers(store=store, blobs=blobs)
    for endpoint, handler in (
        (contract.START, recordings.start),
        (contract.STOP, recordings.stop),
        (contract.LIST, recordings.list),
        (contract.CREATE_FILE, uploads.create_file),
        (contract.WRITE_CHUNK, uploads.write_chunk),
        (contract.STOP_WRITING, uploads.stop_writing),
        (contract.PROCESS, processing.process),
        (contract.GET_OUTPUT, downloads.get_output),
        (contract.READ_OUTPUT, downloads.read_output),
    ):
        await bus.serve(endpoint, handler)
    runner = JobRunner(
        bus=bus,
        store=store,
        blobs=blobs,
        processor=Processor(store=store, blobs=blobs, ffmpeg=ffmpeg, work_dir=str(tmp_path)),
        workers=1,
        ack_wait=5,
        max_attempts=2,
    )
    pushes: asyncio.Queue[RecordingPush] = asyncio.Queue()

    async def on_push(msg) -> None:  # type: ignore[no-untyped-def]
        await pushes.put(msgspec.json.decode(msg.data, type=RecordingPush))

    subscription = await bus.nc.subscribe(contract.PUSH_SUBJECT, cb=on_push)
    await runner.start()
    yield Stack(bus=bus, store=store, blob_dir=tmp_path / "blobs", runner=runner, pushes=pushes, ffmpeg=ffmpeg)
    await runner.stop()
    await subscription.unsubscribe()
    await bus.stop_taking_work()
    await bus.finish_in_flight(2)
    await bus.close()
    await client.drop_database(db.name)
    await client.close()


@pytest.fixture
def tenant() -> RequestContext:
    return RequestContext(tenant_id=f"tenant-{uuid.uuid4().hex[:8]}")


def new_recording_id() -> str:
    return f"rec-{uuid.uuid4().hex[:10]}"


def pieces_of(data: bytes, size: int = PIECE) -> list[bytes]:
    return [data[at : at + size] for at in range(0, len(data), size)]


async def open_file(stack: Stack, tenant: RequestContext, recording_id: str, track_id: str, **fields: object):
    request = CreateFile(
        recording_id=recording_id,
        track_id=track_id,
        mime_type=MIME,
        room_id="room-1",
        user_name="Rowan Host",
        **fields,  # type: ignore[arg-type]
    )
    return await stack.ask(contract.CREATE_FILE, request, tenant)


async def send(stack: Stack, tenant: RequestContext, recording_id: str, track_id: str, seq: int, data: bytes):
    chunk = WriteChunk(recording_id=recording_id, track_id=track_id, seq=seq, data=data)
    return await stack.ask(contract.WRITE_CHUNK, chunk, tenant)


async def upload(
    stack: Stack, tenant: RequestContext, recording_id: str, track_id: str, data: bytes, **fields: object
) -> int:
    """Open, write every piece of `data` and close a track's file; returns its chunk count."""
    await open_file(stack, tenant, recording_id, track_id, **fields)
    chunks = pieces_of(data)
    for seq, piece in enumerate(chunks):
        await send(stack, tenant, recording_id, track_id, seq, piece)
    closed = await stack.ask(
        contract.STOP_WRITING,
        StopWriting(recording_id=recording_id, track_id=track_id, last_seq=len(chunks) - 1),
        tenant,
    )
    assert closed.complete
    return len(chunks)


async def download(stack: Stack, recording_id: str, context: RequestContext, path: Path, token: str | None = None):
    details = await stack.ask(contract.GET_OUTPUT, GetOutput(recording_id=recording_id, token=token), context)
    with path.open("wb") as out:
        offset = 0
        while offset < details.size:
            read = ReadOutput(recording_id=recording_id, offset=offset, length=256 * 1024, token=token)
            chunk = await stack.ask(contract.READ_OUTPUT, read, context)
            out.write(chunk.data)
            offset += len(chunk.data)
    return details


def chunk_blobs(stack: Stack) -> list[Path]:
    return sorted(path for path in (stack.blob_dir / "chunks").rglob("*") if path.is_file())


async def test_two_tracks_of_different_sizes_become_one_mp4_of_the_target_size_lasting_their_sum(
    stack, tenant, webm_files, pixel, tmp_path
):
    recording_id = new_recording_id()
    base = 1_760_000_000_000
    # Opened small first, but the wide track started first: time order puts it first.
    await upload(stack, tenant, recording_id, "small", webm_files["small"].read_bytes(), start_time=base + 10_000)
    await upload(stack, tenant, recording_id, "wide", webm_files["wide"].read_bytes(), start_time=base)

    queued = await stack.ask(
        contract.PROCESS, ProcessRecording(recording_id=recording_id, width=640, height=360), tenant
    )
    assert queued.status == "processing"
    ready = await stack.outcome(recording_id)
    assert ready.status == "ready", ready.reason
    assert (ready.width, ready.height) == (640, 360)

    output = tmp_path / "joined.mp4"
    details = await download(stack, recording_id, tenant, output)
    assert details.content_type == "video/mp4"
    assert details.size == output.stat().st_size == ready.size
    info: MediaInfo = await stack.ffmpeg.probe(output)
    assert (info.has_video, info.has_audio, info.size) == (True, True, (640, 360))
    assert info.duration == pytest.approx(5.0, abs=0.3)
    # 1 s in: the wide blue track, filling the frame; 4 s in: the small red one, 4:3 in black bars.
    blue = pixel(output, 1.0, 320, 180)
    assert blue[2] > 150, blue
    assert blue[0] < 80, blue
    red = pixel(output, 4.0, 320, 180)
    assert red[0] > 150, red
    assert red[2] < 80, red
    assert max(pixel(output, 4.0, 10, 180)) < 40

    [listed] = (await stack.ask(contract.LIST, ListRecordings(), tenant)).data
    assert (listed.status, listed.size, listed.download_url) == ("ready", details.size, ready.download_url)
    assert listed.duration == pytest.approx(info.duration, abs=0.05)
    # The chunks are in the file now: their blobs are gone, the file is counted instead.
    assert chunk_blobs(stack) == []
    assert await stack.store.tenant_usage(tenant.tenant_id or "") == details.size


@pytest.mark.parametrize("blob_backend", ["local", "nats"])
async def test_a_ready_file_is_read_by_its_link_token_without_a_tenant_and_by_no_other_tenant(
    stack, tenant, webm_files, tmp_path
):
    recording_id = new_recording_id()
    await upload(stack, tenant, recording_id, "cam", webm_files["small"].read_bytes())
    await stack.ask(contract.PROCESS, ProcessRecording(recording_id=recording_id), tenant)
    ready = await stack.outcome(recording_id)
    assert ready.status == "ready", ready.reason
    assert ready.download_url is not None
    token = ready.download_url.split("?token=", 1)[1]
    anonymous = RequestContext()
    details = await download(stack, recording_id, anonymous, tmp_path / "by-token.mp4", token=token)
    assert (tmp_path / "by-token.mp4").stat().st_size == details.size
    # The default size is the largest file's.
    assert (await stack.ffmpeg.probe(tmp_path / "by-token.mp4")).size == (320, 240)
    with pytest.raises(NotFound):
        await stack.ask(contract.GET_OUTPUT, GetOutput(recording_id=recording_id, token="not-the-token"), anonymous)
    with pytest.raises(Unauthorized):
        await stack.ask(contract.GET_OUTPUT, GetOutput(recording_id=recording_id), anonymous)
    other = RequestContext(tenant_id=f"tenant-{uuid.uuid4().hex[:8]}")
    with pytest.raises(NotFound):
        await stack.ask(contract.GET_OUTPUT, GetOutput(recording_id=recording_id), other)


async def test_a_missing_chunk_is_reported_by_stop_writing_and_may_still_be_sent(stack, tenant, webm_files):
    recording_id = new_recording_id()
    chunks = pieces_of(webm_files["small"].read_bytes(), 2048)
    assert len(chunks) >= 4
    await open_file(stack, tenant, recording_id, "cam")
    for seq, piece in enumerate(chunks):
        if seq not in (1, len(chunks) - 1):
            await send(stack, tenant, recording_id, "cam", seq, piece)
    last = len(chunks) - 1
    closed = await stack.ask(
        contract.STOP_WRITING, StopWriting(recording_id=recording_id, track_id="cam", last_seq=last), tenant
    )
    assert (closed.complete, closed.missing, closed.missing_count, closed.chunks) == (False, [1, last], 2, last - 1)
    with pytest.raises(Conflict) as refused:
        await stack.ask(contract.PROCESS, ProcessRecording(recording_id=recording_id), tenant)
    assert "misses 2 chunk" in refused.value.message
    # A chunk past the end of a closed file is refused; the missing ones are taken.
    with pytest.raises(Conflict):
        await send(stack, tenant, recording_id, "cam", last + 1, b"late")
    await send(stack, tenant, recording_id, "cam", 1, chunks[1])
    await send(stack, tenant, recording_id, "cam", last, chunks[last])
    again = await stack.ask(contract.STOP_WRITING, StopWriting(recording_id=recording_id, track_id="cam"), tenant)
    assert (again.complete, again.missing, again.chunks) == (True, [], len(chunks))
    assert again.bytes == webm_files["small"].stat().st_size


async def test_a_resent_chunk_is_written_once_and_counted_once(stack, tenant):
    recording_id = new_recording_id()
    await open_file(stack, tenant, recording_id, "cam")
    data = b"x" * 1000
    first, *resent = await asyncio.gather(*(send(stack, tenant, recording_id, "cam", 0, data) for _ in range(4)))
    answers = [first, *resent]
    assert sorted(answer.duplicate for answer in answers) == [False, True, True, True]
    later = await send(stack, tenant, recording_id, "cam", 0, data)
    assert later.duplicate
    assert later.recording_bytes == 1000
    assert len(chunk_blobs(stack)) == 1
    assert await stack.store.tenant_usage(tenant.tenant_id or "") == 1000
    closed = await stack.ask(contract.STOP_WRITING, StopWriting(recording_id=recording_id, track_id="cam"), tenant)
    assert (closed.chunks, closed.bytes, closed.complete) == (1, 1000, True)


async def test_a_client_that_reconnects_reopens_its_file_and_learns_where_to_go_on(stack, tenant):
    recording_id = new_recording_id()
    await open_file(stack, tenant, recording_id, "cam")
    for seq in range(3):
        await send(stack, tenant, recording_id, "cam", seq, b"abc")
    again = await open_file(stack, tenant, recording_id, "cam")
    assert (again.next_seq, again.bytes, again.status) == (3, 9, "recording")
    with pytest.raises(Conflict) as other_type:
        await stack.ask(
            contract.CREATE_FILE,
            CreateFile(recording_id=recording_id, track_id="cam", mime_type="audio/webm"),
            tenant,
        )
    assert other_type.value.field == "mimeType"


async def test_oversize_is_refused_and_nothing_of_it_is_kept(stack, tenant):
    recording_id = new_recording_id()
    await open_file(stack, tenant, recording_id, "cam")
    with pytest.raises(TooLarge) as chunk_too_big:
        await send(stack, tenant, recording_id, "cam", 0, b"x" * (LIMITS.max_chunk_bytes + 1))
    assert chunk_too_big.value.field == "data"
    piece = b"x" * LIMITS.max_chunk_bytes
    per_recording = LIMITS.max_recording_bytes // len(piece)
    for seq in range(per_recording):
        await send(stack, tenant, recording_id, "cam", seq, piece)
    with pytest.raises(TooLarge) as recording_full:
        await send(stack, tenant, recording_id, "cam", per_recording, piece)
    assert f"recording {recording_id} would pass its limit of {LIMITS.max_recording_bytes} bytes" in (
        recording_full.value.message
    )
    # The tenant's other recordings count towards its own limit.
    second = new_recording_id()
    await open_file(stack, tenant, second, "cam")
    left = (LIMITS.max_tenant_bytes - LIMITS.max_recording_bytes) // len(piece)
    for seq in range(left):
        await send(stack, tenant, second, "cam", seq, piece)
    with pytest.raises(TooLarge) as tenant_full:
        await send(stack, tenant, second, "cam", left, piece)
    assert f"this tenant's recordings would pass their limit of {LIMITS.max_tenant_bytes} bytes" in (
        tenant_full.value.message
    )
    assert await stack.store.tenant_usage(tenant.tenant_id or "") == LIMITS.max_tenant_bytes
    assert len(chunk_blobs(stack)) == per_recording + left
    # Another tenant is not held back by this one.
    other = RequestContext(tenant_id=f"tenant-{uuid.uuid4().hex[:8]}")
    await open_file(stack, other, recording_id, "cam")
    assert not (await send(stack, other, recording_id, "cam", 0, piece)).duplicate


async def test_a_file_that_is_not_media_fails_the_recording_with_the_reason(stack, tenant):
    recording_id = new_recording_id()
    await upload(stack, tenant, recording_id, "cam", b"this is not a webm file at all " * 40)
    await stack.ask(contract.PROCESS, ProcessRecording(recording_id=recording_id), tenant)
    failed = await stack.outcome(recording_id)
    assert failed.status == "failed"
    assert failed.reason is not None
    assert "the file of track cam" in failed.reason
    [listed] = (await stack.ask(contract.LIST, ListRecordings(), tenant)).data
    assert (listed.status, listed.failure_reason, listed.download_url) == ("failed", failed.reason, None)
    with pytest.raises(Conflict):
        await stack.ask(contract.GET_OUTPUT, GetOutput(recording_id=recording_id), tenant)


async def test_a_job_whose_tries_all_stopped_midway_marks_the_recording_failed(stack, tenant, webm_files):
    recording_id = new_recording_id()
    await upload(stack, tenant, recording_id, "cam", webm_files["small"].read_bytes())
    await stack.runner.stop()  # no runner takes the job: the test plays the crashed tries
    await stack.ask(contract.PROCESS, ProcessRecording(recording_id=recording_id), tenant)
    session = await stack.store.find(tenant.tenant_id or "", recording_id)
    assert session is not None
    assert session.job_id is not None
    job = contract.ProcessingRequested(recording_id=recording_id, job_id=session.job_id)
    for _ in range(stack.runner.max_attempts):  # tries that died before they finished
        assert await stack.store.claim_job(tenant.tenant_id or "", recording_id, session.job_id, datetime.now(UTC))
    assert await stack.runner.run_job(tenant.tenant_id or "", job) is True
    failed = await stack.store.find(tenant.tenant_id or "", recording_id)
    assert failed is not None
    assert failed.status == "failed"
    assert failed.failure_reason == (
        "processing was tried 2 times and never finished (its worker stopped or failed each time)"
    )
    # A repeated delivery of the finished job changes nothing.
    assert await stack.runner.run_job(tenant.tenant_id or "", job) is True
    assert (await stack.store.find(tenant.tenant_id or "", recording_id)).status == "failed"  # type: ignore[union-attr]


async def test_process_answers_the_state_of_a_recording_already_processing_or_ready(stack, tenant, webm_files):
    recording_id = new_recording_id()
    with pytest.raises(NotFound):
        await stack.ask(contract.PROCESS, ProcessRecording(recording_id=recording_id), tenant)
    await open_file(stack, tenant, recording_id, "cam")
    with pytest.raises(Conflict) as still_open:
        await stack.ask(contract.PROCESS, ProcessRecording(recording_id=recording_id), tenant)
    assert still_open.value.field == "trackId"
    with pytest.raises(InvalidInput) as half_a_size:
        await stack.ask(contract.PROCESS, ProcessRecording(recording_id=recording_id, width=640), tenant)
    assert half_a_size.value.field == "height"
    await stack.ask(contract.STOP_WRITING, StopWriting(recording_id=recording_id, track_id="cam", last_seq=-1), tenant)
    with pytest.raises(InvalidInput):  # a file with no chunk
        await stack.ask(contract.PROCESS, ProcessRecording(recording_id=recording_id), tenant)

    second = new_recording_id()
    await upload(stack, tenant, second, "cam", webm_files["small"].read_bytes())
    first = await stack.ask(contract.PROCESS, ProcessRecording(recording_id=second), tenant)
    repeated = await stack.ask(contract.PROCESS, ProcessRecording(recording_id=second), tenant)
    assert (first.status, repeated.status) == ("processing", "processing")
    ready = await stack.outcome(second)
    after = await stack.ask(contract.PROCESS, ProcessRecording(recording_id=second), tenant)
    assert (after.status, after.percent, after.download_url) == ("ready", 100, ready.download_url)
    # A stop after processing keeps the pipeline's status; no file is added any more.
    stop = StopRecording(recording_id=second, stream_id="cam", end_time=datetime.now(UTC).isoformat())
    await stack.ask(contract.STOP, stop, tenant)
    [listed] = [r for r in (await stack.ask(contract.LIST, ListRecordings(), tenant)).data if r.recording_id == second]
    assert listed.status == "ready"
    with pytest.raises(Conflict):
        await open_file(stack, tenant, second, "screen")


async def test_a_recording_started_over_rest_gets_its_files_and_a_service_status_cannot_be_given_at_start(
    stack, tenant
):
    recording_id = new_recording_id()
    start = StartRecording(
        room_id="room-9",
        user_name="Rowan Host",
        stream_id=7,
        recording_id=recording_id,
        start_time=1756364334634,
        video_type="video",
        status="pending",
    )
    assert (await stack.ask(contract.START, start, tenant)).status == "pending"
    opened = await stack.ask(
        contract.CREATE_FILE, CreateFile(recording_id=recording_id, track_id="cam", mime_type=MIME), tenant
    )
    assert opened.status == "recording"
    with pytest.raises(NotFound) as unknown:
        await stack.ask(
            contract.CREATE_FILE, CreateFile(recording_id="never-started", track_id="cam", mime_type=MIME), tenant
        )
    assert unknown.value.field == "recordingId"
    with pytest.raises(InvalidInput) as service_status:
        await stack.ask(contract.START, msgspec.structs.replace(start, recording_id="r2", status="ready"), tenant)
    assert service_status.value.field == "status"


async def test_an_upload_nobody_finishes_is_marked_failed_with_the_reason(stack, tenant):
    recording_id = new_recording_id()
    await open_file(stack, tenant, recording_id, "cam")
    await send(stack, tenant, recording_id, "cam", 0, b"abc")
    later = datetime.now(UTC) + timedelta(seconds=120)
    assert await IdleUploadWatch(stack.store, idle_seconds=3600, clock=lambda: later).sweep() == 0
    assert await IdleUploadWatch(stack.store, idle_seconds=60, clock=lambda: later).sweep() == 1
    failed = await stack.store.find(tenant.tenant_id or "", recording_id)
    assert failed is not None
    assert (failed.status, failed.failure_reason) == (
        "failed",
        "upload abandoned: no chunk for 60s while a file was still open",
    )
    with pytest.raises(Conflict):
        await send(stack, tenant, recording_id, "cam", 1, b"def")
