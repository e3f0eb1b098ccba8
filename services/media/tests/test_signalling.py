"""The node's bus side in one process, on a real NATS server: per-node subjects answer
the SFU calls, refusals travel as typed errors, pushes go out on the push subject, and
the meetings service is asked what kind of room an id names."""

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import msgspec
import pytest

from media.node import MediaNode
from media.rooms import RoomKey
from media.router import Worker
from media.signalling import BusPushes, MeetingsRooms, NodeHandlers, serve_node
from webinar_contracts import Empty, Forbidden, NotFound, RequestContext
from webinar_contracts import media as contract
from webinar_contracts.meetings import END_ROOM, GET_ROOM, EndRoom, GetRoom, RoomDetails, RoomEnded
from webinar_runtime.bus import Bus

NODE_ID = "signalling-test"
CONTEXT = RequestContext(tenant_id="tenant-s", user_id="user-1")


class Claims:
    async def claim(self, key: RoomKey) -> None:
        pass

    async def release(self, key: RoomKey) -> None:
        pass

    def load_changed(self) -> None:
        pass


@pytest.fixture
async def buses(nats_url: str) -> AsyncIterator[tuple[Bus, Bus, Bus]]:
    opened = [
        await Bus.connect(nats_url, service=name, instance="signalling-test")
        for name in ("media", "meetings", "gateway")
    ]
    yield opened[0], opened[1], opened[2]
    for bus in opened:
        await bus.stop_taking_work()
        await bus.close()


@pytest.fixture
def ended() -> dict[str, datetime]:
    """The rooms the meetings stand-in recorded as ended."""
    return {}


@pytest.fixture
async def node(buses: tuple[Bus, Bus, Bus], ended: dict[str, datetime]) -> AsyncIterator[MediaNode]:
    media, meetings, _ = buses

    async def get_room(request: GetRoom, context: RequestContext) -> RoomDetails:
        if request.room_id != "webinar-1" or context.tenant_id != "tenant-s":
            raise NotFound("no such room", field="roomId")
        return RoomDetails(
            id="webinar-1", name="Launch", type="webinar", host_ids=["host-user"], ended_at=ended.get(request.room_id)
        )

    async def end_room(request: EndRoom, context: RequestContext) -> RoomEnded:
        if request.room_id != "webinar-1" or context.tenant_id != "tenant-s":
            raise NotFound("no such room", field="roomId")
        return RoomEnded(room_id=request.room_id, ended_at=ended.setdefault(request.room_id, datetime.now(UTC)))

    await meetings.serve(GET_ROOM, get_room)
    await meetings.serve(END_ROOM, end_room)
    pushes = BusPushes(media.nc)
    pushes.start()
    made = MediaNode(node_id=NODE_ID, worker=Worker(), directory=MeetingsRooms(media), claims=Claims(), pushes=pushes)
    await serve_node(media, NODE_ID, NodeHandlers(made))
    yield made
    await made.close()
    await pushes.stop()


async def test_a_room_is_created_joined_and_refused_over_the_bus(
    buses: tuple[Bus, Bus, Bus], node: MediaNode, fixture_json: Any, chrome_device: contract.RtpCapabilities
) -> None:
    _, _, gateway = buses
    received: asyncio.Queue[contract.MediaPush] = asyncio.Queue()

    async def collect(msg: Any) -> None:
        await received.put(msgspec.json.decode(msg.data, type=contract.MediaPush))

    await gateway.nc.subscribe(contract.PUSH_SUBJECT, cb=collect)

    async def ask(endpoint: contract.NodeEndpoint[Any, Any], request: msgspec.Struct, **kwargs: Any) -> Any:
        return await gateway.request(endpoint.at(NODE_ID), request, context=kwargs.get("context", CONTEXT))

    created = await ask(contract.NODE_CREATE_ROOM, contract.CreateRoom(room_id="webinar-1", peer_id="sid-1"))
    assert created.created is True
    state = await ask(contract.NODE_JOIN, contract.JoinRoom(room_id="webinar-1", peer_id="sid-1", name="Early"))
    assert (state.type, state.peers[0].role) == ("webinar", "viewer")  # user-1 is not the meeting's host
    assert (await asyncio.wait_for(received.get(), 5)).skip_peer == "sid-1"  # its peerJoined, to nobody else
    transport = await ask(
        contract.NODE_CREATE_TRANSPORT, contract.CreateTransport(room_id="webinar-1", peer_id="sid-1")
    )
    assert transport.ice_parameters.ice_lite is True
    assert msgspec.to_builtins(transport)["iceCandidates"][0]["protocol"] == "udp"
    produce = contract.Produce(
        room_id="webinar-1",
        peer_id="sid-1",
        transport_id=transport.id,
        kind="video",
        rtp_parameters=msgspec.convert(fixture_json("chrome_produce_screen.json"), contract.RtpParameters),
        app_data={"type": "camera"},
    )
    with pytest.raises(Forbidden, match="only the host and approved co-hosts may produce in a webinar room"):
        await ask(contract.NODE_PRODUCE, produce)

    host = RequestContext(tenant_id="tenant-s", user_id="host-user")
    await ask(contract.NODE_JOIN, contract.JoinRoom(room_id="webinar-1", peer_id="sid-2", name="Host"), context=host)
    joined = await asyncio.wait_for(received.get(), 5)
    assert (joined.event, joined.skip_peer, msgspec.json.decode(joined.data)["role"]) == ("peerJoined", "sid-2", "host")
    host_transport = await ask(
        contract.NODE_CREATE_TRANSPORT, contract.CreateTransport(room_id="webinar-1", peer_id="sid-2"), context=host
    )
    produced = await ask(
        contract.NODE_PRODUCE,
        msgspec.structs.replace(produce, peer_id="sid-2", transport_id=host_transport.id),
        context=host,
    )
    announced = await asyncio.wait_for(received.get(), 5)
    assert announced.event == "newProducers"
    assert msgspec.json.decode(announced.data) == [
        {"producer_id": produced.producer_id, "producer_socket_id": "sid-2", "appData": {"type": "camera"}}
    ]

    listing = await ask(contract.NODE_GET_PRODUCERS, contract.PeerCall(room_id="webinar-1", peer_id="sid-1"))
    assert [(p.producer_id, p.app_data) for p in listing.producers] == [(produced.producer_id, {"type": "camera"})]
    # The consume acknowledgement names the producing peer and carries the producer's appData.
    consumed = await ask(
        contract.NODE_CONSUME,
        contract.Consume(
            room_id="webinar-1",
            peer_id="sid-1",
            transport_id=transport.id,
            producer_id=produced.producer_id,
            rtp_capabilities=chrome_device,
        ),
    )
    assert {k: msgspec.to_builtins(consumed)[k] for k in ("producerId", "peerId", "appData")} == {
        "producerId": produced.producer_id,
        "peerId": "sid-2",
        "appData": {"type": "camera"},
    }
    stats = await gateway.request(contract.NODE_STATS.at(NODE_ID), Empty())
    assert (stats.rooms, stats.peers, stats.transports, stats.producers) == (1, 2, 2, 1)

    # Another tenant's identical room id is not this room.
    with pytest.raises(NotFound, match="room does not exist"):
        await ask(
            contract.NODE_JOIN,
            contract.JoinRoom(room_id="webinar-1", peer_id="sid-3", name="Other"),
            context=RequestContext(tenant_id="tenant-t"),
        )
    await ask(contract.NODE_EXIT, contract.PeerCall(room_id="webinar-1", peer_id="sid-2"), context=host)
    closed = await asyncio.wait_for(received.get(), 5)
    assert (closed.event, closed.to_peer) == ("consumerClosed", "sid-1")
    left = await asyncio.wait_for(received.get(), 5)
    assert (left.event, left.skip_peer) == ("peerLeft", "sid-2")
    with pytest.raises(NotFound, match="not currently in a room"):
        await ask(contract.NODE_EXIT, contract.PeerCall(room_id="webinar-1", peer_id="sid-2"), context=host)


async def test_a_room_id_meetings_does_not_know_is_a_room_of_the_socket(
    buses: tuple[Bus, Bus, Bus], node: MediaNode
) -> None:
    media, _, _ = buses
    directory = MeetingsRooms(media)
    assert await directory.describe(RoomKey("tenant-s", "made-up")) is None
    assert await directory.describe(RoomKey("tenant-other", "webinar-1")) is None
    described = await directory.describe(RoomKey("tenant-s", "webinar-1"))
    assert described is not None
    assert (described.type, described.host_user_ids) == ("webinar", ("host-user",))


async def test_the_host_ends_a_webinar_for_good_and_its_room_is_never_opened_again(
    buses: tuple[Bus, Bus, Bus], node: MediaNode, ended: dict[str, datetime]
) -> None:
    _, _, gateway = buses
    received: asyncio.Queue[contract.MediaPush] = asyncio.Queue()

    async def collect(msg: Any) -> None:
        pushed = msgspec.json.decode(msg.data, type=contract.MediaPush)
        if pushed.event == "room:ended":
            await received.put(pushed)

    await gateway.nc.subscribe(contract.PUSH_SUBJECT, cb=collect)
    host = RequestContext(tenant_id="tenant-s", user_id="host-user")

    async def ask(endpoint: contract.NodeEndpoint[Any, Any], request: msgspec.Struct, context: RequestContext) -> Any:
        return await gateway.request(endpoint.at(NODE_ID), request, context=context)

    await ask(contract.NODE_CREATE_ROOM, contract.CreateRoom(room_id="webinar-1", peer_id="sid-v"), CONTEXT)
    await ask(contract.NODE_JOIN, contract.JoinRoom(room_id="webinar-1", peer_id="sid-v", name="Viewer"), CONTEXT)
    await ask(contract.NODE_JOIN, contract.JoinRoom(room_id="webinar-1", peer_id="sid-h", name="Hana"), host)
    with pytest.raises(Forbidden, match="only the host may end the webinar"):
        await ask(contract.NODE_END_ROOM, contract.PeerCall(room_id="webinar-1", peer_id="sid-v"), CONTEXT)
    assert ended == {}

    await ask(contract.NODE_END_ROOM, contract.PeerCall(room_id="webinar-1", peer_id="sid-h"), host)
    assert "webinar-1" in ended  # recorded by the meetings service
    told = await asyncio.wait_for(received.get(), 5)
    assert (msgspec.json.decode(told.data), told.room_closed, told.skip_peer) == (
        {"room_id": "webinar-1", "by": "Hana"},
        True,
        None,
    )
    assert node.rooms == {}
    with pytest.raises(NotFound, match="not currently in a room"):
        await ask(contract.NODE_EXIT, contract.PeerCall(room_id="webinar-1", peer_id="sid-v"), CONTEXT)
    with pytest.raises(Forbidden, match="this webinar has ended"):
        await ask(contract.NODE_CREATE_ROOM, contract.CreateRoom(room_id="webinar-1", peer_id="sid-h"), host)
    assert node.rooms == {}
