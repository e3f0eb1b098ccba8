"""One media worker process per core: `python -m media` with MEDIA_WORKERS=2 runs two
workers, each a placement target of its own (`<node>-w<index>`) on its own share of the
UDP port range and the same announced address. Rooms spread over them; a killed worker's
rooms are placed again on the next createRoom and the worker is started again; SIGTERM
stops every worker, each draining (its record leaves the bucket)."""

import asyncio
import contextlib
import os
import secrets
import signal
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import msgspec
import nats
import nats.js.errors
import pytest
from sfuclient import SfuClient

from media.placement import bucket_keys
from webinar_contracts import Empty
from webinar_contracts.media import NODE_STATS, NODES_BUCKET, NodeRecord, NodeStats
from webinar_devstack.processes import ServiceProcess
from webinar_devstack.servers import start_nats
from webinar_devstack.suite import Suite
from webinar_runtime.bus import Bus

pytestmark = pytest.mark.slow

PORTS = (47100, 47199)


@dataclass
class MultiWorkerNode:
    node_id: str
    process: ServiceProcess
    log_path: Path

    @property
    def worker_ids(self) -> list[str]:
        return [f"{self.node_id}-w0", f"{self.node_id}-w1"]

    def worker_pids(self) -> dict[str, int]:
        """The supervisor's child processes, by the node id each runs as."""
        pid = self.process.process.pid if self.process.process else 0
        children: list[int] = []
        for task in Path(f"/proc/{pid}/task").iterdir():
            children += [int(child) for child in (task / "children").read_text().split()]
        found = {}
        for child in children:
            with contextlib.suppress(OSError):
                environ = Path(f"/proc/{child}/environ").read_bytes().split(b"\0")
                for entry in environ:
                    if entry.startswith(b"MEDIA_NODE_ID="):
                        found[entry.split(b"=", 1)[1].decode()] = child
        return found


def restarted(record: NodeRecord | None, before: NodeRecord) -> bool:
    return record is not None and record.started_at != before.started_at


def running(pid: int) -> bool:
    return Path(f"/proc/{pid}").exists()


@pytest.fixture(scope="module")
def suite(tmp_path_factory, redis_url, mongo_url) -> Iterator[Suite]:
    """A suite of this module's own, on a NATS of its own, with no media node but the
    multi-worker one each test starts: starting, killing and stopping workers here can
    never move the rooms of other tests, and theirs never land on these workers."""
    workdir = tmp_path_factory.mktemp("workers-suite")
    nats_server = start_nats(workdir / "nats")
    running = Suite(
        workdir=workdir,
        nats_url=f"nats://127.0.0.1:{nats_server.port}",
        redis_url=redis_url,
        mongo_url=mongo_url,
        services=["auth", "meetings", "gateway"],
        env={"AUTH_DATABASE": "auth_workers", "MEETINGS_DATABASE": "meetings_workers", "MEDIA_WORKERS": "1"},
    ).start()
    yield running
    running.stop()
    nats_server.stop()


@pytest.fixture
def multi_worker_node(suite, tmp_path) -> Iterator[MultiWorkerNode]:
    node_id = f"multi-{secrets.token_hex(3)}"
    log_path = tmp_path / f"media-{node_id}.log"
    env = {
        **suite.env,
        "MEDIA_NODE_ID": node_id,
        "MEDIA_WORKERS": "2",
        "MEDIA_RTC_MIN_PORT": str(PORTS[0]),
        "MEDIA_RTC_MAX_PORT": str(PORTS[1]),
        "MEDIA_HEARTBEAT_SECONDS": "0.5",
    }
    process = ServiceProcess("media", env, log_path=log_path)
    process.start_and_wait(90)
    yield MultiWorkerNode(node_id, process, log_path)
    process.stop(timeout=30)


@pytest.fixture
async def bus(suite) -> AsyncIterator[Bus]:
    connected = await Bus.connect(suite.env["NATS_URL"], service="test", instance="sfu-workers")
    yield connected
    await connected.close()


async def node_records(nats_url: str) -> dict[str, NodeRecord]:
    nc = await nats.connect(nats_url)
    try:
        bucket = await nc.jetstream().key_value(NODES_BUCKET)
        records = {}
        # Listed as placement lists them (nats-py's keys() can answer "none" while nodes beat).
        for key in await bucket_keys(nc.jetstream(), NODES_BUCKET):
            with contextlib.suppress(nats.js.errors.KeyNotFoundError):
                records[key] = msgspec.json.decode((await bucket.get(key)).value or b"", type=NodeRecord)
        return records
    finally:
        await nc.close()


async def stats(bus: Bus, node_id: str) -> NodeStats:
    return await bus.request(NODE_STATS.at(node_id), Empty())


async def rooms_on_each_worker(suite, bus: Bus, node: MultiWorkerNode, clients: list[SfuClient]) -> dict[str, str]:
    """Creates rooms (each held by a connected host) until each worker holds one; worker -> room."""
    rooms: dict[str, str] = {}
    for _ in range(12):
        room = f"workers-{secrets.token_hex(4)}"
        host = await SfuClient(suite.url, api_key=suite.api_key).connect()
        clients.append(host)
        await host.enter(room, "Host")
        for worker_id in node.worker_ids:
            if worker_id not in rooms and room in (await stats(bus, worker_id)).room_ids:
                rooms[worker_id] = room
        if len(rooms) == 2:
            return rooms
    raise AssertionError(f"rooms did not spread over both workers: {rooms}")


async def test_rooms_spread_over_two_workers_each_on_its_own_ports_and_the_same_address(suite, bus, multi_worker_node):
    node = multi_worker_node
    records = await node_records(suite.env["NATS_URL"])
    assert set(node.worker_ids) <= set(records)
    assert node.node_id not in records  # the supervisor holds no rooms of its own
    assert set(node.worker_pids()) == set(node.worker_ids)

    clients: list[SfuClient] = []
    try:
        rooms = await rooms_on_each_worker(suite, bus, node, clients)
        shares = {node.worker_ids[0]: (47100, 47149), node.worker_ids[1]: (47150, 47199)}
        for worker_id, room in rooms.items():
            client = await SfuClient(suite.url, api_key=suite.api_key).connect()
            clients.append(client)
            await client.enter(room, "Viewer")
            created = await client.request("createWebRtcTransport", {"forceTcp": False})
            (candidate,) = created["iceCandidates"]
            low, high = shares[worker_id]
            assert low <= candidate["port"] <= high, (worker_id, candidate)
            assert candidate["ip"] == "127.0.0.1"
            # The transport is real: ICE and DTLS connect on that port.
            await client.transport()
        # The supervisor's /metrics (the only one of the node reachable) shows each worker's room.
        metrics_url = f"http://127.0.0.1:{node.process.health_port}/metrics"
        async with asyncio.timeout(15), aiohttp.ClientSession() as http:
            while True:
                async with http.get(metrics_url) as answer:
                    text = await answer.text()
                if all(f'webinar_media_rooms{{node="{worker}"}} 1.0' in text for worker in node.worker_ids):
                    break
                await asyncio.sleep(0.5)
    finally:
        for client in clients:
            await client.close()
    log = node.log_path.read_text()
    assert log.count("loop=uvloop") == 2, "each worker runs on uvloop"


async def test_a_killed_worker_is_started_again_and_its_rooms_are_placed_again_on_create_room(
    suite, bus, multi_worker_node
):
    node = multi_worker_node
    clients: list[SfuClient] = []
    try:
        rooms = await rooms_on_each_worker(suite, bus, node, clients)
        victim = node.worker_ids[1]
        room = rooms[victim]
        before = (await node_records(suite.env["NATS_URL"]))[victim]
        old_pid = node.worker_pids()[victim]
        os.kill(old_pid, signal.SIGKILL)

        # The room went with its worker: createRoom places it again on a live worker.
        async with asyncio.timeout(20):
            while True:
                late = await SfuClient(suite.url, api_key=suite.api_key).connect()
                clients.append(late)
                if await late.request("createRoom", {"room_id": room}) == room:
                    break
                await late.close()  # refused while the dead worker's record has not lapsed (nobody answers)
                await asyncio.sleep(0.3)
        await late.enter(room, "Late")
        assert (await late.transport())[0]
        # Exactly one live node holds it (a worker of this node, or another node).
        holders = []
        for node_id in await node_records(suite.env["NATS_URL"]):
            with contextlib.suppress(Exception):  # the killed worker's record may not have lapsed
                if room in (await stats(bus, node_id)).room_ids:
                    holders.append(node_id)
        assert len(holders) == 1

        # The supervisor started the killed worker again, as a new process under the same id.
        async with asyncio.timeout(20):
            while not restarted((await node_records(suite.env["NATS_URL"])).get(victim), before):  # noqa: ASYNC110 - no event in the bucket
                await asyncio.sleep(0.2)
        assert node.worker_pids()[victim] != old_pid
    finally:
        for client in clients:
            await client.close()


async def test_sigterm_drains_every_worker_and_removes_their_records(suite, multi_worker_node):
    node = multi_worker_node
    pids = node.worker_pids()
    assert set(pids) == set(node.worker_ids)
    node.process.stop(timeout=30)
    assert node.process.process is not None
    assert node.process.process.returncode == 0
    assert [pid for pid in pids.values() if running(pid)] == []
    records = await node_records(suite.env["NATS_URL"])
    assert set(node.worker_ids).isdisjoint(records)
