"""Bus subjects -> auth rules and store calls; nothing else."""

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from auth.domain import email_domain, email_key, hash_api_key, new_guest_id, validate_registration
from auth.passwords import Passwords
from auth.store import AuthStore, LoginThrottle
from auth.tokens import TokenSigner
from webinar_contracts import Conflict, Empty, NotFound, RateLimited, RequestContext, Unauthorized
from webinar_contracts.auth import (
    USER_REGISTERED,
    AccessGranted,
    GetUser,
    IssueRoomTicket,
    Login,
    PublicUser,
    RegisteredUser,
    RegisterUser,
    ResolveApiKey,
    RoomTicket,
    SigningKeys,
    TenantAccess,
    UserRegistered,
    check_ticket_lifetime,
)
from webinar_contracts.errors import InvalidInput
from webinar_runtime.bus import Bus

log = logging.getLogger("auth")

BAD_LOGIN = "invalid email or password"


@dataclass
class AuthHandlers:
    store: AuthStore
    throttle: LoginThrottle
    passwords: Passwords
    signer: TokenSigner
    bus: Bus
    clock: Callable[[], float] = field(default=time.time)

    async def register(self, request: RegisterUser, context: RequestContext) -> RegisteredUser:
        tenant_id = context.require_tenant()
        new_user = validate_registration(request, tenant_id)
        if await self.store.find_user_by_email(tenant_id, new_user.email_key):
            raise Conflict("a user with this email is already registered", field="email")
        password_hash = await self.passwords.hash(request.password)
        user_id = await self.store.insert_user(new_user, password_hash)
        log.info("user registered", extra={"user_id": user_id, "tenant_id": tenant_id})
        await self.bus.publish(
            USER_REGISTERED,
            UserRegistered(user_id=user_id, tenant_id=tenant_id, email_domain=email_domain(new_user.email)),
            context=context,
            event_id=f"user-registered:{user_id}",
        )
        return RegisteredUser(
            user=PublicUser(
                first_name=new_user.first_name, last_name=new_user.last_name, email=new_user.email, id=user_id
            )
        )

    async def login(self, request: Login, context: RequestContext) -> AccessGranted:
        tenant_id = context.require_tenant()
        if not request.user_name.strip():
            raise InvalidInput("userName is required", field="userName")
        if not request.password:
            raise InvalidInput("password is required", field="password")
        key = email_key(request.user_name)
        client = context.client_ip or "unknown"
        locked_for = await self.throttle.seconds_locked(tenant_id, key, client)
        if locked_for:
            raise RateLimited(f"too many failed logins; try again in {locked_for} seconds", retry_after=locked_for)
        user = await self.store.find_user_by_email(tenant_id, key)
        # Verify even for an unknown email (against a decoy) so both answers take as long.
        verified = await self.passwords.verify(user.password_hash if user else None, request.password)
        if user is None or not verified:
            await self.throttle.record_failure(tenant_id, key, client)
            log.info("login refused", extra={"tenant_id": tenant_id, "client_ip": client})
            raise Unauthorized(BAD_LOGIN)
        await self.throttle.clear(tenant_id, key, client)
        if self.passwords.needs_rehash(user.password_hash):
            await self.store.replace_password_hash(user.id, await self.passwords.hash(request.password))
        issued = self.signer.issue(user_id=user.id, tenant_id=tenant_id)
        log.info("login", extra={"user_id": user.id, "tenant_id": tenant_id})
        return AccessGranted(
            access_token=issued.token,
            expires_in=issued.expires_in,
            user=PublicUser(first_name=user.first_name, last_name=user.last_name, email=user.email, id=user.id),
        )

    async def get_user(self, request: GetUser, context: RequestContext) -> PublicUser:
        tenant_id = context.require_tenant()
        user = await self.store.find_user(tenant_id, request.user_id)
        if user is None:
            raise NotFound("no such user", field="userId")
        return PublicUser(first_name=user.first_name, last_name=user.last_name, email=user.email, id=user.id)

    async def resolve_api_key(self, request: ResolveApiKey, context: RequestContext) -> TenantAccess:
        tenant = await self.store.tenant_for_key(hash_api_key(request.api_key)) if request.api_key else None
        if tenant is None:
            raise Unauthorized("unknown API key")
        return TenantAccess(tenant_id=tenant.id, tenant_name=tenant.name, plan=tenant.plan)

    async def issue_room_ticket(self, request: IssueRoomTicket, context: RequestContext) -> RoomTicket:
        """A viewer link's ticket: one room of the tenant, for a guest with no key and no login.
        The caller (the gateway) checked that the room exists; the plan is the tenant's now."""
        tenant_id = context.require_tenant()
        lifetime = check_ticket_lifetime(request.expires_in)
        if not request.room_id.strip():
            raise InvalidInput("roomId is required", field="roomId")
        tenant = await self.store.get_tenant(tenant_id)
        if tenant is None:
            raise Unauthorized("this tenant no longer exists")
        now = self.clock()
        guest_id = new_guest_id()
        issued = self.signer.issue_room_ticket(
            guest_id=guest_id,
            tenant_id=tenant_id,
            plan=tenant.plan,
            room_id=request.room_id,
            ttl_seconds=lifetime,
            now=now,
        )
        log.info("room ticket issued", extra={"tenant_id": tenant_id, "room_id": request.room_id, "guest": guest_id})
        return RoomTicket(
            ticket=issued.token, guest_id=guest_id, expires_at=datetime.fromtimestamp(int(now) + lifetime, UTC)
        )

    async def signing_keys(self, request: Empty, context: RequestContext) -> SigningKeys:
        return self.signer.public_keys()
