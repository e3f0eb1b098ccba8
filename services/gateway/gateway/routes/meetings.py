"""REST routes of the meetings service."""

from gateway.rest import Route

ROUTES: list[Route] = []
