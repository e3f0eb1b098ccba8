"""The Socket.IO server at /socket.io: authenticates every socket at connect.

A browser cannot set headers on a WebSocket, so the key and token come in the
Socket.IO `auth` payload (`{apiKey, token}`); `x-api-key` and `Authorization`
headers are accepted too. The realtime issues add their events on this server.
The session keeps where the socket came from (the host of the page's origin, the
client's address) for the session reports.
"""

import logging
from typing import Any
from urllib.parse import urlsplit

import socketio

from gateway.access import ApiKeyAuthority, TokenVerifier, bearer_token
from gateway.metrics import SOCKETS_CONNECTED
from gateway.rest import GATE, client_address
from webinar_contracts import RequestContext, ServiceError
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
            api_key = auth.get("apiKey") or _header(environ, "x-api-key")
            tenant = await keys.resolve(api_key, context)
            token = auth.get("token") or bearer_token(_header(environ, "Authorization"))
            user_id = None
            if token:
                claims = await tokens.verify(token, context)
                if claims.tenant_id != tenant.tenant_id:
                    raise ServiceError("the access token belongs to another tenant than the API key")
                user_id = claims.user_id
        except ServiceError as error:
            SOCKETS_CONNECTED.labels("refused").inc()
            # The client sees `err.message` and `err.data.code`.
            raise socketio.exceptions.ConnectionRefusedError(error.message, {"code": error.code.value}) from None
        await server.save_session(
            sid,
            {
                "tenant_id": tenant.tenant_id,
                "plan": tenant.plan.value,
                "user_id": user_id,
                "origin_host": page_host(environ),
                "client_ip": socket_client_address(environ),
            },
        )
        SOCKETS_CONNECTED.labels("accepted").inc()
        log.info("socket connected", extra={"sid": sid, "tenant_id": tenant.tenant_id, "user_id": user_id})

    server.on("connect", connect)
    return server
