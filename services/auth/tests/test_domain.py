import pytest

from auth.domain import email_key, generate_api_key, hash_api_key, parse_plan, validate_registration
from webinar_contracts import InvalidInput
from webinar_contracts.auth import RegisterUser
from webinar_contracts.plans import Plan


def registration(**changes: str) -> RegisterUser:
    fields = {
        "email": "  Mixed.Case@Example.TEST ",
        "first_name": " Noor ",
        "last_name": "Vale",
        "phone_number": "+44 20 7946 0000",
        "country": "Wales",
        "password": "long enough",
    }
    fields.update(changes)
    return RegisterUser(**fields)


def test_valid_registration_is_trimmed_and_keyed_by_lower_case_email():
    user = validate_registration(registration(), "tenant-1")
    assert (user.email, user.email_key, user.first_name) == (
        "Mixed.Case@Example.TEST",
        "mixed.case@example.test",
        "Noor",
    )
    assert user.tenant_id == "tenant-1"


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"email": "no-at-sign"}, "email", "email is not a valid email address"),
        ({"email": "two@@example.test"}, "email", "email is not a valid email address"),
        ({"first_name": "  "}, "fName", "fName must not be empty"),
        ({"last_name": "x" * 101}, "lName", "lName must be at most 100 characters"),
        ({"first_name": "bad\nname"}, "fName", "fName must not contain control characters"),
        ({"phone_number": "12"}, "phoneNumber", None),
        ({"country": ""}, "country", "country must not be empty"),
        ({"password": "seven77"}, "password", "password must be at least 8 characters"),
    ],
)
def test_invalid_registration_names_the_field(changes, field, message):
    with pytest.raises(InvalidInput) as caught:
        validate_registration(registration(**changes), "t")
    assert caught.value.field == field
    if message:
        assert caught.value.message == message


def test_first_invalid_field_in_form_order_is_reported():
    with pytest.raises(InvalidInput) as caught:
        validate_registration(registration(email="bad", password="short"), "t")
    assert caught.value.field == "email"


def test_email_key_ignores_case_and_surrounding_space():
    assert email_key(" A@B.TEST ") == email_key("a@b.test")


def test_api_keys_are_random_and_hashed_deterministically():
    first, second = generate_api_key(), generate_api_key()
    assert first != second
    assert first.startswith("wk_")
    assert len(first) > 40
    assert hash_api_key(first) == hash_api_key(first) != hash_api_key(second)
    assert first not in hash_api_key(first)


def test_plan_names_are_case_insensitive_and_unknown_ones_refused():
    assert parse_plan("Professional") is Plan.PROFESSIONAL
    with pytest.raises(InvalidInput, match="plan must be one of essential, professional"):
        parse_plan("gold")
