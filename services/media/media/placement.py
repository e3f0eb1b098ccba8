"""Placement of rooms across media nodes, in two NATS key-value buckets.

- NODES_BUCKET: each node's heartbeat and load under its id. Entries expire a few
  heartbeats after the last one, so a node that died silently drops out by itself.
- ROOMS_BUCKET: which node holds a room. Written with an atomic create (or an update
  at the revision read, to take over from a dead node), so two gateways placing the
  same room at once agree on one node.

Any node answers PLACE_ROOM; the node a room lands on claims it when it opens the room
and releases it when the room closes. A draining node (shutting down, `draining` in its
record) keeps its rooms, which are still found there, but no new room is placed on it.
"""

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable

import msgspec
import nats.errors
import nats.js.errors
from nats.js import JetStreamContext
from nats.js.api import KeyValueConfig, StorageType
from nats.js.kv import KeyValue

from media.rooms import RoomKey
from webinar_contracts import Conflict, NotFound, RequestContext, Unavailable
from webinar_contracts.media import (
    NODES_BUCKET,
    ROOMS_BUCKET,
    NodeRecord,
    PlaceRoom,
    RoomPlacement,
    RoomRecord,
    room_key,
)

logger = logging.getLogger(__name__)


async def open_bucket(
    js: JetStreamContext, bucket: str, *, ttl: float | None, storage: StorageType, replicas: int, description: str
) -> KeyValue:
    """The bucket, created when it does not exist yet (a node racing us to create it is fine)."""
    try:
        return await js.key_value(bucket)
    except nats.js.errors.BucketNotFoundError:
        pass
    config = KeyValueConfig(
        bucket=bucket, description=description, ttl=ttl, storage=storage, replicas=replicas, history=1
    )
    try:
        return await js.create_key_value(config)
    except nats.js.errors.BadRequestError:
        return await js.key_value(bucket)


async def bucket_keys(js: JetStreamContext, bucket: str) -> list[str]:
    """The keys of a bucket, from one stream-info request: its stream (`KV_<bucket>`) lists
    the subjects it holds. nats-py's `KeyValue.keys()` opens a watcher whose end-of-listing
    marker can arrive before the entries while the bucket is being written (every heartbeat),
    answering "no keys" for a bucket full of them. Deleted keys are listed too (their
    delete marker is kept); reading them answers KeyNotFoundError."""
    prefix = f"$KV.{bucket}."
    info = await js.stream_info(f"KV_{bucket}", subjects_filter=f"{prefix}>")
    return [subject.removeprefix(prefix) for subject in info.state.subjects or {}]


def choose_node(
    nodes: list[NodeRecord], *, pick: Callable[[list[NodeRecord]], NodeRecord] = random.choice
) -> NodeRecord:
    """The least-loaded node that is not draining; ties are broken at random so that nodes
    started together share."""
    if not nodes:
        raise Unavailable("no media node is running")
    open_nodes = [node for node in nodes if not node.draining]
    if not open_nodes:
        raise Unavailable("every media node is draining (shutting down); try again when a new one is ready")
    lightest = min(node.load for node in open_nodes)
    return pick([node for node in open_nodes if node.load == lightest])


class Placement:
    def __init__(
        self,
        *,
        node_id: str,
        js: JetStreamContext,
        nodes: KeyValue,
        nodes_bucket: str,
        rooms: KeyValue,
        record: Callable[[], NodeRecord],
        heartbeat_interval: float,
    ) -> None:
        self.node_id = node_id
        self._js = js
        self._nodes = nodes
        self._nodes_bucket = nodes_bucket
        self._rooms = rooms
        self._record = record
        self._interval = heartbeat_interval
        self._started_at = time.time()
        self._beat_now = asyncio.Event()
        self._heartbeat: asyncio.Task[None] | None = None

    @classmethod
    async def open(
        cls,
        js: JetStreamContext,
        *,
        node_id: str,
        record: Callable[[], NodeRecord],
        heartbeat_interval: float,
        node_ttl: float,
        replicas: int = 1,
    ) -> "Placement":
        nodes = await open_bucket(
            js,
            NODES_BUCKET,
            ttl=node_ttl,
            storage=StorageType.MEMORY,
            replicas=replicas,
            description="media nodes: heartbeat and load",
        )
        rooms = await open_bucket(
            js,
            ROOMS_BUCKET,
            ttl=None,
            storage=StorageType.FILE,
            replicas=replicas,
            description="media rooms: the node holding each",
        )
        return cls(
            node_id=node_id,
            js=js,
            nodes=nodes,
            nodes_bucket=NODES_BUCKET,
            rooms=rooms,
            record=record,
            heartbeat_interval=heartbeat_interval,
        )

    # --- this node's heartbeat ---

    async def start(self) -> None:
        """Record this node now (it can be chosen from then on) and keep recording it."""
        await self.beat()
        self._heartbeat = asyncio.create_task(self._beat_forever(), name="media-heartbeat")

    async def beat(self) -> None:
        record = msgspec.structs.replace(self._record(), started_at=self._started_at, beat_at=time.time())
        await self._nodes.put(self.node_id, msgspec.json.encode(record))

    def load_changed(self) -> None:
        self._beat_now.set()

    async def _beat_forever(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._beat_now.wait(), timeout=self._interval)
            self._beat_now.clear()
            try:
                await self.beat()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("media node heartbeat failed; retrying")

    async def stop(self) -> None:
        """Stop beating and remove this node's record: no room is placed here any more."""
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            await asyncio.gather(self._heartbeat, return_exceptions=True)
            self._heartbeat = None
        with contextlib.suppress(nats.errors.Error):
            await self._nodes.delete(self.node_id)

    async def live_nodes(self) -> dict[str, NodeRecord]:
        keys = await bucket_keys(self._js, self._nodes_bucket)
        entries = await asyncio.gather(*(self._nodes.get(key) for key in keys), return_exceptions=True)
        nodes = {}
        for entry in entries:
            if isinstance(entry, nats.js.errors.KeyNotFoundError):
                continue  # expired or deleted between the listing and the read
            if isinstance(entry, BaseException):
                raise entry
            try:
                record = msgspec.json.decode(entry.value or b"", type=NodeRecord)
            except msgspec.MsgspecError:
                logger.warning("unreadable media node record %s", entry.key)
                continue
            nodes[record.node_id] = record
        return nodes

    async def node_alive(self, node_id: str) -> bool:
        """Whether the node's record is in the bucket (it has beaten within the records' TTL)."""
        try:
            await self._nodes.get(node_id)
        except nats.js.errors.KeyNotFoundError:  # never there, expired, or deleted when it stopped
            return False
        return True

    # --- rooms ---

    async def _room_entry(self, key: str) -> tuple[RoomRecord, int] | None:
        try:
            entry = await self._rooms.get(key)
        except nats.js.errors.KeyNotFoundError:
            return None
        try:
            return msgspec.json.decode(entry.value or b"", type=RoomRecord), entry.revision or 0
        except msgspec.MsgspecError:
            logger.warning("unreadable room placement %s; it will be replaced", key)
            return RoomRecord(tenant_id="", room_id="", node_id=""), entry.revision or 0

    async def place(self, request: PlaceRoom, context: RequestContext) -> RoomPlacement:
        """PLACE_ROOM: the node holding the room; with `create`, place it when it is nowhere
        (or its node is gone) on the least-loaded live node that is not draining."""
        tenant_id = context.require_tenant()
        key = room_key(tenant_id, request.room_id)
        for _ in range(3):
            found = await self._room_entry(key)
            # Every join asks this, on nodes busy forwarding media: two reads, no listing.
            if found is not None and await self.node_alive(found[0].node_id):
                return RoomPlacement(node_id=found[0].node_id)
            if not request.create:
                raise NotFound("room does not exist", field="room_id")
            node = choose_node(list((await self.live_nodes()).values()))
            record = RoomRecord(tenant_id=tenant_id, room_id=request.room_id, node_id=node.node_id)
            try:
                if found is None:
                    await self._rooms.create(key, msgspec.json.encode(record))
                else:
                    # Its node died: take the room over, unless someone just did.
                    await self._rooms.update(key, msgspec.json.encode(record), last=found[1])
            except nats.js.errors.KeyWrongLastSequenceError:
                continue  # another placement won the race: read what it wrote
            logger.info("room %s placed on node %s", request.room_id, node.node_id)
            return RoomPlacement(node_id=node.node_id)
        raise Unavailable("could not place the room: its placement kept changing; try again")

    async def claim(self, key: RoomKey) -> None:
        """Make sure the room's record names this node (it opens the room now)."""
        bucket_key = room_key(key.tenant_id, key.room_id)
        record = msgspec.json.encode(RoomRecord(tenant_id=key.tenant_id, room_id=key.room_id, node_id=self.node_id))
        for _ in range(3):
            found = await self._room_entry(bucket_key)
            if found is not None and found[0].node_id == self.node_id:
                return
            try:
                if found is None:
                    await self._rooms.create(bucket_key, record)
                    return
                if not await self.node_alive(found[0].node_id):
                    await self._rooms.update(bucket_key, record, last=found[1])
                    return
            except nats.js.errors.KeyWrongLastSequenceError:
                continue
            raise Conflict("this room is held by another media node", field="room_id")
        raise Unavailable("could not claim the room: its placement kept changing; try again")

    async def release(self, key: RoomKey) -> None:
        """Remove the room's record if it still names this node."""
        bucket_key = room_key(key.tenant_id, key.room_id)
        found = await self._room_entry(bucket_key)
        if found is None or found[0].node_id != self.node_id:
            return
        with contextlib.suppress(nats.js.errors.APIError):  # changed meanwhile: not ours any more
            await self._rooms.delete(bucket_key, last=found[1])
