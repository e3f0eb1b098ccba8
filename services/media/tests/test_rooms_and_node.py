"""Rooms and peers on a media node: who may produce, what a leaving peer closes and who
is told, a peer dropped when its browser goes silent, rooms closing when empty."""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import msgspec
import pytest

from media.node import MediaNode, RoomDescription
from media.peer_client import PeerTransport
from media.rooms import ProducePolicy, Push, RoomKey
from media.router import Worker
from media.transport import TransportOptions
from webinar_contracts import Conflict, Forbidden, InvalidInput, NotFound, Unavailable
from webinar_contracts.media import DtlsFingerprint, DtlsParameters, NodeRecord, RtpCapabilities, RtpParameters

KEY = RoomKey("tenant-a", "room-1")


class Directory:
    """The meetings service, as far as the node asks it."""

    def __init__(self, rooms: dict[str, RoomDescription] | None = None) -> None:
        self.rooms = rooms or {}
        self.asked: list[RoomKey] = []

    async def describe(self, key: RoomKey) -> RoomDescription | None:
        self.asked.append(key)
        await asyncio.sleep(0)  # a bus round trip: other calls may run meanwhile
        return self.rooms.get(key.room_id)


class Claims:
    def __init__(self) -> None:
        self.held: set[RoomKey] = set()
        self.taken_elsewhere: set[RoomKey] = set()
        self.load_changes = 0

    async def claim(self, key: RoomKey) -> None:
        if key in self.taken_elsewhere:
            raise Conflict("this room is held by another media node", field="room_id")
        self.held.add(key)

    async def release(self, key: RoomKey) -> None:
        self.held.discard(key)

    def load_changed(self) -> None:
        self.load_changes += 1


class Pushes:
    def __init__(self) -> None:
        self.sent: list[tuple[RoomKey, Push]] = []
        self.arrived = asyncio.Event()

    def push(self, room: RoomKey, push: Push) -> None:
        self.sent.append((room, push))
        self.arrived.set()

    def events(self, event: str) -> list[Push]:
        return [push for _, push in self.sent if push.event == event]

    async def wait_for(self, event: str, timeout: float = 5) -> Push:
        async with asyncio.timeout(timeout):
            while not self.events(event):
                self.arrived.clear()
                await self.arrived.wait()
        return self.events(event)[-1]


@pytest.fixture
def pushes() -> Pushes:
    return Pushes()


@pytest.fixture
def claims() -> Claims:
    return Claims()


@pytest.fixture
def directory() -> Directory:
    return Directory()


MakeNode = Callable[..., MediaNode]


@pytest.fixture
async def make_node(pushes: Pushes, claims: Claims, directory: Directory) -> AsyncIterator[MakeNode]:
    made: list[MediaNode] = []

    def make(*, consent_timeout: float = 30.0, **options: Any) -> MediaNode:
        node = MediaNode(
            node_id="node-a",
            worker=Worker(transport_options=TransportOptions(consent_timeout=consent_timeout)),
            directory=directory,
            claims=claims,
            pushes=pushes,
            **options,
        )
        made.append(node)
        return node

    yield make
    for node in made:
        await node.close()


@pytest.fixture
def node(make_node: MakeNode) -> MediaNode:
    return make_node()


def screen(fixture_json: Any) -> RtpParameters:
    parameters: RtpParameters = msgspec.convert(fixture_json("chrome_produce_screen.json"), RtpParameters)
    return parameters


# --- who may produce (pure) ---


def test_everyone_may_produce_in_meeting_and_conference_rooms() -> None:
    for room_type in ("meeting", "conference"):
        policy = ProducePolicy(room_type=room_type, host_user_ids=["host-user"])  # type: ignore[arg-type]
        policy.check_may_produce(user_id=None, peer_id="anyone")
        assert policy.role_of(user_id=None, peer_id="anyone") == "participant"
        assert policy.role_of(user_id="host-user", peer_id="x") == "host"


def test_in_webinar_and_live_rooms_only_the_meetings_hosts_and_cohosts_produce() -> None:
    for room_type in ("webinar", "live"):
        policy = ProducePolicy(
            room_type=room_type,  # type: ignore[arg-type]
            host_user_ids=["host-user"],
            creator_peer_id="first-socket",
            creator_user_id="first-user",
        )
        policy.check_may_produce(user_id="host-user", peer_id="any-socket")
        with pytest.raises(Forbidden, match=f"only the host and approved co-hosts may produce in a {room_type} room"):
            policy.check_may_produce(user_id="first-user", peer_id="first-socket")
        assert policy.role_of(user_id=None, peer_id="someone") == "viewer"
        policy.approve_cohost(user_id="helper")
        policy.check_may_produce(user_id="helper", peer_id="their-socket")
        assert policy.role_of(user_id="helper", peer_id="their-socket") == "co-host"


def test_in_a_room_created_on_the_socket_its_creator_is_the_host() -> None:
    policy = ProducePolicy(room_type=None, creator_peer_id="creator-socket", creator_user_id="creator")
    policy.check_may_produce(user_id=None, peer_id="creator-socket")
    policy.check_may_produce(user_id="creator", peer_id="their-new-socket")  # after a reload
    with pytest.raises(Forbidden, match="in a room created on the socket"):
        policy.check_may_produce(user_id=None, peer_id="another-socket")
    policy.approve_cohost(peer_id="another-socket")
    policy.check_may_produce(user_id=None, peer_id="another-socket")


def test_a_webinar_room_no_meeting_names_is_hosted_by_its_creator() -> None:
    policy = ProducePolicy(room_type="webinar", creator_peer_id="creator-socket")
    policy.check_may_produce(user_id=None, peer_id="creator-socket")


# --- the node ---


async def test_creating_a_room_twice_at_once_opens_it_once(
    node: MediaNode, directory: Directory, claims: Claims
) -> None:
    created = await asyncio.gather(*(node.create_room(KEY, peer_id=f"s{i}", user_id=None) for i in range(3)))
    assert sorted(created) == [False, False, True]
    assert directory.asked == [KEY]
    assert claims.held == {KEY}
    assert await node.create_room(KEY, peer_id="s4", user_id=None) is False


async def test_a_room_held_by_another_node_is_not_opened_here(node: MediaNode, claims: Claims) -> None:
    claims.taken_elsewhere.add(KEY)
    with pytest.raises(Conflict):
        await node.create_room(KEY, peer_id="s", user_id=None)
    with pytest.raises(NotFound, match="room does not exist"):
        await node.join(KEY, peer_id="s", name="x", user_id=None)


async def test_rooms_are_per_tenant(node: MediaNode) -> None:
    await node.create_room(KEY, peer_id="s", user_id=None)
    with pytest.raises(NotFound, match="room does not exist"):
        await node.join(RoomKey("tenant-b", KEY.room_id), peer_id="t", name="x", user_id=None)


async def test_a_peer_leaving_closes_what_it_holds_and_its_viewers_hear_consumer_closed(
    node: MediaNode, pushes: Pushes, fixture_json: Any, chrome_device: RtpCapabilities
) -> None:
    await node.create_room(KEY, peer_id="host", user_id=None)
    await node.join(KEY, peer_id="host", name="Host", user_id=None)
    state = await node.join(KEY, peer_id="viewer", name="Viewer", user_id=None)
    assert [(p.id, p.role) for p in state.peers] == [("host", "host"), ("viewer", "viewer")]
    send = await node.create_transport(KEY, peer_id="host")
    producer = node.produce(
        KEY,
        peer_id="host",
        transport_id=send.id,
        kind="video",
        rtp_parameters=screen(fixture_json),
        app_data={"type": "camera"},
    )
    announced = {"producer_id": producer.id, "producer_socket_id": "host", "appData": {"type": "camera"}}
    assert pushes.events("newProducers")[-1].data == [announced]
    assert pushes.events("newProducers")[-1].skip_peer == "host"
    assert msgspec.to_builtins(node.producers_for(KEY, peer_id="viewer")) == [announced]
    assert node.producers_for(KEY, peer_id="host") == []
    receive = await node.create_transport(KEY, peer_id="viewer")
    consumer = node.consume(
        KEY, peer_id="viewer", transport_id=receive.id, producer_id=producer.id, rtp_capabilities=chrome_device
    )

    await node.exit(KEY, peer_id="host")
    assert (send.closed, producer.closed, consumer.closed) == (True, True, True)
    assert not receive.closed
    closed = pushes.events("consumerClosed")
    assert [(p.data, p.to_peer) for p in closed] == [({"consumer_id": consumer.id}, "viewer")]
    left = pushes.events("peerLeft")[-1]
    assert (left.data["peer_id"], left.skip_peer, left.leave_peer) == ("host", "host", None)
    assert node.stats().transports == 1
    with pytest.raises(NotFound, match="not currently in a room"):
        await node.exit(KEY, peer_id="host")


async def test_closing_a_producer_tells_only_its_consumers_peers(
    node: MediaNode, pushes: Pushes, fixture_json: Any, chrome_device: RtpCapabilities
) -> None:
    await node.create_room(KEY, peer_id="host", user_id=None)
    for peer in ("host", "viewer", "other"):
        await node.join(KEY, peer_id=peer, name=peer, user_id=None)
    send = await node.create_transport(KEY, peer_id="host")
    producer = node.produce(
        KEY, peer_id="host", transport_id=send.id, kind="video", rtp_parameters=screen(fixture_json), app_data={}
    )
    receive = await node.create_transport(KEY, peer_id="viewer")
    consumer = node.consume(
        KEY, peer_id="viewer", transport_id=receive.id, producer_id=producer.id, rtp_capabilities=chrome_device
    )
    with pytest.raises(NotFound):  # only its own producers
        node.close_producer(KEY, peer_id="viewer", producer_id=producer.id)
    node.close_producer(KEY, peer_id="host", producer_id=producer.id)
    assert [(p.data, p.to_peer) for p in pushes.events("consumerClosed")] == [({"consumer_id": consumer.id}, "viewer")]
    assert not send.closed


async def test_consume_needs_loaded_capabilities_and_an_own_transport(
    node: MediaNode, fixture_json: Any, chrome_device: RtpCapabilities
) -> None:
    await node.create_room(KEY, peer_id="host", user_id=None)
    await node.join(KEY, peer_id="host", name="Host", user_id=None)
    await node.join(KEY, peer_id="viewer", name="Viewer", user_id=None)
    send = await node.create_transport(KEY, peer_id="host")
    producer = node.produce(
        KEY, peer_id="host", transport_id=send.id, kind="video", rtp_parameters=screen(fixture_json), app_data={}
    )
    receive = await node.create_transport(KEY, peer_id="viewer")
    for capabilities in (None, RtpCapabilities()):
        with pytest.raises(InvalidInput, match="load the device"):
            node.consume(
                KEY, peer_id="viewer", transport_id=receive.id, producer_id=producer.id, rtp_capabilities=capabilities
            )
    with pytest.raises(NotFound, match="no transport"):  # another peer's transport
        node.consume(
            KEY, peer_id="viewer", transport_id=send.id, producer_id=producer.id, rtp_capabilities=chrome_device
        )
    with pytest.raises(Forbidden):  # and a viewer of a socket room does not produce
        node.produce(
            KEY,
            peer_id="viewer",
            transport_id=receive.id,
            kind="video",
            rtp_parameters=screen(fixture_json),
            app_data={},
        )


async def test_a_peer_holds_a_bounded_number_of_transports(make_node: MakeNode) -> None:
    node = make_node(max_transports_per_peer=2)
    await node.create_room(KEY, peer_id="p", user_id=None)
    await node.join(KEY, peer_id="p", name="P", user_id=None)
    await node.create_transport(KEY, peer_id="p")
    await node.create_transport(KEY, peer_id="p")
    with pytest.raises(Conflict, match="at most 2 transports"):
        await node.create_transport(KEY, peer_id="p")


async def test_a_peer_whose_browser_stops_checking_is_dropped_and_its_viewers_told(
    make_node: MakeNode, pushes: Pushes, fixture_json: Any, chrome_device: RtpCapabilities, connect_peer: Any
) -> None:
    node = make_node(consent_timeout=0.5)
    await node.create_room(KEY, peer_id="host", user_id=None)
    await node.join(KEY, peer_id="host", name="Host", user_id=None)
    await node.join(KEY, peer_id="viewer", name="Viewer", user_id=None)
    send = await node.create_transport(KEY, peer_id="host")
    publisher: PeerTransport = await connect_peer(send)
    producer = node.produce(
        KEY, peer_id="host", transport_id=send.id, kind="video", rtp_parameters=screen(fixture_json), app_data={}
    )
    receive = await node.create_transport(KEY, peer_id="viewer")
    consumer = node.consume(
        KEY, peer_id="viewer", transport_id=receive.id, producer_id=producer.id, rtp_capabilities=chrome_device
    )
    # The browser vanishes without a word (no DTLS close): its checks just stop.
    await publisher._ice.stop()
    left = await pushes.wait_for("peerLeft")
    assert (left.data["peer_id"], left.leave_peer) == ("host", "host")
    assert [p.data for p in pushes.events("consumerClosed")] == [{"consumer_id": consumer.id}]
    assert [p.id for p in node.room_state(KEY, peer_id="viewer").peers] == ["viewer"]
    assert send.closed


async def test_a_peer_whose_dtls_handshake_fails_is_dropped(node: MediaNode, pushes: Pushes, peers: Any) -> None:
    await node.create_room(KEY, peer_id="host", user_id=None)
    await node.join(KEY, peer_id="host", name="Host", user_id=None)
    transport = await node.create_transport(KEY, peer_id="host")
    # Well-formed, but not the fingerprint of the certificate the peer will show.
    wrong = DtlsParameters(fingerprints=[DtlsFingerprint("sha-256", ":".join(["AB"] * 32))], role="client")
    node.connect_transport(KEY, peer_id="host", transport_id=transport.id, dtls=wrong)
    peer = await PeerTransport.create()
    peers.append(peer)
    with contextlib.suppress(ConnectionError, TimeoutError):
        await asyncio.wait_for(
            peer.connect(
                ice_parameters=transport.ice_parameters,
                ice_candidates=transport.ice_candidates,
                dtls_parameters=transport.dtls_parameters,
            ),
            timeout=5,
        )
    left = await pushes.wait_for("peerLeft")
    assert (left.data["peer_id"], left.leave_peer) == ("host", "host")
    assert transport.closed
    assert node.rooms[KEY].peers == {}


async def test_a_peer_whose_browser_closes_its_last_transport_leaves(
    node: MediaNode, pushes: Pushes, connect_peer: Any, wait_until: Any
) -> None:
    await node.create_room(KEY, peer_id="p", user_id=None)
    await node.join(KEY, peer_id="p", name="P", user_id=None)
    first = await node.create_transport(KEY, peer_id="p")
    second = await node.create_transport(KEY, peer_id="p")
    clients: list[PeerTransport] = [await connect_peer(first), await connect_peer(second)]
    await clients[0].close()  # DTLS close_notify: that transport closes, the other goes on
    await wait_until(lambda: first.closed)
    assert "p" in node.rooms[KEY].peers
    await clients[1].close()
    left = await pushes.wait_for("peerLeft")
    assert (left.data["peer_id"], left.leave_peer) == ("p", "p")


async def test_an_empty_room_closes_after_its_grace_unless_someone_joins(make_node: MakeNode, claims: Claims) -> None:
    node = make_node(empty_room_grace=0.2)
    await node.create_room(KEY, peer_id="p", user_id=None)
    await asyncio.sleep(0.1)
    await node.join(KEY, peer_id="p", name="P", user_id=None)
    await asyncio.sleep(0.2)
    assert KEY in node.rooms  # someone came in time
    await node.exit(KEY, peer_id="p")
    async with asyncio.timeout(5):
        while KEY in node.rooms:  # noqa: ASYNC110 - the node offers no event for it
            await asyncio.sleep(0.02)
    assert claims.held == set()
    assert node.stats().rooms == 0


async def test_a_meetings_webinar_room_is_hosted_by_the_meetings_host(
    node: MediaNode, directory: Directory, fixture_json: Any
) -> None:
    directory.rooms[KEY.room_id] = RoomDescription(type="webinar", host_user_ids=("host-user",))
    await node.create_room(KEY, peer_id="first", user_id="early-viewer")
    state = await node.join(KEY, peer_id="first", name="Early", user_id="early-viewer")
    assert (state.type, state.peers[0].role) == ("webinar", "viewer")
    await node.join(KEY, peer_id="second", name="Host", user_id="host-user")
    transport = await node.create_transport(KEY, peer_id="first")
    with pytest.raises(Forbidden, match="webinar room"):
        node.produce(
            KEY,
            peer_id="first",
            transport_id=transport.id,
            kind="video",
            rtp_parameters=screen(fixture_json),
            app_data={},
        )
    host_transport = await node.create_transport(KEY, peer_id="second")
    node.produce(
        KEY,
        peer_id="second",
        transport_id=host_transport.id,
        kind="video",
        rtp_parameters=screen(fixture_json),
        app_data={},
    )


async def test_the_node_record_counts_rooms_peers_and_transports(node: MediaNode) -> None:
    await node.create_room(KEY, peer_id="p", user_id=None)
    await node.join(KEY, peer_id="p", name="P", user_id=None)
    await node.create_transport(KEY, peer_id="p")
    record = node.record()
    assert (record.rooms, record.peers, record.transports, record.load) == (1, 1, 1, 2)
    assert NodeRecord(node_id="x").load == 0


async def test_closing_the_node_closes_its_rooms_and_releases_them(node: MediaNode, claims: Claims) -> None:
    await node.create_room(KEY, peer_id="p", user_id=None)
    await node.join(KEY, peer_id="p", name="P", user_id=None)
    transport = await node.create_transport(KEY, peer_id="p")
    await node.close()
    assert transport.closed
    assert claims.held == set()
    assert node.rooms == {}
    with pytest.raises(Unavailable):
        await node.create_room(RoomKey("t", "new"), peer_id="p", user_id=None)
