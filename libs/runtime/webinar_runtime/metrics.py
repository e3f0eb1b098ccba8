"""Prometheus metrics every service exposes at /metrics."""

from prometheus_client import Counter, Gauge, Histogram

BUS_REQUESTS = Counter(
    "webinar_bus_requests_total", "Bus requests handled, by subject and outcome", ["subject", "outcome"]
)
BUS_REQUEST_SECONDS = Histogram(
    "webinar_bus_request_seconds",
    "Time to handle a bus request, by subject",
    ["subject"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
BUS_IN_FLIGHT = Gauge("webinar_bus_requests_in_flight", "Bus requests being handled now")
EVENTS_PUBLISHED = Counter("webinar_events_published_total", "Events published to JetStream", ["subject"])
EVENTS_HANDLED = Counter(
    "webinar_events_handled_total", "Events consumed, by subject and outcome", ["subject", "outcome"]
)
