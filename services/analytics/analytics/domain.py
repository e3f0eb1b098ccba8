"""The analytics rules: who may read reports, what a report filter is, which client
addresses can have a place, what an unknown place and a reporting day look like.

No I/O here: the store persists and queries, geo looks addresses up, the handlers translate.
"""

import ipaddress
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from webinar_contracts import Forbidden, InvalidInput
from webinar_contracts.analytics import ReportFilters
from webinar_contracts.plans import Plan
from webinar_contracts.sessions import SessionType

UNKNOWN = "unknown"
MAX_FILTER_LENGTH = 256
FEATURE = "advanced analytics (the /reporting routes)"


@dataclass(frozen=True)
class Location:
    """Where a participant joined from, as far as the address tells."""

    country_code: str
    country_name: str
    region: str
    city: str


UNKNOWN_LOCATION = Location(country_code=UNKNOWN, country_name=UNKNOWN, region=UNKNOWN, city=UNKNOWN)


@dataclass(frozen=True, kw_only=True)
class ReportFilter:
    """A validated report query: None means "any"."""

    tenant_id: str
    domain: str | None = None
    session_type: str | None = None
    country_code: str | None = None
    country_name: str | None = None
    city: str | None = None
    host_user_id: str | None = None
    start: datetime | None = None
    end: datetime | None = None

    def place_conditions(self) -> dict[str, str]:
        """The location filters, by the field of a stored place they compare with."""
        conditions = {"country_code": self.country_code, "country_name": self.country_name, "city": self.city}
        return {name: value for name, value in conditions.items() if value is not None}


@dataclass(frozen=True, kw_only=True)
class CompletedSession:
    """A session that has started and ended, with the places its participants joined from."""

    session_id: str
    room_id: str
    session_type: str
    host_user_id: str | None
    domain: str
    started_at: datetime
    ended_at: datetime
    places: list[tuple[Location, int]] = field(default_factory=list)  # (place, participants from it)


@dataclass(frozen=True)
class DayCount:
    day: datetime
    domain_counts: list[tuple[str, int]]


@dataclass(frozen=True)
class Statistics:
    total_sessions: int
    by_type: list[tuple[str, int]]


@dataclass(frozen=True)
class PlaceCount:
    place: Location
    sessions: int


@dataclass(frozen=True)
class CityTotal:
    city: str
    sessions: int
    participants: int


def require_professional(plan: Plan | None) -> None:
    """Reports are the seed's "advanced analytics", sold in the Professional plan."""
    if plan is not Plan.PROFESSIONAL:
        raise Forbidden(f"{FEATURE} is part of the Professional plan; this tenant is on Essential")


def _text(value: str, field: str) -> str | None:
    text = value.strip()
    if not text:
        return None
    if len(text) > MAX_FILTER_LENGTH:
        raise InvalidInput(f"{field} must be at most {MAX_FILTER_LENGTH} characters", field=field)
    return text


def parse_instant(value: str, field: str, *, end_of_day: bool = False) -> datetime | None:
    """An ISO 8601 date or date-time as a UTC datetime; None for an empty value.

    A bare day means its first instant, or with `end_of_day` its last millisecond (MongoDB
    keeps milliseconds), so `endDateRange=2025-10-31` includes all of October 31. A time
    without an offset is UTC."""
    text = value.strip()
    if not text:
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        pass
    else:
        first = datetime.combine(day, time.min, tzinfo=UTC)
        return first + timedelta(days=1, milliseconds=-1) if end_of_day else first
    try:
        instant = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(
            f"{field} must be an ISO 8601 date or date-time (e.g. 2025-10-01T00:00:00.000Z), not {text[:40]!r}",
            field=field,
        ) from None
    return as_utc(instant)


def _country_code(text: str | None) -> str | None:
    # Codes are upper case; the code of an unknown place is "unknown", like its other parts.
    if text is None:
        return None
    return UNKNOWN if text.lower() == UNKNOWN else text.upper()


def report_filter(query: ReportFilters, tenant_id: str) -> ReportFilter:
    """The filter a report query asks for; InvalidInput naming the first parameter at fault."""
    session_type = _text(query.session_type, "sessionType")
    if session_type is not None:
        session_type = session_type.lower()
        if session_type not in SessionType._value2member_map_:
            allowed = ", ".join(kind.value for kind in SessionType)
            raise InvalidInput(f"sessionType must be one of {allowed} (or empty for all)", field="sessionType")
    domain = _text(query.domain, "domain")
    country_code = _text(query.country_code, "countryCode")
    start = parse_instant(query.start_date_range, "startDateRange")
    end = parse_instant(query.end_date_range, "endDateRange", end_of_day=True)
    if start is not None and end is not None and end < start:
        raise InvalidInput("endDateRange must not be before startDateRange", field="endDateRange")
    return ReportFilter(
        tenant_id=tenant_id,
        domain=domain.lower() if domain else None,
        session_type=session_type,
        country_code=_country_code(country_code),
        country_name=_text(query.country_name, "countryName"),
        city=_text(query.city_name, "cityName"),
        host_user_id=_text(query.user_id, "userID"),
        start=start,
        end=end,
    )


def routable_address(raw: str | None) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The public address a place can be looked up for, or None: missing, malformed,
    private, loopback, link-local, shared or reserved addresses have no place. An
    IPv4-mapped IPv6 address (::ffff:a.b.c.d, as dual-stack sockets report) is its IPv4."""
    if not raw:
        return None
    try:
        address = ipaddress.ip_address(raw.strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address if address.is_global else None


def session_domain(raw: str) -> str:
    """The domain a session is reported under: lower case, "unknown" when none was known."""
    return raw.strip().lower() or UNKNOWN


def as_utc(instant: datetime) -> datetime:
    """`instant` in UTC; a naive datetime is taken to be UTC already."""
    return instant.replace(tzinfo=UTC) if instant.tzinfo is None else instant.astimezone(UTC)


def day_label(day: datetime) -> str:
    """A reporting day as the seed writes it: `2025-10-12T00:00:00.000Z`."""
    return as_utc(day).strftime("%Y-%m-%dT00:00:00.000Z")
