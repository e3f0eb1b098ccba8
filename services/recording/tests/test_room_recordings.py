"""Server-side recordings of rooms over a real NATS (JetStream) and the MongoDB-compatible
server, with a stand-in for the media node: who may record, one recording of a room at a
time, a replica's limit, stops that reach another replica, stopping twice, a recording with
nothing in it, replicas that die; and a recording's tracks stored and its composition queued."""

import asyncio
import struct
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import msgspec
import pytest

from recording.pushes import RoomPushes
from recording.recorder import RecorderSettings
from recording.room_recordings import RoomRecordings
from recording.store import RecordingStore
from webinar_contracts import Conflict, Forbidden, NotFound, RequestContext, TooLarge, Unauthorized, Unavailable
from webinar_contracts import media as media_contract
from webinar_contracts.media import RoomProducer, StartTap, TapRef, TapStarted
from webinar_contracts.recording import (
    GRID,
    PROCESSING_REQUESTED,
    ProcessingRequested,
    RoomRecordingEvent,
    StartRoomRecording,
    StopRoomRecording,
)
from webinar_runtime.blobs import LocalDirectoryBlobStore
from webinar_runtime.bus import Bus
from webinar_runtime.stores import connect_mongo

HOST = "user-host"
OPUS_PT, OPUS_SSRC = 100, 4242


def opus_datagram(number: int) -> bytes:
    """One 20 ms Opus packet in RTP as a node's tap sends it (the muxer reads no further than the TOC)."""
    header = struct.pack("!BBHII", 0x80, 0x80 | OPUS_PT, number & 0xFFFF, number * 960, OPUS_SSRC)
    return header + bytes([0xFC]) + bytes(40)


class StandInNode:
    """Rooms `open`; each has the producers `listed`; a tap of a microphone sends
    `packets` Opus packets, 20 ms apart, to the recorder."""

    def __init__(self) -> None:
        self.open: set[str] = set()
        self.listed: dict[str, list[RoomProducer]] = {}
        self.packets = 0
        self._senders: list[asyncio.Task[None]] = []

    async def place(self, tenant_id: str, room_id: str) -> str:
        if room_id not in self.open:
            raise NotFound("room does not exist", field="room_id")
        return "node-1"

    async def producers(self, tenant_id: str, node_id: str, room_id: str) -> list[RoomProducer]:
        return self.listed.get(room_id, [])

    async def start_tap(self, tenant_id: str, node_id: str, request: StartTap) -> TapStarted:
        self._senders.append(asyncio.create_task(self._send(request.host, request.port)))
        return TapStarted(
            tap_id=f"tap-{request.producer_id}",
            producer_id=request.producer_id,
            kind="audio",
            mime_type="audio/opus",
            payload_type=OPUS_PT,
            clock_rate=48000,
            channels=2,
            ssrc=OPUS_SSRC,
            lease_seconds=request.lease_seconds,
        )

    async def renew_tap(self, tenant_id: str, node_id: str, request: TapRef) -> None:
        return None

    async def stop_tap(self, tenant_id: str, node_id: str, request: TapRef) -> None:
        return None

    async def _send(self, host: str, port: int) -> None:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(asyncio.DatagramProtocol, remote_addr=(host, port))
        try:
            for number in range(self.packets):
                transport.sendto(opus_datagram(number))
                await asyncio.sleep(0.02)
        finally:
            transport.close()

    async def close(self) -> None:
        for task in self._senders:
            task.cancel()
        await asyncio.gather(*self._senders, return_exceptions=True)


class Hosts:
    async def host_ids(self, tenant_id: str, room_id: str) -> list[str]:
        if room_id == "unknown-room":
            raise NotFound("no room unknown-room", field="roomId")
        return [HOST]


@dataclass
class Stack:
    bus: Bus
    store: RecordingStore
    node: StandInNode
    make: Callable[..., RoomRecordings]
    room_events: "asyncio.Queue[tuple[str, RoomRecordingEvent]]"


@pytest.fixture
async def stack(private_nats_url, mongo_url, tmp_path) -> AsyncIterator[Stack]:
    client = await connect_mongo(mongo_url, attempts=5)
    db = client[f"recording_rooms_{uuid.uuid4().hex[:8]}"]
    store = RecordingStore(db)
    await store.create_indexes()
    bus = await Bus.connect(private_nats_url, service="recording", instance="test", request_timeout=5)
    await bus.ensure_event_stream()
    node = StandInNode()
    made: list[RoomRecordings] = []

    def make(
        *,
        max_rooms: int = 4,
        max_tenant_bytes: int = 1 << 30,
        clock: Callable[[], datetime] | None = None,
        segment_seconds: float = 0.0,
    ) -> RoomRecordings:
        rooms = RoomRecordings(
            store=store,
            bus=bus,
            blobs=LocalDirectoryBlobStore(tmp_path / "blobs"),
            nodes=node,
            hosts=Hosts(),
            pushes=RoomPushes(bus),
            settings=RecorderSettings(
                listen_ip="127.0.0.1",
                announced_ip="127.0.0.1",
                lease_seconds=1.0,
                poll_seconds=0.1,
                work_dir=tmp_path / "rooms",
                max_bytes=10_000_000,
                segment_seconds=segment_seconds,
            ),
            recorder_id=uuid.uuid4().hex[:12],
            max_rooms=max_rooms,
            max_tenant_bytes=max_tenant_bytes,
            canvas=(640, 360),
            clock=clock or (lambda: datetime.now(UTC)),
        )
        made.append(rooms)
        return rooms

    events: asyncio.Queue[tuple[str, RoomRecordingEvent]] = asyncio.Queue()

    async def on_push(msg) -> None:  # type: ignore[no-untyped-def]
        push = msgspec.json.decode(msg.data, type=media_contract.MediaPush)
        await events.put((push.event, msgspec.json.decode(push.data, type=RoomRecordingEvent)))

    subscription = await bus.nc.subscribe(media_contract.PUSH_SUBJECT, cb=on_push)
    yield Stack(bus=bus, store=store, node=node, make=make, room_events=events)
    for rooms in made:
        await rooms.close(timeout=5)
    await node.close()
    await subscription.unsubscribe()
    await bus.close()
    await client.drop_database(db.name)
    await client.close()


@pytest.fixture
def tenant() -> str:
    return f"tenant-{uuid.uuid4().hex[:8]}"


def host(tenant_id: str) -> RequestContext:
    return RequestContext(tenant_id=tenant_id, user_id=HOST)


def open_room(stack: Stack) -> str:
    room_id = f"room-{uuid.uuid4().hex[:6]}"
    stack.node.open.add(room_id)
    return room_id


async def test_only_a_host_of_the_room_records_it(stack, tenant):
    rooms = stack.make()
    room_id = open_room(stack)
    with pytest.raises(Forbidden) as refused:
        await rooms.start(StartRoomRecording(room_id=room_id), RequestContext(tenant_id=tenant, user_id="someone"))
    assert refused.value.field == "roomId"
    with pytest.raises(Unauthorized):
        await rooms.start(StartRoomRecording(room_id=room_id), RequestContext(tenant_id=tenant))
    with pytest.raises(NotFound):
        await rooms.start(StartRoomRecording(room_id="unknown-room"), host(tenant))
    # The SFU socket checked with the media node that its peer hosts the room.
    started = await rooms.start(
        StartRoomRecording(room_id=room_id, user_name="Avery", room_host=True), RequestContext(tenant_id=tenant)
    )
    assert (started.status, started.source, started.host_name) == ("recording", "server", "Avery")
    event, heard = await asyncio.wait_for(stack.room_events.get(), 5)
    assert (event, heard.recording_id, heard.room_id) == ("recording:started", started.recording_id, room_id)


async def test_a_room_is_recorded_once_at_a_time_and_a_replica_refuses_rooms_past_its_limit(stack, tenant):
    rooms = stack.make(max_rooms=2)
    first, second, third = open_room(stack), open_room(stack), open_room(stack)
    recording = await rooms.start(StartRoomRecording(room_id=first), host(tenant))
    with pytest.raises(Conflict) as twice:
        await rooms.start(StartRoomRecording(room_id=first), host(tenant))
    assert recording.recording_id in twice.value.message
    await rooms.start(StartRoomRecording(room_id=second), host(tenant))
    with pytest.raises(Unavailable) as full:
        await rooms.start(StartRoomRecording(room_id=third), host(tenant))
    assert "RECORDING_MAX_ROOMS" in full.value.message
    assert full.value.retry_after
    # Another replica has room for it.
    other = stack.make(max_rooms=2)
    assert (await other.start(StartRoomRecording(room_id=third), host(tenant))).status == "recording"
    with pytest.raises(Conflict) as nobody:  # a room nobody is in is open on no node
        await other.start(StartRoomRecording(room_id="empty-room"), host(tenant))
    assert "not open" in nobody.value.message
    await stack.store.add_usage(tenant, 1000)
    with pytest.raises(TooLarge):  # the tenant's recordings hold all it may keep
        await stack.make(max_tenant_bytes=1000).start(StartRoomRecording(room_id=open_room(stack)), host(tenant))


async def test_a_stop_that_reaches_another_replica_is_handed_to_the_one_recording(stack, tenant):
    recorder, other = stack.make(), stack.make()
    await recorder.serve(stack.bus)
    room_id = open_room(stack)
    started = await recorder.start(StartRoomRecording(room_id=room_id), host(tenant))
    stopped = await other.stop(StopRoomRecording(room_id=room_id), host(tenant))
    assert (stopped.recording_id, stopped.status) == (started.recording_id, "stopped")
    assert recorder.active == {}
    # Stopping again changes nothing and answers the same recording; the room may be recorded anew.
    again = await other.stop(StopRoomRecording(room_id=room_id), host(tenant))
    assert again.recording_id == started.recording_id
    assert (await other.start(StartRoomRecording(room_id=room_id), host(tenant))).recording_id != started.recording_id
    with pytest.raises(NotFound):
        await other.stop(StopRoomRecording(room_id=open_room(stack)), host(tenant))


async def test_a_recording_nobody_published_in_fails_with_the_reason(stack, tenant):
    rooms = stack.make()
    room_id = open_room(stack)
    started = await rooms.start(StartRoomRecording(room_id=room_id), host(tenant))
    await rooms.stop(StopRoomRecording(room_id=room_id), host(tenant))
    async with asyncio.timeout(10):
        while True:
            event, heard = await stack.room_events.get()
            if event == "recording:failed":
                break
    assert heard.recording_id == started.recording_id
    assert heard.reason is not None
    assert "nothing was recorded" in heard.reason
    session = await stack.store.find(tenant, started.recording_id)
    assert session is not None
    assert (session.status, session.failure_reason) == ("failed", heard.reason)


async def test_a_stopped_recording_has_its_tracks_stored_and_its_composition_queued(stack, tenant, tmp_path):
    rooms = stack.make()
    room_id = open_room(stack)
    stack.node.listed[room_id] = [
        RoomProducer(producer_id="mic-1", peer_id="sock-1", name="Avery Stone", kind="audio", app_data={"type": "mic"})
    ]
    stack.node.packets = 40
    jobs: asyncio.Queue[ProcessingRequested] = asyncio.Queue()

    async def on_job(msg) -> None:  # type: ignore[no-untyped-def]
        await jobs.put(msgspec.json.decode(msg.data, type=ProcessingRequested))

    subscription = await stack.bus.nc.subscribe(PROCESSING_REQUESTED.subject, cb=on_job)
    try:
        started = await rooms.start(StartRoomRecording(room_id=room_id), host(tenant))
        await asyncio.sleep(1.0)  # 40 packets, 20 ms apart
        await rooms.stop(StopRoomRecording(room_id=room_id), host(tenant))
        job = await asyncio.wait_for(jobs.get(), 10)
    finally:
        await subscription.unsubscribe()
    assert (job.recording_id, job.kind, job.width, job.height) == (started.recording_id, GRID, 640, 360)
    session = await stack.store.find(tenant, started.recording_id)
    assert session is not None
    assert session.status == "processing"
    [track] = session.tracks
    assert (track.track_id, track.kind, track.mime_type) == ("01-audio-avery-stone", "audio", "audio/webm;codecs=opus")
    assert (track.frames, track.packets, track.lost) == (40, 40, 0)
    assert track.duration == pytest.approx(0.8, abs=0.01)
    stored = tmp_path / "blobs" / track.key
    assert stored.stat().st_size == track.size
    assert b"OpusHead" in stored.read_bytes()
    assert await stack.store.tenant_usage(tenant) == track.size
    async with asyncio.timeout(5):  # the local files are deleted once stored
        while await asyncio.to_thread(lambda: list((tmp_path / "rooms").iterdir())):  # noqa: ASYNC110
            await asyncio.sleep(0.05)


def one_microphone(stack: Stack, room_id: str, packets: int) -> None:
    stack.node.listed[room_id] = [
        RoomProducer(producer_id="mic-1", peer_id="sock-1", name="Avery Stone", kind="audio", app_data={"type": "mic"})
    ]
    stack.node.packets = packets


async def stored_segments(
    stack: Stack, tenant: str, recording_id: str, *, at_least: int = 1, frames: int = 0
) -> tuple[str, ...]:
    """The ids of the recording's stored files, once there are `at_least` holding `frames` in all."""
    async with asyncio.timeout(10):
        while True:
            session = await stack.store.find(tenant, recording_id)
            assert session is not None
            if len(session.tracks) >= at_least and sum(track.frames for track in session.tracks) >= frames:
                return tuple(track.track_id for track in session.tracks)
            await asyncio.sleep(0.05)


async def test_segments_are_stored_while_the_room_is_recorded_and_composed_together(stack, tenant):
    rooms = stack.make(segment_seconds=0.3)
    room_id = open_room(stack)
    one_microphone(stack, room_id, packets=75)  # 1.5 s
    started = await rooms.start(StartRoomRecording(room_id=room_id), host(tenant))
    early = await stored_segments(stack, tenant, started.recording_id, at_least=2)
    assert (await stack.store.find(tenant, started.recording_id)).status == "recording"  # type: ignore[union-attr]
    assert early[:2] == ("01-audio-avery-stone", "01-audio-avery-stone.1")
    await asyncio.sleep(1.5)
    await rooms.stop(StopRoomRecording(room_id=room_id), host(tenant))
    async with asyncio.timeout(10):
        while (await stack.room_events.get())[0] != "recording:stopped":
            pass
    await stored_segments(stack, tenant, started.recording_id, frames=75)  # the last ones follow the stop
    session = await stack.store.find(tenant, started.recording_id)
    assert session is not None
    assert [track.segment for track in session.tracks] == list(range(len(session.tracks)))
    assert {track.track for track in session.tracks} == {"01-audio-avery-stone"}
    assert sum(track.frames for track in session.tracks) == 75
    assert sum(track.duration for track in session.tracks) == pytest.approx(1.5, abs=0.05)
    assert await stack.store.tenant_usage(tenant) == sum(track.size for track in session.tracks)


@dataclass
class Silent:
    """A room recorded by a replica that stored some segments, then went silent 31 s ago."""

    room_id: str
    recording_id: str
    stored: tuple[str, ...]
    survivor: RoomRecordings


async def silent_replica(stack: Stack, tenant: str) -> Silent:
    now = [datetime.now(UTC)]
    gone = stack.make(clock=lambda: now[0], segment_seconds=0.3)
    room_id = open_room(stack)
    one_microphone(stack, room_id, packets=50)
    started = await gone.start(StartRoomRecording(room_id=room_id), host(tenant))
    stored = await stored_segments(stack, tenant, started.recording_id, at_least=2)
    survivor = stack.make(clock=lambda: now[0], segment_seconds=0.3)
    now[0] += timedelta(seconds=31)  # the first replica has not beaten since
    while (await stack.room_events.get())[0] != "recording:started":
        pass
    return Silent(room_id, started.recording_id, stored, survivor)


async def test_a_silent_replicas_recording_goes_on_at_another_replica_in_the_same_tracks(stack, tenant):
    silent = await silent_replica(stack, tenant)
    room_id, survivor, before = silent.room_id, silent.survivor, silent.stored

    assert await survivor.sweep() == 1  # the room is still open: the recording goes on here
    session = await stack.store.find(tenant, silent.recording_id)
    assert session is not None
    assert (session.status, session.recorder_id) == ("recording", survivor.recorder_id)
    event, heard = await asyncio.wait_for(stack.room_events.get(), 5)
    assert (event, heard.recording_id) == ("recording:started", silent.recording_id)
    assert "goes on recording it" in (heard.reason or "")
    async with asyncio.timeout(10):  # segments the survivor wrote: the same track, 31 s and more in
        while not any(t.offset > 30 for t in (await stack.store.find(tenant, silent.recording_id)).tracks):  # type: ignore[union-attr]  # noqa: ASYNC110
            await asyncio.sleep(0.05)

    # The host stops it where it is recorded now.
    await survivor.stop(StopRoomRecording(room_id=room_id), host(tenant))
    while (await stack.room_events.get())[0] != "recording:stopped":
        pass
    async with asyncio.timeout(10):
        while (await stack.store.find(tenant, silent.recording_id)).status != "processing":  # type: ignore[union-attr]  # noqa: ASYNC110
            await asyncio.sleep(0.05)
    session = await stack.store.find(tenant, silent.recording_id)
    assert session is not None
    assert {track.track for track in session.tracks} == {"01-audio-avery-stone"}
    numbers = [track.segment for track in session.tracks]
    assert len(set(numbers)) == len(numbers)  # the survivor's segments follow the stored ones
    assert {track.track_id for track in session.tracks} >= set(before)
    resumed = [track for track in session.tracks if track.offset > 30]
    assert resumed
    assert min(track.segment for track in resumed) > max(track.segment for track in session.tracks if track.offset < 30)
    assert (session.ended_at - session.started_at).total_seconds() > 31  # type: ignore[operator]


async def test_a_silent_replicas_recording_of_a_closed_room_ends_where_its_stored_segments_end(stack, tenant):
    silent = await silent_replica(stack, tenant)
    room_id, survivor = silent.room_id, silent.survivor
    stack.node.open.discard(room_id)  # and everybody left

    assert await survivor.sweep() == 1
    assert await survivor.sweep() == 0  # taken once
    session = await stack.store.find(tenant, silent.recording_id)
    assert session is not None
    assert session.status == "processing"  # its composition is queued
    kept = session.tracks
    assert kept
    assert session.ended_at == session.started_at + timedelta(seconds=max(t.offset + t.duration for t in kept))
    event, heard = await asyncio.wait_for(stack.room_events.get(), 5)
    assert event == "recording:stopped"
    assert heard.reason is not None
    assert "stored segments" in heard.reason
    # The silent replica was not dead after all: what it finishes now is not the recording's.
    await asyncio.sleep(0.6)
    assert (await stack.store.find(tenant, silent.recording_id)).tracks == kept  # type: ignore[union-attr]
    # The room is free to be recorded again once someone is in it.
    stack.node.open.add(room_id)
    assert (await survivor.start(StartRoomRecording(room_id=room_id), host(tenant))).status == "recording"


async def test_a_silent_replicas_recording_with_nothing_stored_of_a_closed_room_fails_and_frees_it(stack, tenant):
    now = [datetime.now(UTC)]
    gone = stack.make(clock=lambda: now[0])
    room_id = open_room(stack)
    started = await gone.start(StartRoomRecording(room_id=room_id), host(tenant))
    survivor = stack.make(clock=lambda: now[0])
    assert await survivor.sweep() == 0  # it beat a moment ago
    now[0] += timedelta(seconds=31)
    stack.node.open.discard(room_id)
    assert await survivor.sweep() == 1
    session = await stack.store.find(tenant, started.recording_id)
    assert session is not None
    assert session.status == "failed"
    assert "replica that recorded it stopped" in (session.failure_reason or "")
    stack.node.open.add(room_id)
    assert (await survivor.start(StartRoomRecording(room_id=room_id), host(tenant))).status == "recording"
