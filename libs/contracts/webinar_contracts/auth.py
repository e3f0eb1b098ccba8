"""The auth service's subjects and messages: tenants, API keys, users, login, room tickets.

Field names keep the seed's camelCase on the wire (`fName`, `userName`, `_id`);
Python attributes are snake_case.
"""

from datetime import datetime

import msgspec

from webinar_contracts.bus import Empty, Endpoint, EventType
from webinar_contracts.errors import InvalidInput
from webinar_contracts.plans import Plan


class RegisterUser(msgspec.Struct, kw_only=True, forbid_unknown_fields=False):
    """POST /auth/register. Types are checked here; the rules (email shape,
    password length) live in the auth service's domain."""

    email: str
    first_name: str = msgspec.field(name="fName")
    last_name: str = msgspec.field(name="lName")
    phone_number: str = msgspec.field(name="phoneNumber")
    country: str
    password: str


class PublicUser(msgspec.Struct, kw_only=True):
    """A user as any API answer shows it: never a password or a hash."""

    first_name: str = msgspec.field(name="fName")
    last_name: str = msgspec.field(name="lName")
    email: str
    id: str = msgspec.field(name="_id")


class RegisteredUser(msgspec.Struct, kw_only=True):
    user: PublicUser


class Login(msgspec.Struct, kw_only=True):
    """POST /auth/login: `userName` is the email."""

    user_name: str = msgspec.field(name="userName")
    password: str


class AccessGranted(msgspec.Struct, kw_only=True):
    access_token: str = msgspec.field(name="accessToken")
    token_type: str = msgspec.field(name="tokenType", default="Bearer")
    expires_in: int = msgspec.field(name="expiresIn")
    user: PublicUser


class ResolveApiKey(msgspec.Struct, kw_only=True):
    api_key: str


class TenantAccess(msgspec.Struct, kw_only=True):
    """What the gateway caches for a valid key: whose it is and what plan it has."""

    tenant_id: str
    tenant_name: str
    plan: Plan


class SigningKey(msgspec.Struct, kw_only=True):
    kid: str
    algorithm: str
    public_key_pem: str


class SigningKeys(msgspec.Struct, kw_only=True):
    """Public keys the gateway verifies access tokens with, newest first."""

    keys: list[SigningKey]


class GetUser(msgspec.Struct, kw_only=True):
    user_id: str


class UserRegistered(msgspec.Struct, kw_only=True):
    user_id: str
    tenant_id: str
    email_domain: str


# -- room tickets: what a viewer link carries instead of the tenant's API key ------------
#
# A room ticket is a JWT signed with the access tokens' key (the gateway verifies both
# with the keys SIGNING_KEYS publishes). Its `aud` is ROOM_TICKET_AUDIENCE, which access
# tokens lack, so neither passes for the other. Claims: `sub` (a guest id), `tid`, `plan`,
# `room`, `iat`, `exp`, `iss`, `aud`.

ROOM_TICKET_AUDIENCE = "room-ticket"
ROOM_TICKET_DEFAULT_SECONDS = 86_400
ROOM_TICKET_MIN_SECONDS = 60
ROOM_TICKET_MAX_SECONDS = 7 * 86_400


def check_ticket_lifetime(seconds: int) -> int:
    """`seconds` when a room ticket may live that long; InvalidInput naming `expiresInSeconds` otherwise."""
    if not ROOM_TICKET_MIN_SECONDS <= seconds <= ROOM_TICKET_MAX_SECONDS:
        raise InvalidInput(
            f"expiresInSeconds must be from {ROOM_TICKET_MIN_SECONDS} to {ROOM_TICKET_MAX_SECONDS} seconds",
            field="expiresInSeconds",
        )
    return seconds


class IssueRoomTicket(msgspec.Struct, kw_only=True):
    """A ticket to one room of the context's tenant, for `expires_in` seconds."""

    room_id: str
    expires_in: int = ROOM_TICKET_DEFAULT_SECONDS


class RoomTicket(msgspec.Struct, kw_only=True):
    ticket: str
    guest_id: str
    expires_at: datetime


REGISTER = Endpoint("auth.users.register", RegisterUser, RegisteredUser)
LOGIN = Endpoint("auth.users.login", Login, AccessGranted)
GET_USER = Endpoint("auth.users.get", GetUser, PublicUser)
RESOLVE_API_KEY = Endpoint("auth.keys.resolve", ResolveApiKey, TenantAccess)
SIGNING_KEYS = Endpoint("auth.tokens.signing-keys", Empty, SigningKeys)
ISSUE_ROOM_TICKET = Endpoint("auth.tickets.issue", IssueRoomTicket, RoomTicket)

USER_REGISTERED = EventType("events.auth.user.registered", UserRegistered)
