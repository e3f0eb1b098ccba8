"""Who is calling: API keys resolved by the auth service (and cached), access
tokens and room tickets (a viewer link's credential) verified here with auth's public
keys. A ticket has an audience and an access token none: neither passes for the other."""

import asyncio
import hashlib
import time
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from webinar_contracts import Empty, RequestContext, Unauthorized
from webinar_contracts import auth as auth_contract
from webinar_contracts.auth import ROOM_TICKET_AUDIENCE, ResolveApiKey, TenantAccess
from webinar_contracts.plans import Plan
from webinar_runtime.bus import Bus

NEGATIVE_CACHE_SECONDS = 5.0
MAX_CACHED_KEYS = 10_000
KEY_REFRESH_INTERVAL = 10.0


class ApiKeyAuthority:
    """Resolves `x-api-key` to a tenant and its plan; a key is trusted for `ttl` seconds."""

    def __init__(self, bus: Bus, *, ttl: float) -> None:
        self.bus = bus
        self.ttl = ttl
        self._cache: dict[str, tuple[float, TenantAccess | None]] = {}

    async def resolve(self, api_key: str | None, context: RequestContext) -> TenantAccess:
        if not api_key:
            raise Unauthorized("missing x-api-key header")
        digest = hashlib.sha256(api_key.encode("utf-8")).hexdigest()
        now = time.monotonic()
        cached = self._cache.get(digest)
        if cached and cached[0] > now:
            if cached[1] is None:
                raise Unauthorized("unknown API key")
            return cached[1]
        try:
            access = await self.bus.request(
                auth_contract.RESOLVE_API_KEY, ResolveApiKey(api_key=api_key), context=context
            )
        except Unauthorized:
            self._remember(digest, now + NEGATIVE_CACHE_SECONDS, None)
            raise
        self._remember(digest, now + self.ttl, access)
        return access

    def _remember(self, digest: str, until: float, access: TenantAccess | None) -> None:
        if len(self._cache) >= MAX_CACHED_KEYS:
            now = time.monotonic()
            for stale in [k for k, (expiry, _) in self._cache.items() if expiry <= now]:
                del self._cache[stale]
            if len(self._cache) >= MAX_CACHED_KEYS:
                self._cache.pop(next(iter(self._cache)))
        self._cache[digest] = (until, access)


@dataclass(frozen=True)
class TokenClaims:
    user_id: str
    tenant_id: str


@dataclass(frozen=True)
class RoomTicketClaims:
    """What a room ticket lets in: a guest of the tenant, into one room."""

    guest_id: str
    tenant_id: str
    plan: Plan
    room_id: str


class TokenVerifier:
    """Verifies access tokens locally with the public keys auth publishes on the bus."""

    def __init__(self, bus: Bus, *, issuer: str) -> None:
        self.bus = bus
        self.issuer = issuer
        self._keys: dict[str, Any] = {}
        self._refreshed_at = float("-inf")
        self._refresh_lock = asyncio.Lock()

    async def _key_for(self, kid: str, context: RequestContext, what: str) -> Any:
        if kid not in self._keys:
            async with self._refresh_lock:
                if kid not in self._keys and time.monotonic() - self._refreshed_at > KEY_REFRESH_INTERVAL:
                    published = await self.bus.request(auth_contract.SIGNING_KEYS, Empty(), context=context)
                    self._keys = {key.kid: load_pem_public_key(key.public_key_pem.encode()) for key in published.keys}
                    self._refreshed_at = time.monotonic()
        if kid not in self._keys:
            raise Unauthorized(f"{what} signed by an unknown key")
        return self._keys[kid]

    async def _decode(
        self, token: str, context: RequestContext, *, what: str, audience: str | None, require: list[str], renew: str
    ) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise Unauthorized(f"malformed {what}") from None
        key = await self._key_for(str(header.get("kid", "")), context, what)
        try:
            # Without `audience`, PyJWT refuses a token that has one: a ticket is no access token.
            claims: dict[str, Any] = jwt.decode(
                token, key, algorithms=["EdDSA"], issuer=self.issuer, audience=audience, options={"require": require}
            )
        except jwt.ExpiredSignatureError:
            raise Unauthorized(f"{what} expired; {renew}") from None
        except jwt.PyJWTError:
            raise Unauthorized(f"invalid {what}") from None
        return claims

    async def verify(self, token: str, context: RequestContext) -> TokenClaims:
        claims = await self._decode(
            token, context, what="access token", audience=None, require=["exp", "sub", "tid"], renew="log in again"
        )
        return TokenClaims(user_id=str(claims["sub"]), tenant_id=str(claims["tid"]))

    async def verify_room_ticket(self, ticket: str, context: RequestContext) -> RoomTicketClaims:
        """A viewer link's ticket; Unauthorized when it is malformed, forged, expired or an access token."""
        claims = await self._decode(
            ticket,
            context,
            what="room ticket",
            audience=ROOM_TICKET_AUDIENCE,
            require=["exp", "sub", "tid", "room", "plan", "aud"],
            renew="ask for a new link",
        )
        plan = claims["plan"]
        if plan not in Plan._value2member_map_ or not isinstance(claims["room"], str) or not claims["room"]:
            raise Unauthorized("invalid room ticket")
        return RoomTicketClaims(
            guest_id=str(claims["sub"]), tenant_id=str(claims["tid"]), plan=Plan(plan), room_id=claims["room"]
        )


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, if there is one."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Authorization header must be 'Bearer <token>'")
    return token.strip()
