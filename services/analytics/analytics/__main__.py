"""`python -m analytics`: run the analytics service."""

from analytics.config import AnalyticsConfig
from analytics.geo import open_geolocator
from analytics.handlers import AnalyticsHandlers
from analytics.store import AnalyticsStore
from webinar_contracts import analytics as contract
from webinar_contracts.sessions import PARTICIPANT_JOINED, PARTICIPANT_LEFT, SESSION_ENDED, SESSION_STARTED
from webinar_runtime.service import Service, run_service

# The durable consumer every replica shares; it starts at the stream's first event, so a
# service started late (or anew) catches up on everything the stream still holds.
CONSUMER = "analytics"


async def wire(service: Service, config: AnalyticsConfig) -> None:
    db = await service.open_mongo(config.mongo_url, config.database)
    store = AnalyticsStore(db)
    await store.create_indexes()
    locator = await open_geolocator(config.geoip_path(), required=bool(config.geoip_db_path))
    service.on_close(locator.close)
    handlers = AnalyticsHandlers(store=store, locator=locator)
    await service.serve(contract.TOTAL_SESSIONS, handlers.total_sessions)
    await service.serve(contract.SESSIONS_BY_DAY, handlers.sessions_by_day)
    await service.serve(contract.SESSION_STATISTICS, handlers.statistics)
    await service.serve(contract.SESSIONS_BY_PLACE, handlers.sessions_by_place)
    await service.serve(contract.SESSIONS_BY_CITY, handlers.sessions_by_city)
    await service.bus.consume(
        CONSUMER,
        {
            SESSION_STARTED: handlers.on_session_started,
            PARTICIPANT_JOINED: handlers.on_participant_joined,
            PARTICIPANT_LEFT: handlers.on_participant_left,
            SESSION_ENDED: handlers.on_session_ended,
        },
    )


def main() -> None:
    run_service("analytics", AnalyticsConfig, wire)


if __name__ == "__main__":
    main()
