"""The environment variables the analytics service reads."""

from dataclasses import dataclass
from pathlib import Path

from webinar_runtime.config import ConfigError, MongoSettings, RuntimeConfig, setting

# Where `make install` puts DB-IP City Lite (`npm ci` in services/analytics, from its lock file).
INSTALLED_GEOIP_DIR = Path(__file__).resolve().parents[1] / "node_modules" / "@ip-location-db" / "dbip-city-mmdb"


@dataclass(frozen=True, kw_only=True)
class AnalyticsConfig(RuntimeConfig, MongoSettings):
    database: str = setting("ANALYTICS_DATABASE", "analytics", help="MongoDB database this service owns")
    geoip_db_path: str = setting(
        "GEOIP_DB_PATH",
        "",
        help="a MaxMind DB file (.mmdb) or a folder of them (DB-IP City Lite's IPv4 and IPv6 files) to "
        "geolocate participants with; empty: the copy `make install` fetched (the image sets /opt/geoip)",
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.geoip_db_path and not Path(self.geoip_db_path).exists():
            raise ConfigError("GEOIP_DB_PATH", f"{self.geoip_db_path} does not exist")

    def geoip_path(self) -> Path:
        return Path(self.geoip_db_path) if self.geoip_db_path else INSTALLED_GEOIP_DIR
