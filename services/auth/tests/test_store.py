"""The auth store against the real MongoDB-compatible server and Redis."""

import uuid

import pytest

from auth.domain import NewUser, hash_api_key
from auth.store import AuthStore, LoginThrottle
from webinar_contracts import Conflict
from webinar_contracts.plans import Plan
from webinar_runtime.stores import connect_mongo, connect_redis


@pytest.fixture
async def store(mongo_url):
    client = await connect_mongo(mongo_url, attempts=3)
    db = client[f"auth_test_{uuid.uuid4().hex[:8]}"]
    store = AuthStore(db)
    await store.create_indexes()
    yield store
    await client.drop_database(db.name)
    await client.close()


def new_user(tenant: str, email: str) -> NewUser:
    return NewUser(
        tenant_id=tenant, email=email, email_key=email.lower(), first_name="Ira", last_name="Quill",
        phone_number="5550100", country="Elsewhere",
    )  # fmt: skip


async def test_email_is_unique_per_tenant_whatever_its_case(store):
    await store.insert_user(new_user("t1", "Ira@Example.test"), "hash")
    with pytest.raises(Conflict) as caught:
        await store.insert_user(new_user("t1", "IRA@example.TEST"), "hash")
    assert caught.value.field == "email"
    await store.insert_user(new_user("t2", "ira@example.test"), "hash")  # another tenant: allowed


async def test_user_is_found_only_within_its_tenant(store):
    user_id = await store.insert_user(new_user("t1", "find@example.test"), "hash")
    assert (await store.find_user("t1", user_id)).email == "find@example.test"
    assert await store.find_user("t2", user_id) is None
    assert await store.find_user("t1", "not-an-object-id") is None


async def test_api_key_resolves_to_its_tenant_and_only_its_hash_is_stored(store):
    tenant = await store.create_tenant("acme", Plan.ESSENTIAL)
    await store.add_api_key(tenant.id, hash_api_key("wk_secret"))
    assert (await store.tenant_for_key(hash_api_key("wk_secret"))).id == tenant.id
    assert await store.tenant_for_key(hash_api_key("wk_other")) is None
    assert await store.api_keys.count_documents({"key_hash": "wk_secret"}) == 0


async def test_bootstrap_tenant_is_created_once(store):
    first = await store.ensure_tenant_with_key("default", Plan.PROFESSIONAL, hash_api_key("wk_boot"))
    again = await store.ensure_tenant_with_key("default", Plan.PROFESSIONAL, hash_api_key("wk_boot"))
    assert first.id == again.id
    assert first.plan is Plan.PROFESSIONAL
    assert await store.tenants.count_documents({}) == 1


async def test_login_throttle_locks_after_the_limit_and_clears_on_success(redis_url):
    redis = await connect_redis(redis_url, attempts=3)
    throttle = LoginThrottle(redis, max_failures=3, window_seconds=60)
    email = f"{uuid.uuid4().hex}@example.test"
    try:
        for _ in range(3):
            assert await throttle.seconds_locked("t", email, "10.0.0.1") == 0
            await throttle.record_failure("t", email, "10.0.0.1")
        assert 0 < await throttle.seconds_locked("t", email, "10.0.0.1") <= 60
        assert await throttle.seconds_locked("t", email, "10.0.0.2") == 0  # another address is not locked
        await throttle.clear("t", email, "10.0.0.1")
        assert await throttle.seconds_locked("t", email, "10.0.0.1") == 0
    finally:
        await redis.aclose()
