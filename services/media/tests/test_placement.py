"""Placing rooms on media nodes through NATS key-value buckets (a real NATS server; each
test has buckets of its own)."""

import asyncio
import secrets
from collections.abc import AsyncIterator, Callable

import nats
import pytest
from nats.aio.client import Client as NatsClient
from nats.js.api import StorageType
from nats.js.kv import KeyValue

from media.placement import Placement, choose_node, open_bucket
from media.rooms import RoomKey
from webinar_contracts import Conflict, NotFound, RequestContext, Unavailable
from webinar_contracts.media import NodeRecord, PlaceRoom, room_key

TENANT = RequestContext(tenant_id="tenant-a")


@pytest.fixture
async def nc(nats_url: str) -> AsyncIterator[NatsClient]:
    client = await nats.connect(nats_url)
    yield client
    await client.close()


@pytest.fixture
def suffix() -> str:
    return secrets.token_hex(4)


@pytest.fixture
async def buckets(nc: NatsClient, suffix: str) -> AsyncIterator[tuple[KeyValue, KeyValue]]:
    js = nc.jetstream()
    nodes = await open_bucket(
        js, f"test_nodes_{suffix}", ttl=5, storage=StorageType.MEMORY, replicas=1, description="test"
    )
    rooms = await open_bucket(
        js, f"test_rooms_{suffix}", ttl=None, storage=StorageType.MEMORY, replicas=1, description="test"
    )
    yield nodes, rooms
    await js.delete_key_value(f"test_nodes_{suffix}")
    await js.delete_key_value(f"test_rooms_{suffix}")


Loads = dict[str, NodeRecord]
MakePlacement = Callable[[str], Placement]


@pytest.fixture
def loads() -> Loads:
    return {}


@pytest.fixture
async def placement_of(
    nc: NatsClient, buckets: tuple[KeyValue, KeyValue], suffix: str, loads: Loads
) -> AsyncIterator[MakePlacement]:
    made: list[Placement] = []

    def make(node_id: str) -> Placement:
        loads.setdefault(node_id, NodeRecord(node_id=node_id))
        placement = Placement(
            node_id=node_id,
            js=nc.jetstream(),
            nodes=buckets[0],
            nodes_bucket=f"test_nodes_{suffix}",
            rooms=buckets[1],
            record=lambda: loads[node_id],
            heartbeat_interval=0.1,
        )
        made.append(placement)
        return placement

    yield make
    for placement in made:
        await placement.stop()


def test_the_least_loaded_node_is_chosen_and_none_means_unavailable() -> None:
    nodes = [NodeRecord(node_id="a", transports=4), NodeRecord(node_id="b", rooms=1), NodeRecord(node_id="c", rooms=1)]
    assert choose_node(nodes, pick=lambda tied: tied[0]).node_id == "b"
    assert {choose_node(nodes).node_id for _ in range(40)} == {"b", "c"}
    with pytest.raises(Unavailable, match="no media node is running"):
        choose_node([])


async def test_a_room_is_placed_once_on_the_lighter_node_and_found_there_after(
    placement_of: MakePlacement, loads: Loads
) -> None:
    a, b = placement_of("a"), placement_of("b")
    loads["a"] = NodeRecord(node_id="a", rooms=3)
    await a.start()
    await b.start()
    assert set(await a.live_nodes()) == {"a", "b"}

    with pytest.raises(NotFound, match="room does not exist"):
        await a.place(PlaceRoom(room_id="r1"), TENANT)
    placed = await a.place(PlaceRoom(room_id="r1", create=True), TENANT)
    assert placed.node_id == "b"
    # Every later call finds it there, whichever node answers, even if loads changed.
    loads["b"] = NodeRecord(node_id="b", rooms=9)
    await b.beat()
    assert (await b.place(PlaceRoom(room_id="r1"), TENANT)).node_id == "b"
    assert (await a.place(PlaceRoom(room_id="r1", create=True), TENANT)).node_id == "b"
    # The same room id of another tenant is another room.
    assert (await a.place(PlaceRoom(room_id="r1", create=True), RequestContext(tenant_id="t2"))).node_id == "a"


async def test_live_nodes_lists_every_node_while_they_beat(placement_of: MakePlacement) -> None:
    a, b = placement_of("a"), placement_of("b")
    await a.start()
    await b.start()
    for _ in range(30):  # heartbeats keep writing the bucket meanwhile
        listings = await asyncio.gather(a.live_nodes(), b.live_nodes(), a.beat(), b.beat(), a.live_nodes())
        assert all(set(listing) == {"a", "b"} for listing in listings if listing is not None)


async def test_two_placements_of_one_room_at_once_agree(placement_of: MakePlacement) -> None:
    a, b = placement_of("a"), placement_of("b")
    await a.start()
    await b.start()
    for index in range(5):
        request = PlaceRoom(room_id=f"race-{index}", create=True)
        answers = await asyncio.gather(a.place(request, TENANT), b.place(request, TENANT), a.place(request, TENANT))
        assert len({answer.node_id for answer in answers}) == 1


async def test_a_room_whose_node_is_gone_is_placed_again(placement_of: MakePlacement) -> None:
    a, b = placement_of("a"), placement_of("b")
    await a.start()
    await b.start()
    await b.claim(RoomKey("tenant-a", "r1"))
    assert (await a.place(PlaceRoom(room_id="r1"), TENANT)).node_id == "b"
    await b.stop()  # its record goes: it holds nothing any more
    with pytest.raises(NotFound):
        await a.place(PlaceRoom(room_id="r1"), TENANT)
    assert (await a.place(PlaceRoom(room_id="r1", create=True), TENANT)).node_id == "a"


async def test_a_node_cannot_claim_a_room_a_live_node_holds_and_releases_only_its_own(
    placement_of: MakePlacement, buckets: tuple[KeyValue, KeyValue]
) -> None:
    a, b = placement_of("a"), placement_of("b")
    await a.start()
    await b.start()
    key = RoomKey("tenant-a", "r1")
    await a.claim(key)
    await a.claim(key)  # again: still its own
    with pytest.raises(Conflict, match="held by another media node"):
        await b.claim(key)
    await b.release(key)  # not b's: left alone
    assert (await buckets[1].get(room_key(key.tenant_id, key.room_id))).value
    await a.release(key)
    with pytest.raises(NotFound):
        await a.place(PlaceRoom(room_id="r1"), TENANT)
    await b.claim(key)  # free again: claimed after a delete
    assert (await a.place(PlaceRoom(room_id="r1"), TENANT)).node_id == "b"


async def test_a_node_shows_its_load_and_a_stopped_node_drops_out_at_once(
    placement_of: MakePlacement, loads: Loads
) -> None:
    a = placement_of("a")
    await a.start()
    loads["a"] = NodeRecord(node_id="a", transports=2)
    a.load_changed()
    async with asyncio.timeout(5):
        while (await a.live_nodes())["a"].transports != 2:  # noqa: ASYNC110 - the bucket offers no event here
            await asyncio.sleep(0.02)
    await a.stop()
    assert await a.live_nodes() == {}


async def test_a_node_that_dies_silently_drops_out_when_its_record_expires(nc: NatsClient) -> None:
    js = nc.jetstream()
    name = f"test_nodes_{secrets.token_hex(4)}"
    nodes = await open_bucket(js, name, ttl=1, storage=StorageType.MEMORY, replicas=1, description="test")
    rooms = await open_bucket(js, name + "_rooms", ttl=None, storage=StorageType.MEMORY, replicas=1, description="t")
    try:
        crashed = Placement(
            node_id="crashed",
            js=js,
            nodes=nodes,
            nodes_bucket=name,
            rooms=rooms,
            record=lambda: NodeRecord(node_id="crashed"),
            heartbeat_interval=5,
        )
        await crashed.beat()  # one heartbeat, then nothing: the process is gone
        assert set(await crashed.live_nodes()) == {"crashed"}
        async with asyncio.timeout(5):
            while await crashed.live_nodes():  # noqa: ASYNC110 - expiry has no event
                await asyncio.sleep(0.1)
    finally:
        await js.delete_key_value(name)
        await js.delete_key_value(name + "_rooms")


def test_a_draining_node_is_never_chosen_and_all_draining_means_unavailable() -> None:
    nodes = [NodeRecord(node_id="idle-but-going", draining=True), NodeRecord(node_id="busy", rooms=5)]
    assert {choose_node(nodes).node_id for _ in range(20)} == {"busy"}
    with pytest.raises(Unavailable, match="every media node is draining"):
        choose_node([NodeRecord(node_id="a", draining=True), NodeRecord(node_id="b", rooms=2, draining=True)])


async def test_new_rooms_go_around_a_draining_node_whose_rooms_are_still_found_there(
    placement_of: MakePlacement, loads: Loads
) -> None:
    a, b = placement_of("a"), placement_of("b")
    loads["b"] = NodeRecord(node_id="b", rooms=4)
    await a.start()
    await b.start()
    await a.claim(RoomKey("tenant-a", "running"))
    loads["a"] = NodeRecord(node_id="a", rooms=1, draining=True)
    await a.beat()
    assert (await b.live_nodes())["a"].draining
    assert (await b.place(PlaceRoom(room_id="running", create=True), TENANT)).node_id == "a"
    assert (await b.place(PlaceRoom(room_id="running"), TENANT)).node_id == "a"
    for index in range(3):
        assert (await a.place(PlaceRoom(room_id=f"new-{index}", create=True), TENANT)).node_id == "b"
