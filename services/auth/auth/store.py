"""The only module of the auth service that talks to MongoDB and Redis.

MongoDB db `auth`: `tenants`, `api_keys` (hashes only), `users` (unique lower-cased
email per tenant). Redis keys `auth:*`: counters of failed logins.
"""

from datetime import UTC, datetime
from typing import Any

import redis.asyncio as aioredis
from bson import ObjectId
from bson.errors import InvalidId
from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from auth.domain import NewUser, Tenant, User
from webinar_contracts import Conflict
from webinar_contracts.plans import Plan


def _object_id(value: str) -> ObjectId | None:
    try:
        return ObjectId(value)
    except (InvalidId, TypeError):
        return None


def _tenant(doc: dict[str, Any]) -> Tenant:
    return Tenant(id=str(doc["_id"]), name=doc["name"], plan=Plan(doc["plan"]), created_at=doc["created_at"])


def _user(doc: dict[str, Any]) -> User:
    return User(
        id=str(doc["_id"]),
        tenant_id=doc["tenant_id"],
        email=doc["email"],
        first_name=doc["fName"],
        last_name=doc["lName"],
        password_hash=doc["password_hash"],
    )


class AuthStore:
    def __init__(self, db: AsyncDatabase[Any]) -> None:
        self.db = db
        self.tenants = db["tenants"]
        self.api_keys = db["api_keys"]
        self.users = db["users"]

    async def create_indexes(self) -> None:
        await self.api_keys.create_indexes([IndexModel([("key_hash", ASCENDING)], unique=True)])
        await self.users.create_indexes(
            [IndexModel([("tenant_id", ASCENDING), ("email_key", ASCENDING)], unique=True, name="email_per_tenant")]
        )

    # -- tenants and keys ----------------------------------------------------

    async def create_tenant(self, name: str, plan: Plan) -> Tenant:
        doc = {"_id": ObjectId(), "name": name, "plan": plan.value, "created_at": datetime.now(UTC)}
        await self.tenants.insert_one(doc)
        return _tenant(doc)

    async def list_tenants(self) -> list[Tenant]:
        return [_tenant(doc) async for doc in self.tenants.find().sort("created_at", ASCENDING)]

    async def get_tenant(self, tenant_id: str) -> Tenant | None:
        oid = _object_id(tenant_id)
        doc = await self.tenants.find_one({"_id": oid}) if oid else None
        return _tenant(doc) if doc else None

    async def set_plan(self, tenant_id: str, plan: Plan) -> bool:
        oid = _object_id(tenant_id)
        if oid is None:
            return False
        result = await self.tenants.update_one({"_id": oid}, {"$set": {"plan": plan.value}})
        return result.matched_count == 1

    async def add_api_key(self, tenant_id: str, key_hash: str, *, label: str = "") -> None:
        """Store a key's hash for a tenant; Conflict if that hash is already stored."""
        try:
            await self.api_keys.insert_one(
                {"key_hash": key_hash, "tenant_id": tenant_id, "label": label, "created_at": datetime.now(UTC)}
            )
        except DuplicateKeyError:
            raise Conflict("this API key is already registered") from None

    async def tenant_for_key(self, key_hash: str) -> Tenant | None:
        key = await self.api_keys.find_one({"key_hash": key_hash, "revoked_at": None})
        return await self.get_tenant(key["tenant_id"]) if key else None

    async def ensure_tenant_with_key(self, name: str, plan: Plan, key_hash: str) -> Tenant:
        """The tenant owning `key_hash`, created with `name` and `plan` if no tenant owns it.
        Safe when several replicas start at once: the unique key index picks one winner."""
        existing = await self.tenant_for_key(key_hash)
        if existing:
            return existing
        tenant = await self.create_tenant(name, plan)
        try:
            await self.add_api_key(tenant.id, key_hash, label="bootstrap")
        except Conflict:
            await self.tenants.delete_one({"_id": ObjectId(tenant.id)})
            winner = await self.tenant_for_key(key_hash)
            if winner is None:
                raise
            return winner
        return tenant

    # -- users ---------------------------------------------------------------

    async def insert_user(self, user: NewUser, password_hash: str) -> str:
        """Store a new user; Conflict when the tenant already has that email."""
        doc = {
            "_id": ObjectId(),
            "tenant_id": user.tenant_id,
            "email": user.email,
            "email_key": user.email_key,
            "fName": user.first_name,
            "lName": user.last_name,
            "phoneNumber": user.phone_number,
            "country": user.country,
            "password_hash": password_hash,
            "created_at": datetime.now(UTC),
        }
        try:
            await self.users.insert_one(doc)
        except DuplicateKeyError:
            raise Conflict("a user with this email is already registered", field="email") from None
        return str(doc["_id"])

    async def find_user_by_email(self, tenant_id: str, email_key: str) -> User | None:
        doc = await self.users.find_one({"tenant_id": tenant_id, "email_key": email_key})
        return _user(doc) if doc else None

    async def find_user(self, tenant_id: str, user_id: str) -> User | None:
        oid = _object_id(user_id)
        doc = await self.users.find_one({"_id": oid, "tenant_id": tenant_id}) if oid else None
        return _user(doc) if doc else None

    async def replace_password_hash(self, user_id: str, password_hash: str) -> None:
        await self.users.update_one({"_id": ObjectId(user_id)}, {"$set": {"password_hash": password_hash}})


class LoginThrottle:
    """Counts failed logins per (tenant, email, client address) in Redis for a window."""

    def __init__(self, redis: "aioredis.Redis", *, max_failures: int, window_seconds: int) -> None:
        self.redis = redis
        self.max_failures = max_failures
        self.window_seconds = window_seconds

    @staticmethod
    def _key(tenant_id: str, email_key: str, client: str) -> str:
        return f"auth:login-failures:{tenant_id}:{client}:{email_key}"

    async def seconds_locked(self, tenant_id: str, email_key: str, client: str) -> int:
        """0 when a login may be tried, else how long until it may."""
        key = self._key(tenant_id, email_key, client)
        failures = await self.redis.get(key)
        if failures is None or int(failures) < self.max_failures:
            return 0
        return max(1, int(await self.redis.ttl(key)))

    async def record_failure(self, tenant_id: str, email_key: str, client: str) -> None:
        key = self._key(tenant_id, email_key, client)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.incr(key)
            pipe.expire(key, self.window_seconds, nx=True)
            await pipe.execute()

    async def clear(self, tenant_id: str, email_key: str, client: str) -> None:
        await self.redis.delete(self._key(tenant_id, email_key, client))
