"""Decode JSON into a contract type, turning msgspec's complaint into an
InvalidInput that names the field in the wire's own spelling."""

import re
from typing import Any, TypeVar

import msgspec

from webinar_contracts.errors import InvalidInput

T = TypeVar("T")

_MISSING_FIELD = re.compile(r"Object missing required field `(?P<field>[^`]+)`(?: - at `\$(?P<path>[^`]*)`)?")
_AT_PATH = re.compile(r"^(?P<what>.*) - at `\$(?P<path>[^`]*)`$")
_TYPE_NAMES = {
    "str": "a string",
    "int": "an integer",
    "bool": "true or false",
    "float": "a number",
    "object": "an object",
    "array": "an array",
    "null": "null",
}


def _field_from_path(path: str) -> str:
    # `$.user.email` -> `user.email`; `$[0].name` -> `[0].name`
    return path[1:] if path.startswith(".") else path


def _friendly(what: str) -> str:
    expected = re.match(r"Expected `(?P<want>[^`]+)`, got `(?P<got>[^`]+)`", what)
    if expected:
        want = " or ".join(_TYPE_NAMES.get(part.strip(), part.strip()) for part in expected["want"].split("|"))
        return f"must be {want}, not {_TYPE_NAMES.get(expected['got'], expected['got'])}"
    return what[0].lower() + what[1:] if what else "is invalid"


def explain(error: msgspec.ValidationError) -> InvalidInput:
    """The InvalidInput a client should see for a failed decode."""
    text = str(error)
    missing = _MISSING_FIELD.match(text)
    if missing:
        prefix = _field_from_path(missing["path"] or "")
        field = f"{prefix}.{missing['field']}" if prefix else missing["field"]
        return InvalidInput(f"{field} is required", field=field)
    located = _AT_PATH.match(text)
    if located:
        field = _field_from_path(located["path"])
        return InvalidInput(f"{field} {_friendly(located['what'])}", field=field or None)
    return InvalidInput(f"request body {_friendly(text)}")


def decode(data: bytes | str, into: type[T]) -> T:
    """Decode JSON `data` as `into`; malformed JSON or a bad field raises InvalidInput."""
    try:
        return msgspec.json.decode(data, type=into)
    except msgspec.ValidationError as error:
        raise explain(error) from None
    except msgspec.DecodeError as error:
        raise InvalidInput(f"malformed JSON: {error}") from None


def convert(obj: Any, into: type[T]) -> T:
    """Like decode, for an object already parsed (a query string, a Socket.IO payload)."""
    try:
        return msgspec.convert(obj, type=into, strict=False)
    except msgspec.ValidationError as error:
        raise explain(error) from None


def required_text(value: str, field: str, limit: int) -> str:
    """`value` trimmed; InvalidInput naming `field` when it is empty, longer than
    `limit` characters, or holds a control character (a newline included)."""
    text = value.strip()
    if not text:
        raise InvalidInput(f"{field} must not be empty", field=field)
    if len(text) > limit:
        raise InvalidInput(f"{field} must be at most {limit} characters", field=field)
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in text):
        raise InvalidInput(f"{field} must not contain control characters", field=field)
    return text
