"""How a request subject or an event subject is declared, once, for both sides."""

from dataclasses import dataclass
from typing import Generic, TypeVar

import msgspec

from webinar_contracts.errors import Unauthorized
from webinar_contracts.plans import Plan

Req = TypeVar("Req", bound=msgspec.Struct)
Rep = TypeVar("Rep", bound=msgspec.Struct)
Payload = TypeVar("Payload", bound=msgspec.Struct)


class Empty(msgspec.Struct):
    """A request or reply that carries nothing."""


@dataclass(frozen=True)
class Endpoint(Generic[Req, Rep]):
    """A request/reply subject served by one service (queue group = the service)."""

    subject: str
    request: type[Req]
    reply: type[Rep]

    @property
    def service(self) -> str:
        return self.subject.split(".", 1)[0]


@dataclass(frozen=True)
class EventType(Generic[Payload]):
    """A fact published to JetStream under `events.<domain>.<entity>.<verb>`."""

    subject: str
    payload: type[Payload]
    version: int = 1

    def __post_init__(self) -> None:
        if not self.subject.startswith("events."):
            raise ValueError(f"event subject must start with 'events.': {self.subject}")


class RequestContext(msgspec.Struct, kw_only=True, frozen=True, omit_defaults=True):
    """Who asks, on whose behalf: travels in message headers beside the payload."""

    trace_id: str = ""
    tenant_id: str | None = None
    plan: Plan | None = None
    user_id: str | None = None
    client_ip: str | None = None

    def require_tenant(self) -> str:
        """The tenant the request acts for; Unauthorized when it came without an API key."""
        if not self.tenant_id:
            raise Unauthorized("this request has no tenant: an x-api-key is required")
        return self.tenant_id

    def to_headers(self) -> dict[str, str]:
        headers = {"trace-id": self.trace_id} if self.trace_id else {}
        for name in ("tenant_id", "plan", "user_id", "client_ip"):
            value = getattr(self, name)
            if value is not None:
                headers[name.replace("_", "-")] = str(value)
        return headers

    @classmethod
    def from_headers(cls, headers: dict[str, str] | None) -> "RequestContext":
        headers = headers or {}
        plan = headers.get("plan")
        return cls(
            trace_id=headers.get("trace-id", ""),
            tenant_id=headers.get("tenant-id"),
            plan=Plan(plan) if plan is not None and plan in Plan._value2member_map_ else None,
            user_id=headers.get("user-id"),
            client_ip=headers.get("client-ip"),
        )
