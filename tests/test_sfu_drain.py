"""A media node told to stop (SIGTERM) with MEDIA_DRAIN_SECONDS drains: new rooms go to other
nodes, the rooms it holds go on (latecomers join them, media flows) and it stops by itself
once they have ended; when the drain time is up first, it closes what is left and stops."""

import asyncio
import json
import secrets
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import nats
import nats.js.errors
import pytest
from sfuclient import SfuClient

from media.peer_client import EncodedTrack, encode_vp8
from webinar_contracts import Empty
from webinar_contracts.media import NODE_STATS, NODES_BUCKET, NodeRecord
from webinar_devstack.processes import ServiceProcess, http_ok
from webinar_runtime.bus import Bus

pytestmark = pytest.mark.slow


class DrainingNode:
    """A media node process of the test's own, with its drain settings."""

    def __init__(self, suite: Any, *, drain_seconds: float, log_dir: Path) -> None:
        self.node_id = f"drain-{secrets.token_hex(3)}"
        self.log_path = log_dir / f"media-{self.node_id}.log"
        env = {
            **suite.env,
            "MEDIA_NODE_ID": self.node_id,
            "MEDIA_DRAIN_SECONDS": str(drain_seconds),
            "MEDIA_EMPTY_ROOM_SECONDS": "0.5",
            "SHUTDOWN_GRACE_SECONDS": "2",
        }
        self.process = ServiceProcess("media", env, log_path=self.log_path)

    def sigterm(self) -> None:
        assert self.process.process is not None
        self.process.process.send_signal(signal.SIGTERM)

    async def exit_code(self, timeout: float) -> int:
        assert self.process.process is not None
        return await asyncio.to_thread(self.process.process.wait, timeout)

    @property
    def live(self) -> bool:
        return http_ok(self.process.ready_url.replace("/readyz", "/livez"))

    @property
    def ready(self) -> bool:
        return http_ok(self.process.ready_url)


@pytest.fixture
def start_node(suite: Any, tmp_path: Path) -> Iterator[Any]:
    started: list[DrainingNode] = []

    def start(drain_seconds: float) -> DrainingNode:
        node = DrainingNode(suite, drain_seconds=drain_seconds, log_dir=tmp_path)
        node.process.start_and_wait(60)
        started.append(node)
        return node

    yield start
    for node in started:
        node.process.kill()


async def holder(bus: Bus, node_ids: list[str], room: str) -> str | None:
    for node_id in node_ids:
        if room in (await bus.request(NODE_STATS.at(node_id), Empty())).room_ids:
            return node_id
    return None


async def live_node_ids(nats_url: str) -> list[str]:
    nc = await nats.connect(nats_url)
    try:
        return list(await (await nc.jetstream().key_value(NODES_BUCKET)).keys())
    finally:
        await nc.close()


async def record_of(nats_url: str, node_id: str) -> NodeRecord | None:
    nc = await nats.connect(nats_url)
    try:
        entry = await (await nc.jetstream().key_value(NODES_BUCKET)).get(node_id)
        return msgspec.json.decode(entry.value or b"", type=NodeRecord)
    except nats.js.errors.KeyNotFoundError:
        return None
    finally:
        await nc.close()


async def load_of(bus: Bus, node_id: str) -> int:
    """A node's load as placement weighs it: its rooms and transports."""
    stats = await bus.request(NODE_STATS.at(node_id), Empty())
    return stats.rooms + stats.transports


async def load_every_node(suite: Any, bus: Bus, at_least: int, clients: list[SfuClient]) -> None:
    """Open rooms (each with its host in it) until every live node carries `at_least` load."""
    nodes = await live_node_ids(suite.env["NATS_URL"])
    for _ in range(at_least * len(nodes) + 4):
        if min([await load_of(bus, node_id) for node_id in nodes]) >= at_least:
            return
        host = await SfuClient(suite.url, api_key=suite.api_key).connect()
        clients.append(host)
        await host.enter(f"drain-load-{secrets.token_hex(4)}", "Host")
    raise AssertionError("the nodes did not take the load")


async def room_on(suite: Any, bus: Bus, node_id: str, clients: list[SfuClient]) -> tuple[str, SfuClient]:
    """A room opened (by its host, still in it) on `node_id`: rooms are opened until one lands there."""
    for _ in range(12):
        room = f"drain-{secrets.token_hex(4)}"
        host = await SfuClient(suite.url, api_key=suite.api_key).connect()
        clients.append(host)
        await host.enter(room, "Host")
        if room in (await bus.request(NODE_STATS.at(node_id), Empty())).room_ids:
            return room, host
        await host.close()
    raise AssertionError(f"no room landed on {node_id}")


@pytest.fixture
async def bus(suite: Any) -> Any:
    connected = await Bus.connect(suite.env["NATS_URL"], service="test", instance="sfu-drain")
    yield connected
    await connected.close()


async def test_a_draining_node_keeps_its_webinar_going_takes_no_new_room_and_stops_after_it(suite, bus, start_node):
    nats_url = suite.env["NATS_URL"]
    clients: list[SfuClient] = []
    try:
        # The other nodes carry more load than the draining node will: only the drain keeps
        # new rooms off it.
        await load_every_node(suite, bus, 3, clients)
        node = start_node(drain_seconds=120)
        room, host = await room_on(suite, bus, node.node_id, clients)
        send_id, send = await host.transport()
        camera = EncodedTrack("video", encode_vp8(60, keyframe_interval=10), interval=1 / 30)
        produced = await host.produce(send_id, send, camera, mid="0", app_type="camera")

        node.sigterm()
        async with asyncio.timeout(10):
            while not ((record := await record_of(nats_url, node.node_id)) and record.draining):  # noqa: ASYNC110 - the bucket offers no event here
                await asyncio.sleep(0.05)
        assert not node.ready
        assert node.live

        # New rooms are placed on the other nodes, though the draining one is the lightest.
        others = [node_id for node_id in await live_node_ids(nats_url) if node_id != node.node_id]
        assert others
        assert await load_of(bus, node.node_id) < min([await load_of(bus, node_id) for node_id in others])
        for _ in range(2):
            new_room = f"drain-new-{secrets.token_hex(4)}"
            newcomer = await SfuClient(suite.url, api_key=suite.api_key).connect()
            clients.append(newcomer)
            await newcomer.enter(new_room, "Newcomer")
            assert await holder(bus, others, new_room) is not None
            assert new_room not in (await bus.request(NODE_STATS.at(node.node_id), Empty())).room_ids

        # A latecomer reaches the running webinar on the draining node, and its media.
        latecomer = await SfuClient(suite.url, api_key=suite.api_key).connect()
        clients.append(latecomer)
        joined = await latecomer.enter(room, "Latecomer")
        peers = json.loads(joined["room"]["peers"])  # the seed's `[socket id, peer]` pairs, as JSON
        assert {peer["name"] for _, peer in peers} == {"Host", "Latecomer"}
        recv_id, recv = await latecomer.transport()
        _, receiver = await latecomer.consume(recv_id, recv, produced["producer_id"])
        frame = await asyncio.wait_for(receiver.track.recv(), 10)
        assert frame.width == 160
        assert node.process.running

        # Everyone leaves: the room closes after its empty grace, and the node stops by itself.
        await latecomer.close()
        await host.close()
        assert await node.exit_code(timeout=20) == 0
        log = node.log_path.read_text()
        assert "media node drained: no room left" in log
        assert await record_of(nats_url, node.node_id) is None
    finally:
        for client in clients:
            await client.close()


async def test_when_the_drain_time_is_up_the_node_closes_its_rooms_and_stops(suite, bus, start_node):
    node = start_node(drain_seconds=2)
    clients: list[SfuClient] = []
    try:
        room, host = await room_on(suite, bus, node.node_id, clients)
        _, transport = await host.transport()
        loop = asyncio.get_running_loop()
        node.sigterm()
        signalled = loop.time()
        assert await node.exit_code(timeout=20) == 0
        assert loop.time() - signalled >= 2  # the whole drain time, though the host stayed
        # The host hears its room close: its transport gets the node's DTLS close alert.
        async with asyncio.timeout(5):
            while transport.dtls_state != "closed":  # noqa: ASYNC110 - aiortc offers no event here
                await asyncio.sleep(0.05)
        assert "media node drain time is up" in node.log_path.read_text()
        # Its placement was released: the room is open nowhere (the host may open it again).
        assert await host.request("join", {"room_id": room, "name": "Host"}) == {"error": "room does not exist"}
    finally:
        for client in clients:
            await client.close()
