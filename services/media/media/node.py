"""A media node: the rooms this process holds, on its worker, and the SFU calls on them.

It knows nothing of the bus: what it needs from outside (what kind of room an id names,
where rooms are placed, how pushes reach sockets) comes in as small protocols, wired by
`__main__` (bus adapters in signalling.py and placement.py) or by a test.
"""

import asyncio
import contextlib
import logging
import os
from dataclasses import dataclass
from typing import Protocol

import msgspec

from media.captions import CaptionDesk, CaptionOffers
from media.consumer import Consumer
from media.lifecycle import CloseReason
from media.peers import Peer
from media.producer import Producer
from media.rooms import ProducePolicy, PushSink, Room, RoomKey
from media.router import Worker
from media.taps import RtpTap, TapSet
from media.tasks import TaskSet
from media.transport import WebRtcTransport
from webinar_contracts import Forbidden, NotFound, Unavailable
from webinar_contracts.media import (
    WEBINAR_ENDED,
    DtlsParameters,
    MediaKind,
    NodeRecord,
    NodeStats,
    ProducerInfo,
    RoomProducer,
    RoomState,
    RoomType,
    RtpCapabilities,
    RtpParameters,
)
from webinar_contracts.plans import Plan

logger = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class RoomDescription:
    """What the meetings service knows of a room id: its type, its meeting's hosts, and
    whether its host ended it (then it is never opened again)."""

    type: RoomType | None
    host_user_ids: tuple[str, ...] = ()
    ended: bool = False


class RoomDirectory(Protocol):
    async def describe(self, key: RoomKey) -> RoomDescription | None:
        """The room as POST /room/create made it, or None when it is not such a room."""
        ...

    async def record_end(self, key: RoomKey) -> None:
        """Record that the host ended the room (made with POST /room/create) for good."""
        ...


class RoomClaims(Protocol):
    """Where rooms live across nodes."""

    async def claim(self, key: RoomKey) -> None:
        """Record that this node holds the room; Conflict when another node does."""
        ...

    async def release(self, key: RoomKey) -> None:
        """Forget that this node holds the room (it closed)."""
        ...

    def load_changed(self) -> None:
        """The node's load changed: record it soon."""
        ...


class MediaNode:
    def __init__(
        self,
        *,
        node_id: str,
        worker: Worker,
        directory: RoomDirectory,
        claims: RoomClaims,
        pushes: PushSink,
        empty_room_grace: float = 15.0,
        max_transports_per_peer: int = 4,
        captions: CaptionDesk | None = None,
    ) -> None:
        self.node_id = node_id
        self._worker = worker
        self._directory = directory
        self._claims = claims
        self._pushes = pushes
        self._empty_room_grace = empty_room_grace
        self._max_transports_per_peer = max_transports_per_peer
        self._rooms: dict[RoomKey, Room] = {}
        # One creation at a time per room: (its lock, how many calls use it).
        self._creating: dict[RoomKey, tuple[asyncio.Lock, int]] = {}
        self._empty_timers: dict[RoomKey, asyncio.Task[None]] = {}
        self._tasks = TaskSet(f"node {node_id}")
        self._closed = False
        self._draining = False
        self._no_rooms = asyncio.Event()
        self._no_rooms.set()
        self.taps = TapSet()
        # Every audio producer is offered to the caption workers (media.captions), when wired.
        self._captions = (
            CaptionOffers(node_id=node_id, desk=captions, taps=self.taps, tasks=self._tasks) if captions else None
        )

    @property
    def rooms(self) -> dict[RoomKey, Room]:
        return dict(self._rooms)

    def room(self, key: RoomKey) -> Room:
        room = self._rooms.get(key)
        if room is None or room.closed:
            raise NotFound("room does not exist", field="room_id")
        return room

    def _peer(self, key: RoomKey, peer_id: str) -> tuple[Room, Peer]:
        room = self.room(key)
        return room, room.get_peer(peer_id)

    # --- rooms ---

    async def create_room(self, key: RoomKey, *, peer_id: str, user_id: str | None, guest: bool = False) -> bool:
        """Open the room here unless it is open already; True when this call opened it. A
        guest (a viewer link's) opening a room does not host it; the first caller that is no
        guest hosts a room with no host yet. A room its host ended is not opened again."""
        if key in self._rooms:
            return self._open_already(self._rooms[key], peer_id=peer_id, user_id=user_id, guest=guest)
        lock, waiting = self._creating.get(key, (asyncio.Lock(), 0))
        self._creating[key] = (lock, waiting + 1)
        try:
            async with lock:
                if key in self._rooms:
                    return self._open_already(self._rooms[key], peer_id=peer_id, user_id=user_id, guest=guest)
                if self._closed:
                    raise Unavailable("this media node is shutting down; try again")
                if self._draining:
                    # Placed here just before the node began draining: let it be placed again.
                    await self._release_placement(key)
                    raise Unavailable("this media node is draining: it opens no new room; try again")
                description = await self._directory.describe(key)
                if description is not None and description.ended:
                    await self._release_placement(key)
                    raise Forbidden(WEBINAR_ENDED, field="room_id")
                await self._claims.claim(key)
                policy = ProducePolicy(
                    room_type=description.type if description else None,
                    host_user_ids=description.host_user_ids if description else (),
                    creator_peer_id=None if guest else peer_id,
                    creator_user_id=None if guest else user_id,
                )
                room = Room(
                    key=key,
                    router=self._worker.create_router(),
                    policy=policy,
                    pushes=self._pushes,
                    tasks=self._tasks,
                    max_transports_per_peer=self._max_transports_per_peer,
                    on_empty=self._room_empty,
                )
                self._rooms[key] = room
                self._no_rooms.clear()
                logger.info("room %s opened (%s)", key.room_id, policy.room_type or "socket room")
                self._room_empty(room)  # nobody is in it yet
                self._claims.load_changed()
                return True
        finally:
            lock, waiting = self._creating[key]
            if waiting == 1:
                del self._creating[key]
            else:
                self._creating[key] = (lock, waiting - 1)

    def _open_already(self, room: Room, *, peer_id: str, user_id: str | None, guest: bool) -> bool:
        if room.ending:
            raise Forbidden(WEBINAR_ENDED, field="room_id")
        if not guest:
            room.adopt_host(user_id=user_id, peer_id=peer_id)
        return False

    async def _release_placement(self, key: RoomKey) -> None:
        try:
            await self._claims.release(key)
        except Exception:
            logger.exception("room %s: could not release its placement", key.room_id)

    def _room_empty(self, room: Room) -> None:
        self._cancel_empty_timer(room.key)
        task = self._tasks.spawn(self._close_if_still_empty(room), name=f"empty-room:{room.id}")
        if task is not None:
            self._empty_timers[room.key] = task

    def _cancel_empty_timer(self, key: RoomKey) -> None:
        timer = self._empty_timers.pop(key, None)
        if timer is not None and timer is not asyncio.current_task():
            timer.cancel()

    async def _close_if_still_empty(self, room: Room) -> None:
        await asyncio.sleep(self._empty_room_grace)
        if self._empty_timers.get(room.key) is asyncio.current_task():
            del self._empty_timers[room.key]
        if room.peers or self._rooms.get(room.key) is not room:
            return
        await self._close_room(room, CloseReason.REQUESTED)

    async def _close_room(self, room: Room, reason: CloseReason) -> None:
        if self._rooms.get(room.key) is room:
            del self._rooms[room.key]
            if not self._rooms:
                self._no_rooms.set()
        self._cancel_empty_timer(room.key)
        await room.close(reason)
        await self._release_placement(room.key)
        self._claims.load_changed()
        logger.info("room %s closed", room.id)

    # --- the seed's SFU calls, for one peer of one room ---

    async def join(
        self, key: RoomKey, *, peer_id: str, name: str, user_id: str | None, guest: bool = False
    ) -> RoomState:
        room = self.room(key)
        peer = await room.join(peer_id=peer_id, name=name, user_id=user_id, guest=guest)
        self._cancel_empty_timer(key)
        self._claims.load_changed()
        return msgspec.structs.replace(room.state(), peer_key=peer.key)

    async def exit(self, key: RoomKey, *, peer_id: str) -> None:
        room = self._rooms.get(key)
        if room is None:
            raise NotFound("not currently in a room", field="room_id")
        await room.leave(peer_id)
        self._claims.load_changed()

    async def end_room(self, key: RoomKey, *, peer_id: str) -> None:
        """The host ends the webinar (`room:end`): nobody joins from now on; a room made with
        POST /room/create is recorded as ended (before anything closes, so that it cannot be
        opened again meanwhile); everyone hears `room:ended` and is out; the room closes. A
        room opened on the socket just closes (and may be opened again)."""
        room, host = self._peer(key, peer_id)
        room.begin_end(host)
        if room.policy.room_type is not None:
            try:
                await self._directory.record_end(key)
            except BaseException:
                room.cancel_end()
                raise
        room.announce_end(host)
        await self._close_room(room, CloseReason.ROOM_ENDED)

    def room_state(self, key: RoomKey, *, peer_id: str) -> RoomState:
        room, _ = self._peer(key, peer_id)
        return room.state()

    def producers_for(self, key: RoomKey, *, peer_id: str) -> list[ProducerInfo]:
        room, _ = self._peer(key, peer_id)
        return room.producers_for(peer_id)

    def rtp_capabilities(self, key: RoomKey, *, peer_id: str) -> RtpCapabilities:
        room, _ = self._peer(key, peer_id)
        return room.router.rtp_capabilities

    async def create_transport(self, key: RoomKey, *, peer_id: str, force_tcp: bool = False) -> WebRtcTransport:
        room, peer = self._peer(key, peer_id)
        transport = await room.create_transport(peer, force_tcp=force_tcp)
        self._claims.load_changed()
        return transport

    def connect_transport(self, key: RoomKey, *, peer_id: str, transport_id: str, dtls: DtlsParameters) -> None:
        _, peer = self._peer(key, peer_id)
        peer.get_transport(transport_id).connect(dtls)

    def produce(
        self,
        key: RoomKey,
        *,
        peer_id: str,
        transport_id: str,
        kind: MediaKind,
        rtp_parameters: RtpParameters,
        app_data: dict[str, object],
        plan: Plan | None = None,
    ) -> Producer:
        room, peer = self._peer(key, peer_id)
        producer = room.produce(
            peer, transport_id=transport_id, kind=kind, rtp_parameters=rtp_parameters, app_data=app_data
        )
        if self._captions is not None:
            self._captions.audio_produced(key, peer, producer, plan)
        return producer

    def consume(
        self,
        key: RoomKey,
        *,
        peer_id: str,
        transport_id: str,
        producer_id: str,
        rtp_capabilities: RtpCapabilities | None,
    ) -> Consumer:
        room, peer = self._peer(key, peer_id)
        return room.consume(peer, transport_id=transport_id, producer_id=producer_id, rtp_capabilities=rtp_capabilities)

    def offer_captions(self, key: RoomKey, *, plan: Plan | None = None) -> None:
        """The room's meetings changed (a host turned `transcriptEnabled` on or off): offer its
        live audio producers to the caption workers again (media.captions)."""
        room = self.room(key)
        if self._captions is not None:
            producers = [(peer, producer) for peer in room.peers.values() for producer in peer.producers.values()]
            self._captions.meetings_changed(key, producers, plan)

    def resume_consumer(self, key: RoomKey, *, peer_id: str, consumer_id: str) -> None:
        _, peer = self._peer(key, peer_id)
        peer.get_consumer(consumer_id).resume()

    def close_producer(self, key: RoomKey, *, peer_id: str, producer_id: str) -> None:
        _, peer = self._peer(key, peer_id)
        peer.get_producer(producer_id).close()

    # --- taps: a producer's RTP to a service (media.taps) ---

    async def start_tap(
        self, key: RoomKey, *, producer_id: str, host: str, port: int, lease_seconds: float = 0.0
    ) -> RtpTap:
        producer = self.room(key).router.get_producer(producer_id)
        return await self.taps.start(producer, host=host, port=port, owner=_tap_owner(key), lease_seconds=lease_seconds)

    def renew_tap(self, key: RoomKey, tap_id: str) -> None:
        self.taps.get(tap_id, owner=_tap_owner(key)).renew()

    async def tap_keyframe(self, key: RoomKey, tap_id: str) -> None:
        """Ask the tapped publisher for a keyframe (its receiver misses a picture)."""
        await self.taps.get(tap_id, owner=_tap_owner(key)).request_keyframe()

    def room_producers(self, key: RoomKey) -> list[RoomProducer]:
        """Every producer of the room, for a service that taps them (server-side recording)."""
        return [
            RoomProducer(
                producer_id=producer.id,
                peer_id=peer.id,
                name=peer.name,
                kind=producer.kind,
                app_data=dict(producer.app_data),
                paused=producer.paused,
            )
            for peer in self.room(key).peers.values()
            for producer in peer.producers.values()
        ]

    def stop_tap(self, key: RoomKey, tap_id: str) -> None:
        self.taps.get(tap_id, owner=_tap_owner(key)).stop()

    # --- load and shutdown ---

    def record(self) -> NodeRecord:
        """This node's load, as its heartbeat records it."""
        rooms = list(self._rooms.values())
        return NodeRecord(
            node_id=self.node_id,
            rooms=len(rooms),
            peers=sum(len(room.peers) for room in rooms),
            transports=sum(len(room.router.transports) for room in rooms),
            draining=self._draining,
        )

    def stats(self) -> NodeStats:
        rooms = list(self._rooms.values())
        transports = [t for room in rooms for t in room.router.transports.values()]
        return NodeStats(
            node_id=self.node_id,
            rooms=len(rooms),
            peers=sum(len(room.peers) for room in rooms),
            transports=len(transports),
            producers=sum(len(room.router.producers) for room in rooms),
            consumers=sum(len(t.consumers) for t in transports),
            tasks=len(asyncio.all_tasks()),
            open_files=_open_files(),
            room_ids=sorted(room.id for room in rooms),
            draining=self._draining,
        )

    # --- draining: the node is going, its rooms are not cut off ---

    @property
    def draining(self) -> bool:
        return self._draining

    def start_draining(self) -> None:
        """Open no new room from now on (its heartbeat says so, and placement skips it);
        the rooms held stay open, may be joined, and close once empty, as ever."""
        if self._draining:
            return
        self._draining = True
        self._claims.load_changed()
        logger.info("media node draining", extra=self._drain_progress())

    async def wait_until_empty(self, *, progress_every: float = 10.0) -> None:
        """Return once this node holds no room, saying every `progress_every` seconds what
        is left. Cancel it to stop waiting (the drain time is up)."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            while self._rooms:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._no_rooms.wait(), progress_every)
                if self._rooms:
                    logger.info("media node still draining", extra=self._drain_progress())
        finally:
            elapsed = round(loop.time() - started, 1)
            if self._rooms:
                # Cancelled: the rooms left close now, and their peers join again on another node.
                logger.warning("media node drain time is up", extra={**self._drain_progress(), "seconds": elapsed})
            else:
                logger.info("media node drained: no room left", extra={"seconds": elapsed})

    def _drain_progress(self) -> dict[str, int]:
        rooms = list(self._rooms.values())
        return {"rooms": len(rooms), "peers": sum(len(room.peers) for room in rooms)}

    async def close(self) -> None:
        """Close every room (and release its placement), then the worker. Idempotent."""
        self._closed = True
        for room in list(self._rooms.values()):
            await self._close_room(room, CloseReason.WORKER_CLOSED)
        await self._tasks.close()
        self.taps.close()
        self._empty_timers.clear()
        await self._worker.close()


def _tap_owner(key: RoomKey) -> str:
    return f"{key.tenant_id}\x00{key.room_id}"


def _open_files() -> int:
    with contextlib.suppress(OSError):
        return len(os.listdir("/proc/self/fd"))
    return -1
