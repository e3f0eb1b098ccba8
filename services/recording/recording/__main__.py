"""`python -m recording`: run the recording service."""

import asyncio
import secrets
import socket
import tempfile
from pathlib import Path

from recording.config import RecordingConfig
from recording.domain import Limits
from recording.downloads import DownloadHandlers
from recording.handlers import RecordingHandlers
from recording.jobs import JobRunner, ProcessingHandlers
from recording.processing import Processor
from recording.pushes import RoomPushes
from recording.recorder import RecorderSettings
from recording.room_recordings import BusMediaNodes, BusRoomHosts, RoomRecordings
from recording.scratch import JOB_DIR, ROOM_DIR, sweep_leftovers
from recording.store import RecordingStore
from recording.transcode import Ffmpeg, find_ffmpeg
from recording.uploads import IdleUploadWatch, UploadHandlers
from webinar_contracts import recording as contract
from webinar_runtime.blobs import BlobStore, JetStreamBlobStore, LocalDirectoryBlobStore
from webinar_runtime.service import Service, run_service


async def open_blob_store(service: Service, config: RecordingConfig) -> BlobStore:
    if config.blob_backend == "nats":
        return await JetStreamBlobStore.ensure(
            service.bus.js,
            config.blob_bucket,
            replicas=config.object_store_replicas,
            description="recording chunks and processed recordings",
        )
    return LocalDirectoryBlobStore(Path(config.blob_dir))


async def wire(service: Service, config: RecordingConfig) -> None:
    db = await service.open_mongo(config.mongo_url, config.database)
    store = RecordingStore(db)
    await store.create_indexes()
    blobs = await open_blob_store(service, config)
    handlers = RecordingHandlers(store=store, bus=service.bus, max_page_size=config.max_page_size)
    await service.serve(contract.START, handlers.start)
    await service.serve(contract.STOP, handlers.stop)
    await service.serve(contract.LIST, handlers.list)
    limits = Limits(
        max_chunk_bytes=config.max_chunk_bytes,
        max_recording_bytes=config.max_recording_bytes,
        max_tenant_bytes=config.max_tenant_bytes,
    )
    uploads = UploadHandlers(store=store, blobs=blobs, limits=limits)
    await service.serve(contract.CREATE_FILE, uploads.create_file)
    await service.serve(contract.WRITE_CHUNK, uploads.write_chunk)
    await service.serve(contract.STOP_WRITING, uploads.stop_writing)
    processing = ProcessingHandlers(store=store, bus=service.bus)
    await service.serve(contract.PROCESS, processing.process)
    downloads = DownloadHandlers(store=store, blobs=blobs)
    await service.serve(contract.GET_OUTPUT, downloads.get_output)
    await service.serve(contract.READ_OUTPUT, downloads.read_output)
    pushes = RoomPushes(service.bus)
    # What killed processes left on this disk, before this one adds its own.
    scratch = Path(config.work_dir or tempfile.gettempdir())
    await asyncio.to_thread(sweep_leftovers, scratch, JOB_DIR)
    await asyncio.to_thread(sweep_leftovers, scratch / "rooms", ROOM_DIR)
    runner = JobRunner(
        bus=service.bus,
        store=store,
        blobs=blobs,
        room_pushes=pushes,
        processor=Processor(
            store=store,
            blobs=blobs,
            ffmpeg=Ffmpeg(find_ffmpeg(config.ffmpeg)),
            work_dir=config.work_dir,
            preset=config.x264_preset,
        ),
        workers=config.workers,
        ack_wait=config.job_ack_wait,
        max_attempts=config.job_max_attempts,
    )
    await runner.start()
    service.on_stop(runner.stop)
    idle = IdleUploadWatch(store, idle_seconds=config.upload_idle_seconds)
    idle.start()
    service.on_stop(idle.stop)
    rooms = RoomRecordings(
        store=store,
        bus=service.bus,
        blobs=blobs,
        nodes=BusMediaNodes(service.bus),
        hosts=BusRoomHosts(service.bus),
        pushes=pushes,
        settings=RecorderSettings(
            listen_ip=config.listen_ip,
            announced_ip=await announced_address(config),
            lease_seconds=config.tap_lease_seconds,
            poll_seconds=config.producer_poll_seconds,
            work_dir=scratch / "rooms",
            max_bytes=config.max_recording_bytes,
            segment_seconds=config.segment_seconds,
        ),
        recorder_id=secrets.token_hex(6),
        max_rooms=config.max_rooms,
        max_tenant_bytes=config.max_tenant_bytes,
        canvas=config.canvas,
        # Beat a few times within the time after which other replicas take this one's recordings.
        beat_every=min(5.0, config.lost_after_seconds / 3),
        lost_after=config.lost_after_seconds,
    )
    await rooms.serve(service.bus)
    rooms.start_watch()

    async def stop_recording_rooms() -> None:
        # Half the grace: the bus drains after this, within the rest.
        await rooms.close(timeout=config.shutdown_grace / 2)

    service.on_stop(stop_recording_rooms)


async def announced_address(config: RecordingConfig) -> str:
    """Where media nodes send taps: the configured address, else the listening one, else
    (listening on every interface) this host's own address."""
    if config.announced_ip:
        return config.announced_ip
    if config.listen_ip not in ("0.0.0.0", "::"):
        return config.listen_ip
    return await asyncio.to_thread(socket.gethostbyname, socket.gethostname())


def main() -> None:
    run_service("recording", RecordingConfig, wire)


if __name__ == "__main__":
    main()
