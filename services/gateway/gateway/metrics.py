"""Prometheus metrics of the REST edge."""

from prometheus_client import Counter, Histogram

HTTP_REQUESTS = Counter(
    "webinar_http_requests_total", "REST requests, by route and status", ["method", "route", "status"]
)
HTTP_REQUEST_SECONDS = Histogram(
    "webinar_http_request_seconds",
    "Time to answer a REST request, by route",
    ["method", "route"],
    buckets=(0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
SOCKETS_CONNECTED = Counter("webinar_socketio_connections_total", "Socket.IO connections, by outcome", ["outcome"])
