"""The recording rules, with no I/O: stream ids, times, starts, stops, cursors."""

from datetime import UTC, datetime

import msgspec
import pytest

from recording.domain import (
    RecordingSession,
    check_stop,
    normalise_stream_id,
    parse_instant,
    stopped_event_id,
    validate_start,
)
from webinar_contracts import InvalidInput, NotFound
from webinar_contracts.recording import StartRecording
from webinar_contracts.validation import decode

SEED_START = (
    b'{"roomId": "68affe24fabc0702c5d30c29", "userName": "Dana Host", "streamId": 755961800257348400,'
    b' "recordingId": "1756364334628_738386", "startTime": 1756364334634, "videoType": "video", "status": "pending"}'
)


def session(**overrides: object) -> RecordingSession:
    fields: dict[str, object] = {
        "id": "0" * 24,
        "tenant_id": "t1",
        "recording_id": "r1",
        "room_id": "room",
        "user_name": "Dana",
        "stream_id": "42",
        "video_type": "video",
        "status": "pending",
        "started_at": datetime(2025, 1, 1, 10, 0, tzinfo=UTC),
        "ended_at": None,
        "created_at": datetime(2025, 1, 1, 10, 0, tzinfo=UTC),
        "updated_at": datetime(2025, 1, 1, 10, 0, tzinfo=UTC),
    }
    fields.update(overrides)
    return RecordingSession(**fields)  # type: ignore[arg-type]


def test_the_seed_example_decodes_with_every_digit_of_its_stream_id():
    new = validate_start(decode(SEED_START, StartRecording), "t1")
    assert new.stream_id == "755961800257348400"
    assert new.started_at == datetime(2025, 8, 28, 6, 58, 54, 634000, tzinfo=UTC)
    assert (new.room_id, new.user_name, new.recording_id, new.video_type, new.status) == (
        "68affe24fabc0702c5d30c29",
        "Dana Host",
        "1756364334628_738386",
        "video",
        "pending",
    )


@pytest.mark.parametrize(
    "raw",
    [
        b"9223372036854775807",  # largest int64
        b"18446744073709551616",  # past uint64
        b"1234567890123456789012345678901234567890",
    ],
)
def test_a_big_integer_stream_id_keeps_its_digits_through_the_bus(raw):
    body = SEED_START.replace(b"755961800257348400", raw)
    over_the_bus = msgspec.json.encode(decode(body, StartRecording))
    assert normalise_stream_id(msgspec.json.decode(over_the_bus, type=StartRecording).stream_id) == raw.decode()


def test_a_stream_id_as_a_number_or_as_a_string_is_the_same_stream():
    assert normalise_stream_id(755961800257348400) == normalise_stream_id(" 755961800257348400 ")


@pytest.mark.parametrize("bad", [-1, "", "   ", "a\nb", True, "x" * 129])
def test_a_bad_stream_id_is_refused_naming_the_field(bad):
    with pytest.raises(InvalidInput) as refused:
        normalise_stream_id(bad)
    assert refused.value.field == "streamId"


def test_a_fractional_stream_id_is_refused_at_decoding():
    with pytest.raises(InvalidInput) as refused:
        decode(SEED_START.replace(b"755961800257348400", b"7.5"), StartRecording)
    assert refused.value.field == "streamId"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1756364334634, datetime(2025, 8, 28, 6, 58, 54, 634000, tzinfo=UTC)),
        (1756364334634.4, datetime(2025, 8, 28, 6, 58, 54, 634000, tzinfo=UTC)),
        ("1756364334634", datetime(2025, 8, 28, 6, 58, 54, 634000, tzinfo=UTC)),
        ("2025-08-28T06:58:54.634Z", datetime(2025, 8, 28, 6, 58, 54, 634000, tzinfo=UTC)),
        ("2025-08-28T08:58:54.634+02:00", datetime(2025, 8, 28, 6, 58, 54, 634000, tzinfo=UTC)),
        ("2025-08-28T06:58:54.634999", datetime(2025, 8, 28, 6, 58, 54, 634000, tzinfo=UTC)),
        (0, datetime(1970, 1, 1, tzinfo=UTC)),
    ],
)
def test_times_are_epoch_milliseconds_or_iso_8601_in_utc_to_the_millisecond(value, expected):
    parsed = parse_instant(value, "startTime")
    assert parsed == expected
    assert parsed.utcoffset() == UTC.utcoffset(None)


@pytest.mark.parametrize("bad", ["yesterday", "", -1, float("nan"), float("inf"), 10**20, "2025-13-01T00:00:00Z"])
def test_a_bad_time_is_refused_naming_the_field(bad):
    with pytest.raises(InvalidInput) as refused:
        parse_instant(bad, "endTime")
    assert refused.value.field == "endTime"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("roomId", " "),
        ("userName", ""),
        ("recordingId", "a\x00b"),
        ("videoType", "v" * 33),
        ("status", ""),
        ("startTime", "soon"),
    ],
)
def test_a_start_with_a_bad_field_is_refused_naming_it(field, value):
    body = msgspec.json.decode(SEED_START)
    body[field] = value
    with pytest.raises(InvalidInput) as refused:
        validate_start(msgspec.convert(body, StartRecording), "t1")
    assert refused.value.field == field


def test_a_stop_naming_another_stream_is_not_found():
    with pytest.raises(NotFound) as refused:
        check_stop(session(stream_id="42"), "43", datetime(2025, 1, 1, 11, 0, tzinfo=UTC))
    assert refused.value.field == "streamId"


def test_a_stop_ending_before_the_start_is_refused():
    with pytest.raises(InvalidInput) as refused:
        check_stop(session(), "42", datetime(2025, 1, 1, 9, 59, tzinfo=UTC))
    assert refused.value.field == "endTime"


def test_a_stop_of_a_stopped_recording_is_allowed():
    stopped = session(ended_at=datetime(2025, 1, 1, 10, 30, tzinfo=UTC), status="stopped")
    check_stop(stopped, "42", datetime(2025, 1, 1, 11, 0, tzinfo=UTC))
    assert stopped.stopped


def test_the_stopped_event_id_is_the_same_for_every_stop_of_one_recording():
    assert stopped_event_id("t1", "r1") == stopped_event_id("t1", "r1")
    assert stopped_event_id("t1", "r1") != stopped_event_id("t2", "r1")
