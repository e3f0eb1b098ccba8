"""Times go to clients as the seed writes them (JavaScript's toISOString), everything else
as msgspec writes it."""

from datetime import UTC, datetime, timedelta, timezone

import msgspec

from webinar_contracts.wire import encode_wire, js_time, to_wire


class Meeting(msgspec.Struct, kw_only=True, omit_defaults=True):
    title: str
    created_at: datetime = msgspec.field(name="createdAt")
    ended_at: datetime | None = msgspec.field(name="endedAt", default=None)
    tags: list[str] = msgspec.field(default_factory=list)


def test_times_have_exactly_three_decimals_in_utc() -> None:
    assert js_time(datetime(2025, 10, 13, 10, 15, 30, tzinfo=UTC)) == "2025-10-13T10:15:30.000Z"
    assert js_time(datetime(2025, 10, 13, 10, 15, 30, 123456, tzinfo=UTC)) == "2025-10-13T10:15:30.123Z"
    paris = timezone(timedelta(hours=2))
    assert js_time(datetime(2025, 10, 13, 12, 15, 30, 999999, tzinfo=paris)) == "2025-10-13T10:15:30.999Z"
    assert js_time(datetime(2025, 1, 2, 3, 4, 5)) == "2025-01-02T03:04:05.000Z"  # naive: UTC


def test_structs_nested_in_lists_and_dicts_keep_their_wire_names() -> None:
    meeting = Meeting(title="Review 2025-10-13T10:15:30Z", created_at=datetime(2025, 10, 13, 10, 15, 30, tzinfo=UTC))
    body = {"success": True, "data": [meeting], "at": datetime(2026, 1, 1, tzinfo=UTC)}
    assert to_wire(body) == {
        "success": True,
        # text that looks like a time is left alone
        "data": [{"title": "Review 2025-10-13T10:15:30Z", "createdAt": "2025-10-13T10:15:30.000Z"}],
        "at": "2026-01-01T00:00:00.000Z",
    }
    assert msgspec.json.decode(encode_wire(body)) == to_wire(body)
