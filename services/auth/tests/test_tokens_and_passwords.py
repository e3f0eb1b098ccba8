import time

import jwt
import pytest
from argon2 import PasswordHasher
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from auth.passwords import Passwords
from auth.tokens import TokenSigner, generate_signing_key_pem


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
