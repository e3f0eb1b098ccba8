"""The Socket.IO server at /socket.io: authenticates every socket at connect.

A browser cannot set headers on a WebSocket, so the key and token come in the
Socket.IO `auth` payload (`{apiKey, token}`); `x-api-key` and `Authorization`
headers are accepted too. The realtime issues add their events on this server.
"""

import logging
from typing import Any

import socketio

from gateway.access import ApiKeyAuthority, TokenVerifier, bearer_token
from gateway.metrics import SOCKETS_CONNECTED
from webinar_contracts import RequestContext, ServiceError
from webinar_runtime.logs import new_trace_id

log = logging.getLogger("gateway.sockets")


def _header(environ: dict[str, Any], name: str) -> str | None:
    request = environ.get("aiohttp.request")
    if request is not None:
        value = request.headers.get(name)
        return str(value) if value is not None else None
    return environ.get("HTTP_" + name.upper().replace("-", "_"))


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
        await server.save_session(sid, {"tenant_id": tenant.tenant_id, "plan": tenant.plan.value, "user_id": user_id})
        SOCKETS_CONNECTED.labels("accepted").inc()
        log.info("socket connected", extra={"sid": sid, "tenant_id": tenant.tenant_id, "user_id": user_id})

    server.on("connect", connect)
    return server
