"""Worker and Router, the top of the SFU's ownership tree.

A worker (one per core, later) holds routers; a router (one per room) holds the WebRTC
transports of the room's peers and knows every producer on them, so that any transport
of the room can consume any of them. Closing a parent closes its children.
"""

import asyncio
import logging
from collections.abc import Sequence
from enum import StrEnum

from aiortc import RTCCertificate

from media import ortc
from media.lifecycle import CloseReason, StateChanges, StateListener
from media.producer import Producer, ProducerState
from media.transport import TransportOptions, TransportState, WebRtcTransport, new_id
from webinar_contracts import Conflict, NotFound
from webinar_contracts.media import RtpCapabilities, RtpCodecCapability

logger = logging.getLogger(__name__)


class RouterState(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class WorkerState(StrEnum):
    RUNNING = "running"
    CLOSED = "closed"


class Router:
    def __init__(
        self,
        *,
        id: str,
        rtp_capabilities: RtpCapabilities,
        certificate: RTCCertificate,
        transport_options: TransportOptions,
    ) -> None:
        self.id = id
        self._rtp_capabilities = rtp_capabilities
        self._certificate = certificate
        self._transport_options = transport_options
        self._state = RouterState.OPEN
        self._changes: StateChanges[RouterState] = StateChanges(f"router {id}")
        self._transports: dict[str, WebRtcTransport] = {}
        self._producers: dict[str, Producer] = {}

    @property
    def rtp_capabilities(self) -> RtpCapabilities:
        """What `getRouterRtpCapabilities` answers."""
        return self._rtp_capabilities

    @property
    def state(self) -> RouterState:
        return self._state

    @property
    def closed(self) -> bool:
        return self._state is RouterState.CLOSED

    @property
    def transports(self) -> dict[str, WebRtcTransport]:
        return dict(self._transports)

    @property
    def producers(self) -> dict[str, Producer]:
        return dict(self._producers)

    def on_state(self, listener: StateListener[RouterState]) -> None:
        self._changes.add(listener)

    def _set_state(self, state: RouterState, reason: CloseReason | None = None) -> None:
        if state is self._state:
            return
        logger.info("router %s: %s -> %s%s", self.id, self._state, state, f" ({reason})" if reason else "")
        self._state = state
        self._changes.emit(state, reason)

    async def create_webrtc_transport(self, *, options: TransportOptions | None = None) -> WebRtcTransport:
        """A new transport for one peer (`createWebRtcTransport`), listening on its own UDP port."""
        if self.closed:
            raise Conflict("router is closed", field="room_id")
        transport = await WebRtcTransport.create(
            router=self, certificate=self._certificate, options=options or self._transport_options
        )
        if self.closed:  # closed while the port was being bound
            await transport.close(CloseReason.ROUTER_CLOSED)
            raise Conflict("router is closed", field="room_id")
        self._transports[transport.id] = transport
        transport.on_state(lambda state, _reason: self._transport_state_changed(transport, state))
        return transport

    def get_transport(self, transport_id: str) -> WebRtcTransport:
        try:
            return self._transports[transport_id]
        except KeyError:
            raise NotFound(f"no transport {transport_id} in this room", field="transport_id") from None

    def get_producer(self, producer_id: str) -> Producer:
        try:
            return self._producers[producer_id]
        except KeyError:
            raise NotFound(f"no producer {producer_id} in this room", field="producer_id") from None

    def add_producer(self, producer: Producer) -> None:
        self._producers[producer.id] = producer
        producer.on_state(lambda state, _reason: self._producer_state_changed(producer, state))

    def can_consume(self, producer_id: str, rtp_capabilities: RtpCapabilities) -> bool:
        """Whether a device with these capabilities can receive this producer (`canConsume`)."""
        producer = self._producers.get(producer_id)
        return producer is not None and ortc.can_consume(producer.consumable_rtp_parameters, rtp_capabilities)

    def _transport_state_changed(self, transport: WebRtcTransport, state: TransportState) -> None:
        if state is TransportState.CLOSED:
            self._transports.pop(transport.id, None)

    def _producer_state_changed(self, producer: Producer, state: ProducerState) -> None:
        if state is ProducerState.CLOSED:
            self._producers.pop(producer.id, None)

    async def close(self, reason: CloseReason = CloseReason.REQUESTED) -> None:
        """Close the router and every transport in it. Idempotent."""
        if self._state is RouterState.CLOSED:
            return
        self._set_state(RouterState.CLOSED, reason)
        child_reason = CloseReason.WORKER_CLOSED if reason is CloseReason.WORKER_CLOSED else CloseReason.ROUTER_CLOSED
        transports = list(self._transports.values())
        await asyncio.gather(*(t.close(child_reason) for t in transports), return_exceptions=True)
        self._transports.clear()
        self._producers.clear()
        self._changes.clear()

    async def worker_closed(self) -> None:
        await self.close(CloseReason.WORKER_CLOSED)


class Worker:
    """Holds the routers of one process, and the DTLS certificate all its transports share."""

    def __init__(self, *, transport_options: TransportOptions | None = None) -> None:
        self._transport_options = transport_options or TransportOptions()
        self._certificate = RTCCertificate.generateCertificate()
        self._state = WorkerState.RUNNING
        self._changes: StateChanges[WorkerState] = StateChanges("worker")
        self._routers: dict[str, Router] = {}

    @property
    def state(self) -> WorkerState:
        return self._state

    @property
    def routers(self) -> dict[str, Router]:
        return dict(self._routers)

    def on_state(self, listener: StateListener[WorkerState]) -> None:
        self._changes.add(listener)

    def _set_state(self, state: WorkerState, reason: CloseReason | None = None) -> None:
        if state is self._state:
            return
        logger.info("worker: %s -> %s", self._state, state)
        self._state = state
        self._changes.emit(state, reason)

    def create_router(self, media_codecs: Sequence[RtpCodecCapability] = ortc.DEFAULT_MEDIA_CODECS) -> Router:
        """A router (one per room) accepting `media_codecs`."""
        if self._state is WorkerState.CLOSED:
            raise Conflict("worker is closed")
        router = Router(
            id=new_id(),
            rtp_capabilities=ortc.router_rtp_capabilities(media_codecs),
            certificate=self._certificate,
            transport_options=self._transport_options,
        )
        self._routers[router.id] = router
        router.on_state(lambda state, _reason: self._router_state_changed(router, state))
        return router

    def get_router(self, router_id: str) -> Router:
        try:
            return self._routers[router_id]
        except KeyError:
            raise NotFound(f"no router {router_id}", field="room_id") from None

    def _router_state_changed(self, router: Router, state: RouterState) -> None:
        if state is RouterState.CLOSED:
            self._routers.pop(router.id, None)

    async def close(self) -> None:
        """Close every router, transport, producer and consumer of this worker. Idempotent."""
        if self._state is WorkerState.CLOSED:
            return
        self._set_state(WorkerState.CLOSED, CloseReason.REQUESTED)
        routers = list(self._routers.values())
        await asyncio.gather(*(r.worker_closed() for r in routers), return_exceptions=True)
        self._routers.clear()
        self._changes.clear()
