"""Viewer links' guests and the host ending a webinar, on a media node: a guest opening a
room does not host it, views in every type of room until approved; the host's end is
recorded (rooms made over REST) before anyone is told, the room hears `room:ended` and
closes with everyone in it, and a room recorded as ended is never opened again."""

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from typing import Any

import msgspec
import pytest

from media.node import MediaNode, RoomDescription
from media.rooms import Push, RoomKey
from media.router import Worker
from webinar_contracts import Forbidden, NotFound, Unavailable
from webinar_contracts.media import RtpParameters

WEBINAR = RoomKey("tenant-g", "webinar-room")
MEETING = RoomKey("tenant-g", "meeting-room")
SOCKET_ROOM = RoomKey("tenant-g", "socket-room")


class Directory:
    """The meetings service as the node asks it: two rooms made over REST, and their ends."""

    def __init__(self) -> None:
        self.rooms = {
            WEBINAR.room_id: RoomDescription(type="webinar"),
            MEETING.room_id: RoomDescription(type="meeting"),
        }
        self.ended: list[RoomKey] = []
        self.failing: Exception | None = None
        self.hold: asyncio.Event | None = None  # set: record_end waits for it

    async def describe(self, key: RoomKey) -> RoomDescription | None:
        return self.rooms.get(key.room_id)

    async def record_end(self, key: RoomKey) -> None:
        if self.hold is not None:
            await self.hold.wait()
        if self.failing is not None:
            raise self.failing
        self.ended.append(key)
        self.rooms[key.room_id] = dataclasses.replace(self.rooms[key.room_id], ended=True)


class Claims:
    def __init__(self) -> None:
        self.held: set[RoomKey] = set()
        self.released: list[RoomKey] = []

    async def claim(self, key: RoomKey) -> None:
        self.held.add(key)

    async def release(self, key: RoomKey) -> None:
        self.held.discard(key)
        self.released.append(key)

    def load_changed(self) -> None:
        pass


class Pushes:
    def __init__(self) -> None:
        self.sent: list[Push] = []

    def push(self, room: RoomKey, push: Push) -> None:
        self.sent.append(push)

    def events(self, event: str) -> list[Push]:
        return [push for push in self.sent if push.event == event]


@pytest.fixture
def directory() -> Directory:
    return Directory()


@pytest.fixture
def claims() -> Claims:
    return Claims()


@pytest.fixture
def pushes() -> Pushes:
    return Pushes()


@pytest.fixture
async def node(directory: Directory, claims: Claims, pushes: Pushes) -> AsyncIterator[MediaNode]:
    made = MediaNode(node_id="node-g", worker=Worker(), directory=directory, claims=claims, pushes=pushes)
    yield made
    await made.close()


@pytest.fixture
def camera(fixture_json: Any) -> RtpParameters:
    parameters: RtpParameters = msgspec.convert(fixture_json("chrome_produce_camera_simulcast.json"), RtpParameters)
    return parameters


async def produce_camera(node: MediaNode, key: RoomKey, peer_id: str, camera: RtpParameters) -> str:
    transport = await node.create_transport(key, peer_id=peer_id)
    producer = node.produce(
        key, peer_id=peer_id, transport_id=transport.id, kind="video", rtp_parameters=camera, app_data={}
    )
    return producer.id


# --- guests ---


async def test_a_guest_opening_a_room_does_not_host_it_and_the_first_one_who_is_no_guest_does(
    node: MediaNode, pushes: Pushes
) -> None:
    assert await node.create_room(SOCKET_ROOM, peer_id="guest", user_id=None, guest=True) is True
    state = await node.join(SOCKET_ROOM, peer_id="guest", name="Guest", user_id=None, guest=True)
    assert [(p.id, p.role) for p in state.peers] == [("guest", "viewer")]
    # Another guest asking to open it changes nothing; the presenter does.
    assert await node.create_room(SOCKET_ROOM, peer_id="guest-2", user_id=None, guest=True) is False
    assert await node.create_room(SOCKET_ROOM, peer_id="presenter", user_id="user-p") is False
    state = await node.join(SOCKET_ROOM, peer_id="presenter", name="Presenter", user_id="user-p")
    assert {p.id: p.role for p in state.peers} == {"guest": "viewer", "presenter": "host"}
    # Once the room has a host, the next caller who is no guest is not one.
    await node.create_room(SOCKET_ROOM, peer_id="late", user_id=None)
    state = await node.join(SOCKET_ROOM, peer_id="late", name="Late", user_id=None)
    assert {p.id: p.role for p in state.peers}["late"] == "viewer"
    assert pushes.events("roleChanged") == []


async def test_joined_before_adopting_the_room_the_new_host_is_told_its_role(node: MediaNode, pushes: Pushes) -> None:
    await node.create_room(SOCKET_ROOM, peer_id="guest", user_id=None, guest=True)
    await node.join(SOCKET_ROOM, peer_id="presenter", name="Presenter", user_id=None)
    await node.create_room(SOCKET_ROOM, peer_id="presenter", user_id=None)
    changed = pushes.events("roleChanged")
    assert [push.data for push in changed] == [{"peer_id": "presenter", "name": "Presenter", "role": "host"}]


async def test_a_guest_views_even_a_meeting_room_until_a_host_approves_it(
    node: MediaNode, camera: RtpParameters
) -> None:
    await node.create_room(MEETING, peer_id="host", user_id=None)
    await node.join(MEETING, peer_id="host", name="Host", user_id=None)
    await node.join(MEETING, peer_id="member", name="Member", user_id=None)
    state = await node.join(MEETING, peer_id="guest", name="Guest", user_id=None, guest=True)
    assert {p.id: p.role for p in state.peers} == {"host": "host", "member": "participant", "guest": "viewer"}
    await produce_camera(node, MEETING, "member", camera)
    with pytest.raises(Forbidden, match="only the host and approved co-hosts may produce in a meeting room"):
        await produce_camera(node, MEETING, "guest", camera)

    room = node.room(MEETING)
    room.request_cohost(room.get_peer("guest"))
    room.answer_cohost(room.get_peer("host"), "guest", approved=True)
    assert room.get_peer("guest").role == "co-host"
    await produce_camera(node, MEETING, "guest", camera)
    # Demoted, it views again (and what it produced closes).
    room.demote_cohost(room.get_peer("host"), "guest")
    assert (room.get_peer("guest").role, room.get_peer("guest").producers) == ("viewer", {})


# --- ending the webinar ---


async def test_the_host_ends_a_webinar_recorded_first_then_told_then_closed_with_everyone_in_it(
    node: MediaNode, directory: Directory, claims: Claims, pushes: Pushes, camera: RtpParameters
) -> None:
    await node.create_room(WEBINAR, peer_id="host", user_id="host-user")
    await node.join(WEBINAR, peer_id="host", name="Host", user_id="host-user")
    await node.join(WEBINAR, peer_id="viewer", name="Viewer", user_id=None)
    await produce_camera(node, WEBINAR, "host", camera)
    viewer_transport = await node.create_transport(WEBINAR, peer_id="viewer")
    room = node.room(WEBINAR)
    with pytest.raises(Forbidden, match="only the host may end the webinar"):
        await node.end_room(WEBINAR, peer_id="viewer")
    with pytest.raises(NotFound, match="not currently in a room"):
        await node.end_room(WEBINAR, peer_id="stranger")
    assert directory.ended == []
    pushes.sent.clear()

    await node.end_room(WEBINAR, peer_id="host")
    assert directory.ended == [WEBINAR]
    assert [(p.event, p.data, p.room_closed, p.to_peer, p.skip_peer) for p in pushes.sent] == [
        ("room:ended", {"room_id": WEBINAR.room_id, "by": "Host"}, True, None, None)
    ]
    assert (room.closed, viewer_transport.closed) == (True, True)
    assert (WEBINAR in node.rooms, claims.released) == (False, [WEBINAR])
    with pytest.raises(NotFound, match="not currently in a room"):
        await node.exit(WEBINAR, peer_id="viewer")
    # It stays ended: it is not opened again, and its placement is let go.
    with pytest.raises(Forbidden, match="this webinar has ended"):
        await node.create_room(WEBINAR, peer_id="host", user_id="host-user")
    assert (WEBINAR in node.rooms, claims.released) == (False, [WEBINAR, WEBINAR])


async def test_nobody_joins_while_the_end_is_being_recorded(node: MediaNode, directory: Directory) -> None:
    await node.create_room(WEBINAR, peer_id="host", user_id=None)
    await node.join(WEBINAR, peer_id="host", name="Host", user_id=None)
    directory.hold = asyncio.Event()
    ending = asyncio.create_task(node.end_room(WEBINAR, peer_id="host"))
    await asyncio.sleep(0)
    with pytest.raises(Forbidden, match="this webinar has ended"):
        await node.join(WEBINAR, peer_id="late", name="Late", user_id=None)
    with pytest.raises(Forbidden, match="this webinar has ended"):
        await node.create_room(WEBINAR, peer_id="late", user_id=None)
    with pytest.raises(Forbidden, match="this webinar has ended"):
        await node.end_room(WEBINAR, peer_id="host")  # a second end while the first is on its way
    directory.hold.set()
    await ending
    assert directory.ended == [WEBINAR]


async def test_an_end_that_cannot_be_recorded_is_refused_and_the_webinar_goes_on(
    node: MediaNode, directory: Directory, pushes: Pushes
) -> None:
    await node.create_room(WEBINAR, peer_id="host", user_id=None)
    await node.join(WEBINAR, peer_id="host", name="Host", user_id=None)
    directory.failing = Unavailable("meetings did not answer")
    with pytest.raises(Unavailable):
        await node.end_room(WEBINAR, peer_id="host")
    assert pushes.events("room:ended") == []
    state = await node.join(WEBINAR, peer_id="viewer", name="Viewer", user_id=None)
    assert [p.id for p in state.peers] == ["host", "viewer"]


async def test_a_room_opened_on_the_socket_just_closes_and_may_be_opened_again(
    node: MediaNode, directory: Directory, pushes: Pushes
) -> None:
    await node.create_room(SOCKET_ROOM, peer_id="host", user_id=None)
    await node.join(SOCKET_ROOM, peer_id="host", name="Host", user_id=None)
    await node.end_room(SOCKET_ROOM, peer_id="host")
    assert directory.ended == []
    assert [p.data for p in pushes.events("room:ended")] == [{"room_id": SOCKET_ROOM.room_id, "by": "Host"}]
    assert SOCKET_ROOM not in node.rooms
    assert await node.create_room(SOCKET_ROOM, peer_id="host", user_id=None) is True
