"""The meetings rules, with no I/O."""

from datetime import UTC, datetime

import pytest

from meetings.domain import (
    MAX_SAFE_NAME,
    StoredMeeting,
    check_acting_user,
    check_may_update,
    content_type_of,
    is_stored_filename,
    safe_name,
    stored_filename,
    to_milliseconds,
    validate_changes,
    validate_new_meeting,
    validate_read,
    validate_room,
)
from webinar_contracts import Forbidden, InvalidInput
from webinar_contracts.meetings import CreateMeeting, CreateRoom, MeetingChanges


def meeting(host_id: str = "host") -> StoredMeeting:
    return StoredMeeting(
        id="m1", tenant_id="t1", title="Retro", host_id=host_id, room_id=None, recording_ids=[],
        summary_generated=False, transcript_enabled=False, created_at=datetime(2026, 1, 1, tzinfo=UTC),
    )  # fmt: skip


@pytest.mark.parametrize("room_type", ["meeting", "conference", "webinar", "live", " Webinar "])
def test_the_four_room_types_are_accepted(room_type):
    room = validate_room(CreateRoom(name="Town hall", type=room_type), "t1")
    assert room.type == room_type.strip().lower()
    assert room.p2p is False


@pytest.mark.parametrize(
    ("request_", "field"),
    [
        (CreateRoom(name="x", type="party"), "type"),
        (CreateRoom(name=" ", type="live"), "name"),
        (CreateRoom(name="a\x07b", type="live"), "name"),
        (CreateRoom(name="x" * 101, type="live"), "name"),
        (CreateRoom(name="x", type="live", max_participants=0), "maxParticipants"),
        (CreateRoom(name="x", type="live", max_participants=10_001), "maxParticipants"),
    ],
)
def test_invalid_rooms_name_the_field(request_, field):
    with pytest.raises(InvalidInput) as refused:
        validate_room(request_, "t1")
    assert refused.value.field == field


def test_a_new_meeting_is_trimmed_and_stamped_to_the_millisecond():
    now = datetime(2026, 3, 4, 5, 6, 7, 891_234, tzinfo=UTC)
    new = validate_new_meeting(CreateMeeting(title="  Retro  ", host_id="u1", transcript_enabled=True), "t1", now)
    assert (new.title, new.host_id, new.transcript_enabled) == ("Retro", "u1", True)
    assert new.created_at == datetime(2026, 3, 4, 5, 6, 7, 891_000, tzinfo=UTC)
    assert to_milliseconds(new.created_at) == new.created_at


def test_a_token_user_acts_only_as_itself():
    check_acting_user(None, "anyone", "hostId")
    check_acting_user("u1", "u1", "hostId")
    with pytest.raises(Forbidden) as refused:
        check_acting_user("u1", "u2", "hostId")
    assert refused.value.field == "hostId"


def test_only_the_host_may_update():
    check_may_update(meeting("host"), "host")
    with pytest.raises(Forbidden) as refused:
        check_may_update(meeting("host"), "guest")
    assert refused.value.field == "userId"


def test_changes_are_validated_field_by_field():
    update = validate_changes(MeetingChanges(user_id="u1", title=" New ", recording_id="r1", summary_generated=True))
    assert (update.title, update.recording_id, update.summary_generated, update.room_id) == ("New", "r1", True, None)
    for changes, field in (
        (MeetingChanges(user_id=""), "userId"),
        (MeetingChanges(user_id="u1", title=""), "title"),
        (MeetingChanges(user_id="u1", room_id=" "), "roomId"),
        (MeetingChanges(user_id="u1", recording_id="a\nb"), "recordingId"),
    ):
        with pytest.raises(InvalidInput) as refused:
            validate_changes(changes)
        assert refused.value.field == field


@pytest.mark.parametrize(
    ("original", "expected"),
    [
        ("Document_72835505.docx", "Document_72835505.docx"),
        ("../../etc/passwd", "passwd"),
        ("..\\..\\boot.ini", "boot.ini"),
        ("evil\x00name.txt", "evil_name.txt"),
        ("line\r\nbreak.txt", "line_break.txt"),
        ("ünïcödé slides.pdf", "n_c_d_slides.pdf"),
        ("....", "file"),
        ("", "file"),
        (".bashrc", "bashrc"),
        ("/", "file"),
    ],
)
def test_safe_names(original, expected):
    assert safe_name(original) == expected


def test_a_long_name_keeps_its_extension_within_the_bound():
    name = safe_name("a" * 500 + ".pdf")
    assert len(name) <= MAX_SAFE_NAME
    assert name.endswith(".pdf")


def test_stored_names_are_unique_and_recognisable():
    names = {stored_filename("../../etc/passwd") for _ in range(200)}
    assert len(names) == 200
    assert all(is_stored_filename(name) and "/" not in name for name in names)
    assert not is_stored_filename("../../etc/passwd")
    assert not is_stored_filename("0123456789abcdef_a/b")
    assert not is_stored_filename("0123456789abcdef_line\nbreak")


def test_content_types_declared_guessed_or_neutral():
    assert content_type_of("application/pdf", "x_slides.bin") == "application/pdf"
    assert content_type_of("Text/Plain; charset=utf-8", "x_notes") == "text/plain"
    assert content_type_of("", "x_slides.pdf") == "application/pdf"
    assert content_type_of("application/octet-stream", "x_photo.png") == "image/png"
    assert content_type_of("text/html\r\nX-Evil: 1", "x_page") == "application/octet-stream"
    assert content_type_of("nonsense", "x_unknown") == "application/octet-stream"


def test_reads_are_bounded():
    validate_read(0, 512 * 1024)
    for offset, length, field in ((-1, 10, "offset"), (0, 0, "length"), (0, 512 * 1024 + 1, "length")):
        with pytest.raises(InvalidInput) as refused:
            validate_read(offset, length)
        assert refused.value.field == field
