"""Routes that need no key: readiness of every service, and the API document."""

from collections import defaultdict

import msgspec
from aiohttp import web

from gateway.rest import Access, Call, Route, json_response
from webinar_contracts.system import HEALTH_SUBJECT, HealthReport

REQUIRED_SERVICES: web.AppKey[frozenset[str]] = web.AppKey("required_services")
OPENAPI_DOCUMENT: web.AppKey[bytes] = web.AppKey("openapi_document")


class ServiceHealth(msgspec.Struct):
    ready: bool
    instances: int
    ready_instances: int


class SuiteHealth(msgspec.Struct):
    status: str
    services: dict[str, ServiceHealth]


async def healthz(call: Call) -> web.Response:
    reports = await call.gate.bus.roll_call(HEALTH_SUBJECT, HealthReport, timeout=0.3)
    by_service: dict[str, list[HealthReport]] = defaultdict(list)
    for report in reports:
        by_service[report.service].append(report)
    required: frozenset[str] = call.request.app[REQUIRED_SERVICES]
    services = {}
    for name in sorted(by_service.keys() | required):
        instances = by_service.get(name, [])
        ready = sum(1 for report in instances if report.ready)
        services[name] = ServiceHealth(ready=ready > 0, instances=len(instances), ready_instances=ready)
    healthy = all(services[name].ready for name in required)
    return json_response(
        SuiteHealth(status="ok" if healthy else "degraded", services=services), 200 if healthy else 503
    )


async def openapi(call: Call) -> web.Response:
    return web.Response(body=call.request.app[OPENAPI_DOCUMENT], content_type="application/json")


ROUTES = [
    Route("GET", "/healthz", healthz, "gateway", "Readiness of every service behind the gateway",
          access=Access.PUBLIC, responses={200: SuiteHealth, 503: SuiteHealth}),
    Route("GET", "/openapi.json", openapi, "gateway", "This API document (OpenAPI 3.1)",
          access=Access.PUBLIC, responses={200: None}),
]  # fmt: skip
