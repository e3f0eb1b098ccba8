"""How a REST route is declared and served: access checks, body decoding, asking
the owning service, and turning refusals into the seed's status codes, once."""

import ipaddress
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, TypeVar

import msgspec
from aiohttp import web

from gateway.access import ApiKeyAuthority, TokenClaims, TokenVerifier, bearer_token
from gateway.metrics import HTTP_REQUEST_SECONDS, HTTP_REQUESTS
from webinar_contracts import Endpoint, ErrorCode, Forbidden, RequestContext, ServiceError, TooLarge
from webinar_contracts.auth import TenantAccess
from webinar_contracts.errors import InvalidInput, Unauthorized
from webinar_contracts.plans import Plan
from webinar_contracts.validation import decode
from webinar_contracts.wire import encode_wire
from webinar_runtime.bus import Bus
from webinar_runtime.logs import new_trace_id, trace_id_var

log = logging.getLogger("gateway.http")

T = TypeVar("T")
Req = TypeVar("Req", bound=msgspec.Struct)
Rep = TypeVar("Rep", bound=msgspec.Struct)

STATUS_BY_CODE = {
    ErrorCode.INVALID: 400,
    ErrorCode.UNAUTHORIZED: 401,
    ErrorCode.FORBIDDEN: 403,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.CONFLICT: 409,
    ErrorCode.TOO_LARGE: 413,
    ErrorCode.RATE_LIMITED: 429,
    ErrorCode.INTERNAL: 500,
    ErrorCode.UNAVAILABLE: 503,
}


class ErrorBody(msgspec.Struct, kw_only=True, omit_defaults=True):
    """Every error answer: `{success: false, message, field?}`."""

    success: bool
    message: str
    field: str | None = None


def error_body(message: str, field: str | None = None) -> ErrorBody:
    return ErrorBody(success=False, message=message, field=field)


class Access(Enum):
    PUBLIC = "public"  # no key (health, the API document)
    KEY = "key"  # x-api-key; a bearer token is checked when present
    USER = "user"  # x-api-key and a bearer token of that tenant


@dataclass
class Gate:
    """What every call needs from the edge: the bus and the two access checks."""

    bus: Bus
    keys: ApiKeyAuthority
    tokens: TokenVerifier
    max_body_bytes: int
    trust_proxy: bool


GATE = web.AppKey("gate", Gate)


@dataclass
class Call:
    """One REST call in flight: who makes it, and helpers to answer it."""

    request: web.Request
    gate: Gate
    context: RequestContext
    tenant: TenantAccess | None = None
    user: TokenClaims | None = None

    def param(self, name: str) -> str:
        return self.request.match_info[name]

    async def body(self, into: type[T], *, default: T | None = None) -> T:
        """The JSON body decoded as `into`; 400 naming the field, 413 over the limit. An
        empty body is `default` when there is one (a body whose every field is optional)."""
        length = self.request.content_length
        if length is not None and length > self.gate.max_body_bytes:
            raise TooLarge(f"request body is larger than {self.gate.max_body_bytes} bytes")
        try:
            raw = await self.request.read()
        except web.HTTPRequestEntityTooLarge:
            raise TooLarge(f"request body is larger than {self.gate.max_body_bytes} bytes") from None
        if not raw.strip():
            if default is not None:
                return default
            raise InvalidInput("request body must be a JSON object")
        return decode(raw, into)

    async def ask(self, endpoint: Endpoint[Req, Rep], payload: Req) -> Rep:
        return await self.gate.bus.request(endpoint, payload, context=self.context)

    def require_user(self) -> TokenClaims:
        """The caller's verified token claims; 401 when the call carries no token."""
        if self.user is None:
            raise Unauthorized("this route needs a bearer token from /auth/login")
        return self.user

    def require_professional(self, feature: str) -> None:
        """403 unless the key's tenant is on the Professional plan."""
        if self.tenant is None or self.tenant.plan is not Plan.PROFESSIONAL:
            raise Forbidden(f"{feature} is part of the Professional plan; this tenant is on Essential")


Handler = Callable[[Call], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Route:
    """One REST route and what the API document says of it."""

    method: str
    path: str
    handler: Handler
    service: str
    summary: str
    access: Access = Access.KEY
    body: type | None = None
    responses: dict[int, Any] = field(default_factory=dict)  # status -> response type (None: no body)
    errors: tuple[int, ...] = ()
    body_media_type: str = "application/json"
    body_required: bool = True  # False: an empty body means the defaults
    # True: a viewer link's guest may call it too, with `?ticket=<room ticket>` for the
    # route's `{roomId}` instead of an API key (a link in a page cannot send headers).
    room_ticket: bool = False
    query: type | None = None  # a Struct whose fields are the query parameters


def json_response(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(body=encode_wire(payload), status=status, content_type="application/json", headers=headers)


def client_address(request: web.Request, trust_proxy: bool) -> str:
    if trust_proxy:
        forwarded = request.headers.get("X-Forwarded-For", "")
        first = forwarded.split(",", 1)[0].strip()
        try:
            return str(ipaddress.ip_address(first))
        except ValueError:
            pass
    return request.remote or "unknown"


def serve_route(route: Route) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """The aiohttp handler for `route`: checks access, then runs the route's handler."""

    async def handle(request: web.Request) -> web.StreamResponse:
        gate = request.app[GATE]
        context = RequestContext(trace_id=trace_id_var.get(), client_ip=client_address(request, gate.trust_proxy))
        call = Call(request=request, gate=gate, context=context)
        ticket = request.query.get("ticket") if route.room_ticket else None
        if ticket and route.access is not Access.PUBLIC and "x-api-key" not in request.headers:
            await admit_room_guest(call, ticket)
        elif route.access is not Access.PUBLIC:
            call.tenant = await gate.keys.resolve(request.headers.get("x-api-key"), context)
            call.context = msgspec.structs.replace(context, tenant_id=call.tenant.tenant_id, plan=call.tenant.plan)
            token = bearer_token(request.headers.get("Authorization"))
            if token is None and route.access is Access.USER:
                raise Unauthorized("this route needs a bearer token from /auth/login")
            if token is not None:
                call.user = await gate.tokens.verify(token, call.context)
                if call.user.tenant_id != call.tenant.tenant_id:
                    raise Unauthorized("the access token belongs to another tenant than the API key")
                call.context = msgspec.structs.replace(call.context, user_id=call.user.user_id)
        return await route.handler(call)

    return handle


async def admit_room_guest(call: Call, ticket: str) -> None:
    """A viewer link's guest, for the room its ticket names (the route's `roomId`) only."""
    claims = await call.gate.tokens.verify_room_ticket(ticket, call.context)
    if claims.room_id != call.request.match_info.get("roomId"):
        raise Forbidden(f"this link is for room {claims.room_id} only", field="ticket")
    call.tenant = TenantAccess(tenant_id=claims.tenant_id, tenant_name="", plan=claims.plan)
    call.context = msgspec.structs.replace(call.context, tenant_id=claims.tenant_id, plan=claims.plan)


def error_response(error: ServiceError) -> web.Response:
    headers = {"Retry-After": str(int(error.retry_after + 0.999))} if error.retry_after else None
    return json_response(error_body(error.message, error.field), STATUS_BY_CODE[error.code], headers)


@web.middleware
async def edge_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Trace id, metrics, access log, and every failure as a JSON error body."""
    trace_id = request.headers.get("X-Request-Id", "")[:64] or new_trace_id()
    token = trace_id_var.set(trace_id)
    started = time.perf_counter()
    resource = request.match_info.route.resource
    route_name = resource.canonical if resource is not None else "unmatched"
    try:
        try:
            response = await handler(request)
        except ServiceError as error:
            response = error_response(error)
        except web.HTTPRequestEntityTooLarge:
            response = json_response(error_body("request body is too large"), 413)
        except web.HTTPException as error:
            if error.status < 400:
                raise
            message = {
                404: f"no route {request.method} {request.path}",
                405: f"{request.method} is not allowed on {request.path}",
            }.get(error.status, error.reason)
            response = json_response(error_body(message), error.status)
        except Exception:
            log.exception("unhandled error", extra={"route": route_name})
            response = json_response(error_body(f"internal error (trace {trace_id})"), 500)
        response.headers["X-Request-Id"] = trace_id
        HTTP_REQUESTS.labels(request.method, route_name, str(response.status)).inc()
        HTTP_REQUEST_SECONDS.labels(request.method, route_name).observe(time.perf_counter() - started)
        if response.status >= 500:
            log.warning("%s %s -> %s", request.method, request.path, response.status)
        return response
    finally:
        trace_id_var.reset(token)
