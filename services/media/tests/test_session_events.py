"""Session facts of a media node: a session runs from a room's first join to its last leave
(or the room closing), each join is a participant with the address it came from, a room
hosts a new session when it fills again; and on the bus, the facts reach JetStream in
order with ids of their own and the tenant, even when JetStream comes late."""

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest

from media.node import MediaNode, RoomDescription
from media.rooms import Arrival, Push, RoomKey
from media.router import Worker
from media.signalling import BusSessions
from webinar_contracts import Forbidden, NotFound, RequestContext
from webinar_contracts.auth import GET_USER, GetUser, PublicUser
from webinar_contracts.sessions import (
    PARTICIPANT_JOINED,
    PARTICIPANT_LEFT,
    SESSION_ENDED,
    SESSION_STARTED,
    ParticipantJoined,
    ParticipantLeft,
    SessionEnded,
    SessionFact,
    SessionStarted,
    SessionType,
)
from webinar_devstack.servers import start_nats
from webinar_runtime.bus import EVENT_ID_HEADER, EVENT_STREAM, Bus

WEBINAR = RoomKey("tenant-a", "webinar-1")


class Directory:
    async def describe(self, key: RoomKey) -> RoomDescription | None:
        if key.room_id == WEBINAR.room_id:
            return RoomDescription(type="webinar", host_user_ids=("host-user",))
        return None


class Claims:
    async def claim(self, key: RoomKey) -> None:
        pass

    async def release(self, key: RoomKey) -> None:
        pass

    def load_changed(self) -> None:
        pass


class Outbox:
    """The node's pushes and its session facts, as the bus adapter (BusPushes) takes both."""

    def __init__(self) -> None:
        self.pushes: list[Push] = []
        self.facts: list[tuple[RoomKey, SessionFact]] = []

    def push(self, room: RoomKey, push: Push) -> None:
        self.pushes.append(push)

    def session_event(self, room: RoomKey, fact: SessionFact) -> None:
        self.facts.append((room, fact))

    def take(self) -> list[SessionFact]:
        taken = [fact for _, fact in self.facts]
        self.facts.clear()
        return taken


@pytest.fixture
def outbox() -> Outbox:
    return Outbox()


@pytest.fixture
async def node(outbox: Outbox) -> AsyncIterator[MediaNode]:
    made = MediaNode(node_id="node-s", worker=Worker(), directory=Directory(), claims=Claims(), pushes=outbox)
    yield made
    await made.close()


async def join(node: MediaNode, key: RoomKey, peer_id: str, name: str, user_id: str | None, **arrival: Any) -> None:
    # As NodeHandlers.join does with what the gateway sent.
    node.room(key).expect_arrival(peer_id, Arrival(**arrival))
    await node.join(key, peer_id=peer_id, name=name, user_id=user_id)


def kinds(facts: list[SessionFact]) -> list[str]:
    return [type(fact).__name__ for fact in facts]


async def test_a_session_runs_from_the_first_join_to_the_last_leave_and_the_room_hosts_the_next(
    node: MediaNode, outbox: Outbox
) -> None:
    await node.create_room(WEBINAR, peer_id="sid-1", user_id="viewer-user")
    assert outbox.take() == []  # an open room with nobody in it has no session
    await join(node, WEBINAR, "sid-1", "Avery", "viewer-user", origin_host="App.Example", client_ip="203.0.113.7")
    await join(node, WEBINAR, "sid-2", "Blake", "host-user", client_ip="198.51.100.2")
    await node.exit(WEBINAR, peer_id="sid-1")
    await node.exit(WEBINAR, peer_id="sid-2")

    first = outbox.take()
    assert kinds(first) == [
        "SessionStarted", "ParticipantJoined", "ParticipantJoined", "ParticipantLeft", "ParticipantLeft", "SessionEnded"
    ]  # fmt: skip
    started, avery, blake, avery_left, blake_left, ended = first
    assert isinstance(started, SessionStarted)
    assert isinstance(ended, SessionEnded)
    assert isinstance(avery, ParticipantJoined)
    assert isinstance(blake, ParticipantJoined)
    assert isinstance(avery_left, ParticipantLeft)
    assert isinstance(blake_left, ParticipantLeft)
    session = started.session_id
    # The first peer is a viewer: the host is the meeting's; the domain is the first page's.
    assert (started.room_id, started.session_type, started.host_user_id, started.domain) == (
        "webinar-1",
        SessionType.WEBINAR,
        "host-user",
        "app.example",
    )
    assert [(p.session_id, p.room_id, p.user_id, p.name, p.client_ip) for p in (avery, blake)] == [
        (session, "webinar-1", "viewer-user", "Avery", "203.0.113.7"),
        (session, "webinar-1", "host-user", "Blake", "198.51.100.2"),
    ]
    assert avery.participant_id != blake.participant_id
    assert [(left.session_id, left.participant_id) for left in (avery_left, blake_left)] == [
        (session, avery.participant_id),
        (session, blake.participant_id),
    ]
    assert ended.session_id == session
    assert started.started_at <= avery.joined_at <= blake.joined_at <= avery_left.left_at <= ended.ended_at
    assert {key for key, _ in outbox.facts} <= {WEBINAR}

    # The room is still open (its grace period): filling it again is a new session.
    await join(node, WEBINAR, "sid-1", "Avery", "viewer-user")
    await node.exit(WEBINAR, peer_id="sid-1")
    second = outbox.take()
    assert kinds(second) == ["SessionStarted", "ParticipantJoined", "ParticipantLeft", "SessionEnded"]
    again, joined = second[0], second[1]
    assert isinstance(again, SessionStarted)
    assert isinstance(joined, ParticipantJoined)
    assert again.session_id != session
    assert joined.participant_id not in (avery.participant_id, blake.participant_id)
    assert (again.domain, joined.client_ip) == ("", None)  # the gateway sent no Origin or address this time


async def test_a_socket_joining_again_stays_in_the_session_as_a_new_participant(
    node: MediaNode, outbox: Outbox
) -> None:
    await node.create_room(WEBINAR, peer_id="sid-1", user_id=None)
    await join(node, WEBINAR, "sid-1", "Avery", None)
    await join(node, WEBINAR, "sid-1", "Avery", None)
    facts = outbox.take()
    assert kinds(facts) == ["SessionStarted", "ParticipantJoined", "ParticipantLeft", "ParticipantJoined"]
    assert len({fact.session_id for fact in facts}) == 1
    first, again = facts[1], facts[3]
    assert isinstance(first, ParticipantJoined)
    assert isinstance(again, ParticipantJoined)
    assert first.participant_id != again.participant_id


async def test_a_room_closing_with_peers_in_it_ends_their_session(node: MediaNode, outbox: Outbox) -> None:
    socket_room = RoomKey("tenant-a", "ad-hoc")
    await node.create_room(socket_room, peer_id="sid-1", user_id="opener")
    await join(node, socket_room, "sid-2", "Blake", "someone")
    await join(node, socket_room, "sid-1", "Avery", "opener")
    await node.close()
    facts = outbox.take()
    assert kinds(facts) == [
        "SessionStarted", "ParticipantJoined", "ParticipantJoined", "ParticipantLeft", "ParticipantLeft", "SessionEnded"
    ]  # fmt: skip
    started = facts[0]
    assert isinstance(started, SessionStarted)
    # A room opened on the socket is a meeting, hosted by whoever opened it.
    assert (started.session_type, started.host_user_id) == (SessionType.MEETING, "opener")


async def test_a_removed_peer_leaves_the_session_and_its_refused_join_is_no_participant(
    node: MediaNode, outbox: Outbox
) -> None:
    await node.create_room(WEBINAR, peer_id="sid-h", user_id="host-user")
    await join(node, WEBINAR, "sid-h", "Harper", "host-user")
    await join(node, WEBINAR, "sid-v", "Quinn", "viewer-user")
    joined = outbox.take()[2]
    assert isinstance(joined, ParticipantJoined)
    room = node.room(WEBINAR)
    await room.remove(room.get_peer("sid-h"), "sid-v")
    with pytest.raises(Forbidden):
        await join(node, WEBINAR, "sid-v", "Quinn", "viewer-user")
    facts = outbox.take()
    assert kinds(facts) == ["ParticipantLeft"]  # the session goes on with its host
    left = facts[0]
    assert isinstance(left, ParticipantLeft)
    assert (left.session_id, left.participant_id) == (joined.session_id, joined.participant_id)


async def test_a_sink_that_fails_does_not_break_joining(outbox: Outbox) -> None:
    class Broken(Outbox):
        def session_event(self, room: RoomKey, fact: SessionFact) -> None:
            raise RuntimeError("the publisher is broken")

    broken = Broken()
    made = MediaNode(node_id="node-b", worker=Worker(), directory=Directory(), claims=Claims(), pushes=broken)
    try:
        await made.create_room(WEBINAR, peer_id="sid-1", user_id=None)
        state = await made.join(WEBINAR, peer_id="sid-1", name="Avery", user_id=None)
        assert [peer.id for peer in state.peers] == ["sid-1"]
        await made.exit(WEBINAR, peer_id="sid-1")
        assert [push.event for push in broken.pushes] == ["peerJoined", "peerLeft"]
    finally:
        await made.close()


# --- on the bus ---


@pytest.fixture
def private_nats(tmp_path: Path) -> Iterator[str]:
    """A NATS server of this test's own: no EVENTS stream until the test makes it."""
    server = start_nats(tmp_path / "nats")
    yield f"nats://127.0.0.1:{server.port}"
    server.stop()


async def _stored(bus: Bus) -> list[tuple[str, str, str | None, Any]]:
    """(subject, event id, tenant, payload) of every event in the stream, in order."""
    info = await bus.js.stream_info(EVENT_STREAM)
    stored = []
    for seq in range(info.state.first_seq, info.state.last_seq + 1):
        msg = await bus.js.get_msg(EVENT_STREAM, seq)
        headers = msg.headers or {}
        stored.append((msg.subject, headers[EVENT_ID_HEADER], headers.get("tenant-id"), msgspec.json.decode(msg.data)))
    return stored


async def test_facts_reach_jetstream_in_order_once_each_even_when_the_stream_comes_late(
    private_nats: str, caplog: pytest.LogCaptureFixture
) -> None:
    media = await Bus.connect(private_nats, service="media", instance="sessions-test", attempts=3)
    auth = await Bus.connect(private_nats, service="auth", instance="sessions-test", attempts=3)

    async def get_user(request: GetUser, context: RequestContext) -> PublicUser:
        if (request.user_id, context.tenant_id) != ("host-user", "tenant-a"):
            raise NotFound("no such user", field="userId")
        return PublicUser(first_name="Rowan", last_name="Reyes", email="rowan@Hosts.Example", id="host-user")

    await auth.serve(GET_USER, get_user)
    sessions = BusSessions(media, retry_for=30)
    sessions.start()
    outbox = Outbox()
    node = MediaNode(node_id="node-j", worker=Worker(), directory=Directory(), claims=Claims(), pushes=outbox)
    try:
        await node.create_room(WEBINAR, peer_id="sid-1", user_id="host-user")
        caplog.set_level(logging.WARNING, logger="media.signalling")
        # JetStream has no stream yet: joining and leaving go on, the facts wait.
        await join(node, WEBINAR, "sid-1", "Rowan", "host-user", client_ip="127.0.0.1")
        await node.exit(WEBINAR, peer_id="sid-1")
        facts = outbox.facts[:]
        for room, fact in facts:
            sessions.session_event(room, fact)
        async with asyncio.timeout(10):
            while not any("retrying" in record.getMessage() for record in caplog.records):  # noqa: ASYNC110
                await asyncio.sleep(0.02)
        await media.ensure_event_stream()
        # A retried publish (the same fact again) is stored once.
        sessions.session_event(*facts[0])
        await sessions.stop(flush_for=20)

        stored = await _stored(media)
        assert [subject for subject, *_ in stored] == [
            SESSION_STARTED.subject,
            PARTICIPANT_JOINED.subject,
            PARTICIPANT_LEFT.subject,
            SESSION_ENDED.subject,
        ]
        assert {tenant for _, _, tenant, _ in stored} == {"tenant-a"}
        assert len({event_id for _, event_id, _, _ in stored}) == 4
        started, joined = stored[0][3], stored[1][3]
        # No Origin came with the first socket: the host's email domain stands in.
        assert (started["room_id"], started["session_type"], started["host_user_id"], started["domain"]) == (
            "webinar-1",
            "webinar",
            "host-user",
            "hosts.example",
        )
        assert (joined["session_id"], joined["name"], joined["client_ip"]) == (
            started["session_id"],
            "Rowan",
            "127.0.0.1",
        )
    finally:
        await node.close()
        await sessions.stop()
        for bus in (media, auth):
            await bus.stop_taking_work()
            await bus.close()
