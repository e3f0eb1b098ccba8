"""Builds the gateway's aiohttp application: REST routes, Socket.IO, the API document."""

from aiohttp import web

from gateway.access import ApiKeyAuthority, TokenVerifier
from gateway.config import GatewayConfig
from gateway.openapi import build_document, render
from gateway.recording_socket import mount_recording_socket
from gateway.rest import GATE, Gate, Route, edge_middleware, serve_route
from gateway.routes import ROUTES
from gateway.routes.system import OPENAPI_DOCUMENT, REQUIRED_SERVICES
from gateway.sfu_socket import register_sfu_socket
from gateway.socket_fanout import NatsClientManager
from gateway.sockets import create_socket_server
from gateway.whiteboard_socket import mount_whiteboard_socket
from webinar_runtime.bus import Bus


def build_app(bus: Bus, config: GatewayConfig, routes: list[Route] = ROUTES) -> web.Application:
    keys = ApiKeyAuthority(bus, ttl=config.api_key_cache_seconds)
    tokens = TokenVerifier(bus, issuer=config.token_issuer)
    app = web.Application(middlewares=[edge_middleware], client_max_size=config.max_body_bytes)
    app[GATE] = Gate(
        bus=bus, keys=keys, tokens=tokens, max_body_bytes=config.max_body_bytes, trust_proxy=config.trust_proxy
    )
    app[REQUIRED_SERVICES] = frozenset(route.service for route in routes if route.service != "gateway")
    app[OPENAPI_DOCUMENT] = render(build_document(routes))
    for route in routes:
        app.router.add_route(route.method, route.path, serve_route(route), name=route.handler.__name__)
    sockets = create_socket_server(
        keys, tokens, cors_origins=list(config.cors_origins) or [], client_manager=NatsClientManager(bus.nc)
    )
    sockets.attach(app, socketio_path="socket.io")
    register_sfu_socket(app, sockets, bus)
    mount_whiteboard_socket(app, bus, keys, tokens, cors_origins=list(config.cors_origins) or [])
    mount_recording_socket(app, bus, keys, tokens, cors_origins=list(config.cors_origins) or [])
    return app
