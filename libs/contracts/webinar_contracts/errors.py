"""Typed error replies: what a service answers instead of a result when it refuses."""

from enum import StrEnum

import msgspec


class ErrorCode(StrEnum):
    """Why a request failed; the gateway maps each code to one HTTP status."""

    INVALID = "invalid"
    UNAUTHORIZED = "unauthorized"
    FORBIDDEN = "forbidden"
    NOT_FOUND = "not_found"
    CONFLICT = "conflict"
    TOO_LARGE = "too_large"
    RATE_LIMITED = "rate_limited"
    UNAVAILABLE = "unavailable"
    INTERNAL = "internal"


class ErrorReply(msgspec.Struct, kw_only=True, omit_defaults=True):
    """The body of an error reply on the bus."""

    code: ErrorCode
    message: str
    field: str | None = None
    retry_after: float | None = None


class ServiceError(Exception):
    """A refusal a service answers with: it travels as an ErrorReply and is
    raised again, as the same class, on the side that asked."""

    code: ErrorCode = ErrorCode.INTERNAL

    def __init__(self, message: str, *, field: str | None = None, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.retry_after = retry_after

    def to_reply(self) -> ErrorReply:
        return ErrorReply(code=self.code, message=self.message, field=self.field, retry_after=self.retry_after)

    @staticmethod
    def from_reply(reply: ErrorReply) -> "ServiceError":
        error_type = _BY_CODE.get(reply.code, ServiceError)
        return error_type(reply.message, field=reply.field, retry_after=reply.retry_after)


class InvalidInput(ServiceError, ValueError):
    code = ErrorCode.INVALID


class Unauthorized(ServiceError, PermissionError):
    code = ErrorCode.UNAUTHORIZED


class Forbidden(ServiceError, PermissionError):
    code = ErrorCode.FORBIDDEN


class NotFound(ServiceError, LookupError):
    code = ErrorCode.NOT_FOUND


class Conflict(ServiceError):
    code = ErrorCode.CONFLICT


class TooLarge(ServiceError, ValueError):
    code = ErrorCode.TOO_LARGE


class RateLimited(ServiceError):
    code = ErrorCode.RATE_LIMITED


class Unavailable(ServiceError, ConnectionError):
    """The service that should answer is down, absent or too slow."""

    code = ErrorCode.UNAVAILABLE


_BY_CODE: dict[ErrorCode, type[ServiceError]] = {
    cls.code: cls
    for cls in (InvalidInput, Unauthorized, Forbidden, NotFound, Conflict, TooLarge, RateLimited, Unavailable)
}
