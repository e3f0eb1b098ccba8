import asyncio

import pytest

from gateway.access import ApiKeyAuthority, bearer_token
from webinar_contracts import RequestContext, Unauthorized
from webinar_contracts import auth as auth_contract
from webinar_contracts.auth import TenantAccess
from webinar_contracts.plans import Plan
from webinar_devstack.servers import start_nats
from webinar_runtime.bus import Bus


def test_bearer_token_is_taken_from_the_authorization_header():
    assert bearer_token("Bearer abc.def") == "abc.def"
    assert bearer_token("bearer   xyz ") == "xyz"
    assert bearer_token(None) is None


@pytest.mark.parametrize("header", ["Basic dXNlcjpwYXNz", "Bearer", "Bearer    ", "token"])
def test_other_authorization_schemes_are_refused(header):
    with pytest.raises(Unauthorized, match="Bearer <token>"):
        bearer_token(header)


@pytest.fixture
def private_nats_url(tmp_path):
    # A server of its own: the real auth service of the cross-service tests must not answer here.
    server = start_nats(tmp_path / "nats")
    yield f"nats://127.0.0.1:{server.port}"
    server.stop()


async def test_api_keys_are_cached_and_unknown_keys_refused(private_nats_url):
    auth_side = await Bus.connect(private_nats_url, service="auth", instance="stand-in")
    gateway_side = await Bus.connect(private_nats_url, service="gateway", instance="cache-test")
    asked: list[str] = []

    async def resolve(request, context):
        asked.append(request.api_key)
        if request.api_key != "wk_good":
            raise Unauthorized("unknown API key")
        return TenantAccess(tenant_id="t1", tenant_name="acme", plan=Plan.ESSENTIAL)

    try:
        await auth_side.serve(auth_contract.RESOLVE_API_KEY, resolve)
        authority = ApiKeyAuthority(gateway_side, ttl=60)
        context = RequestContext()
        first, second = await asyncio.gather(
            authority.resolve("wk_good", context), authority.resolve("wk_good", context)
        )
        assert first.tenant_id == second.tenant_id == "t1"
        await authority.resolve("wk_good", context)
        for _ in range(2):
            with pytest.raises(Unauthorized, match="unknown API key"):
                await authority.resolve("wk_bad", context)
        with pytest.raises(Unauthorized, match="missing x-api-key"):
            await authority.resolve("", context)
        assert asked.count("wk_bad") == 1  # refusals are remembered briefly too
        assert asked.count("wk_good") <= 2  # two racing first calls may both ask; later ones never do
    finally:
        await auth_side.close()
        await gateway_side.close()
