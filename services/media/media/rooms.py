"""Rooms: one router per room, the peers in it, and the rules of who may do what.

A room answers the seed's SFU events for its peers, and the room controls: co-host
requests and answers, demoting, muting and removing (the host's), pausing video, one
screen share at a time, and ending the webinar (the host's: everyone is told, then out).
What other sockets must hear (`newProducers`, `consumerClosed`, peers joining and
leaving, roles changing, ...: docs/realtime-events.md) it hands to a PushSink, which the
node sends over the bus to the gateways.

A room also keeps its sessions (a session runs from the first peer's join to the last
one's leave, or to the room closing; a room hosts many over time) and hands their facts
(webinar_contracts.sessions) to a SessionSink, which publishes them for the analytics.
A room opened on the socket, with no POST /room/create behind it, reports its sessions
as meetings: an ad-hoc call, as the Meet socket's `room.join` opens.
"""

import logging
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol, runtime_checkable

import msgspec

from media.consumer import Consumer
from media.lifecycle import CloseReason
from media.peers import Peer
from media.producer import Producer, ProducerState
from media.router import Router
from media.tasks import TaskSet
from media.transport import WebRtcTransport
from webinar_contracts import Conflict, Forbidden, InvalidInput, NotFound
from webinar_contracts.media import (
    COHOST_REQUEST,
    COHOST_RESPOND,
    CONSUMER_CLOSED,
    NEW_PRODUCERS,
    PARTICIPANT_MUTED,
    PARTICIPANT_REMOVED,
    PEER_JOINED,
    PEER_LEFT,
    ROLE_CHANGED,
    ROOM_ENDED,
    SCREEN_SHARED,
    SCREEN_STOPPED,
    VIDEO_PAUSED,
    VIDEO_RESUMED,
    WEBINAR_ENDED,
    MediaKind,
    PeerRole,
    ProducerInfo,
    RoomState,
    RoomType,
    RtpCapabilities,
    RtpParameters,
    ScreenShare,
)
from webinar_contracts.sessions import (
    ParticipantJoined,
    ParticipantLeft,
    SessionEnded,
    SessionFact,
    SessionStarted,
    SessionType,
)

logger = logging.getLogger(__name__)

# In these room types every participant may publish; in the others only hosts and co-hosts.
OPEN_ROOM_TYPES: frozenset[str] = frozenset({"meeting", "conference"})
# Who answers co-host requests.
MODERATORS: frozenset[str] = frozenset({"host", "co-host"})
# Who may produce.
PRODUCERS: frozenset[str] = MODERATORS | {"participant"}
# `appData.type` of a screen producer (the seed's clients send "camera", "mic", "screen").
SCREEN = "screen"
# The session type of a room opened on the socket (no type from the meetings service).
SOCKET_ROOM_SESSION_TYPE = SessionType.MEETING


@dataclass(frozen=True, slots=True)
class RoomKey:
    """Rooms are per tenant: two tenants may use the same room id."""

    tenant_id: str
    room_id: str


@dataclass(frozen=True, kw_only=True)
class Push:
    """An event for sockets of the room: one peer, or all but `skip_peer`. `leave_peer`
    names a peer the room dropped by itself, whose socket must stop hearing the room;
    `room_closed` says the room closes with this event: every socket leaves it once told."""

    event: str
    data: Any
    to_peer: str | None = None
    skip_peer: str | None = None
    leave_peer: str | None = None
    room_closed: bool = False


class PushSink(Protocol):
    def push(self, room: RoomKey, push: Push) -> None: ...


@runtime_checkable
class SessionSink(Protocol):
    def session_event(self, room: RoomKey, fact: SessionFact) -> None:
        """Publish a session fact, later: this must neither block nor raise."""
        ...


@dataclass(frozen=True, kw_only=True)
class Arrival:
    """Where a joining socket came from, as the gateway saw it when the socket connected."""

    origin_host: str = ""  # the host of the page's Origin header
    client_ip: str | None = None


@dataclass(kw_only=True)
class RoomSession:
    """One session of a room, and the join (participant id) of each peer in it."""

    id: str
    participants: dict[str, str] = field(default_factory=dict)  # peer id -> participant id


def _now() -> datetime:
    return datetime.now(UTC)


def _new_id() -> str:
    return uuid.uuid4().hex


class ProducePolicy:
    """Who may produce in a room: everyone in meeting and conference rooms but a viewer
    link's guests; in webinar and live rooms, and in rooms created on the socket, the hosts
    and approved co-hosts. Who the host removed stays out.

    The hosts are the meeting's hosts (from the meetings service) or, when the room has
    none (it was created on the socket, or no meeting names it), whoever created it here;
    a guest opening such a room does not host it: the first socket that is no guest and
    asks to open it (`createRoom`) does.
    """

    def __init__(
        self,
        *,
        room_type: RoomType | None,
        host_user_ids: Iterable[str] = (),
        creator_peer_id: str | None = None,
        creator_user_id: str | None = None,
    ) -> None:
        self.room_type = room_type
        self.host_user_ids = set(host_user_ids)
        self.host_peer_ids: set[str] = set()
        if not self.host_user_ids:
            if creator_user_id:
                self.host_user_ids.add(creator_user_id)
            if creator_peer_id:
                self.host_peer_ids.add(creator_peer_id)
        self.cohost_user_ids: set[str] = set()
        self.cohost_peer_ids: set[str] = set()
        self.banned_user_ids: set[str] = set()
        self.banned_peer_ids: set[str] = set()
        self.guest_peer_ids: set[str] = set()

    @property
    def open(self) -> bool:
        return self.room_type in OPEN_ROOM_TYPES

    @property
    def has_host(self) -> bool:
        return bool(self.host_user_ids or self.host_peer_ids)

    def adopt_host(self, *, user_id: str | None, peer_id: str) -> bool:
        """Make the caller the host of a room that has none (a guest opened it); True when it did."""
        if self.has_host:
            return False
        if user_id:
            self.host_user_ids.add(user_id)
        self.host_peer_ids.add(peer_id)
        return True

    def mark_guest(self, peer_id: str) -> None:
        """The socket holds a viewer link's ticket: it views, in every type of room, until approved."""
        self.guest_peer_ids.add(peer_id)

    def is_guest(self, peer_id: str) -> bool:
        return peer_id in self.guest_peer_ids

    def approve_cohost(self, *, user_id: str | None = None, peer_id: str | None = None) -> None:
        """Let a user (any of their sockets) or one socket produce, as a co-host."""
        if user_id:
            self.cohost_user_ids.add(user_id)
        if peer_id:
            self.cohost_peer_ids.add(peer_id)

    def revoke_cohost(self, *, user_id: str | None = None, peer_id: str | None = None) -> None:
        """Take an approval back, from the user and the socket alike."""
        if user_id:
            self.cohost_user_ids.discard(user_id)
        if peer_id:
            self.cohost_peer_ids.discard(peer_id)

    def ban(self, *, user_id: str | None, peer_id: str) -> None:
        """Keep a removed participant out of the room: the socket, and the user (whatever
        socket presents the same token). A socket with no token is known by its id alone."""
        if user_id:
            self.banned_user_ids.add(user_id)
        self.banned_peer_ids.add(peer_id)

    def is_banned(self, *, user_id: str | None, peer_id: str) -> bool:
        return peer_id in self.banned_peer_ids or (user_id is not None and user_id in self.banned_user_ids)

    def role_of(self, *, user_id: str | None, peer_id: str) -> PeerRole:
        if peer_id in self.host_peer_ids or (user_id is not None and user_id in self.host_user_ids):
            return "host"
        if peer_id in self.cohost_peer_ids or (user_id is not None and user_id in self.cohost_user_ids):
            return "co-host"
        return "participant" if self.open and not self.is_guest(peer_id) else "viewer"

    def may_produce(self, *, user_id: str | None, peer_id: str) -> bool:
        return self.role_of(user_id=user_id, peer_id=peer_id) in PRODUCERS

    def check_may_produce(self, *, user_id: str | None, peer_id: str) -> None:
        if self.may_produce(user_id=user_id, peer_id=peer_id):
            return
        where = f"a {self.room_type} room" if self.room_type else "a room created on the socket"
        raise Forbidden(f"only the host and approved co-hosts may produce in {where}", field="producerTransportId")


class Room:
    def __init__(
        self,
        *,
        key: RoomKey,
        router: Router,
        policy: ProducePolicy,
        pushes: PushSink,
        tasks: TaskSet,
        max_transports_per_peer: int = 4,
        on_empty: Callable[["Room"], None] = lambda room: None,
        sessions: SessionSink | None = None,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self.key = key
        self.router = router
        self.policy = policy
        self._pushes = pushes
        self._tasks = tasks
        self._max_transports = max_transports_per_peer
        self._on_empty = on_empty
        self._peers: dict[str, Peer] = {}
        # Viewers waiting for an answer to `cohost:request`, in the order they asked.
        self._cohost_requests: dict[str, Peer] = {}
        self._screen: tuple[Peer, Producer] | None = None
        # Without a sink of its own, the room's facts go where its pushes go when that sink
        # publishes sessions too (media.signalling.BusPushes does).
        self._sessions = sessions if sessions is not None else pushes if isinstance(pushes, SessionSink) else None
        self._clock = clock
        self._arrivals: dict[str, Arrival] = {}
        self.session: RoomSession | None = None
        self.closed = False
        # The host is ending the webinar: nobody joins any more (it closes next).
        self.ending = False

    @property
    def id(self) -> str:
        return self.key.room_id

    @property
    def peers(self) -> dict[str, Peer]:
        return dict(self._peers)

    def _push(self, push: Push) -> None:
        if not self.closed:
            self._pushes.push(self.key, push)

    def state(self) -> RoomState:
        peers = list(self._peers.values())
        return RoomState(
            id=self.id,
            type=self.policy.room_type,
            peers=[p.info() for p in peers],
            screen_share=self.screen_share(),
            video_paused=[p.id for p in peers if p.video_paused],
            audio_muted=[p.id for p in peers if p.audio_muted],
            cohost_requests=[p.info() for p in self._cohost_requests.values()],
        )

    def get_peer(self, peer_id: str) -> Peer:
        peer = self._peers.get(peer_id)
        if peer is None:
            raise NotFound("not currently in a room", field="room_id")
        return peer

    def _target(self, peer_id: str) -> Peer:
        """Another peer a call names (`peer_id` of the payload)."""
        peer = self._peers.get(peer_id)
        if peer is None:
            raise NotFound(f"no peer {peer_id} in this room", field="peer_id")
        return peer

    # --- joining and leaving ---

    def expect_arrival(self, peer_id: str, arrival: Arrival) -> None:
        """Where the peer about to join comes from (its next `join` takes it)."""
        if not self.closed:
            self._arrivals[peer_id] = arrival

    async def join(self, *, peer_id: str, name: str, user_id: str | None, guest: bool = False) -> Peer:
        """Add the socket's peer (a socket joining again leaves first, in the same session).
        A guest (a viewer link's) views until a host approves it as a co-host."""
        arrival = self._arrivals.pop(peer_id, None) or Arrival()
        if self.ending:
            raise Forbidden(WEBINAR_ENDED, field="room_id")
        if self.closed:
            raise NotFound("room does not exist", field="room_id")
        if self.policy.is_banned(user_id=user_id, peer_id=peer_id):
            raise Forbidden("you were removed from this room by its host", field="room_id")
        if peer_id in self._peers:
            await self._leave(peer_id, CloseReason.REQUESTED, removed=False, rejoining=True)
        if guest:
            self.policy.mark_guest(peer_id)
        peer = Peer(
            id=peer_id,
            name=name,
            user_id=user_id,
            role=self.policy.role_of(user_id=user_id, peer_id=peer_id),
            on_transport_lost=self._transport_lost,
            on_consumer_lost=self._consumer_lost,
        )
        self._peers[peer_id] = peer
        logger.info("room %s: peer %s joined as %s", self.id, peer_id, peer.role)
        self._participant_joined(peer, arrival)
        self._push(Push(event=PEER_JOINED, data=_peer_event(peer), skip_peer=peer_id))
        return peer

    async def leave(self, peer_id: str, reason: CloseReason = CloseReason.REQUESTED, *, removed: bool = False) -> None:
        """Remove the peer and close everything it holds; peers consuming its producers
        get `consumerClosed`, and the room hears `peerLeft`. A peer the room dropped by
        itself (its browser went, or the host removed it) has its socket taken out of the
        room's broadcasts too."""
        await self._leave(peer_id, reason, removed=removed, rejoining=False)

    async def _leave(self, peer_id: str, reason: CloseReason, *, removed: bool, rejoining: bool) -> None:
        peer = self._peers.pop(peer_id, None)
        if peer is None:
            raise NotFound("not currently in a room", field="room_id")
        self._cohost_requests.pop(peer_id, None)
        self._participant_left(peer, end_session=not rejoining)
        await peer.close(reason)
        logger.info("room %s: peer %s left (%s%s)", self.id, peer_id, reason, ", removed" if removed else "")
        dropped = removed or reason is not CloseReason.REQUESTED
        self._push(
            Push(
                event=PEER_LEFT,
                data=_peer_event(peer),
                skip_peer=peer_id,
                leave_peer=peer_id if dropped else None,
            )
        )
        if not self._peers:
            self._on_empty(self)

    def _transport_lost(self, peer: Peer, reason: CloseReason) -> None:
        if self._peers.get(peer.id) is peer:
            self._tasks.spawn(self._drop(peer, reason), name=f"drop-peer:{peer.id}")

    async def _drop(self, peer: Peer, reason: CloseReason) -> None:
        if self._peers.get(peer.id) is peer:
            await self.leave(peer.id, reason)

    def _consumer_lost(self, peer: Peer, consumer: Consumer) -> None:
        if self._peers.get(peer.id) is peer:
            self._push(Push(event=CONSUMER_CLOSED, data={"consumer_id": consumer.id}, to_peer=peer.id))

    # --- the SFU calls ---

    def producers_for(self, peer_id: str) -> list[ProducerInfo]:
        """Every producer in the room but the asking peer's own."""
        return [
            _producer_info(peer, producer)
            for peer in self._peers.values()
            if peer.id != peer_id
            for producer in peer.producers.values()
        ]

    def producer_owner(self, producer_id: str) -> Peer:
        """The peer that produces `producer_id`."""
        for peer in self._peers.values():
            if producer_id in peer.producers:
                return peer
        raise NotFound(f"no producer {producer_id} in this room", field="producerId")

    async def create_transport(self, peer: Peer, *, force_tcp: bool = False) -> WebRtcTransport:
        if force_tcp:
            raise InvalidInput("this media server offers UDP transports only: send forceTcp false", field="forceTcp")
        if len(peer.transports) >= self._max_transports:
            raise Conflict(
                f"a peer may hold at most {self._max_transports} transports; close one first", field="transport_id"
            )
        transport = await self.router.create_webrtc_transport()
        if self._peers.get(peer.id) is not peer:  # left while the port was being bound
            await transport.close()
            raise NotFound("not currently in a room", field="room_id")
        peer.add_transport(transport)
        return transport

    def produce(
        self,
        peer: Peer,
        *,
        transport_id: str,
        kind: MediaKind,
        rtp_parameters: RtpParameters,
        app_data: dict[str, object],
    ) -> Producer:
        self.policy.check_may_produce(user_id=peer.user_id, peer_id=peer.id)
        sharing_screen = app_data.get("type") == SCREEN
        if sharing_screen:
            self._check_screen_free(peer)
        transport = peer.get_transport(transport_id)
        producer = transport.produce(kind=kind, rtp_parameters=rtp_parameters, app_data=app_data)
        peer.add_producer(producer)
        logger.info("room %s: peer %s produces %s (%s)", self.id, peer.id, kind, producer.id)
        self._push(
            Push(event=NEW_PRODUCERS, data=[msgspec.to_builtins(_producer_info(peer, producer))], skip_peer=peer.id)
        )
        if sharing_screen and not producer.closed:
            self._screen = (peer, producer)
            producer.on_state(lambda state, _reason: self._screen_state_changed(producer, state))
            self._push(Push(event=SCREEN_SHARED, data=_share_event(peer, producer)))
        return producer

    def consume(
        self,
        peer: Peer,
        *,
        transport_id: str,
        producer_id: str,
        rtp_capabilities: RtpCapabilities | None,
    ) -> Consumer:
        if rtp_capabilities is None or not rtp_capabilities.codecs:
            raise InvalidInput(
                "rtpCapabilities are required: load the device with getRouterRtpCapabilities first",
                field="rtpCapabilities",
            )
        transport = peer.get_transport(transport_id)
        consumer = transport.consume(producer_id=producer_id, rtp_capabilities=rtp_capabilities)
        peer.add_consumer(consumer)
        return consumer

    # --- screen share: one at a time ---

    def screen_share(self) -> ScreenShare | None:
        if self._screen is None:
            return None
        peer, producer = self._screen
        return ScreenShare(peer_id=peer.id, name=peer.name, producer_id=producer.id)

    def _check_screen_free(self, peer: Peer) -> None:
        if self._screen is None:
            return
        sharer, _ = self._screen
        if sharer is peer:
            raise Conflict("you are sharing your screen already: close that producer first", field="appData")
        raise Conflict(f"{_named(sharer)} is sharing their screen: one screen share at a time", field="appData")

    def _screen_state_changed(self, producer: Producer, state: ProducerState) -> None:
        if state is not ProducerState.CLOSED or self._screen is None or self._screen[1] is not producer:
            return
        sharer, _ = self._screen
        self._screen = None
        logger.info("room %s: peer %s stopped sharing the screen", self.id, sharer.id)
        self._push(Push(event=SCREEN_STOPPED, data=_share_event(sharer, producer)))

    def confirm_screen_share(self, peer: Peer) -> ScreenShare:
        """The peer's live screen share (`screen:shared` from a client that has just produced it)."""
        share = self.screen_share()
        if share is None or share.peer_id != peer.id:
            raise NotFound('you are not sharing your screen: produce with appData.type "screen" first', field="appData")
        return share

    def stop_screen_share(self, peer: Peer) -> ScreenShare:
        """Close the peer's screen producer; the room hears `screen:stopped`."""
        share = self.confirm_screen_share(peer)
        peer.get_producer(share.producer_id).close()
        return share

    # --- video paused, microphones muted ---

    def pause_video(self, peer: Peer, *, producer_id: str | None, paused: bool) -> list[str]:
        """Pause (or resume) one video producer of the peer, or all its cameras; the room hears
        `videoPaused` / `videoResumed`, and their consumers stop (or go on) forwarding."""
        if producer_id is not None:
            producer = peer.get_producer(producer_id)
            if producer.kind != "video":
                raise InvalidInput(f"producer {producer_id} carries audio: only video pauses", field="producer_id")
            producers = [producer]
        else:
            producers = peer.camera_producers()
            if not producers:
                raise NotFound("you are not producing a camera", field="producer_id")
        for producer in producers:
            if paused:
                producer.pause()
            else:
                producer.resume()
        ids = [producer.id for producer in producers]
        event = VIDEO_PAUSED if paused else VIDEO_RESUMED
        self._push(Push(event=event, data={**_peer_event(peer), "producer_ids": ids}, skip_peer=peer.id))
        return ids

    def mute(self, host: Peer, target_peer_id: str) -> list[str]:
        """The host pauses a peer's microphones; the room (the peer too) hears `participant:muted`.
        The peer may produce its microphone again to speak."""
        if host.role != "host":
            raise Forbidden("only the host may mute a participant", field="peer_id")
        target = self._target(target_peer_id)
        microphones = [p for p in target.producers.values() if p.kind == "audio" and not p.paused and not p.closed]
        if not microphones:
            raise Conflict(f"{_named(target)} has no unmuted microphone", field="peer_id")
        for producer in microphones:
            producer.pause()
        ids = [producer.id for producer in microphones]
        logger.info("room %s: host %s muted peer %s", self.id, host.id, target.id)
        self._push(Push(event=PARTICIPANT_MUTED, data={**_peer_event(target), "producer_ids": ids, "by": host.name}))
        return ids

    # --- roles: co-host requests, demoting, removing ---

    def _moderators(self) -> list[Peer]:
        return [peer for peer in self._peers.values() if peer.role in MODERATORS]

    def _refresh_roles(self) -> list[Peer]:
        """Give every peer the role the policy says now; the room hears each change."""
        changed = []
        for peer in self._peers.values():
            role = self.policy.role_of(user_id=peer.user_id, peer_id=peer.id)
            if role != peer.role:
                peer.role = role
                changed.append(peer)
                self._push(Push(event=ROLE_CHANGED, data=_peer_event(peer)))
        return changed

    def request_cohost(self, peer: Peer) -> None:
        """A viewer asks to become a co-host: the hosts and co-hosts in the room hear it."""
        if peer.role in MODERATORS:
            raise Conflict(f"you are {'the host' if peer.role == 'host' else 'a co-host'} already", field="room_id")
        if peer.role == "participant":
            raise Conflict(
                f"everyone may produce in a {self.policy.room_type} room: there is nothing to ask", field="room_id"
            )
        if peer.id in self._cohost_requests:
            raise Conflict("your co-host request is waiting for an answer already", field="room_id")
        moderators = self._moderators()
        if not moderators:
            raise Conflict("no host or co-host is in the room to answer a co-host request", field="room_id")
        self._cohost_requests[peer.id] = peer
        logger.info("room %s: peer %s asks to become a co-host", self.id, peer.id)
        for moderator in moderators:
            self._push(Push(event=COHOST_REQUEST, data={**_peer_event(peer), "room_id": self.id}, to_peer=moderator.id))

    def answer_cohost(self, responder: Peer, target_peer_id: str, *, approved: bool) -> Peer:
        """A host or co-host approves or denies a waiting request; the viewer who asked hears
        `cohost:respond`, and on approval the room hears `roleChanged`."""
        if responder.role not in MODERATORS:
            raise Forbidden("only the host and co-hosts may answer co-host requests", field="peer_id")
        target = self._target(target_peer_id)
        if self._cohost_requests.pop(target.id, None) is None:
            raise NotFound(f"{_named(target)} has no co-host request waiting for an answer", field="peer_id")
        if approved:
            self.policy.approve_cohost(user_id=target.user_id, peer_id=target.id)
            self._refresh_roles()
        logger.info("room %s: %s %s the co-host request of %s", self.id, responder.id,
                    "approved" if approved else "denied", target.id)  # fmt: skip
        self._push(
            Push(
                event=COHOST_RESPOND,
                data={"room_id": self.id, "peer_id": target.id, "approved": approved, "role": target.role,
                      "by": responder.name},
                to_peer=target.id,
            )
        )  # fmt: skip
        return target

    def demote_cohost(self, host: Peer, target_peer_id: str) -> Peer:
        """The host makes a co-host a viewer again; what it produced closes when it may no
        longer produce (its consumers' peers hear `consumerClosed`)."""
        if host.role != "host":
            raise Forbidden("only the host may demote a co-host", field="peer_id")
        target = self._target(target_peer_id)
        if target.role != "co-host":
            raise Conflict(f"{_named(target)} is not a co-host", field="peer_id")
        self.policy.revoke_cohost(user_id=target.user_id, peer_id=target.id)
        for peer in self._refresh_roles():
            if not self.policy.may_produce(user_id=peer.user_id, peer_id=peer.id):
                for producer in peer.producers.values():
                    producer.close()
        return target

    async def remove(self, host: Peer, target_peer_id: str) -> Peer:
        """The host removes a peer: the room (the peer too) hears `participant:removed`, the
        peer's transports close, and neither its socket nor its user may join again."""
        if host.role != "host":
            raise Forbidden("only the host may remove a participant", field="peer_id")
        target = self._target(target_peer_id)
        if target is host:
            raise InvalidInput("you cannot remove yourself: use exitRoom", field="peer_id")
        if target.role == "host":
            raise Forbidden("a host cannot be removed", field="peer_id")
        self.policy.ban(user_id=target.user_id, peer_id=target.id)
        logger.info("room %s: host %s removed peer %s", self.id, host.id, target.id)
        self._push(Push(event=PARTICIPANT_REMOVED, data={**_peer_event(target), "by": host.name}))
        await self.leave(target.id, removed=True)
        return target

    def adopt_host(self, *, user_id: str | None, peer_id: str) -> bool:
        """A socket that is no guest asks to open a room a guest opened: it hosts it (and the
        room hears its new role if it is in already). True when it became the host."""
        if not self.policy.adopt_host(user_id=user_id, peer_id=peer_id):
            return False
        logger.info("room %s: peer %s hosts it (a guest opened it)", self.id, peer_id)
        self._refresh_roles()
        return True

    # --- ending the webinar ---

    def begin_end(self, host: Peer) -> None:
        """The host ends the webinar: from now on nobody joins. The room closes next."""
        if host.role != "host":
            raise Forbidden("only the host may end the webinar", field="room_id")
        if self.ending:
            raise Forbidden(WEBINAR_ENDED, field="room_id")
        self.ending = True
        logger.info("room %s: host %s ends the webinar", self.id, host.id)

    def cancel_end(self) -> None:
        """The end could not be recorded: the webinar goes on."""
        self.ending = False

    def announce_end(self, host: Peer) -> None:
        """Tell everyone in the room that the host ended it; every socket then leaves the room."""
        self._push(Push(event=ROOM_ENDED, data={"room_id": self.id, "by": host.name}, room_closed=True))

    # --- closing ---

    async def close(self, reason: CloseReason = CloseReason.REQUESTED) -> None:
        """Close every peer and the router, telling no one (the room is going away). Idempotent."""
        if self.closed:
            return
        peers = list(self._peers.values())
        for peer in peers:
            self._participant_left(peer, end_session=False)
        self._end_session()
        self.closed = True
        self._arrivals.clear()
        self._peers.clear()
        for peer in peers:
            await peer.close(reason)
        await self.router.close(reason)

    # --- sessions: facts for the analytics ---

    def _record(self, fact: SessionFact) -> None:
        if self._sessions is None:
            return
        try:
            self._sessions.session_event(self.key, fact)
        except Exception:  # a report lost must not take signalling down with it
            logger.exception("room %s: could not hand over %s", self.id, type(fact).__name__)

    def _session_type(self) -> SessionType:
        room_type = self.policy.room_type
        return SessionType(room_type) if room_type is not None else SOCKET_ROOM_SESSION_TYPE

    def _host_user_id(self, first: Peer) -> str | None:
        """The session's host: the peer opening it when it is a host, else a host the room
        names (the meeting's, or whoever opened the room); None when none is known."""
        if first.role == "host" and first.user_id:
            return first.user_id
        return min(self.policy.host_user_ids, default=None)

    def _participant_joined(self, peer: Peer, arrival: Arrival) -> None:
        now = self._clock()
        session = self.session
        if session is None:
            session = self.session = RoomSession(id=_new_id())
            logger.info("room %s: session %s started", self.id, session.id)
            self._record(
                SessionStarted(
                    session_id=session.id,
                    room_id=self.id,
                    session_type=self._session_type(),
                    host_user_id=self._host_user_id(peer),
                    domain=arrival.origin_host.lower(),
                    started_at=now,
                )
            )
        participant_id = _new_id()
        session.participants[peer.id] = participant_id
        self._record(
            ParticipantJoined(
                session_id=session.id,
                participant_id=participant_id,
                room_id=self.id,
                user_id=peer.user_id,
                name=peer.name,
                client_ip=arrival.client_ip,
                joined_at=now,
            )
        )

    def _participant_left(self, peer: Peer, *, end_session: bool) -> None:
        session = self.session
        participant_id = session.participants.pop(peer.id, None) if session is not None else None
        if session is None or participant_id is None:
            return
        self._record(ParticipantLeft(session_id=session.id, participant_id=participant_id, left_at=self._clock()))
        if end_session and not self._peers:
            self._end_session()

    def _end_session(self) -> None:
        session, self.session = self.session, None
        if session is None:
            return
        logger.info("room %s: session %s ended", self.id, session.id)
        self._record(SessionEnded(session_id=session.id, ended_at=self._clock()))


def _producer_info(peer: Peer, producer: Producer) -> ProducerInfo:
    return ProducerInfo(producer_id=producer.id, producer_socket_id=peer.id, app_data=dict(producer.app_data))


def _peer_event(peer: Peer) -> dict[str, str]:
    return {"peer_id": peer.id, "name": peer.name, "role": peer.role}


def _share_event(peer: Peer, producer: Producer) -> dict[str, str]:
    return {"peer_id": peer.id, "name": peer.name, "producer_id": producer.id}


def _named(peer: Peer) -> str:
    """How a refusal names a peer: its name, else its id."""
    return peer.name or peer.id
