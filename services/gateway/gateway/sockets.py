"""The Socket.IO servers (/socket.io, and the whiteboard's): authenticate every socket at connect.

A browser cannot set headers on a WebSocket, so the key and token come in the
Socket.IO `auth` payload (`{apiKey, token}`); `x-api-key` and `Authorization`
headers are accepted too. A viewer link's page has neither: it sends `{ticket}`, a room
ticket, and connects as an anonymous guest of the ticket's tenant, into that room only.
The realtime issues add their events on these servers. The session keeps who the socket
is (`tenant_id`, `plan`, `user_id`, and `room_ticket` for a guest: the ticket's room) and
where it came from (the host of the page's origin, the client's address) for the session
reports.
"""

import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlsplit

import socketio

from gateway.access import ApiKeyAuthority, TokenVerifier, bearer_token
from gateway.metrics import SOCKETS_CONNECTED
from gateway.rest import GATE, client_address
from webinar_contracts import Forbidden, RequestContext, ServiceError, Unauthorized
from webinar_contracts.plans import Plan
from webinar_runtime.logs import new_trace_id

log = logging.getLogger("gateway.sockets")


def _header(environ: dict[str, Any], name: str) -> str | None:
    request = environ.get("aiohttp.request")
    if request is not None:
        value = request.headers.get(name)
        return str(value) if value is not None else None
    return environ.get("HTTP_" + name.upper().replace("-", "_"))


def _url_host(url: str | None) -> str:
    if not url:
        return ""
    try:
        return urlsplit(url.strip()).hostname or ""
    except ValueError:
        return ""


def page_host(environ: dict[str, Any]) -> str:
    """The host of the page the socket was opened from: its `Origin` header, else its
    `Referer` (a browser sends no Origin on a same-origin GET, which is how Socket.IO's
    first long-polling request arrives); "" when neither tells (not a browser)."""
    return _url_host(_header(environ, "Origin")) or _url_host(_header(environ, "Referer"))


def socket_client_address(environ: dict[str, Any]) -> str | None:
    """The client's address: the socket's remote address, or the first X-Forwarded-For hop
    when the gateway trusts its proxy (TRUST_PROXY), as for REST calls."""
    request = environ.get("aiohttp.request")
    if request is None:
        remote = environ.get("REMOTE_ADDR")
        return str(remote) if remote else None
    gate = request.app.get(GATE)
    address = client_address(request, trust_proxy=gate is not None and gate.trust_proxy)
    return None if address == "unknown" else address


@dataclass(frozen=True)
class SocketIdentity:
    """Who a socket is, from its credentials at connect."""

    tenant_id: str
    plan: str
    user_id: str | None = None
    room_ticket: str | None = None  # a guest's: the only room it may enter
    guest_id: str | None = None


async def identify(
    keys: ApiKeyAuthority,
    tokens: TokenVerifier,
    auth: dict[str, Any],
    environ: dict[str, Any],
    context: RequestContext,
) -> SocketIdentity:
    """The socket's identity from its `auth` payload and headers: an API key (and maybe a
    user's token), or a room ticket (and maybe a key of the same tenant). Unauthorized why not."""
    api_key = auth.get("apiKey") or _header(environ, "x-api-key")
    ticket = auth.get("ticket")
    if ticket is not None and not isinstance(ticket, str):
        raise Unauthorized("malformed room ticket")
    if ticket:
        claims = await tokens.verify_room_ticket(ticket, context)
        identity = SocketIdentity(
            tenant_id=claims.tenant_id, plan=claims.plan.value, room_ticket=claims.room_id, guest_id=claims.guest_id
        )
        if api_key:
            tenant = await keys.resolve(api_key, context)
            if tenant.tenant_id != claims.tenant_id:
                raise Unauthorized("the room ticket belongs to another tenant than the API key")
            identity = replace(identity, plan=tenant.plan.value)
    else:
        tenant = await keys.resolve(api_key, context)
        identity = SocketIdentity(tenant_id=tenant.tenant_id, plan=tenant.plan.value)
    token = auth.get("token") or bearer_token(_header(environ, "Authorization"))
    if token:
        user = await tokens.verify(token, context)
        if user.tenant_id != identity.tenant_id:
            raise Unauthorized("the access token belongs to another tenant than the API key")
        identity = replace(identity, user_id=user.user_id)
    return identity


def session_context(session: Mapping[str, Any]) -> RequestContext:
    """The bus context of a socket's event: its tenant, plan and user as it connected, and a
    trace id of the event's own."""
    plan = session.get("plan")
    return RequestContext(
        trace_id=new_trace_id(),
        tenant_id=session.get("tenant_id"),
        plan=Plan(plan) if isinstance(plan, str) and plan in Plan._value2member_map_ else None,
        user_id=session.get("user_id"),
    )


def check_room_ticket(session: Mapping[str, Any], room_id: str) -> None:
    """Refuse a guest (a socket holding a room ticket) any room but its ticket's."""
    ticket_room = session.get("room_ticket")
    if ticket_room is not None and ticket_room != room_id:
        raise Forbidden(f"this link is for room {ticket_room} only", field="room_id")


def create_socket_server(
    keys: ApiKeyAuthority,
    tokens: TokenVerifier,
    *,
    cors_origins: list[str] | str,
    client_manager: socketio.AsyncManager | None = None,
) -> socketio.AsyncServer:
    server = socketio.AsyncServer(
        async_mode="aiohttp",
        client_manager=client_manager,
        cors_allowed_origins=cors_origins,
        logger=False,
        engineio_logger=False,
    )

    async def connect(sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        auth = auth if isinstance(auth, dict) else {}
        context = RequestContext(trace_id=new_trace_id())
        try:
            identity = await identify(keys, tokens, auth, environ, context)
        except ServiceError as error:
            SOCKETS_CONNECTED.labels("refused").inc()
            # The client sees `err.message` and `err.data.code`.
            raise socketio.exceptions.ConnectionRefusedError(error.message, {"code": error.code.value}) from None
        session: dict[str, Any] = {
            "tenant_id": identity.tenant_id,
            "plan": identity.plan,
            "user_id": identity.user_id,
            "origin_host": page_host(environ),
            "client_ip": socket_client_address(environ),
        }
        if identity.room_ticket is not None:
            session["room_ticket"] = identity.room_ticket
            session["guest_id"] = identity.guest_id
        await server.save_session(sid, session)
        SOCKETS_CONNECTED.labels("accepted").inc()
        log.info(
            "socket connected",
            extra={
                "sid": sid,
                "tenant_id": identity.tenant_id,
                "user_id": identity.user_id,
                "room_ticket": identity.room_ticket,
            },
        )

    server.on("connect", connect)
    return server
