import base64
from datetime import UTC, datetime

import pytest

from webinar_contracts import InvalidInput
from webinar_contracts.paging import PagePosition, check_limit, decode_cursor, encode_cursor


def test_cursor_names_the_position_it_was_made_from():
    position = PagePosition(
        created_at=datetime(2026, 5, 6, 7, 8, 9, 123_000, tzinfo=UTC), id="65f0c0ffee0000000000abcd"
    )
    cursor = encode_cursor(position)
    assert cursor.isascii()
    assert "=" not in cursor
    assert decode_cursor(cursor) == position


@pytest.mark.parametrize(
    "garbage",
    [
        "",
        "not-a-cursor",
        "%%%",
        "MTIzLm5vdC1hbi1pZA",
        base64.urlsafe_b64encode(b"999999999999999." + b"b" * 24).decode(),  # beyond the year 9999
        encode_cursor(PagePosition(datetime.now(UTC), "a" * 24))[:-3],
    ],
)
def test_anything_else_is_refused_naming_the_cursor(garbage):
    with pytest.raises(InvalidInput) as caught:
        decode_cursor(garbage)
    assert caught.value.field == "cursor"


@pytest.mark.parametrize(("limit", "ok"), [(0, False), (1, True), (100, True), (101, False), (-5, False)])
def test_limit_must_be_within_its_bounds(limit, ok):
    if ok:
        assert check_limit(limit, 100) == limit
    else:
        with pytest.raises(InvalidInput, match="limit must be between 1 and 100"):
            check_limit(limit, 100)
