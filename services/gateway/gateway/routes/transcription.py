"""REST routes of the transcription service."""

from gateway.rest import Route

ROUTES: list[Route] = []
