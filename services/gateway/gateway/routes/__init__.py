"""Every REST route the gateway serves, grouped by the service that owns it."""

from gateway.rest import Route
from gateway.routes import auth, system

ROUTES: list[Route] = [*system.ROUTES, *auth.ROUTES]
