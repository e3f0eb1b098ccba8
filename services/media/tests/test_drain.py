"""A media node draining (SIGTERM with MEDIA_DRAIN_SECONDS): its heartbeat says so, it opens
no new room (and gives back a placement made just before), while the rooms it holds may
still be joined; waiting for it to drain ends when its last room closes once empty."""

import asyncio
import logging
from collections.abc import AsyncIterator

import pytest

from media.config import MediaConfig
from media.node import MediaNode, RoomDescription
from media.rooms import Push, RoomKey
from media.router import Worker
from media.workers import STOP_MARGIN, worker_stop_timeout
from webinar_contracts import Unavailable
from webinar_runtime.config import ConfigError, load_config

HELD = RoomKey("tenant-d", "running-webinar")
NEW = RoomKey("tenant-d", "new-room")


class Directory:
    async def describe(self, key: RoomKey) -> RoomDescription | None:
        return None

    async def record_end(self, key: RoomKey) -> None:
        raise AssertionError("no room is ended here")


class Claims:
    def __init__(self) -> None:
        self.held: set[RoomKey] = set()
        self.released: list[RoomKey] = []
        self.load_changes = 0

    async def claim(self, key: RoomKey) -> None:
        self.held.add(key)

    async def release(self, key: RoomKey) -> None:
        self.held.discard(key)
        self.released.append(key)

    def load_changed(self) -> None:
        self.load_changes += 1


class Pushes:
    def push(self, room: RoomKey, push: Push) -> None:
        pass


@pytest.fixture
def claims() -> Claims:
    return Claims()


@pytest.fixture
async def node(claims: Claims) -> AsyncIterator[MediaNode]:
    made = MediaNode(
        node_id="draining-node",
        worker=Worker(),
        directory=Directory(),
        claims=claims,
        pushes=Pushes(),
        empty_room_grace=0.05,
    )
    yield made
    await made.close()


async def test_a_draining_node_says_so_in_its_heartbeat_at_once(node: MediaNode, claims: Claims) -> None:
    assert node.record().draining is False
    before = claims.load_changes
    node.start_draining()
    assert node.draining
    assert node.record().draining is True
    assert claims.load_changes == before + 1  # the heartbeat writes it now, not at its next tick


async def test_a_draining_node_opens_no_new_room_but_its_rooms_are_still_joined(
    node: MediaNode, claims: Claims
) -> None:
    assert await node.create_room(HELD, peer_id="host", user_id="host-user")
    await node.join(HELD, peer_id="host", name="Host", user_id="host-user")
    node.start_draining()

    # A room placed here just before the drain began: refused, and its placement given back,
    # so that the gateway's second try places it on another node.
    with pytest.raises(Unavailable, match="draining"):
        await node.create_room(NEW, peer_id="someone", user_id=None)
    assert NEW in claims.released
    assert NEW not in node.rooms

    # The running webinar goes on: latecomers open it (it exists) and join.
    assert await node.create_room(HELD, peer_id="latecomer", user_id=None) is False
    state = await node.join(HELD, peer_id="latecomer", name="Late", user_id=None)
    assert {peer.id for peer in state.peers} == {"host", "latecomer"}
    assert node.record().peers == 2


async def test_waiting_for_the_drain_ends_when_the_last_room_closes_once_empty(
    node: MediaNode, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="media.node")
    await node.create_room(HELD, peer_id="host", user_id=None)
    await node.join(HELD, peer_id="host", name="Host", user_id=None)
    node.start_draining()
    waiting = asyncio.create_task(node.wait_until_empty(progress_every=0.01))
    await asyncio.sleep(0.1)  # the room is not empty: it is still waited for
    assert not waiting.done()
    await node.exit(HELD, peer_id="host")
    await asyncio.wait_for(waiting, 5)  # after the empty-room grace
    assert node.rooms == {}
    progress = [(r.rooms, r.peers) for r in caplog.records if r.getMessage() == "media node still draining"]
    assert progress[0] == (1, 1)
    assert "media node drained: no room left" in caplog.messages


async def test_waiting_for_the_drain_of_a_node_holding_nothing_returns_at_once(node: MediaNode) -> None:
    node.start_draining()
    await asyncio.wait_for(node.wait_until_empty(), 1)


async def test_a_drain_cut_short_leaves_the_rooms_for_close(node: MediaNode) -> None:
    await node.create_room(HELD, peer_id="host", user_id=None)
    await node.join(HELD, peer_id="host", name="Host", user_id=None)
    node.start_draining()
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(node.wait_until_empty(), 0.1)
    assert HELD in node.rooms
    await node.close()
    assert node.rooms == {}


def test_drain_is_off_unless_set_and_never_negative() -> None:
    assert load_config(MediaConfig, {}).drain_seconds == 0
    assert load_config(MediaConfig, {"MEDIA_DRAIN_SECONDS": "3600"}).drain_seconds == 3600
    with pytest.raises(ConfigError) as caught:
        load_config(MediaConfig, {"MEDIA_DRAIN_SECONDS": "-1"})
    assert caught.value.variable == "MEDIA_DRAIN_SECONDS"


def test_a_supervisor_gives_each_worker_its_drain_and_grace_before_killing_it() -> None:
    config = load_config(MediaConfig, {"MEDIA_DRAIN_SECONDS": "600", "SHUTDOWN_GRACE_SECONDS": "20"})
    assert worker_stop_timeout(config) == 600 + 20 + STOP_MARGIN
