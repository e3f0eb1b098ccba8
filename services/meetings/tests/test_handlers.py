"""The meetings handlers on the real store, a real JetStream staging bucket and a local blob
directory, publishing on a real bus; the auth service's user directory is a stand-in that
knows a fixed set of users."""

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import nats
import pytest

from meetings.handlers import MeetingsHandlers
from webinar_contracts import InvalidInput, NotFound, RequestContext, TooLarge
from webinar_contracts.meetings import (
    MEETING_UPDATED,
    AttachFile,
    CreateMeeting,
    CreateRoom,
    EndRoom,
    GetFile,
    GetMeeting,
    GetRoom,
    MeetingChanges,
    MeetingUpdated,
    PrepareUpload,
    ReadFile,
    UpdateMeeting,
)
from webinar_contracts.recording import RECORDING_STOPPED, RecordingStopped
from webinar_contracts.transcription import SUMMARY_GENERATED, SummaryGenerated
from webinar_runtime.blobs import JetStreamBlobStore, LocalDirectoryBlobStore, stream_of
from webinar_runtime.bus import Bus, Event

TENANT = RequestContext(tenant_id="tenant-1")
OTHER_TENANT = RequestContext(tenant_id="tenant-2")
LIMIT = 100_000


class KnownUsers:
    def __init__(self, *user_ids: str) -> None:
        self.user_ids = set(user_ids)

    async def is_user(self, user_id: str, context: RequestContext) -> bool:
        return user_id in self.user_ids


@pytest.fixture
async def staging(nats_url) -> AsyncIterator[JetStreamBlobStore]:
    nc = await nats.connect(nats_url)
    yield await JetStreamBlobStore.ensure(nc.jetstream(), f"staging_{uuid.uuid4().hex[:10]}", ttl=600)
    await nc.drain()


@pytest.fixture
async def bus(nats_url) -> AsyncIterator[Bus]:
    bus = await Bus.connect(nats_url, service="meetings", instance="test", request_timeout=5)
    await bus.ensure_event_stream()
    yield bus
    await bus.stop_taking_work()
    await bus.finish_in_flight(2)
    await bus.close()


@pytest.fixture
def handlers(store, staging, bus, tmp_path) -> MeetingsHandlers:
    return MeetingsHandlers(
        store=store,
        users=KnownUsers("host-1"),
        blobs=LocalDirectoryBlobStore(tmp_path / "blobs"),
        staging=lambda bucket: staging,
        staging_bucket=staging.bucket,
        max_file_bytes=LIMIT,
        bus=bus,
    )


async def staged_upload(handlers, staging, room_id: str, data: bytes, name: str = "notes.txt") -> AttachFile:
    ticket = await handlers.prepare_upload(PrepareUpload(room_id=room_id), TENANT)
    size = await staging.write(ticket.object_name, stream_of(data, 10_000))
    return AttachFile(room_id=room_id, bucket=ticket.bucket, object_name=ticket.object_name, original_name=name,
                      content_type="text/plain", size=size)  # fmt: skip


def event(event_type, payload, context=TENANT) -> Event:
    return Event(id=uuid.uuid4().hex, subject=event_type.subject, occurred_at=datetime.now(UTC), context=context,
                 payload=payload)  # fmt: skip


async def test_attach_moves_the_staged_upload_into_the_blob_store(handlers, staging, tmp_path):
    room = await handlers.create_room(CreateRoom(name="Hall", type="webinar"), TENANT)
    data = os.urandom(30_017)
    attach = await staged_upload(handlers, staging, room.id, data)
    stored = await handlers.attach_file(attach, TENANT)
    assert (stored.size, stored.original_name, stored.room_id) == (len(data), "notes.txt", room.id)
    assert await staging.size(attach.object_name) is None
    on_disk = list((tmp_path / "blobs").rglob(stored.filename))
    assert [path.read_bytes() for path in on_disk] == [data]
    details = await handlers.get_file(GetFile(room_id=room.id, filename=stored.filename), TENANT)
    assert (details.size, details.content_type) == (len(data), "text/plain")


async def test_a_file_is_read_back_in_bounded_chunks(handlers, staging):
    room = await handlers.create_room(CreateRoom(name="Hall", type="webinar"), TENANT)
    data = os.urandom(25_000)
    stored = await handlers.attach_file(await staged_upload(handlers, staging, room.id, data), TENANT)
    chunks, offset = [], 0
    while True:
        chunk = await handlers.read_file(
            ReadFile(room_id=room.id, filename=stored.filename, offset=offset, length=10_000), TENANT
        )
        chunks.append(chunk.data)
        offset += len(chunk.data)
        if chunk.eof:
            break
    assert [len(c) for c in chunks] == [10_000, 10_000, 5_000]
    assert b"".join(chunks) == data
    with pytest.raises(NotFound):
        await handlers.read_file(ReadFile(room_id=room.id, filename=stored.filename), OTHER_TENANT)


async def test_an_upload_over_the_limit_is_refused_and_nothing_is_left(handlers, staging, tmp_path):
    room = await handlers.create_room(CreateRoom(name="Hall", type="webinar"), TENANT)
    attach = await staged_upload(handlers, staging, room.id, b"x" * (LIMIT + 1))
    with pytest.raises(TooLarge):
        await handlers.attach_file(attach, TENANT)
    assert await staging.size(attach.object_name) is None
    assert not [p for p in (tmp_path / "blobs").rglob("*") if p.is_file()]


async def test_a_staged_upload_of_another_room_cannot_be_attached(handlers, staging):
    room = await handlers.create_room(CreateRoom(name="Hall", type="webinar"), TENANT)
    other = await handlers.create_room(CreateRoom(name="Other", type="webinar"), TENANT)
    attach = await staged_upload(handlers, staging, room.id, b"mine")
    with pytest.raises(InvalidInput):
        await handlers.attach_file(AttachFile(**{**_fields(attach), "room_id": other.id}), TENANT)
    with pytest.raises(InvalidInput):
        await handlers.attach_file(attach, OTHER_TENANT)


def _fields(attach: AttachFile) -> dict:
    return {name: getattr(attach, name) for name in attach.__struct_fields__}


async def test_get_meeting_answers_other_services_within_the_tenant(handlers):
    meeting = await handlers.create_meeting(CreateMeeting(title="Retro", host_id="host-1", transcript_enabled=True),
                                            TENANT)  # fmt: skip
    info = await handlers.get_meeting(GetMeeting(meeting_id=meeting.id), TENANT)
    assert (info.id, info.title, info.host_id, info.transcript_enabled) == (meeting.id, "Retro", "host-1", True)
    for context, meeting_id in ((OTHER_TENANT, meeting.id), (TENANT, "0123456789abcdef01234567"), (TENANT, "x")):
        with pytest.raises(NotFound):
            await handlers.get_meeting(GetMeeting(meeting_id=meeting_id), context)


async def test_an_ended_room_says_when_to_other_services(handlers):
    room = await handlers.create_room(CreateRoom(name="Launch", type="webinar"), TENANT)
    assert (await handlers.get_room(GetRoom(room_id=room.id), TENANT)).ended_at is None
    ended = await handlers.end_room(EndRoom(room_id=room.id), TENANT)
    again = await handlers.end_room(EndRoom(room_id=room.id), TENANT)
    assert again.ended_at == ended.ended_at
    assert (await handlers.get_room(GetRoom(room_id=room.id), TENANT)).ended_at == ended.ended_at
    with pytest.raises(NotFound, match="no such room"):
        await handlers.end_room(EndRoom(room_id=room.id), OTHER_TENANT)


async def test_a_meeting_needs_a_host_the_directory_knows(handlers):
    with pytest.raises(NotFound) as refused:
        await handlers.create_meeting(CreateMeeting(title="Retro", host_id="stranger", transcript_enabled=False),
                                      TENANT)  # fmt: skip
    assert refused.value.field == "hostId"


async def test_replaying_every_event_leaves_the_same_state(handlers):
    room = await handlers.create_room(CreateRoom(name="Hall", type="meeting"), TENANT)
    meetings = [
        await handlers.create_meeting(CreateMeeting(title=f"M{n}", host_id="host-1", transcript_enabled=True), TENANT)
        for n in range(2)
    ]
    await handlers.update_meeting(
        UpdateMeeting(meeting_id=meetings[0].id, changes=MeetingChanges(user_id="host-1", room_id=room.id)), TENANT
    )
    events = [
        event(RECORDING_STOPPED, RecordingStopped(recording_id="rec-1", room_id=room.id, stream_id="1")),
        event(SUMMARY_GENERATED, SummaryGenerated(meeting_id=meetings[1].id)),
        event(RECORDING_STOPPED, RecordingStopped(recording_id="rec-2", room_id=room.id, stream_id="2")),
        event(SUMMARY_GENERATED, SummaryGenerated(meeting_id="0123456789abcdef01234567")),
        event(
            RECORDING_STOPPED, RecordingStopped(recording_id="rec-x", room_id=room.id, stream_id="3"), RequestContext()
        ),
    ]
    dispatch = {RECORDING_STOPPED.subject: handlers.on_recording_stopped,
                SUMMARY_GENERATED.subject: handlers.on_summary_generated}  # fmt: skip

    async def state():
        return [await handlers.get_meeting(GetMeeting(meeting_id=m.id), TENANT) for m in meetings]

    for each in events:
        await dispatch[each.subject](each)
    once = await state()
    assert once[0].recording_ids == ["rec-1", "rec-2"]
    assert (once[0].summary_generated, once[1].summary_generated) == (False, True)
    for each in events + events[::-1]:
        await dispatch[each.subject](each)
    assert await state() == once


async def test_an_update_publishes_meeting_updated_with_the_room_and_transcripts_after_it(handlers, bus):
    rooms = [await handlers.create_room(CreateRoom(name=f"Hall {n}", type="webinar"), TENANT) for n in range(2)]
    meeting = await handlers.create_meeting(
        CreateMeeting(title="Launch", host_id="host-1", transcript_enabled=False), TENANT
    )
    heard: asyncio.Queue[Event[MeetingUpdated]] = asyncio.Queue()

    async def on_updated(event: Event[MeetingUpdated]) -> None:
        if event.payload.meeting_id == meeting.id:
            await heard.put(event)

    await bus.consume(f"test-meeting-updated-{uuid.uuid4().hex[:8]}", {MEETING_UPDATED: on_updated},
                      deliver_new_only=True)  # fmt: skip
    updates = [
        MeetingChanges(user_id="host-1", room_id=rooms[0].id),
        MeetingChanges(user_id="host-1", transcript_enabled=True),
        MeetingChanges(user_id="host-1", room_id=rooms[1].id, title="Launch day"),
        MeetingChanges(user_id="host-1"),  # sets nothing: no event
        MeetingChanges(user_id="host-1", transcript_enabled=False),
    ]
    for changes in updates:
        await handlers.update_meeting(UpdateMeeting(meeting_id=meeting.id, changes=changes), TENANT)
    events = [await asyncio.wait_for(heard.get(), 10) for _ in range(4)]
    assert [event.payload for event in events] == [
        MeetingUpdated(meeting_id=meeting.id, updated=["roomId"], room_id=rooms[0].id, previous_room_id=None),
        MeetingUpdated(meeting_id=meeting.id, updated=["transcriptEnabled"], room_id=rooms[0].id,
                       transcript_enabled=True),
        MeetingUpdated(meeting_id=meeting.id, updated=["title", "roomId"], room_id=rooms[1].id,
                       transcript_enabled=True, previous_room_id=rooms[0].id),
        MeetingUpdated(meeting_id=meeting.id, updated=["transcriptEnabled"], room_id=rooms[1].id,
                       transcript_enabled=False),
    ]  # fmt: skip
    assert {event.context.tenant_id for event in events} == {TENANT.tenant_id}
    assert len({event.id for event in events}) == 4
    assert heard.empty()


async def test_any_replica_finishes_an_upload_another_one_ticketed(store, staging, bus, nats_url, tmp_path):
    # Two replicas: their own NATS connections and staging handles, the same database and blob directory.
    nc = await nats.connect(nats_url)
    try:
        their_staging = JetStreamBlobStore(nc.jetstream(), staging.bucket)
        replicas = [
            MeetingsHandlers(store=store, users=KnownUsers(), blobs=LocalDirectoryBlobStore(tmp_path / "shared"),
                             staging=lambda bucket, s=s: s, staging_bucket=staging.bucket, max_file_bytes=LIMIT,
                             bus=bus)
            for s in (staging, their_staging)
        ]  # fmt: skip
        room = await replicas[0].create_room(CreateRoom(name="Hall", type="live"), TENANT)
        attach = await staged_upload(replicas[0], staging, room.id, b"made on one, kept by the other")
        stored = await replicas[1].attach_file(attach, TENANT)
        chunk = await replicas[0].read_file(ReadFile(room_id=room.id, filename=stored.filename), TENANT)
        assert (chunk.data, chunk.eof) == (b"made on one, kept by the other", True)
    finally:
        await nc.drain()
