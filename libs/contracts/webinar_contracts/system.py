"""Subjects every service answers, whatever its domain: readiness for /healthz."""

import msgspec

HEALTH_SUBJECT = "system.health"


class HealthReport(msgspec.Struct, kw_only=True):
    service: str
    instance: str
    ready: bool
    checks: dict[str, bool]
