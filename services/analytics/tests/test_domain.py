"""The analytics rules, with no I/O: report filters, plans, routable addresses, day labels."""

from datetime import UTC, datetime

import pytest

from analytics.domain import day_label, report_filter, require_professional, routable_address, session_domain
from webinar_contracts import Forbidden, InvalidInput
from webinar_contracts.analytics import ReportFilters
from webinar_contracts.plans import Plan


def test_empty_values_mean_no_filter():
    found = report_filter(
        ReportFilters(domain="", session_type="", country_code=" ", city_name="", user_id=""), "tenant-1"
    )
    assert found.tenant_id == "tenant-1"
    assert (found.domain, found.session_type, found.country_code, found.city, found.host_user_id) == (None,) * 5
    assert (found.start, found.end) == (None, None)
    assert found.place_conditions() == {}


def test_filters_are_trimmed_and_normalised():
    found = report_filter(
        ReportFilters(
            domain=" Example.ORG ",
            session_type="Webinar",
            country_code="pk",
            country_name="Pakistan",
            city_name="Lahore",
            user_id="host-1",
        ),
        "t",
    )
    assert (found.domain, found.session_type, found.country_code, found.host_user_id) == (
        "example.org",
        "webinar",
        "PK",
        "host-1",
    )
    assert found.place_conditions() == {"country_code": "PK", "country_name": "Pakistan", "city": "Lahore"}


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (
            "2025-10-01T00:00:00.000Z",
            "2025-10-31T23:59:59.999Z",
            (datetime(2025, 10, 1, tzinfo=UTC), datetime(2025, 10, 31, 23, 59, 59, 999000, tzinfo=UTC)),
        ),
        # A bare day: from its first instant, or as the end through its last millisecond.
        (
            "2025-10-01",
            "2025-10-31",
            (datetime(2025, 10, 1, tzinfo=UTC), datetime(2025, 10, 31, 23, 59, 59, 999000, tzinfo=UTC)),
        ),
        # An offset is honoured; no offset means UTC.
        (
            "2025-10-01T05:00:00+05:00",
            "2025-10-02T12:30:00",
            (datetime(2025, 10, 1, tzinfo=UTC), datetime(2025, 10, 2, 12, 30, tzinfo=UTC)),
        ),
    ],
)
def test_dates_are_iso_8601_in_utc(start, end, expected):
    found = report_filter(ReportFilters(start_date_range=start, end_date_range=end), "t")
    assert (found.start, found.end) == expected


@pytest.mark.parametrize(
    ("query", "field"),
    [
        (ReportFilters(start_date_range="yesterday"), "startDateRange"),
        (ReportFilters(end_date_range="2025-13-01"), "endDateRange"),
        (ReportFilters(start_date_range="2025-10-02", end_date_range="2025-10-01T23:59:59Z"), "endDateRange"),
        (ReportFilters(session_type="party"), "sessionType"),
        (ReportFilters(city_name="x" * 300), "cityName"),
    ],
)
def test_a_bad_parameter_is_refused_by_name(query, field):
    with pytest.raises(InvalidInput) as refused:
        report_filter(query, "t")
    assert refused.value.field == field
    assert field in refused.value.message


def test_a_range_of_one_day_is_allowed():
    found = report_filter(ReportFilters(start_date_range="2025-10-01", end_date_range="2025-10-01"), "t")
    assert found.end is not None
    assert found.start is not None
    assert found.end > found.start


def test_reports_are_for_the_professional_plan():
    require_professional(Plan.PROFESSIONAL)
    for plan in (Plan.ESSENTIAL, None):
        with pytest.raises(Forbidden, match="Professional plan"):
            require_professional(plan)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("8.8.8.8", "8.8.8.8"),
        (" 81.2.69.142 ", "81.2.69.142"),
        ("2001:4860:4860::8888", "2001:4860:4860::8888"),
        ("::ffff:8.8.8.8", "8.8.8.8"),
        ("127.0.0.1", None),
        ("::1", None),
        ("10.1.2.3", None),
        ("172.16.0.9", None),
        ("192.168.1.20", None),
        ("169.254.10.1", None),
        ("100.64.0.1", None),
        ("fd00::1", None),
        ("fe80::1", None),
        ("::ffff:192.168.0.1", None),
        ("not an address", None),
        ("", None),
        (None, None),
    ],
)
def test_only_public_addresses_are_looked_up(raw, expected):
    address = routable_address(raw)
    assert (str(address) if address is not None else None) == expected


def test_a_session_without_a_domain_is_reported_as_unknown():
    assert session_domain("  Altegon.COM ") == "altegon.com"
    assert session_domain("") == "unknown"


def test_days_are_written_as_the_seed_writes_them():
    assert day_label(datetime(2025, 10, 12, tzinfo=UTC)) == "2025-10-12T00:00:00.000Z"
