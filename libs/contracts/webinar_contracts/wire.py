"""JSON as clients receive it. Times are written as the seed's API writes them, JavaScript's
`Date.toISOString()`: UTC with exactly three decimals, `2025-10-13T10:15:30.000Z`. (msgspec
would write `2025-10-13T10:15:30Z` for a whole second and six decimals otherwise: both parse,
but a client written against the seed may compare or match the text.)"""

from datetime import UTC, datetime
from typing import Any

import msgspec


def js_time(moment: datetime) -> str:
    """`moment` as `Date.toISOString()` writes it (a naive moment is taken as UTC)."""
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z"


def _times_written(value: Any) -> Any:
    if isinstance(value, datetime):
        return js_time(value)
    if isinstance(value, dict):
        return {key: _times_written(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_times_written(item) for item in value]
    return value


def to_wire(value: Any) -> Any:
    """`value` (Structs, lists, dicts, ...) as JSON-ready builtins, with its times written the
    seed's way and its fields under their wire names."""
    return _times_written(msgspec.to_builtins(value, builtin_types=(datetime,)))


def encode_wire(value: Any) -> bytes:
    """`value` as the JSON bytes a client receives."""
    return msgspec.json.encode(to_wire(value))
