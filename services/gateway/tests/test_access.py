import asyncio
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.access import ApiKeyAuthority, RoomTicketClaims, TokenVerifier, bearer_token
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


class Signer:
    """Signs as the auth service does (its tokens and tickets are its own business)."""

    def __init__(self) -> None:
        self.key = Ed25519PrivateKey.generate()
        self.public_pem = (
            self.key.public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            .decode()
        )

    async def signing_keys(self, request, context) -> auth_contract.SigningKeys:
        return auth_contract.SigningKeys(
            keys=[auth_contract.SigningKey(kid="k1", algorithm="EdDSA", public_key_pem=self.public_pem)]
        )

    def sign(self, **claims) -> str:
        now = int(time.time())
        claims = {"iss": "webinar-auth", "iat": now, "exp": now + 60, **claims}
        return jwt.encode(claims, self.key, algorithm="EdDSA", headers={"kid": "k1"})

    def ticket(self, **claims) -> str:
        return self.sign(**{"sub": "guest_1", "tid": "t1", "plan": "professional", "room": "room 1",
                            "aud": "room-ticket", **claims})  # fmt: skip


async def test_room_tickets_and_access_tokens_verify_only_as_what_they_are(private_nats_url):
    signer = Signer()
    auth_side = await Bus.connect(private_nats_url, service="auth", instance="stand-in")
    gateway_side = await Bus.connect(private_nats_url, service="gateway", instance="ticket-test")
    try:
        await auth_side.serve(auth_contract.SIGNING_KEYS, signer.signing_keys)
        verifier = TokenVerifier(gateway_side, issuer="webinar-auth")
        context = RequestContext()
        ticket = signer.ticket()
        access = signer.sign(sub="u1", tid="t1")
        assert await verifier.verify_room_ticket(ticket, context) == RoomTicketClaims(
            guest_id="guest_1", tenant_id="t1", plan=Plan.PROFESSIONAL, room_id="room 1"
        )
        assert (await verifier.verify(access, context)).user_id == "u1"
        with pytest.raises(Unauthorized, match="invalid access token"):
            await verifier.verify(ticket, context)
        with pytest.raises(Unauthorized, match="invalid room ticket"):
            await verifier.verify_room_ticket(access, context)
        for forged in (signer.ticket(plan="platinum"), signer.ticket(aud="something-else")):
            with pytest.raises(Unauthorized, match="invalid room ticket"):
                await verifier.verify_room_ticket(forged, context)
        with pytest.raises(Unauthorized, match="room ticket expired; ask for a new link"):
            await verifier.verify_room_ticket(signer.ticket(exp=int(time.time()) - 10), context)
        with pytest.raises(Unauthorized, match="malformed room ticket"):
            await verifier.verify_room_ticket("not a ticket", context)
    finally:
        await auth_side.close()
        await gateway_side.close()
