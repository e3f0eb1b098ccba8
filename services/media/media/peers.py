"""A Peer: one socket in a room, with the WebRTC transports, producers and consumers it made.

The SFU objects themselves belong to the room's router; a peer keeps them by id so that
what a socket names can be found and checked to be its own, and tells its room (through
two callbacks) what the room must act on: a transport that failed, and a consumer that
closed because the producer it carried went away.
"""

import asyncio
import hmac
import logging
import secrets
from collections.abc import Callable

from media.consumer import Consumer, ConsumerState
from media.lifecycle import CloseReason
from media.producer import Producer, ProducerState
from media.transport import TransportState, WebRtcTransport
from webinar_contracts import NotFound
from webinar_contracts.media import PeerInfo, PeerRole

logger = logging.getLogger(__name__)

# A transport closing for one of these means the browser is gone: the peer leaves the room.
LEAVING_REASONS = frozenset({CloseReason.ICE_CONSENT_EXPIRED, CloseReason.DTLS_FAILED})


class Peer:
    def __init__(
        self,
        *,
        id: str,
        name: str,
        user_id: str | None,
        role: PeerRole,
        on_transport_lost: Callable[["Peer", CloseReason], None],
        on_consumer_lost: Callable[["Peer", Consumer], None],
    ) -> None:
        self.id = id
        self.name = name
        self.user_id = user_id
        self.role: PeerRole = role
        # Proves to the node that another socket of the peer's browser speaks for the peer.
        self.key = secrets.token_urlsafe(18)
        self._on_transport_lost = on_transport_lost
        self._on_consumer_lost = on_consumer_lost
        self._transports: dict[str, WebRtcTransport] = {}
        self._producers: dict[str, Producer] = {}
        self._consumers: dict[str, Consumer] = {}
        self.closed = False

    @property
    def transports(self) -> dict[str, WebRtcTransport]:
        return dict(self._transports)

    @property
    def producers(self) -> dict[str, Producer]:
        return dict(self._producers)

    @property
    def consumers(self) -> dict[str, Consumer]:
        return dict(self._consumers)

    def info(self) -> PeerInfo:
        return PeerInfo(id=self.id, name=self.name, role=self.role)

    def holds_key(self, key: str) -> bool:
        return hmac.compare_digest(self.key.encode(), key.encode())

    def camera_producers(self) -> list[Producer]:
        """The peer's open video producers other than its screen share."""
        return [
            producer
            for producer in self._producers.values()
            if producer.kind == "video" and producer.app_data.get("type") != "screen" and not producer.closed
        ]

    @property
    def video_paused(self) -> bool:
        """Whether a camera of the peer is paused (`videoPaused`)."""
        return any(producer.paused for producer in self.camera_producers())

    @property
    def audio_muted(self) -> bool:
        """Whether a microphone of the peer is paused (the host muted it)."""
        return any(producer.kind == "audio" and producer.paused for producer in self._producers.values())

    # --- what the peer holds ---

    def add_transport(self, transport: WebRtcTransport) -> None:
        self._transports[transport.id] = transport
        transport.on_state(lambda state, reason: self._transport_state_changed(transport, state, reason))

    def add_producer(self, producer: Producer) -> None:
        self._producers[producer.id] = producer
        producer.on_state(lambda state, _reason: self._producer_state_changed(producer, state))

    def add_consumer(self, consumer: Consumer) -> None:
        self._consumers[consumer.id] = consumer
        consumer.on_state(lambda state, reason: self._consumer_state_changed(consumer, state, reason))

    def get_transport(self, transport_id: str) -> WebRtcTransport:
        transport = self._transports.get(transport_id)
        if transport is None:
            raise NotFound(f"no transport {transport_id} of yours in this room", field="transport_id")
        return transport

    def get_producer(self, producer_id: str) -> Producer:
        producer = self._producers.get(producer_id)
        if producer is None:
            raise NotFound(f"no producer {producer_id} of yours in this room", field="producer_id")
        return producer

    def get_consumer(self, consumer_id: str) -> Consumer:
        consumer = self._consumers.get(consumer_id)
        if consumer is None:
            raise NotFound(f"no consumer {consumer_id} of yours in this room", field="consumer_id")
        return consumer

    def _transport_state_changed(
        self, transport: WebRtcTransport, state: TransportState, reason: CloseReason | None
    ) -> None:
        if state is not TransportState.CLOSED:
            return
        self._transports.pop(transport.id, None)
        if self.closed:
            return
        # A browser closing one transport may go on with the other; closing its last one
        # (a page reloaded, or a socket whose gateway died) is leaving.
        if reason in LEAVING_REASONS or (reason is CloseReason.DTLS_CLOSED and not self._transports):
            logger.info("peer %s: transport %s lost (%s)", self.id, transport.id, reason)
            self._on_transport_lost(self, reason)

    def _producer_state_changed(self, producer: Producer, state: ProducerState) -> None:
        if state is ProducerState.CLOSED:
            self._producers.pop(producer.id, None)

    def _consumer_state_changed(self, consumer: Consumer, state: ConsumerState, reason: CloseReason | None) -> None:
        if state is not ConsumerState.CLOSED:
            return
        self._consumers.pop(consumer.id, None)
        if not self.closed and reason is CloseReason.PRODUCER_CLOSED:
            self._on_consumer_lost(self, consumer)

    # --- leaving ---

    async def close(self, reason: CloseReason = CloseReason.REQUESTED) -> None:
        """Close every transport of the peer, and with them its producers and consumers
        (whose consumers elsewhere close too). Idempotent."""
        self.closed = True
        transports = list(self._transports.values())
        results = await asyncio.gather(*(t.close(reason) for t in transports), return_exceptions=True)
        for transport, result in zip(transports, results, strict=True):
            if isinstance(result, BaseException):
                logger.error("peer %s: closing transport %s failed", self.id, transport.id, exc_info=result)
        self._transports.clear()
        self._producers.clear()
        self._consumers.clear()
