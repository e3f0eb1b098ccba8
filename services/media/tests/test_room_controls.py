"""The room controls on a media node: co-host requests and answers, demoting, muting and
removing (the host's), pausing video, one screen share at a time, and what the room's
sockets are told of each (the pushes), refusals included."""

from collections.abc import AsyncIterator
from typing import Any

import msgspec
import pytest

from media.node import MediaNode, RoomDescription
from media.producer import Producer
from media.rooms import Push, Room, RoomKey
from media.router import Worker
from webinar_contracts import Conflict, Forbidden, InvalidInput, NotFound
from webinar_contracts.media import RtpCapabilities, RtpParameters

KEY = RoomKey("tenant-c", "room-c")


class Directory:
    def __init__(self, rooms: dict[str, RoomDescription] | None = None) -> None:
        self.rooms = rooms or {}

    async def describe(self, key: RoomKey) -> RoomDescription | None:
        return self.rooms.get(key.room_id)


class Claims:
    async def claim(self, key: RoomKey) -> None:
        pass

    async def release(self, key: RoomKey) -> None:
        pass

    def load_changed(self) -> None:
        pass


class Pushes:
    def __init__(self) -> None:
        self.sent: list[Push] = []

    def push(self, room: RoomKey, push: Push) -> None:
        self.sent.append(push)

    def events(self, event: str) -> list[Push]:
        return [push for push in self.sent if push.event == event]

    def take(self) -> list[tuple[str, Any, str | None, str | None]]:
        """What was pushed since the last take: (event, data, to_peer, skip_peer)."""
        taken = [(p.event, p.data, p.to_peer, p.skip_peer) for p in self.sent]
        self.sent.clear()
        return taken


@pytest.fixture
def pushes() -> Pushes:
    return Pushes()


@pytest.fixture
async def node(pushes: Pushes) -> AsyncIterator[MediaNode]:
    directory = Directory({"open-room": RoomDescription(type="meeting")})
    made = MediaNode(node_id="node-c", worker=Worker(), directory=directory, claims=Claims(), pushes=pushes)
    yield made
    await made.close()


@pytest.fixture
def parameters(fixture_json: Any) -> dict[str, RtpParameters]:
    """What Chrome sends to produce its microphone (mid 0), camera (1) and screen (2)."""
    return {
        kind: msgspec.convert(fixture_json(f"chrome_produce_{name}.json"), RtpParameters)
        for kind, name in (("mic", "audio"), ("camera", "camera_simulcast"), ("screen", "screen"))
    }


async def room_with(node: MediaNode, *peers: tuple[str, str | None]) -> Room:
    """The room, opened by the first peer (its host), with every peer joined by name = id."""
    await node.create_room(KEY, peer_id=peers[0][0], user_id=peers[0][1])
    for peer_id, user_id in peers:
        await node.join(KEY, peer_id=peer_id, name=peer_id.title(), user_id=user_id)
    return node.room(KEY)


async def produce(
    node: MediaNode, parameters: dict[str, RtpParameters], peer_id: str, *kinds: str
) -> dict[str, Producer]:
    transport = await node.create_transport(KEY, peer_id=peer_id)
    return {
        kind: node.produce(
            KEY,
            peer_id=peer_id,
            transport_id=transport.id,
            kind="audio" if kind == "mic" else "video",
            rtp_parameters=parameters[kind],
            app_data={"type": kind},
        )
        for kind in kinds
    }


# --- co-hosts ---


async def test_a_viewers_request_reaches_the_moderators_and_approval_lets_it_produce(
    node: MediaNode, pushes: Pushes, parameters: dict[str, RtpParameters]
) -> None:
    room = await room_with(node, ("host", "host-user"), ("viewer", "viewer-user"), ("other", None))
    with pytest.raises(Forbidden):
        await produce(node, parameters, "viewer", "camera")
    pushes.take()

    room.request_cohost(room.get_peer("viewer"))
    request = {"peer_id": "viewer", "name": "Viewer", "role": "viewer", "room_id": "room-c"}
    assert pushes.take() == [("cohost:request", request, "host", None)]
    assert [p.id for p in room.state().cohost_requests] == ["viewer"]
    with pytest.raises(Forbidden):  # pending is not approved
        await produce(node, parameters, "viewer", "camera")

    room.answer_cohost(room.get_peer("host"), "viewer", approved=True)
    assert pushes.take() == [
        ("roleChanged", {"peer_id": "viewer", "name": "Viewer", "role": "co-host"}, None, None),
        (
            "cohost:respond",
            {"room_id": "room-c", "peer_id": "viewer", "approved": True, "role": "co-host", "by": "Host"},
            "viewer",
            None,
        ),
    ]
    assert room.state().cohost_requests == []
    assert "camera" in await produce(node, parameters, "viewer", "camera")
    # The approval is the user's: a second socket of the same user is a co-host too.
    state = await node.join(KEY, peer_id="viewer-tab", name="Tab", user_id="viewer-user")
    assert {p.id: p.role for p in state.peers}["viewer-tab"] == "co-host"
    # Co-hosts hear the next request too.
    pushes.take()
    room.request_cohost(room.get_peer("other"))
    assert sorted(to for _, _, to, _ in pushes.take()) == ["host", "viewer", "viewer-tab"]


async def test_a_denied_viewer_is_told_and_still_may_not_produce(
    node: MediaNode, pushes: Pushes, parameters: dict[str, RtpParameters]
) -> None:
    room = await room_with(node, ("host", None), ("viewer", None))
    room.request_cohost(room.get_peer("viewer"))
    pushes.take()
    room.answer_cohost(room.get_peer("host"), "viewer", approved=False)
    assert pushes.take() == [
        (
            "cohost:respond",
            {"room_id": "room-c", "peer_id": "viewer", "approved": False, "role": "viewer", "by": "Host"},
            "viewer",
            None,
        )
    ]
    with pytest.raises(Forbidden, match="only the host and approved co-hosts may produce"):
        await produce(node, parameters, "viewer", "camera")
    room.request_cohost(room.get_peer("viewer"))  # a denied viewer may ask again


async def test_cohost_requests_that_make_no_sense_are_refused(node: MediaNode) -> None:
    room = await room_with(node, ("host", None), ("viewer", None))
    with pytest.raises(Conflict, match="you are the host already"):
        room.request_cohost(room.get_peer("host"))
    room.request_cohost(room.get_peer("viewer"))
    with pytest.raises(Conflict, match="your co-host request is waiting for an answer already"):
        room.request_cohost(room.get_peer("viewer"))
    with pytest.raises(Forbidden, match="only the host and co-hosts may answer co-host requests"):
        room.answer_cohost(room.get_peer("viewer"), "viewer", approved=True)
    with pytest.raises(NotFound, match="no peer ghost in this room"):
        room.answer_cohost(room.get_peer("host"), "ghost", approved=True)
    await node.join(KEY, peer_id="quiet", name="Quiet", user_id=None)
    with pytest.raises(NotFound, match="Quiet has no co-host request waiting for an answer"):
        room.answer_cohost(room.get_peer("host"), "quiet", approved=True)
    # A viewer who leaves takes its request along.
    await node.exit(KEY, peer_id="viewer")
    assert room.state().cohost_requests == []
    # With no host or co-host in the room, nobody could answer.
    await node.exit(KEY, peer_id="host")
    with pytest.raises(Conflict, match="no host or co-host is in the room"):
        room.request_cohost(room.get_peer("quiet"))


async def test_in_a_meeting_room_there_is_nothing_to_ask(node: MediaNode) -> None:
    key = RoomKey(KEY.tenant_id, "open-room")
    await node.create_room(key, peer_id="a", user_id=None)
    await node.join(key, peer_id="a", name="A", user_id=None)
    await node.join(key, peer_id="b", name="B", user_id=None)
    room = node.room(key)
    assert room.get_peer("b").role == "participant"
    with pytest.raises(Conflict, match="everyone may produce in a meeting room: there is nothing to ask"):
        room.request_cohost(room.get_peer("b"))


async def test_the_host_demotes_a_cohost_whose_producers_close(
    node: MediaNode, pushes: Pushes, parameters: dict[str, RtpParameters], chrome_device: RtpCapabilities
) -> None:
    room = await room_with(node, ("host", None), ("helper", None), ("viewer", None))
    room.request_cohost(room.get_peer("helper"))
    room.answer_cohost(room.get_peer("host"), "helper", approved=True)
    camera = (await produce(node, parameters, "helper", "camera"))["camera"]
    receive = await node.create_transport(KEY, peer_id="viewer")
    consumer = node.consume(
        KEY, peer_id="viewer", transport_id=receive.id, producer_id=camera.id, rtp_capabilities=chrome_device
    )
    with pytest.raises(Forbidden, match="only the host may demote a co-host"):
        room.demote_cohost(room.get_peer("helper"), "helper")
    with pytest.raises(Conflict, match="Viewer is not a co-host"):
        room.demote_cohost(room.get_peer("host"), "viewer")
    pushes.take()

    room.demote_cohost(room.get_peer("host"), "helper")
    assert (camera.closed, consumer.closed) == (True, True)
    assert pushes.take() == [
        ("roleChanged", {"peer_id": "helper", "name": "Helper", "role": "viewer"}, None, None),
        ("consumerClosed", {"consumer_id": consumer.id}, "viewer", None),
    ]
    with pytest.raises(Forbidden):
        await produce(node, parameters, "helper", "mic")


# --- mute and remove ---


async def test_the_host_mutes_a_microphone_and_the_room_hears_it(
    node: MediaNode, pushes: Pushes, parameters: dict[str, RtpParameters]
) -> None:
    room = await room_with(node, ("host", None), ("speaker", None))
    room.request_cohost(room.get_peer("speaker"))
    room.answer_cohost(room.get_peer("host"), "speaker", approved=True)
    produced = await produce(node, parameters, "speaker", "mic", "camera")
    with pytest.raises(Forbidden, match="only the host may mute a participant"):
        room.mute(room.get_peer("speaker"), "host")
    pushes.take()

    assert room.mute(room.get_peer("host"), "speaker") == [produced["mic"].id]
    assert (produced["mic"].paused, produced["camera"].paused) == (True, False)
    muted = {"peer_id": "speaker", "name": "Speaker", "role": "co-host", "producer_ids": [produced["mic"].id]}
    assert pushes.take() == [("participant:muted", {**muted, "by": "Host"}, None, None)]
    assert room.state().audio_muted == ["speaker"]
    with pytest.raises(Conflict, match="Speaker has no unmuted microphone"):
        room.mute(room.get_peer("host"), "speaker")
    with pytest.raises(NotFound, match="no peer nobody in this room"):
        room.mute(room.get_peer("host"), "nobody")


async def test_a_removed_peer_is_dropped_told_and_kept_out(
    node: MediaNode, pushes: Pushes, parameters: dict[str, RtpParameters], chrome_device: RtpCapabilities
) -> None:
    room = await room_with(node, ("host", "host-user"), ("guest", "guest-user"), ("viewer", None))
    room.request_cohost(room.get_peer("guest"))
    room.answer_cohost(room.get_peer("host"), "guest", approved=True)
    camera = (await produce(node, parameters, "guest", "camera"))["camera"]
    receive = await node.create_transport(KEY, peer_id="viewer")
    consumer = node.consume(
        KEY, peer_id="viewer", transport_id=receive.id, producer_id=camera.id, rtp_capabilities=chrome_device
    )
    with pytest.raises(Forbidden, match="only the host may remove a participant"):
        await room.remove(room.get_peer("guest"), "viewer")
    with pytest.raises(InvalidInput, match="you cannot remove yourself"):
        await room.remove(room.get_peer("host"), "host")
    pushes.take()

    await room.remove(room.get_peer("host"), "guest")
    assert camera.closed
    assert consumer.closed
    guest = {"peer_id": "guest", "name": "Guest", "role": "co-host"}
    events = pushes.take()
    assert events[0] == ("participant:removed", {**guest, "by": "Host"}, None, None)
    assert ("consumerClosed", {"consumer_id": consumer.id}, "viewer", None) in events
    assert events[-1] == ("peerLeft", guest, None, "guest")
    assert [p.id for p in room.state().peers] == ["host", "viewer"]
    # Neither the socket nor the user comes back in.
    for peer_id, user_id in (("guest", None), ("new-socket", "guest-user")):
        with pytest.raises(Forbidden, match="you were removed from this room by its host"):
            await node.join(KEY, peer_id=peer_id, name="Guest", user_id=user_id)
    await node.join(KEY, peer_id="someone-else", name="Else", user_id="other-user")


async def test_a_host_cannot_be_removed(node: MediaNode) -> None:
    await node.create_room(KEY, peer_id="host", user_id="host-user")
    await node.join(KEY, peer_id="host", name="Host", user_id="host-user")
    await node.join(KEY, peer_id="host-tab", name="Host again", user_id="host-user")
    room = node.room(KEY)
    with pytest.raises(Forbidden, match="a host cannot be removed"):
        await room.remove(room.get_peer("host"), "host-tab")


# --- video paused, screen share ---


async def test_pausing_video_pauses_the_cameras_and_the_room_hears_it(
    node: MediaNode, pushes: Pushes, parameters: dict[str, RtpParameters]
) -> None:
    room = await room_with(node, ("host", None), ("viewer", None))
    produced = await produce(node, parameters, "host", "mic", "camera")
    host = room.get_peer("host")
    with pytest.raises(InvalidInput, match="carries audio: only video pauses"):
        room.pause_video(host, producer_id=produced["mic"].id, paused=True)
    with pytest.raises(NotFound, match="you are not producing a camera"):
        room.pause_video(room.get_peer("viewer"), producer_id=None, paused=True)
    pushes.take()

    assert room.pause_video(host, producer_id=None, paused=True) == [produced["camera"].id]
    assert produced["camera"].paused
    assert room.state().video_paused == ["host"]
    resumed = room.pause_video(host, producer_id=produced["camera"].id, paused=False)
    assert resumed == [produced["camera"].id]
    assert not produced["camera"].paused
    assert room.state().video_paused == []
    host_event = {"peer_id": "host", "name": "Host", "role": "host", "producer_ids": [produced["camera"].id]}
    assert pushes.take() == [
        ("videoPaused", host_event, None, "host"),
        ("videoResumed", host_event, None, "host"),
    ]


async def test_one_screen_share_at_a_time_and_the_room_hears_it_start_and_stop(
    node: MediaNode, pushes: Pushes, parameters: dict[str, RtpParameters]
) -> None:
    room = await room_with(node, ("host", None), ("helper", None))
    room.request_cohost(room.get_peer("helper"))
    room.answer_cohost(room.get_peer("host"), "helper", approved=True)
    with pytest.raises(NotFound, match="you are not sharing your screen"):
        room.confirm_screen_share(room.get_peer("host"))
    pushes.take()

    screen = (await produce(node, parameters, "host", "screen"))["screen"]
    share = {"peer_id": "host", "name": "Host", "producer_id": screen.id}
    assert pushes.take()[-1] == ("screen:shared", share, None, None)
    assert msgspec.to_builtins(room.state().screen_share) == share
    assert room.confirm_screen_share(room.get_peer("host")).producer_id == screen.id
    with pytest.raises(Conflict, match="Host is sharing their screen: one screen share at a time"):
        await produce(node, parameters, "helper", "screen")
    with pytest.raises(Conflict, match="you are sharing your screen already"):
        await produce(node, parameters, "host", "screen")
    # A camera is no screen: the helper still produces one.
    await produce(node, parameters, "helper", "camera")
    pushes.take()

    room.stop_screen_share(room.get_peer("host"))
    assert screen.closed
    assert pushes.take() == [("screen:stopped", share, None, None)]
    assert room.state().screen_share is None
    helper_screen = (await produce(node, parameters, "helper", "screen"))["screen"]
    # The sharer leaving stops the share.
    pushes.take()
    await node.exit(KEY, peer_id="helper")
    stopped = [(event, data) for event, data, _, _ in pushes.take() if event == "screen:stopped"]
    assert stopped == [("screen:stopped", {"peer_id": "helper", "name": "Helper", "producer_id": helper_screen.id})]
