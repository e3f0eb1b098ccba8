"""REST routes of the recording service."""

from gateway.rest import Route

ROUTES: list[Route] = []
