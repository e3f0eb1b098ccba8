"""The analytics service's subjects and messages: the seed's five reporting queries
("Dashboard Analytics"). Each REST route's query string is the request, and each reply
is the REST body as the seed shows it (`{success: true, data: ...}`)."""

import msgspec

from webinar_contracts.bus import Endpoint


class ReportFilters(msgspec.Struct, kw_only=True, omit_defaults=True):
    """The query of every /reporting route. All optional; an empty value means no filter.
    Dates are ISO 8601 (`2025-10-01T00:00:00.000Z`, or a day: `2025-10-31`, which as
    `endDateRange` includes that whole day); a time without an offset is UTC."""

    domain: str = ""
    session_type: str = msgspec.field(name="sessionType", default="")
    country_code: str = msgspec.field(name="countryCode", default="")
    country_name: str = msgspec.field(name="countryName", default="")
    city_name: str = msgspec.field(name="cityName", default="")
    start_date_range: str = msgspec.field(name="startDateRange", default="")
    end_date_range: str = msgspec.field(name="endDateRange", default="")
    user_id: str = msgspec.field(name="userID", default="")


class TotalSessions(msgspec.Struct, kw_only=True):
    total_sessions: int = msgspec.field(name="totalSessions")


class TotalSessionsReport(msgspec.Struct, kw_only=True):
    """GET /reporting/total-sessions-for-user: completed sessions matching the filters."""

    success: bool = True
    data: TotalSessions


class DomainCount(msgspec.Struct, kw_only=True):
    domain: str
    count: int


class DayCounts(msgspec.Struct, kw_only=True):
    """One UTC day (`2025-10-12T00:00:00.000Z`) and its sessions per domain, most first."""

    domain_counts: list[DomainCount] = msgspec.field(name="domainCounts")
    date: str


class SessionsByDayReport(msgspec.Struct, kw_only=True):
    """GET /reporting/total-sessions-aggregation-for-user: days in order."""

    success: bool = True
    data: list[DayCounts]


class TypeCount(msgspec.Struct, kw_only=True):
    session_type: str = msgspec.field(name="sessionType")
    total_sessions: int = msgspec.field(name="totalSessions")


class SessionStatistics(msgspec.Struct, kw_only=True):
    total_sessions: int = msgspec.field(name="totalSessions")
    total_sessions_by_type: list[TypeCount] = msgspec.field(name="totalSessionsByType")


class SessionStatisticsReport(msgspec.Struct, kw_only=True):
    """GET /reporting/total-sessions-statistics-for-user."""

    success: bool = True
    data: SessionStatistics


class Place(msgspec.Struct, kw_only=True):
    """Where participants joined from (the seed spells `country_name` in snake case);
    "unknown" for private, loopback and unlisted addresses."""

    city: str
    region: str
    country: str
    country_name: str


class PlaceCount(msgspec.Struct, kw_only=True):
    """Sessions with at least one participant from `_id`."""

    id: Place = msgspec.field(name="_id")
    count: int


class SessionsByPlaceReport(msgspec.Struct, kw_only=True):
    """GET /reporting/total-sessions-by-location-for-user: most sessions first."""

    success: bool = True
    data: list[PlaceCount]


class CityTotals(msgspec.Struct, kw_only=True):
    """Sessions with at least one participant from the city `_id`, and those participants."""

    id: str = msgspec.field(name="_id")
    total_sessions: int = msgspec.field(name="totalSessions")
    total_participants: int = msgspec.field(name="totalParticipants")


class SessionsByCityReport(msgspec.Struct, kw_only=True):
    """GET /reporting/total-sessions-and-participants-count-by-location-for-user: most sessions first."""

    success: bool = True
    data: list[CityTotals]


TOTAL_SESSIONS = Endpoint("analytics.sessions.total", ReportFilters, TotalSessionsReport)
SESSIONS_BY_DAY = Endpoint("analytics.sessions.by-day", ReportFilters, SessionsByDayReport)
SESSION_STATISTICS = Endpoint("analytics.sessions.statistics", ReportFilters, SessionStatisticsReport)
SESSIONS_BY_PLACE = Endpoint("analytics.sessions.by-place", ReportFilters, SessionsByPlaceReport)
SESSIONS_BY_CITY = Endpoint("analytics.sessions.by-city", ReportFilters, SessionsByCityReport)
