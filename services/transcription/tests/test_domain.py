"""The transcription rules, with no I/O: lines, plans, context splitting, cursors."""

import pytest

from transcription.domain import (
    page_limit,
    require_professional,
    split_for_context,
    summary_event_id,
    validate_line,
)
from webinar_contracts import Forbidden, InvalidInput
from webinar_contracts.plans import Plan
from webinar_contracts.transcription import SendTranscript


def line(**overrides: str) -> SendTranscript:
    fields = {"meeting_id": "m1", "user_name": "Priya", "message": "We ship on Friday."}
    fields.update(overrides)
    return SendTranscript(**fields)


def test_a_line_is_stored_trimmed():
    new = validate_line(line(user_name="  Priya ", message="  We ship on Friday.\n"), "t1")
    assert (new.tenant_id, new.meeting_id, new.user_name, new.message) == ("t1", "m1", "Priya", "We ship on Friday.")


@pytest.mark.parametrize(
    ("field", "change"),
    [
        ("message", {"message": ""}),
        ("message", {"message": "   \n "}),
        ("message", {"message": "x" * 5001}),
        ("message", {"message": "null\x00byte"}),
        ("meetingId", {"meeting_id": ""}),
        ("userName", {"user_name": " "}),
        ("userName", {"user_name": "two\nlines"}),
    ],
)
def test_a_bad_line_is_refused_naming_the_field(field, change):
    with pytest.raises(InvalidInput) as refused:
        validate_line(line(**change), "t1")
    assert refused.value.field == field


def test_a_message_may_span_lines():
    assert validate_line(line(message="First point.\nSecond point."), "t1").message == "First point.\nSecond point."


def test_summaries_are_for_professional_tenants_only():
    require_professional(Plan.PROFESSIONAL, "transcript summaries")
    for plan in (Plan.ESSENTIAL, None):
        with pytest.raises(Forbidden, match="Professional plan"):
            require_professional(plan, "transcript summaries")


def test_the_summary_event_id_names_the_meeting_and_the_summary():
    first = summary_event_id("t1", "m1", "We ship on Friday.")
    assert first == summary_event_id("t1", "m1", "We ship on Friday.")
    assert first != summary_event_id("t1", "m1", "We ship on Monday.")
    assert first != summary_event_id("t1", "m2", "We ship on Friday.")


def test_split_for_context_keeps_every_line_in_order_within_the_budget():
    lines = [f"Speaker {n % 3}: sentence number {n} of the meeting." for n in range(100)]
    chunks = split_for_context(lines, 200)
    assert len(chunks) > 1
    assert all(len("\n".join(chunk)) <= 200 for chunk in chunks)
    assert [line for chunk in chunks for line in chunk] == lines


def test_split_for_context_cuts_a_line_longer_than_a_chunk_at_spaces():
    long_line = "Priya: " + " ".join(f"word{n}" for n in range(100))
    chunks = split_for_context(["Marco: hi.", long_line, "Lena: bye."], 60)
    assert all(len("\n".join(chunk)) <= 60 for chunk in chunks)
    pieces = [piece for chunk in chunks for piece in chunk]
    assert pieces[0] == "Marco: hi."
    assert pieces[-1] == "Lena: bye."
    assert " ".join(pieces[1:-1]) == long_line


def test_split_for_context_cuts_a_line_without_spaces_anywhere():
    chunks = split_for_context(["x" * 25], 10)
    assert [piece for chunk in chunks for piece in chunk] == ["x" * 10, "x" * 10, "x" * 5]


def test_a_short_transcript_is_one_chunk():
    assert split_for_context(["a: one.", "b: two."], 1000) == [["a: one.", "b: two."]]


@pytest.mark.parametrize("limit", [0, 501])
def test_a_page_limit_outside_its_bounds_is_refused(limit):
    with pytest.raises(InvalidInput) as refused:
        page_limit(limit)
    assert refused.value.field == "limit"
