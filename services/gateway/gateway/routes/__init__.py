"""Every REST route the gateway serves, grouped by the service that owns it."""

from gateway.rest import Route
from gateway.routes import analytics, auth, meetings, recording, static, system, transcription

ROUTES: list[Route] = [
    *system.ROUTES,
    *auth.ROUTES,
    *meetings.ROUTES,
    *recording.ROUTES,
    *transcription.ROUTES,
    *analytics.ROUTES,
    *static.ROUTES,
]
