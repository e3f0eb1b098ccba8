"""Access tokens and room tickets: JWTs signed with Ed25519 here and verified by the
gateway with the public key it fetches over the bus, so no shared secret leaves this
service. A room ticket has an audience (`aud`) and an access token none, so the gateway
takes neither for the other."""

import hashlib
import time
from dataclasses import dataclass

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from webinar_contracts.auth import ROOM_TICKET_AUDIENCE, SigningKey, SigningKeys
from webinar_contracts.plans import Plan

ALGORITHM = "EdDSA"


def generate_signing_key_pem() -> str:
    key = Ed25519PrivateKey.generate()
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode("ascii")


@dataclass(frozen=True)
class IssuedToken:
    token: str
    expires_in: int


class TokenSigner:
    def __init__(self, private_key_pem: str, *, issuer: str, ttl_seconds: int) -> None:
        key = serialization.load_pem_private_key(private_key_pem.encode("ascii"), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError("the signing key must be an Ed25519 private key")
        self._key = key
        public_pem = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self._public_pem = public_pem.decode("ascii")
        self.kid = hashlib.sha256(public_pem).hexdigest()[:16]
        self.issuer = issuer
        self.ttl_seconds = ttl_seconds

    def issue(self, *, user_id: str, tenant_id: str, now: float | None = None) -> IssuedToken:
        issued_at = int(now if now is not None else time.time())
        claims = {
            "sub": user_id,
            "tid": tenant_id,
            "iss": self.issuer,
            "iat": issued_at,
            "exp": issued_at + self.ttl_seconds,
        }
        token = jwt.encode(claims, self._key, algorithm=ALGORITHM, headers={"kid": self.kid})
        return IssuedToken(token=token, expires_in=self.ttl_seconds)

    def issue_room_ticket(
        self, *, guest_id: str, tenant_id: str, plan: Plan, room_id: str, ttl_seconds: int, now: float | None = None
    ) -> IssuedToken:
        """A ticket letting a guest (no API key, no login) into one room of the tenant."""
        issued_at = int(now if now is not None else time.time())
        claims = {
            "sub": guest_id,
            "tid": tenant_id,
            "plan": plan.value,
            "room": room_id,
            "aud": ROOM_TICKET_AUDIENCE,
            "iss": self.issuer,
            "iat": issued_at,
            "exp": issued_at + ttl_seconds,
        }
        token = jwt.encode(claims, self._key, algorithm=ALGORITHM, headers={"kid": self.kid})
        return IssuedToken(token=token, expires_in=ttl_seconds)

    def public_keys(self) -> SigningKeys:
        return SigningKeys(keys=[SigningKey(kid=self.kid, algorithm=ALGORITHM, public_key_pem=self._public_pem)])
