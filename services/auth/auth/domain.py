"""The auth rules: what a valid registration is, how emails compare, what an API key is.

No I/O here: the store persists, the handlers translate.
"""

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from webinar_contracts import InvalidInput
from webinar_contracts.auth import RegisterUser
from webinar_contracts.plans import Plan
from webinar_contracts.validation import required_text

EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")
PHONE = re.compile(r"^\+?[0-9 ()\-.]{5,32}$")
MIN_PASSWORD = 8
MAX_PASSWORD = 1024
MAX_NAME = 100
API_KEY_PREFIX = "wk_"


@dataclass(frozen=True, kw_only=True)
class NewUser:
    tenant_id: str
    email: str
    email_key: str
    first_name: str
    last_name: str
    phone_number: str
    country: str


@dataclass(frozen=True, kw_only=True)
class User:
    id: str
    tenant_id: str
    email: str
    first_name: str
    last_name: str
    password_hash: str


@dataclass(frozen=True, kw_only=True)
class Tenant:
    id: str
    name: str
    plan: Plan
    created_at: datetime


def email_key(email: str) -> str:
    """The form two emails are compared in: trimmed and lower-cased."""
    return email.strip().lower()


def validate_registration(request: RegisterUser, tenant_id: str) -> NewUser:
    """The user to store, or InvalidInput naming the first field at fault (in form order)."""
    email = request.email.strip()
    if len(email) > 254 or not EMAIL.match(email):
        raise InvalidInput("email is not a valid email address", field="email")
    first_name = required_text(request.first_name, "fName", MAX_NAME)
    last_name = required_text(request.last_name, "lName", MAX_NAME)
    phone = request.phone_number.strip()
    if not PHONE.match(phone) or sum(ch.isdigit() for ch in phone) < 5:
        raise InvalidInput(
            "phoneNumber must be a phone number (digits, optionally +, spaces, dashes)", field="phoneNumber"
        )
    country = required_text(request.country, "country", MAX_NAME)
    validate_password(request.password)
    return NewUser(
        tenant_id=tenant_id,
        email=email,
        email_key=email_key(email),
        first_name=first_name,
        last_name=last_name,
        phone_number=phone,
        country=country,
    )


def validate_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise InvalidInput(f"password must be at least {MIN_PASSWORD} characters", field="password")
    if len(password) > MAX_PASSWORD:
        raise InvalidInput(f"password must be at most {MAX_PASSWORD} characters", field="password")


def email_domain(email: str) -> str:
    return email_key(email).rsplit("@", 1)[-1]


def generate_api_key() -> str:
    """A new API key: shown once to its owner, stored only as its hash."""
    return API_KEY_PREFIX + secrets.token_urlsafe(32)


def new_guest_id() -> str:
    """Who a room ticket admits: a guest of no account, told apart from users by its prefix."""
    return "guest_" + secrets.token_hex(8)


def hash_api_key(api_key: str) -> str:
    # Keys carry 256 random bits, so a fast hash is enough: nothing to brute-force.
    return hashlib.sha256(api_key.encode("utf-8")).hexdigest()


def parse_plan(value: str) -> Plan:
    try:
        return Plan(value.strip().lower())
    except ValueError:
        raise InvalidInput(f"plan must be one of {', '.join(p.value for p in Plan)}", field="plan") from None
