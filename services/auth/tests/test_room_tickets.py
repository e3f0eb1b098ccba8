"""Issuing a viewer link's room ticket: the auth handler on the real store."""

import uuid

import jwt
import pytest
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from auth.handlers import AuthHandlers
from auth.passwords import Passwords
from auth.store import AuthStore
from auth.tokens import TokenSigner, generate_signing_key_pem
from webinar_contracts import InvalidInput, RequestContext, Unauthorized
from webinar_contracts.auth import ROOM_TICKET_AUDIENCE, IssueRoomTicket
from webinar_contracts.plans import Plan
from webinar_runtime.stores import connect_mongo

NOW = 1_700_000_000.0  # in the past: the decode below skips the expiry check


@pytest.fixture
async def store(mongo_url):
    client = await connect_mongo(mongo_url, attempts=3)
    db = client[f"auth_test_{uuid.uuid4().hex[:8]}"]
    store = AuthStore(db)
    await store.create_indexes()
    yield store
    await client.drop_database(db.name)
    await client.close()


@pytest.fixture
def signer() -> TokenSigner:
    return TokenSigner(generate_signing_key_pem(), issuer="test-issuer", ttl_seconds=3600)


@pytest.fixture
def handlers(store, signer) -> AuthHandlers:
    # Tickets need neither logins nor the bus.
    return AuthHandlers(store=store, throttle=None, passwords=Passwords(), signer=signer, bus=None, clock=lambda: NOW)  # type: ignore[arg-type]


async def test_a_ticket_names_a_new_guest_the_tenant_its_plan_and_the_room(handlers, store, signer):
    tenant = await store.create_tenant("Acme Events", Plan.ESSENTIAL)
    context = RequestContext(tenant_id=tenant.id)
    first = await handlers.issue_room_ticket(IssueRoomTicket(room_id="room-1", expires_in=600), context)
    second = await handlers.issue_room_ticket(IssueRoomTicket(room_id="room-1"), context)
    public = load_pem_public_key(signer.public_keys().keys[0].public_key_pem.encode())
    claims = jwt.decode(
        first.ticket, public, algorithms=["EdDSA"], issuer="test-issuer", audience=ROOM_TICKET_AUDIENCE,
        options={"verify_exp": False},
    )  # fmt: skip
    assert (claims["sub"], claims["tid"], claims["plan"], claims["room"]) == (
        first.guest_id, tenant.id, "essential", "room-1",
    )  # fmt: skip
    assert first.guest_id.startswith("guest_")
    assert first.guest_id != second.guest_id  # every link admits a guest of its own
    assert first.expires_at.timestamp() == NOW + 600
    assert second.expires_at.timestamp() == NOW + 86_400  # a day unless asked otherwise


@pytest.mark.parametrize("seconds", [59, 604_801, -1])
async def test_a_lifetime_outside_a_minute_to_a_week_is_refused_naming_the_field(handlers, store, seconds):
    tenant = await store.create_tenant("Acme Events", Plan.PROFESSIONAL)
    with pytest.raises(InvalidInput, match="expiresInSeconds must be from 60 to 604800 seconds") as refused:
        await handlers.issue_room_ticket(
            IssueRoomTicket(room_id="room-1", expires_in=seconds), RequestContext(tenant_id=tenant.id)
        )
    assert refused.value.field == "expiresInSeconds"


async def test_no_ticket_without_a_tenant_that_exists(handlers):
    with pytest.raises(Unauthorized):
        await handlers.issue_room_ticket(IssueRoomTicket(room_id="room-1"), RequestContext())
    with pytest.raises(Unauthorized, match="no longer exists"):
        await handlers.issue_room_ticket(
            IssueRoomTicket(room_id="room-1"), RequestContext(tenant_id="64b7f0000000000000000000")
        )
