"""The recording service's subjects on a real NATS (JetStream) and the MongoDB-compatible
server: the handlers wired as `python -m recording` wires them, asked over the bus."""

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from recording.handlers import RecordingHandlers
from recording.store import RecordingStore
from webinar_contracts import Conflict, InvalidInput, NotFound, RequestContext, Unauthorized
from webinar_contracts import recording as contract
from webinar_contracts.recording import ListRecordings, StartRecording, StopRecording
from webinar_runtime.bus import EVENT_STREAM, Bus, Event
from webinar_runtime.stores import connect_mongo


class Clock:
    """A clock the test moves, so "newest first" does not depend on timing."""

    def __init__(self) -> None:
        self.now = datetime(2025, 10, 13, 10, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


@pytest.fixture
async def service(private_nats_url, mongo_url):
    client = await connect_mongo(mongo_url, attempts=5)
    store = RecordingStore(client[f"recording_test_{uuid.uuid4().hex[:8]}"])
    await store.create_indexes()
    bus = await Bus.connect(private_nats_url, service="recording", instance="test", request_timeout=5)
    await bus.ensure_event_stream()
    handlers = RecordingHandlers(store=store, bus=bus, max_page_size=100, clock=Clock())
    await bus.serve(contract.START, handlers.start)
    await bus.serve(contract.STOP, handlers.stop)
    await bus.serve(contract.LIST, handlers.list)
    yield bus
    await bus.stop_taking_work()
    await bus.finish_in_flight(2)
    await bus.close()
    await client.drop_database(store.recordings.database.name)
    await client.close()


@pytest.fixture
def tenant() -> RequestContext:
    return RequestContext(tenant_id=f"tenant-{uuid.uuid4().hex[:8]}")


def start_body(**overrides: object) -> StartRecording:
    fields: dict[str, object] = {
        "room_id": "room-1",
        "user_name": "Dana Host",
        "stream_id": 755961800257348400,
        "recording_id": f"rec-{uuid.uuid4().hex[:8]}",
        "start_time": 1756364334634,
        "video_type": "video",
        "status": "pending",
    }
    fields.update(overrides)
    return StartRecording(**fields)  # type: ignore[arg-type]


async def stored_stop_events(bus: Bus) -> int:
    info = await bus.js.stream_info(EVENT_STREAM, subjects_filter=contract.RECORDING_STOPPED.subject)
    return (info.state.subjects or {}).get(contract.RECORDING_STOPPED.subject, 0)


async def test_a_started_recording_is_listed_with_its_stream_id_digit_for_digit(service, tenant):
    body = start_body(stream_id=12345678901234567890123)
    started = await service.request(contract.START, body, context=tenant)
    assert started.stream_id == "12345678901234567890123"
    assert (started.recording_id, started.room_id, started.host_name, started.status) == (
        body.recording_id,
        "room-1",
        "Dana Host",
        "pending",
    )
    assert started.start_time == datetime(2025, 8, 28, 6, 58, 54, 634000, tzinfo=UTC)
    assert started.end_time is None
    page = await service.request(contract.LIST, ListRecordings(), context=tenant)
    assert page.data == [started]


async def test_starting_an_existing_recording_id_is_a_conflict(service, tenant):
    body = start_body()
    await service.request(contract.START, body, context=tenant)
    with pytest.raises(Conflict) as refused:
        await service.request(contract.START, start_body(recording_id=body.recording_id), context=tenant)
    assert refused.value.field == "recordingId"


async def test_the_same_recording_id_in_another_tenant_is_another_recording(service, tenant):
    body = start_body()
    await service.request(contract.START, body, context=tenant)
    other = RequestContext(tenant_id=f"tenant-{uuid.uuid4().hex[:8]}")
    await service.request(contract.START, body, context=other)
    assert len((await service.request(contract.LIST, ListRecordings(), context=other)).data) == 1


async def test_a_request_without_a_tenant_is_refused(service):
    with pytest.raises(Unauthorized):
        await service.request(contract.LIST, ListRecordings(), context=RequestContext())


async def test_stop_publishes_recording_stopped_once_however_often_it_is_stopped(service, tenant, private_nats_url):
    body = start_body(room_id="room-stop")
    await service.request(contract.START, body, context=tenant)
    received: asyncio.Queue[Event[contract.RecordingStopped]] = asyncio.Queue()

    async def on_stopped(event: Event[contract.RecordingStopped]) -> None:
        if event.payload.recording_id == body.recording_id:
            await received.put(event)

    listener = await Bus.connect(private_nats_url, service="meetings", instance="test-listener", request_timeout=5)
    await listener.consume(
        f"test-stopped-{uuid.uuid4().hex[:8]}", {contract.RECORDING_STOPPED: on_stopped}, deliver_new_only=True
    )
    try:
        before = await stored_stop_events(service)
        stop = StopRecording(recording_id=body.recording_id, stream_id="755961800257348400", end_time=1756364400000)
        assert await service.request(contract.STOP, stop, context=tenant) == contract.Empty()
        again = StopRecording(recording_id=body.recording_id, stream_id=755961800257348400, end_time=1756364999000)
        await service.request(contract.STOP, again, context=tenant)
        event = await asyncio.wait_for(received.get(), timeout=10)
        assert await stored_stop_events(service) == before + 1
    finally:
        await listener.stop_taking_work()
        await listener.finish_in_flight(2)
        await listener.close()
    assert event.context.tenant_id == tenant.tenant_id
    first_end = datetime(2025, 8, 28, 7, 0, tzinfo=UTC)
    assert event.payload == contract.RecordingStopped(
        recording_id=body.recording_id,
        room_id="room-stop",
        stream_id="755961800257348400",
        user_name="Dana Host",
        started_at=datetime(2025, 8, 28, 6, 58, 54, 634000, tzinfo=UTC),
        ended_at=first_end,
    )
    [listed] = (await service.request(contract.LIST, ListRecordings(room_id="room-stop"), context=tenant)).data
    assert (listed.status, listed.end_time) == ("stopped", first_end)
    assert listed.updated_at > listed.created_at


async def test_stopping_an_unknown_recording_or_stream_is_not_found(service, tenant):
    with pytest.raises(NotFound) as unknown:
        await service.request(
            contract.STOP, StopRecording(recording_id="nope", stream_id=1, end_time=0), context=tenant
        )
    assert unknown.value.field == "recordingId"
    body = start_body()
    await service.request(contract.START, body, context=tenant)
    with pytest.raises(NotFound) as other_stream:
        await service.request(
            contract.STOP,
            StopRecording(recording_id=body.recording_id, stream_id=1, end_time=1756364400000),
            context=tenant,
        )
    assert other_stream.value.field == "streamId"


async def test_list_is_newest_first_paged_by_cursor_and_filtered_by_room(service, tenant):
    ids = []
    for number in range(5):
        body = start_body(room_id="room-a" if number % 2 == 0 else "room-b", recording_id=f"page-{number}")
        await service.request(contract.START, body, context=tenant)
        ids.append(body.recording_id)
    seen: list[str] = []
    cursor = None
    for _ in range(5):
        page = await service.request(contract.LIST, ListRecordings(limit=2, cursor=cursor), context=tenant)
        seen.extend(recording.recording_id for recording in page.data)
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == list(reversed(ids))
    room_a = await service.request(contract.LIST, ListRecordings(room_id="room-a"), context=tenant)
    assert [recording.recording_id for recording in room_a.data] == ["page-4", "page-2", "page-0"]
    assert room_a.next_cursor is None


async def test_a_bad_list_query_is_refused_naming_the_parameter(service, tenant):
    with pytest.raises(InvalidInput) as bad_limit:
        await service.request(contract.LIST, ListRecordings(limit=0), context=tenant)
    assert bad_limit.value.field == "limit"
    with pytest.raises(InvalidInput) as bad_cursor:
        await service.request(contract.LIST, ListRecordings(cursor="not-a-cursor"), context=tenant)
    assert bad_cursor.value.field == "cursor"
