"""Session events and report requests -> analytics rules, geolocation and store calls; nothing else."""

import logging
from dataclasses import dataclass
from typing import Any, Protocol

from analytics.domain import (
    Location,
    ReportFilter,
    as_utc,
    day_label,
    report_filter,
    require_professional,
    session_domain,
)
from analytics.store import AnalyticsStore
from webinar_contracts import RequestContext
from webinar_contracts.analytics import (
    CityTotals,
    DayCounts,
    DomainCount,
    Place,
    PlaceCount,
    ReportFilters,
    SessionsByCityReport,
    SessionsByDayReport,
    SessionsByPlaceReport,
    SessionStatistics,
    SessionStatisticsReport,
    TotalSessions,
    TotalSessionsReport,
    TypeCount,
)
from webinar_contracts.sessions import ParticipantJoined, ParticipantLeft, SessionEnded, SessionStarted
from webinar_runtime.bus import Event

log = logging.getLogger("analytics")


class Locator(Protocol):
    """Where a client address is (analytics.geo.Geolocator, or a fake in tests)."""

    async def locate(self, client_ip: str | None) -> Location: ...


def _tenant_of(event: Event[Any]) -> str | None:
    if not event.context.tenant_id:
        log.warning("session event without a tenant; ignored", extra={"event_id": event.id, "subject": event.subject})
        return None
    return event.context.tenant_id


@dataclass
class AnalyticsHandlers:
    store: AnalyticsStore
    locator: Locator

    # -- events (at least once, in any order: every step is idempotent) --------

    async def on_session_started(self, event: Event[Any]) -> None:
        tenant_id = _tenant_of(event)
        if tenant_id is None:
            return
        started: SessionStarted = event.payload
        await self.store.record_session_started(
            tenant_id,
            started.session_id,
            room_id=started.room_id,
            session_type=started.session_type.value,
            host_user_id=started.host_user_id,
            domain=session_domain(started.domain),
            started_at=as_utc(started.started_at),
        )
        await self.store.refresh_session(tenant_id, started.session_id)

    async def on_participant_joined(self, event: Event[Any]) -> None:
        tenant_id = _tenant_of(event)
        if tenant_id is None:
            return
        joined: ParticipantJoined = event.payload
        # Each join's address is looked up once; a replay reuses the stored place.
        location = await self.store.participant_location(tenant_id, joined.participant_id)
        if location is None:
            location = await self.locator.locate(joined.client_ip)
        await self.store.record_participant_joined(
            tenant_id,
            joined.participant_id,
            session_id=joined.session_id,
            joined_at=as_utc(joined.joined_at),
            location=location,
        )
        await self.store.refresh_session(tenant_id, joined.session_id)

    async def on_participant_left(self, event: Event[Any]) -> None:
        tenant_id = _tenant_of(event)
        if tenant_id is None:
            return
        left: ParticipantLeft = event.payload
        # Places come from joins, so a leave changes no report: nothing to refresh (a webinar's
        # viewers leaving after the host ended it would otherwise refresh it once each).
        await self.store.record_participant_left(
            tenant_id, left.participant_id, session_id=left.session_id, left_at=as_utc(left.left_at)
        )

    async def on_session_ended(self, event: Event[Any]) -> None:
        tenant_id = _tenant_of(event)
        if tenant_id is None:
            return
        ended: SessionEnded = event.payload
        await self.store.record_session_ended(tenant_id, ended.session_id, ended_at=as_utc(ended.ended_at))
        await self.store.refresh_session(tenant_id, ended.session_id)

    # -- the five reports ----------------------------------------------------------

    @staticmethod
    def _filter(request: ReportFilters, context: RequestContext) -> ReportFilter:
        tenant_id = context.require_tenant()
        require_professional(context.plan)
        return report_filter(request, tenant_id)

    async def total_sessions(self, request: ReportFilters, context: RequestContext) -> TotalSessionsReport:
        total = await self.store.total_sessions(self._filter(request, context))
        return TotalSessionsReport(data=TotalSessions(total_sessions=total))

    async def sessions_by_day(self, request: ReportFilters, context: RequestContext) -> SessionsByDayReport:
        days = await self.store.sessions_by_day(self._filter(request, context))
        return SessionsByDayReport(
            data=[
                DayCounts(
                    domain_counts=[DomainCount(domain=domain, count=count) for domain, count in day.domain_counts],
                    date=day_label(day.day),
                )
                for day in days
            ]
        )

    async def statistics(self, request: ReportFilters, context: RequestContext) -> SessionStatisticsReport:
        found = await self.store.statistics(self._filter(request, context))
        return SessionStatisticsReport(
            data=SessionStatistics(
                total_sessions=found.total_sessions,
                total_sessions_by_type=[
                    TypeCount(session_type=kind, total_sessions=count) for kind, count in found.by_type
                ],
            )
        )

    async def sessions_by_place(self, request: ReportFilters, context: RequestContext) -> SessionsByPlaceReport:
        places = await self.store.sessions_by_place(self._filter(request, context))
        return SessionsByPlaceReport(
            data=[
                PlaceCount(
                    id=Place(
                        city=found.place.city,
                        region=found.place.region,
                        country=found.place.country_code,
                        country_name=found.place.country_name,
                    ),
                    count=found.sessions,
                )
                for found in places
            ]
        )

    async def sessions_by_city(self, request: ReportFilters, context: RequestContext) -> SessionsByCityReport:
        cities = await self.store.sessions_by_city(self._filter(request, context))
        return SessionsByCityReport(
            data=[
                CityTotals(id=found.city, total_sessions=found.sessions, total_participants=found.participants)
                for found in cities
            ]
        )
