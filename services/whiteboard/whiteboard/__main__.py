"""`python -m whiteboard`: run the whiteboard service."""

from webinar_contracts import whiteboard as contract
from webinar_runtime.service import Service, run_service
from whiteboard.config import WhiteboardConfig
from whiteboard.domain import BoardLimits
from whiteboard.handlers import BoardHandlers, RoomRolesOnTheBus
from whiteboard.store import BoardStore


async def wire(service: Service, config: WhiteboardConfig) -> None:
    store = BoardStore(await service.open_mongo(config.mongo_url, config.database))
    await store.create_indexes()
    handlers = BoardHandlers(
        store=store,
        roles=RoomRolesOnTheBus(service.bus),
        limits=BoardLimits(max_stage_bytes=config.max_stage_bytes, max_drawings=config.max_drawings),
    )
    await service.serve(contract.GET_BOARD, handlers.get_board)
    await service.serve(contract.TOGGLE_BOARD, handlers.toggle)
    await service.serve(contract.REPLACE_STAGE, handlers.replace_stage)
    await service.serve(contract.DRAW, handlers.draw)
    await service.serve(contract.UNDO_STROKE, handlers.undo)
    await service.serve(contract.CLEAR_BOARD, handlers.clear)


def main() -> None:
    run_service("whiteboard", WhiteboardConfig, wire)


if __name__ == "__main__":
    main()
