"""Several media nodes: rooms are placed on different nodes, every later call for a room
reaches its node, and a room whose node went away is placed again."""

import asyncio
import secrets
from collections.abc import AsyncIterator, Iterator
from typing import Any

import nats
import pytest
from sfuclient import SfuClient

from media.peer_client import EncodedTrack, encode_vp8
from webinar_contracts import Empty
from webinar_contracts.media import NODE_STATS, NODES_BUCKET, NodeStats
from webinar_devstack.processes import ServiceProcess
from webinar_devstack.servers import free_port
from webinar_runtime.bus import Bus

pytestmark = pytest.mark.slow


@pytest.fixture
def second_node(suite) -> Iterator[str]:
    node_id = f"second-{secrets.token_hex(3)}"
    process = ServiceProcess(
        "media", {**suite.env, "MEDIA_NODE_ID": node_id}, log_path=suite.workdir / f"media-{node_id}.log"
    )
    process.start_and_wait(60)
    yield node_id
    process.stop()


@pytest.fixture
async def bus(suite) -> AsyncIterator[Bus]:
    connected = await Bus.connect(suite.env["NATS_URL"], service="test", instance="sfu-nodes")
    yield connected
    await connected.close()


async def live_nodes(nats_url: str) -> set[str]:
    nc = await nats.connect(nats_url)
    try:
        return set(await (await nc.jetstream().key_value(NODES_BUCKET)).keys())
    finally:
        await nc.close()


async def stats(bus: Bus, node_id: str) -> NodeStats:
    return await bus.request(NODE_STATS.at(node_id), Empty())


async def test_rooms_spread_over_two_nodes_and_each_is_reached_through_the_gateway(suite, second_node, bus):
    nodes = await live_nodes(suite.env["NATS_URL"])
    assert second_node in nodes
    assert len(nodes) == 2
    first_node = (nodes - {second_node}).pop()
    clients: list[SfuClient] = []
    packets = encode_vp8(10, keyframe_interval=5)
    try:
        rooms: dict[str, tuple[str, SfuClient]] = {}  # node -> a room there, with its creator (the host)
        # Each room lands on the lighter node: earlier tests may have left load on the first.
        first = await stats(bus, first_node)
        for _ in range(first.rooms + first.transports + 3):
            room = f"spread-{secrets.token_hex(4)}"
            host = await SfuClient(suite.url, api_key=suite.api_key).connect()
            clients.append(host)
            await host.enter(room, "Host")
            (holder,) = [node for node in nodes if room in (await stats(bus, node)).room_ids]
            if holder in rooms:
                await host.close()  # a room of no interest: leave it
                continue
            rooms[holder] = (room, host)
            if len(rooms) == 2:
                break
        assert set(rooms) == {first_node, second_node}

        for node_id, (room, host) in rooms.items():
            viewer = await SfuClient(suite.url, api_key=suite.api_key).connect()
            clients.append(viewer)
            await viewer.enter(room, "Viewer")
            send_id, send = await host.transport()
            camera = EncodedTrack("video", packets, interval=1 / 30)
            produced = await host.produce(send_id, send, camera, mid="0", app_type="camera")
            recv_id, recv = await viewer.transport()
            _, receiver = await viewer.consume(recv_id, recv, produced["producer_id"])
            frame = await asyncio.wait_for(receiver.track.recv(), 10)
            assert frame.width == 160
            held = await stats(bus, node_id)
            assert room in held.room_ids
            assert held.producers >= 1
            assert held.consumers >= 1
    finally:
        for client in clients:
            await client.close()


async def test_a_room_whose_node_stopped_is_placed_again_on_a_live_node(suite, bus):
    node_id = f"leaving-{secrets.token_hex(3)}"
    process = ServiceProcess(
        "media", {**suite.env, "MEDIA_NODE_ID": node_id}, log_path=suite.workdir / f"media-{node_id}.log"
    )
    process.start_and_wait(60)
    clients: list[Any] = []
    try:
        room = None
        for _ in range(8):  # until a room lands on the new node
            candidate = f"move-{secrets.token_hex(4)}"
            client = await SfuClient(suite.url, api_key=suite.api_key).connect()
            clients.append(client)
            await client.enter(candidate, "Host")
            if candidate in (await stats(bus, node_id)).room_ids:
                room = candidate
                break
        assert room is not None
        process.stop()
        # The node is gone with the room: the room does not exist, and creating it places it anew.
        late = await SfuClient(suite.url, api_key=suite.api_key).connect()
        clients.append(late)
        assert await late.request("join", {"room_id": room, "name": "Late"}) == {"error": "room does not exist"}
        assert await late.request("createRoom", {"room_id": room}) == room
        await late.enter(room, "Late")
        assert (await late.transport())[0]
    finally:
        process.stop()
        for client in clients:
            await client.close()


@pytest.fixture
def second_gateway(suite) -> Iterator[str]:
    port = free_port()
    process = ServiceProcess(
        "gateway", {**suite.env, "PORT": str(port)}, log_path=suite.workdir / f"gateway-{port}.log"
    )
    process.start_and_wait(60)
    yield f"http://127.0.0.1:{port}"
    process.stop()


async def test_pushes_reach_sockets_on_another_gateway_process_once(suite, second_gateway):
    packets = encode_vp8(6, keyframe_interval=3)
    room = f"gateways-{secrets.token_hex(4)}"
    host = await SfuClient(suite.url, api_key=suite.api_key).connect()
    viewer = await SfuClient(second_gateway, api_key=suite.api_key).connect()
    try:
        await host.enter(room, "Host")
        await viewer.enter(room, "Viewer")
        send_id, send = await host.transport()
        camera = await host.produce(
            send_id, send, EncodedTrack("video", packets, interval=0.05), mid="0", app_type="camera"
        )
        screen = await host.produce(
            send_id, send, EncodedTrack("video", packets, interval=0.05), mid="1", app_type="screen"
        )
        # Each push once, in order: a second copy of the first would come before the second.
        assert (await viewer.pushed("newProducers"))[0]["producer_id"] == camera["producer_id"]
        assert (await viewer.pushed("newProducers"))[0]["producer_id"] == screen["producer_id"]
        recv_id, recv = await viewer.transport()
        consumed, _ = await viewer.consume(recv_id, recv, camera["producer_id"])
        await host.socket.emit("producerClosed", {"producer_id": camera["producer_id"]})
        assert await viewer.pushed("consumerClosed") == {"consumer_id": consumed["id"]}
        await host.close()
        assert (await viewer.pushed("peerLeft"))["name"] == "Host"
        assert viewer.pushes["consumerClosed"].empty()
        assert viewer.pushes["newProducers"].empty()
    finally:
        await host.close()
        await viewer.close()
