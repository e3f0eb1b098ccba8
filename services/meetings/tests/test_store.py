"""The meetings store against the real MongoDB-compatible server."""

from datetime import UTC, datetime, timedelta

import pytest

from meetings.domain import MeetingUpdate, NewMeeting, NewRoom, RoomFile
from webinar_contracts import Conflict, InvalidInput
from webinar_contracts.paging import PagePosition

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def new_meeting(tenant_id: str = "t1", host_id: str = "host", title: str = "Retro", at: datetime = NOW) -> NewMeeting:
    return NewMeeting(tenant_id=tenant_id, title=title, host_id=host_id, transcript_enabled=False, created_at=at)


def room_file(room_id: str, filename: str, tenant_id: str = "t1") -> RoomFile:
    return RoomFile(
        tenant_id=tenant_id, room_id=room_id, filename=filename, original_name=filename, content_type="text/plain",
        size=3, uploaded_at=NOW,
    )  # fmt: skip


async def test_pages_cover_every_meeting_once_newest_first_even_within_one_millisecond(store):
    for n in range(4):
        await store.insert_meeting(new_meeting(title=f"old {n}", at=NOW - timedelta(minutes=1)))
    for n in range(5):
        await store.insert_meeting(new_meeting(title=f"same {n}"))  # five in the same millisecond
    await store.insert_meeting(new_meeting(host_id="someone else"))
    seen: list[str] = []
    after = None
    while True:
        page, more = await store.list_meetings("t1", "host", limit=3, after=after)
        seen += [m.title for m in page]
        if not more:
            break
        after = PagePosition(page[-1].created_at, page[-1].id)
    assert seen == [f"same {n}" for n in range(4, -1, -1)] + [f"old {n}" for n in range(3, -1, -1)]


async def test_a_cursor_naming_no_meeting_id_is_400(store):
    with pytest.raises(InvalidInput):
        await store.list_meetings("t1", "host", limit=3, after=PagePosition(NOW, "nope"))


async def test_meetings_are_scoped_to_their_tenant(store):
    meeting = await store.insert_meeting(new_meeting())
    assert await store.find_meeting("t1", meeting.id) == meeting
    assert await store.find_meeting("t2", meeting.id) is None
    assert await store.find_meeting("t1", "not-an-id") is None
    assert await store.update_meeting("t2", meeting.id, MeetingUpdate(title="x")) is False
    assert await store.mark_summary_generated("t2", meeting.id) is False
    assert (await store.list_meetings("t2", "host", limit=10))[0] == []


async def test_a_recording_joins_the_rooms_meetings_once(store):
    first = await store.insert_meeting(new_meeting())
    second = await store.insert_meeting(new_meeting(title="Other"))
    elsewhere = await store.insert_meeting(new_meeting(title="Elsewhere"))
    for meeting in (first, second):
        await store.update_meeting("t1", meeting.id, MeetingUpdate(room_id="room-1"))
    await store.update_meeting("t1", elsewhere.id, MeetingUpdate(room_id="room-2"))
    assert await store.link_recording_to_room("t1", "room-1", "rec-1") == 2
    assert await store.link_recording_to_room("t1", "room-1", "rec-1") == 0
    assert await store.link_recording_to_room("t2", "room-1", "rec-9") == 0
    for meeting in (first, second):
        assert (await store.find_meeting("t1", meeting.id)).recording_ids == ["rec-1"]
    assert (await store.find_meeting("t1", elsewhere.id)).recording_ids == []


async def test_an_update_with_nothing_to_change_still_finds_the_meeting(store):
    meeting = await store.insert_meeting(new_meeting())
    assert await store.update_meeting("t1", meeting.id, MeetingUpdate()) is True
    assert await store.update_meeting("t1", "0123456789abcdef01234567", MeetingUpdate()) is False


async def test_rooms_exist_only_in_their_tenant(store):
    room = await store.insert_room(
        NewRoom(tenant_id="t1", name="Hall", type="webinar", max_participants=None, is_private=False), NOW
    )
    assert await store.room_exists("t1", room.id)
    assert not await store.room_exists("t2", room.id)
    assert not await store.room_exists("t1", "../../etc")


async def test_a_room_ends_once_and_only_in_its_tenant(store):
    room = await store.insert_room(
        NewRoom(tenant_id="t1", name="Hall", type="webinar", max_participants=None, is_private=False), NOW
    )
    assert (await store.find_room("t1", room.id)).ended_at is None
    assert await store.end_room("t2", room.id, NOW) is None
    assert await store.end_room("t1", "not-an-id", NOW) is None
    assert await store.end_room("t1", room.id, NOW) == NOW
    # Ending it again keeps the first end.
    assert await store.end_room("t1", room.id, NOW + timedelta(hours=1)) == NOW
    assert (await store.find_room("t1", room.id)).ended_at == NOW


async def test_files_one_name_per_room_and_removal_by_room(store):
    await store.insert_file(room_file("r1", "a_one.txt"))
    await store.insert_file(room_file("r1", "b_two.txt"))
    await store.insert_file(room_file("r2", "a_one.txt"))
    with pytest.raises(Conflict):
        await store.insert_file(room_file("r1", "a_one.txt"))
    assert await store.find_file("t2", "r1", "a_one.txt") is None
    files, removed = await store.remove_room_files("t1", "r1")
    assert removed == 2
    assert sorted(f.filename for f in files) == ["a_one.txt", "b_two.txt"]
    assert await store.find_file("t1", "r1", "a_one.txt") is None
    assert await store.find_file("t1", "r2", "a_one.txt") is not None
    assert await store.remove_room_files("t1", "r1") == ([], 0)
