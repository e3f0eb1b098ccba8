"""The bus contract of the webinar suite: subjects, message schemas, error codes.

Both sides of every request and event import their definitions from here, so a
subject name or a field is written once.
"""

from webinar_contracts.bus import Empty, Endpoint, EventType, RequestContext
from webinar_contracts.errors import (
    Conflict,
    ErrorCode,
    ErrorReply,
    Forbidden,
    InvalidInput,
    NotFound,
    RateLimited,
    ServiceError,
    TooLarge,
    Unauthorized,
    Unavailable,
)
from webinar_contracts.plans import Plan

__all__ = [
    "Conflict",
    "Empty",
    "Endpoint",
    "ErrorCode",
    "ErrorReply",
    "EventType",
    "Forbidden",
    "InvalidInput",
    "NotFound",
    "Plan",
    "RateLimited",
    "RequestContext",
    "ServiceError",
    "TooLarge",
    "Unauthorized",
    "Unavailable",
]
