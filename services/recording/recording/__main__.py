"""`python -m recording`: run the recording service."""

from recording.config import RecordingConfig
from recording.handlers import RecordingHandlers
from recording.store import RecordingStore
from webinar_contracts import recording as contract
from webinar_runtime.service import Service, run_service


async def wire(service: Service, config: RecordingConfig) -> None:
    db = await service.open_mongo(config.mongo_url, config.database)
    store = RecordingStore(db)
    await store.create_indexes()
    handlers = RecordingHandlers(store=store, bus=service.bus, max_page_size=config.max_page_size)
    await service.serve(contract.START, handlers.start)
    await service.serve(contract.STOP, handlers.stop)
    await service.serve(contract.LIST, handlers.list)


def main() -> None:
    run_service("recording", RecordingConfig, wire)


if __name__ == "__main__":
    main()
