"""REST routes of the analytics service (seed: "Dashboard Analytics"), Professional plan only."""

from typing import TypeVar

import msgspec
from aiohttp import web

from gateway.rest import Call, Route, json_response
from webinar_contracts import analytics
from webinar_contracts.analytics import (
    ReportFilters,
    SessionsByCityReport,
    SessionsByDayReport,
    SessionsByPlaceReport,
    SessionStatisticsReport,
    TotalSessionsReport,
)
from webinar_contracts.bus import Endpoint
from webinar_contracts.validation import convert

FEATURE = "advanced analytics (the /reporting routes)"
Report = TypeVar("Report", bound=msgspec.Struct)


async def _report(call: Call, endpoint: Endpoint[ReportFilters, Report]) -> web.Response:
    call.require_professional(FEATURE)
    return json_response(await call.ask(endpoint, convert(dict(call.request.query), ReportFilters)))


async def total_sessions(call: Call) -> web.Response:
    return await _report(call, analytics.TOTAL_SESSIONS)


async def sessions_by_day(call: Call) -> web.Response:
    return await _report(call, analytics.SESSIONS_BY_DAY)


async def session_statistics(call: Call) -> web.Response:
    return await _report(call, analytics.SESSION_STATISTICS)


async def sessions_by_location(call: Call) -> web.Response:
    return await _report(call, analytics.SESSIONS_BY_PLACE)


async def sessions_and_participants_by_city(call: Call) -> web.Response:
    return await _report(call, analytics.SESSIONS_BY_CITY)


FILTERS = (
    "Filters (all optional; an empty value means no filter): domain, sessionType (meeting, conference, "
    "webinar, live), countryCode, countryName, cityName, userID (the host), startDateRange and endDateRange "
    "(ISO 8601, UTC unless an offset is given; a bare day as endDateRange includes that day). "
    "Counts completed sessions only; Professional plan."
)

ROUTES = [
    Route("GET", "/reporting/total-sessions-for-user", total_sessions, "analytics",
          "The number of completed sessions. " + FILTERS,
          query=ReportFilters, responses={200: TotalSessionsReport}, errors=(400, 403)),
    Route("GET", "/reporting/total-sessions-aggregation-for-user", sessions_by_day, "analytics",
          "Completed sessions per day (UTC, by start) and domain. " + FILTERS,
          query=ReportFilters, responses={200: SessionsByDayReport}, errors=(400, 403)),
    Route("GET", "/reporting/total-sessions-statistics-for-user", session_statistics, "analytics",
          "Completed sessions in all and per session type. " + FILTERS,
          query=ReportFilters, responses={200: SessionStatisticsReport}, errors=(400, 403)),
    Route("GET", "/reporting/total-sessions-by-location-for-user", sessions_by_location, "analytics",
          "Completed sessions per place participants joined from (city, region, country); a session "
          "counts once in each place it had participants from. " + FILTERS,
          query=ReportFilters, responses={200: SessionsByPlaceReport}, errors=(400, 403)),
    Route("GET", "/reporting/total-sessions-and-participants-count-by-location-for-user",
          sessions_and_participants_by_city, "analytics",
          "Completed sessions and their participants per city participants joined from. " + FILTERS,
          query=ReportFilters, responses={200: SessionsByCityReport}, errors=(400, 403)),
]  # fmt: skip
