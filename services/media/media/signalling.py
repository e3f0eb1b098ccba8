"""The node's side of the bus: its per-node subjects -> MediaNode calls, pushes out to
the gateways, session facts out to JetStream (for the analytics), the meetings
service asked what kind of room an id names (and told when its host ended it), and its
meeting updates turned into captions offered again in the live room."""

import asyncio
import contextlib
import logging
from typing import Any

import msgspec
import nats.errors
from nats.aio.client import Client as NatsClient

from media.node import MediaNode, RoomDescription
from media.peers import Peer
from media.rooms import Arrival, Push, Room, RoomKey
from webinar_contracts import Empty, Forbidden, NotFound, RequestContext, ServiceError
from webinar_contracts import auth as auth_contract
from webinar_contracts import media as contract
from webinar_contracts import meetings as meetings_contract
from webinar_contracts import transcription as transcription_contract
from webinar_contracts.media import (
    CloseProducer,
    CohostAnswer,
    ConnectTransport,
    Consume,
    Consumed,
    CreateRoom,
    CreateTransport,
    JoinRoom,
    PauseVideo,
    PeerAction,
    PeerCall,
    PeerInfo,
    PeerProof,
    PlaceRoom,
    Produce,
    Produced,
    ProducerList,
    ProducersChanged,
    ResumeConsumer,
    RoomCreated,
    RoomProducers,
    RoomRef,
    RoomState,
    RoomType,
    RtpCapabilities,
    ScreenShare,
    StartTap,
    TapRef,
    TapStarted,
    TransportCreated,
)
from webinar_contracts.plans import Plan
from webinar_contracts.sessions import SessionFact, SessionStarted, event_id_of, event_type_of
from webinar_runtime.bus import Bus, Event, RequestHandler
from webinar_runtime.room_pushes import RoomPushQueue

logger = logging.getLogger(__name__)

MAX_QUEUED_SESSION_FACTS = 10_000
ROOM_TYPES: dict[str, RoomType] = {
    "meeting": "meeting",
    "conference": "conference",
    "webinar": "webinar",
    "live": "live",
}


def _key(room_id: str, context: RequestContext) -> RoomKey:
    return RoomKey(context.require_tenant(), room_id)


class MeetingsRooms:
    """Asks the meetings service (over the bus) what a room id names, and tells it when the
    host ended a room."""

    def __init__(self, bus: Bus) -> None:
        self._bus = bus

    async def describe(self, key: RoomKey) -> RoomDescription | None:
        context = RequestContext(tenant_id=key.tenant_id)
        try:
            details = await self._bus.request(
                meetings_contract.GET_ROOM, meetings_contract.GetRoom(room_id=key.room_id), context=context
            )
        except NotFound:
            return None
        # A type this node does not know is treated as the strictest: hosts alone produce.
        room_type = ROOM_TYPES.get(details.type, "webinar")
        return RoomDescription(
            type=room_type, host_user_ids=tuple(details.host_ids), ended=details.ended_at is not None
        )

    async def record_end(self, key: RoomKey) -> None:
        context = RequestContext(tenant_id=key.tenant_id)
        try:
            await self._bus.request(
                meetings_contract.END_ROOM, meetings_contract.EndRoom(room_id=key.room_id), context=context
            )
        except NotFound:
            # Its record went since the room opened: there is nothing left to keep it ended.
            logger.warning("room %s ended, but the meetings service no longer knows it", key.room_id)


class BusCaptionDesk:
    """Offers audio producers to the transcription service's caption workers over the bus."""

    def __init__(self, bus: Bus, *, timeout: float = 10.0) -> None:
        self._bus = bus
        self._timeout = timeout

    async def offer(
        self, key: RoomKey, offer: transcription_contract.CaptionOffer, plan: Plan | None
    ) -> transcription_contract.CaptionDecision:
        context = RequestContext(tenant_id=key.tenant_id, plan=plan)
        return await self._bus.request(
            transcription_contract.CAPTION_PRODUCER, offer, context=context, timeout=self._timeout
        )

    async def check(
        self, key: RoomKey, check: transcription_contract.CaptionCheck, plan: Plan | None
    ) -> transcription_contract.CaptionDecision:
        context = RequestContext(tenant_id=key.tenant_id, plan=plan)
        return await self._bus.request(
            transcription_contract.CAPTION_CHECK, check, context=context, timeout=self._timeout
        )


class CaptionsFollowMeetings:
    """A live room's captions follow its meetings: a meeting update that sets
    `transcriptEnabled` or `roomId` (MEETING_UPDATED) makes the node holding each room the
    meeting is in (or left) offer that room's audio producers again (NODE_OFFER_CAPTIONS), so
    that the caption workers decide afresh. Any node takes an event (one durable consumer
    shared by the nodes, as a service's replicas share theirs); the room's node is found as
    the gateway finds it (PLACE_ROOM). A node that does not answer gets the event again
    later; asking twice does no harm."""

    DURABLE = "media-captions"
    FIELDS = frozenset({"transcriptEnabled", "roomId"})

    def __init__(self, bus: Bus) -> None:
        self._bus = bus

    async def on_meeting_updated(self, event: Event[meetings_contract.MeetingUpdated]) -> None:
        updated = event.payload
        if not self.FIELDS.intersection(updated.updated):
            return
        if not event.context.tenant_id:
            logger.warning("meeting %s updated without a tenant; ignored", updated.meeting_id)
            return
        for room_id in dict.fromkeys(room for room in (updated.room_id, updated.previous_room_id) if room):
            await self._offer_again(room_id, event.context)

    async def _offer_again(self, room_id: str, context: RequestContext) -> None:
        try:
            placed = await self._bus.request(contract.PLACE_ROOM, PlaceRoom(room_id=room_id), context=context)
            await self._bus.request(
                contract.NODE_OFFER_CAPTIONS.at(placed.node_id), RoomRef(room_id=room_id), context=context
            )
        except NotFound:
            return  # not live (or it closed meanwhile): its producers are offered when they are made
        logger.info("room %s: its meetings changed; its microphones are offered again", room_id)


class BusSessions:
    """Publishes the rooms' session facts to JetStream, in order, from a background task, so
    that signalling never waits for them. A publish that fails (JetStream away) is retried
    with back-off for up to `retry_for` seconds under the same event id, so it is stored
    once; then the fact is logged and dropped. A session whose page sent no Origin is
    reported under its host's email domain, asked of the auth service."""

    def __init__(
        self,
        bus: Bus,
        *,
        retry_for: float = 60.0,
        publish_timeout: float = 5.0,
        max_queued: int = MAX_QUEUED_SESSION_FACTS,
    ) -> None:
        self._bus = bus
        self._retry_for = retry_for
        self._publish_timeout = publish_timeout
        self._queue: asyncio.Queue[tuple[RoomKey, SessionFact]] = asyncio.Queue(max_queued)
        self._publisher: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._publisher is None:
            self._publisher = asyncio.create_task(self._publish_forever(), name="media-session-facts")

    def session_event(self, room: RoomKey, fact: SessionFact) -> None:
        try:
            self._queue.put_nowait((room, fact))
        except asyncio.QueueFull:
            logger.error("session fact queue full; dropping %s of room %s", type(fact).__name__, room.room_id)

    async def _publish_forever(self) -> None:
        while True:
            room, fact = await self._queue.get()
            try:
                await self._publish(room, fact)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("could not publish %s of room %s", type(fact).__name__, room.room_id)
            finally:
                self._queue.task_done()

    async def _publish(self, room: RoomKey, fact: SessionFact) -> None:
        context = RequestContext(tenant_id=room.tenant_id)
        if isinstance(fact, SessionStarted) and not fact.domain and fact.host_user_id:
            fact = msgspec.structs.replace(fact, domain=await self._email_domain(fact.host_user_id, context))
        event_type, event_id = event_type_of(fact), event_id_of(fact)
        loop = asyncio.get_running_loop()
        give_up_at = loop.time() + self._retry_for
        delay = 0.25
        while True:
            try:
                await asyncio.wait_for(
                    self._bus.publish(event_type, fact, context=context, event_id=event_id),
                    timeout=self._publish_timeout,
                )
                return
            except (nats.errors.Error, TimeoutError, OSError) as error:
                if loop.time() + delay > give_up_at:
                    logger.error("gave up publishing %s (%s): %r", event_type.subject, event_id, error)
                    return
                logger.warning("publishing %s failed, retrying in %.2fs: %r", event_type.subject, delay, error)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)

    async def _email_domain(self, user_id: str, context: RequestContext) -> str:
        try:
            user = await self._bus.request(
                auth_contract.GET_USER, auth_contract.GetUser(user_id=user_id), context=context, timeout=2
            )
        except ServiceError as error:
            logger.info("no email domain for host %s: %s", user_id, error.message)
            return ""
        _, at, domain = user.email.rpartition("@")
        return domain.strip().lower() if at else ""

    async def stop(self, *, flush_for: float = 1.0) -> None:
        """Publish what is queued (for up to `flush_for` seconds), then stop."""
        if self._publisher is not None and not self._publisher.done():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._queue.join(), flush_for)
        if self._publisher is not None:
            self._publisher.cancel()
            await asyncio.gather(self._publisher, return_exceptions=True)
            self._publisher = None
        if not self._queue.empty():
            logger.error("%d session facts were not published before the node stopped", self._queue.qsize())


class BusPushes:
    """Sends pushes, in order, to PUSH_SUBJECT (plain NATS: a push nobody hears is moot),
    and the rooms' session facts to JetStream through `sessions` (by default a BusSessions
    on the same connection)."""

    def __init__(self, nc: NatsClient, *, sessions: BusSessions | None = None) -> None:
        self._nc = nc
        self._pushes = RoomPushQueue(nc, name="media-pushes")
        self.sessions = sessions or BusSessions(Bus(nc, service="media", request_timeout=2.0, max_in_flight=1))

    def start(self) -> None:
        self._pushes.start()
        self.sessions.start()

    def session_event(self, room: RoomKey, fact: SessionFact) -> None:
        self.sessions.session_event(room, fact)

    def push(self, room: RoomKey, push: Push) -> None:
        message = contract.MediaPush(
            tenant_id=room.tenant_id,
            room_id=room.room_id,
            event=push.event,
            data=msgspec.Raw(msgspec.json.encode(push.data)),
            to_peer=push.to_peer,
            skip_peer=push.skip_peer,
            leave_peer=push.leave_peer,
            room_closed=push.room_closed,
        )
        self._pushes.send(message)

    async def stop(self) -> None:
        """Send what is queued (briefly), then stop."""
        await self._pushes.stop()
        await self.sessions.stop()
        with contextlib.suppress(nats.errors.Error):
            await self._nc.flush(timeout=1)


class NodeHandlers:
    """Each per-node subject -> one MediaNode call; the peer is the caller's socket id."""

    def __init__(self, node: MediaNode) -> None:
        self.node = node

    async def create_room(self, request: CreateRoom, context: RequestContext) -> RoomCreated:
        created = await self.node.create_room(
            _key(request.room_id, context), peer_id=request.peer_id, user_id=context.user_id, guest=request.guest
        )
        return RoomCreated(created=created)

    async def join(self, request: JoinRoom, context: RequestContext) -> RoomState:
        key = _key(request.room_id, context)
        arrival = Arrival(origin_host=request.origin_host, client_ip=request.client_ip)
        self.node.room(key).expect_arrival(request.peer_id, arrival)
        return await self.node.join(
            key, peer_id=request.peer_id, name=request.name, user_id=context.user_id, guest=request.guest
        )

    async def room_info(self, request: PeerCall, context: RequestContext) -> RoomState:
        return self.node.room_state(_key(request.room_id, context), peer_id=request.peer_id)

    async def get_producers(self, request: PeerCall, context: RequestContext) -> ProducerList:
        return ProducerList(producers=self.node.producers_for(_key(request.room_id, context), peer_id=request.peer_id))

    async def rtp_capabilities(self, request: PeerCall, context: RequestContext) -> RtpCapabilities:
        return self.node.rtp_capabilities(_key(request.room_id, context), peer_id=request.peer_id)

    async def create_transport(self, request: CreateTransport, context: RequestContext) -> TransportCreated:
        transport = await self.node.create_transport(
            _key(request.room_id, context), peer_id=request.peer_id, force_tcp=request.force_tcp
        )
        return TransportCreated(
            id=transport.id,
            ice_parameters=transport.ice_parameters,
            ice_candidates=transport.ice_candidates,
            dtls_parameters=transport.dtls_parameters,
        )

    async def connect_transport(self, request: ConnectTransport, context: RequestContext) -> Empty:
        self.node.connect_transport(
            _key(request.room_id, context),
            peer_id=request.peer_id,
            transport_id=request.transport_id,
            dtls=request.dtls_parameters,
        )
        return Empty()

    async def produce(self, request: Produce, context: RequestContext) -> Produced:
        producer = self.node.produce(
            _key(request.room_id, context),
            peer_id=request.peer_id,
            transport_id=request.transport_id,
            kind=request.kind,
            rtp_parameters=request.rtp_parameters,
            app_data=request.app_data,
            plan=context.plan,
        )
        return Produced(producer_id=producer.id)

    async def consume(self, request: Consume, context: RequestContext) -> Consumed:
        key = _key(request.room_id, context)
        consumer = self.node.consume(
            key,
            peer_id=request.peer_id,
            transport_id=request.transport_id,
            producer_id=request.producer_id,
            rtp_capabilities=request.rtp_capabilities,
        )
        owner = self.node.room(key).producer_owner(consumer.producer_id)
        return Consumed(
            producer_id=consumer.producer_id,
            id=consumer.id,
            kind=consumer.kind,
            rtp_parameters=consumer.rtp_parameters,
            type=consumer.type,
            producer_paused=consumer.producer_paused,
            app_data=dict(owner.producers[consumer.producer_id].app_data),
            peer_id=owner.id,
        )

    async def resume_consumer(self, request: ResumeConsumer, context: RequestContext) -> Empty:
        self.node.resume_consumer(
            _key(request.room_id, context), peer_id=request.peer_id, consumer_id=request.consumer_id
        )
        return Empty()

    async def close_producer(self, request: CloseProducer, context: RequestContext) -> Empty:
        self.node.close_producer(
            _key(request.room_id, context), peer_id=request.peer_id, producer_id=request.producer_id
        )
        return Empty()

    async def exit(self, request: PeerCall, context: RequestContext) -> Empty:
        await self.node.exit(_key(request.room_id, context), peer_id=request.peer_id)
        return Empty()

    async def stats(self, request: Empty, context: RequestContext) -> contract.NodeStats:
        return self.node.stats()

    # --- taps (media.taps): asked by services, never by a browser ---

    async def start_tap(self, request: StartTap, context: RequestContext) -> TapStarted:
        tap = await self.node.start_tap(
            _key(request.room_id, context),
            producer_id=request.producer_id,
            host=request.host,
            port=request.port,
            lease_seconds=request.lease_seconds,
        )
        return tap.describe()

    async def renew_tap(self, request: TapRef, context: RequestContext) -> Empty:
        key = _key(request.room_id, context)
        self.node.renew_tap(key, request.tap_id)
        if request.keyframe:
            await self.node.tap_keyframe(key, request.tap_id)
        return Empty()

    async def room_producers(self, request: RoomRef, context: RequestContext) -> RoomProducers:
        return RoomProducers(producers=self.node.room_producers(_key(request.room_id, context)))

    async def stop_tap(self, request: TapRef, context: RequestContext) -> Empty:
        self.node.stop_tap(_key(request.room_id, context), request.tap_id)
        return Empty()

    async def offer_captions(self, request: RoomRef, context: RequestContext) -> Empty:
        self.node.offer_captions(_key(request.room_id, context), plan=context.plan)
        return Empty()

    # --- room controls (docs/realtime-events.md) ---

    def _caller(self, room_id: str, peer_id: str, context: RequestContext) -> tuple[Room, Peer]:
        room = self.node.room(_key(room_id, context))
        return room, room.get_peer(peer_id)

    async def peer_info(self, request: PeerCall, context: RequestContext) -> PeerInfo:
        _, peer = self._caller(request.room_id, request.peer_id, context)
        return peer.info()

    async def vouch_peer(self, request: PeerProof, context: RequestContext) -> PeerInfo:
        """Another socket of a peer's browser (the whiteboard's) acts in the peer's role: it
        names the peer and presents the key the peer's join answered."""
        _, peer = self._caller(request.room_id, request.peer_id, context)
        if not peer.holds_key(request.peer_key):
            raise Forbidden("peer_key is not that peer's key (the peerKey its join answered)", field="peer_key")
        return peer.info()

    async def request_cohost(self, request: PeerCall, context: RequestContext) -> Empty:
        room, peer = self._caller(request.room_id, request.peer_id, context)
        room.request_cohost(peer)
        return Empty()

    async def answer_cohost(self, request: CohostAnswer, context: RequestContext) -> PeerInfo:
        room, peer = self._caller(request.room_id, request.peer_id, context)
        return room.answer_cohost(peer, request.target_peer_id, approved=request.approved).info()

    async def demote_cohost(self, request: PeerAction, context: RequestContext) -> PeerInfo:
        room, peer = self._caller(request.room_id, request.peer_id, context)
        return room.demote_cohost(peer, request.target_peer_id).info()

    async def mute_peer(self, request: PeerAction, context: RequestContext) -> ProducersChanged:
        room, peer = self._caller(request.room_id, request.peer_id, context)
        return ProducersChanged(producer_ids=room.mute(peer, request.target_peer_id))

    async def remove_peer(self, request: PeerAction, context: RequestContext) -> Empty:
        room, peer = self._caller(request.room_id, request.peer_id, context)
        await room.remove(peer, request.target_peer_id)
        return Empty()

    async def pause_video(self, request: PauseVideo, context: RequestContext) -> ProducersChanged:
        room, peer = self._caller(request.room_id, request.peer_id, context)
        ids = room.pause_video(peer, producer_id=request.producer_id, paused=request.paused)
        return ProducersChanged(producer_ids=ids)

    async def screen_share(self, request: PeerCall, context: RequestContext) -> ScreenShare:
        room, peer = self._caller(request.room_id, request.peer_id, context)
        return room.confirm_screen_share(peer)

    async def stop_screen(self, request: PeerCall, context: RequestContext) -> ScreenShare:
        room, peer = self._caller(request.room_id, request.peer_id, context)
        return room.stop_screen_share(peer)

    async def end_room(self, request: PeerCall, context: RequestContext) -> Empty:
        await self.node.end_room(_key(request.room_id, context), peer_id=request.peer_id)
        return Empty()

    def routes(self) -> list[tuple[contract.NodeEndpoint[Any, Any], RequestHandler[Any, Any]]]:
        return [
            (contract.NODE_CREATE_ROOM, self.create_room),
            (contract.NODE_JOIN, self.join),
            (contract.NODE_ROOM_INFO, self.room_info),
            (contract.NODE_GET_PRODUCERS, self.get_producers),
            (contract.NODE_RTP_CAPABILITIES, self.rtp_capabilities),
            (contract.NODE_CREATE_TRANSPORT, self.create_transport),
            (contract.NODE_CONNECT_TRANSPORT, self.connect_transport),
            (contract.NODE_PRODUCE, self.produce),
            (contract.NODE_CONSUME, self.consume),
            (contract.NODE_RESUME_CONSUMER, self.resume_consumer),
            (contract.NODE_CLOSE_PRODUCER, self.close_producer),
            (contract.NODE_EXIT, self.exit),
            (contract.NODE_STATS, self.stats),
            (contract.NODE_START_TAP, self.start_tap),
            (contract.NODE_RENEW_TAP, self.renew_tap),
            (contract.NODE_STOP_TAP, self.stop_tap),
            (contract.NODE_ROOM_PRODUCERS, self.room_producers),
            (contract.NODE_OFFER_CAPTIONS, self.offer_captions),
            (contract.NODE_PEER_INFO, self.peer_info),
            (contract.NODE_VOUCH_PEER, self.vouch_peer),
            (contract.NODE_REQUEST_COHOST, self.request_cohost),
            (contract.NODE_ANSWER_COHOST, self.answer_cohost),
            (contract.NODE_DEMOTE_COHOST, self.demote_cohost),
            (contract.NODE_MUTE_PEER, self.mute_peer),
            (contract.NODE_REMOVE_PEER, self.remove_peer),
            (contract.NODE_PAUSE_VIDEO, self.pause_video),
            (contract.NODE_SCREEN_SHARE, self.screen_share),
            (contract.NODE_STOP_SCREEN, self.stop_screen),
            (contract.NODE_END_ROOM, self.end_room),
        ]


async def serve_node(bus: Bus, node_id: str, handlers: NodeHandlers) -> None:
    """Answer every per-node subject of `node_id`."""
    for endpoint, handler in handlers.routes():
        await bus.serve(endpoint.at(node_id), handler)
