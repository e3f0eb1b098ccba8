"""Nothing leaks: viewers joining a live room, connecting two transports, consuming and
leaving (by exitRoom or by disconnecting), many times over, leave the media node with the
transports, consumers, tasks and open sockets it had, and the gateway with its sockets."""

import asyncio
import os
import secrets
import time
from typing import Any

import nats
import pytest
from sfuclient import SfuClient

from media.peer_client import EncodedTrack, encode_vp8
from webinar_contracts import Empty
from webinar_contracts.media import NODE_STATS, NODES_BUCKET, NodeStats
from webinar_runtime.bus import Bus

pytestmark = pytest.mark.slow

CYCLES = 50


def open_files(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


async def node_holding(bus: Bus, nats_url: str, room: str) -> str:
    nc = await nats.connect(nats_url)
    try:
        nodes = await (await nc.jetstream().key_value(NODES_BUCKET)).keys()
    finally:
        await nc.close()
    for node_id in nodes:
        stats: NodeStats = await bus.request(NODE_STATS.at(node_id), Empty())
        if room in stats.room_ids:
            return str(node_id)
    raise AssertionError(f"no live node holds {room}")


async def visit(suite: Any, room: str, producer_id: str, index: int) -> None:
    viewer = await SfuClient(suite.url, api_key=suite.api_key).connect()
    try:
        await viewer.enter(room, f"Viewer {index}")
        await viewer.transport()
        recv_id, recv = await viewer.transport()
        await viewer.consume(recv_id, recv, producer_id)
        await asyncio.wait_for(recv.received.arrived.wait(), 10)  # media flowed to this viewer
        if index % 2:
            assert await viewer.request("exitRoom") == "successfully exited room"
    finally:
        await viewer.close()  # the even ones leave by disconnecting


def footprint(stats: NodeStats, gateway_files: int) -> dict[str, int]:
    return {
        "peers": stats.peers,
        "transports": stats.transports,
        "consumers": stats.consumers,
        "tasks": stats.tasks,
        "node open files": stats.open_files,
        "gateway open files": gateway_files,
    }


async def test_many_join_and_leave_cycles_leave_nothing_behind(suite):
    bus = await Bus.connect(suite.env["NATS_URL"], service="test", instance="sfu-leak")
    host = await SfuClient(suite.url, api_key=suite.api_key).connect()
    gateway_pid = suite.processes["gateway"].process.pid
    try:
        room = f"leak-{secrets.token_hex(4)}"
        await host.enter(room, "Host")
        node_id = await node_holding(bus, suite.env["NATS_URL"], room)
        send_id, send = await host.transport()
        camera = EncodedTrack("video", encode_vp8(10, keyframe_interval=2), interval=1 / 30)
        producer_id = (await host.produce(send_id, send, camera, mid="0", app_type="camera"))["producer_id"]

        async def measure() -> dict[str, int]:
            stats = await bus.request(NODE_STATS.at(node_id), Empty())
            return footprint(stats, open_files(gateway_pid))

        await visit(suite, room, producer_id, 0)  # warm-up: first-use allocations are not leaks
        await visit(suite, room, producer_id, 1)
        before = await wait_settled(measure, None)
        started = time.monotonic()
        for index in range(CYCLES):
            await visit(suite, room, producer_id, index)
        elapsed = time.monotonic() - started
        after = await wait_settled(measure, before)
        print(f"{CYCLES} join/leave cycles in {elapsed:.1f}s; before {before}; after {after}")
        # Rooms of other tests on the same node may close meanwhile, so the node's task count
        # can only be required not to grow; everything this test made must be gone.
        assert after["tasks"] <= before["tasks"]
        assert {k: v for k, v in after.items() if k != "tasks"} == {k: v for k, v in before.items() if k != "tasks"}
    finally:
        await host.close()
        await bus.close()


async def wait_settled(measure: Any, target: dict[str, int] | None, timeout: float = 10) -> dict[str, int]:
    """The footprint once closing has finished (a disconnect is handled after the client
    has gone): equal to `target`, or unchanged over two readings."""
    deadline = time.monotonic() + timeout
    previous = await measure()
    while time.monotonic() < deadline:
        await asyncio.sleep(0.2)
        current = await measure()
        if current == target or (target is None and current == previous):
            return dict(current)
        previous = current
    return dict(previous)
