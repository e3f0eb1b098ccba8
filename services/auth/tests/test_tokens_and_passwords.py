import time

import jwt
import pytest
from argon2 import PasswordHasher
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from auth.passwords import Passwords
from auth.tokens import TokenSigner, generate_signing_key_pem
from webinar_contracts.auth import ROOM_TICKET_AUDIENCE
from webinar_contracts.plans import Plan


def test_token_carries_user_tenant_and_expiry_and_verifies_with_the_published_key():
    signer = TokenSigner(generate_signing_key_pem(), issuer="test-issuer", ttl_seconds=600)
    issued = signer.issue(user_id="u1", tenant_id="t1", now=time.time())
    published = signer.public_keys().keys[0]
    assert jwt.get_unverified_header(issued.token)["kid"] == published.kid
    claims = jwt.decode(
        issued.token, load_pem_public_key(published.public_key_pem.encode()), algorithms=["EdDSA"], issuer="test-issuer"
    )
    assert (claims["sub"], claims["tid"], claims["exp"] - claims["iat"]) == ("u1", "t1", 600)


def test_token_from_another_key_does_not_verify():
    signer, stranger = (TokenSigner(generate_signing_key_pem(), issuer="i", ttl_seconds=60) for _ in range(2))
    token = stranger.issue(user_id="u", tenant_id="t").token
    public = load_pem_public_key(signer.public_keys().keys[0].public_key_pem.encode())
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(token, public, algorithms=["EdDSA"], issuer="i")


def test_signing_key_must_be_ed25519():
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    pem = (
        ec.generate_private_key(ec.SECP256R1())
        .private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        .decode()
    )
    with pytest.raises(ValueError, match="Ed25519"):
        TokenSigner(pem, issuer="i", ttl_seconds=60)


@pytest.fixture
def passwords():
    return Passwords(PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1))


async def test_password_hash_verifies_only_the_right_password(passwords):
    stored = await passwords.hash("a passphrase")
    assert "a passphrase" not in stored
    assert await passwords.verify(stored, "a passphrase")
    assert not await passwords.verify(stored, "another one")


async def test_unknown_user_never_verifies(passwords):
    assert not await passwords.verify(None, "decoy password that matches nothing")


def test_room_ticket_carries_guest_tenant_plan_room_and_audience_and_verifies_with_the_published_key():
    signer = TokenSigner(generate_signing_key_pem(), issuer="test-issuer", ttl_seconds=600)
    issued = signer.issue_room_ticket(
        guest_id="guest_1", tenant_id="t1", plan=Plan.ESSENTIAL, room_id="r1", ttl_seconds=120, now=time.time()
    )
    published = signer.public_keys().keys[0]
    assert jwt.get_unverified_header(issued.token)["kid"] == published.kid
    claims = jwt.decode(
        issued.token,
        load_pem_public_key(published.public_key_pem.encode()),
        algorithms=["EdDSA"],
        issuer="test-issuer",
        audience=ROOM_TICKET_AUDIENCE,
    )
    assert (claims["sub"], claims["tid"], claims["plan"], claims["room"], claims["exp"] - claims["iat"]) == (
        "guest_1", "t1", "essential", "r1", 120,
    )  # fmt: skip
    assert issued.expires_in == 120


def test_a_ticket_is_no_access_token_and_an_access_token_is_no_ticket():
    signer = TokenSigner(generate_signing_key_pem(), issuer="i", ttl_seconds=600)
    public = load_pem_public_key(signer.public_keys().keys[0].public_key_pem.encode())
    ticket = signer.issue_room_ticket(
        guest_id="guest_1", tenant_id="t1", plan=Plan.PROFESSIONAL, room_id="r1", ttl_seconds=60
    ).token
    access = signer.issue(user_id="u1", tenant_id="t1").token
    # As the gateway verifies an access token (no audience expected): a ticket has one.
    with pytest.raises(jwt.InvalidAudienceError):
        jwt.decode(ticket, public, algorithms=["EdDSA"], issuer="i")
    # As it verifies a ticket: an access token has no audience.
    with pytest.raises(jwt.MissingRequiredClaimError):
        jwt.decode(access, public, algorithms=["EdDSA"], issuer="i", audience=ROOM_TICKET_AUDIENCE,
                   options={"require": ["aud"]})  # fmt: skip
