"""`python -m meetings`: run the meetings service."""

from pathlib import Path

from meetings.config import MeetingsConfig
from meetings.handlers import AuthUsers, ChatHandlers, ChatLimits, MeetingsHandlers
from meetings.store import ChatStore, MeetingsStore
from webinar_contracts import meetings as contract
from webinar_contracts.recording import RECORDING_STOPPED
from webinar_contracts.transcription import SUMMARY_GENERATED
from webinar_runtime.blobs import BlobStore, JetStreamBlobStore, LocalDirectoryBlobStore
from webinar_runtime.service import Service, run_service


async def open_blob_store(service: Service, config: MeetingsConfig) -> BlobStore:
    if config.blob_backend == "nats":
        return await JetStreamBlobStore.ensure(
            service.bus.js,
            config.blob_bucket,
            replicas=config.object_store_replicas,
            description="room files of the meetings service",
        )
    return LocalDirectoryBlobStore(Path(config.blob_dir) / "meetings")


async def wire(service: Service, config: MeetingsConfig) -> None:
    db = await service.open_mongo(config.mongo_url, config.database)
    store = MeetingsStore(db)
    await store.create_indexes()
    staging = await JetStreamBlobStore.ensure(
        service.bus.js,
        config.staging_bucket,
        ttl=config.staging_ttl,
        replicas=config.object_store_replicas,
        description="uploads on their way from the gateway to the meetings service",
    )
    handlers = MeetingsHandlers(
        store=store,
        users=AuthUsers(service.bus),
        blobs=await open_blob_store(service, config),
        staging=lambda bucket: staging if bucket == staging.bucket else JetStreamBlobStore(service.bus.js, bucket),
        staging_bucket=staging.bucket,
        max_file_bytes=config.max_file_bytes,
        bus=service.bus,
    )
    await service.serve(contract.GET_MEETING, handlers.get_meeting)
    await service.serve(contract.CREATE_ROOM, handlers.create_room)
    await service.serve(contract.GET_ROOM, handlers.get_room)
    await service.serve(contract.END_ROOM, handlers.end_room)
    await service.serve(contract.CREATE_MEETING, handlers.create_meeting)
    await service.serve(contract.UPDATE_MEETING, handlers.update_meeting)
    await service.serve(contract.LIST_MEETINGS, handlers.list_meetings)
    await service.serve(contract.PREPARE_UPLOAD, handlers.prepare_upload)
    await service.serve(contract.ATTACH_FILE, handlers.attach_file)
    await service.serve(contract.GET_FILE, handlers.get_file)
    await service.serve(contract.READ_FILE, handlers.read_file)
    await service.serve(contract.DELETE_ROOM_FILES, handlers.delete_room_files)
    chat = ChatHandlers(
        chat=ChatStore(
            await service.open_redis(config.redis_url),
            max_messages=config.chat_history_max,
            retention_seconds=config.chat_retention,
            rate_window_seconds=config.chat_rate_window,
        ),
        files=store,
        limits=ChatLimits(
            max_chars=config.chat_max_chars,
            rate_messages=config.chat_rate_messages,
            rate_window=config.chat_rate_window,
        ),
    )
    await service.serve(contract.SEND_CHAT_MESSAGE, chat.send)
    await service.serve(contract.GET_CHAT_HISTORY, chat.history)
    await service.serve(contract.DELETE_CHAT_MESSAGE, chat.delete)
    await service.serve(contract.KEEP_CHAT, chat.keep)
    await service.bus.consume(
        "meetings",
        {RECORDING_STOPPED: handlers.on_recording_stopped, SUMMARY_GENERATED: handlers.on_summary_generated},
    )


def main() -> None:
    run_service("meetings", MeetingsConfig, wire)


if __name__ == "__main__":
    main()
