"""Who is calling: API keys resolved by the auth service (and cached), access
tokens verified here with auth's public keys."""

import asyncio
import hashlib
import time
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from webinar_contracts import Empty, RequestContext, Unauthorized
from webinar_contracts import auth as auth_contract
from webinar_contracts.auth import ResolveApiKey, TenantAccess
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


class TokenVerifier:
    """Verifies access tokens locally with the public keys auth publishes on the bus."""

    def __init__(self, bus: Bus, *, issuer: str) -> None:
        self.bus = bus
        self.issuer = issuer
        self._keys: dict[str, Any] = {}
        self._refreshed_at = float("-inf")
        self._refresh_lock = asyncio.Lock()

    async def _key_for(self, kid: str, context: RequestContext) -> Any:
        if kid not in self._keys:
            async with self._refresh_lock:
                if kid not in self._keys and time.monotonic() - self._refreshed_at > KEY_REFRESH_INTERVAL:
                    published = await self.bus.request(auth_contract.SIGNING_KEYS, Empty(), context=context)
                    self._keys = {key.kid: load_pem_public_key(key.public_key_pem.encode()) for key in published.keys}
                    self._refreshed_at = time.monotonic()
        if kid not in self._keys:
            raise Unauthorized("access token signed by an unknown key")
        return self._keys[kid]

    async def verify(self, token: str, context: RequestContext) -> TokenClaims:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise Unauthorized("malformed access token") from None
        key = await self._key_for(str(header.get("kid", "")), context)
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=["EdDSA"],
                issuer=self.issuer,
                options={"require": ["exp", "sub", "tid"]},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthorized("access token expired; log in again") from None
        except jwt.PyJWTError:
            raise Unauthorized("invalid access token") from None
        return TokenClaims(user_id=str(claims["sub"]), tenant_id=str(claims["tid"]))


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, if there is one."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Authorization header must be 'Bearer <token>'")
    return token.strip()
