import msgspec
import pytest

from webinar_contracts import InvalidInput
from webinar_contracts.auth import RegisterUser
from webinar_contracts.validation import decode

VALID = {
    "email": "ada@example.test",
    "fName": "Ada",
    "lName": "Byron",
    "phoneNumber": "5550100",
    "country": "UK",
    "password": "correct horse",
}


def test_missing_field_is_named_in_wire_spelling():
    body = {k: v for k, v in VALID.items() if k != "fName"}
    with pytest.raises(InvalidInput) as caught:
        decode(msgspec.json.encode(body), RegisterUser)
    assert caught.value.field == "fName"
    assert caught.value.message == "fName is required"


def test_wrong_type_says_what_was_expected():
    with pytest.raises(InvalidInput) as caught:
        decode(msgspec.json.encode({**VALID, "password": 12345678}), RegisterUser)
    assert caught.value.field == "password"
    assert caught.value.message == "password must be a string, not an integer"


def test_malformed_json_is_invalid_input():
    with pytest.raises(InvalidInput) as caught:
        decode(b'{"email": ', RegisterUser)
    assert caught.value.message.startswith("malformed JSON")
    assert caught.value.field is None


def test_body_that_is_not_an_object_is_refused():
    with pytest.raises(InvalidInput) as caught:
        decode(b"[1, 2]", RegisterUser)
    assert "must be an object" in caught.value.message


def test_valid_body_decodes_to_snake_case_attributes():
    user = decode(msgspec.json.encode(VALID), RegisterUser)
    assert (user.first_name, user.phone_number) == ("Ada", "5550100")
