"""A WebRtcTransport: one peer's ICE-lite + DTLS (server role) + SRTP connection to a router.

A peer sends on one transport and receives on another. Incoming RTP is routed to its
producer by SSRC, or, for an SSRC not seen yet, by the mid and rid header extensions;
incoming RTCP feedback goes to the consumer it names.
"""

import asyncio
import logging
import random
import re
import secrets
import time
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from aiortc import RTCCertificate, RTCDtlsParameters

from media import aiortc_hooks, ortc
from media.bandwidth import BandwidthEstimator
from media.consumer import Consumer, ConsumerState
from media.lifecycle import CloseReason, StateChanges, StateListener
from media.producer import Producer, ProducerState
from media.rtp import (
    PSFB_FIR,
    PacketError,
    RtcpFeedback,
    RtcpPacket,
    RtcpReceiverReport,
    RtcpSenderReport,
    RtcpSourceDescription,
    RtpPacket,
    SdesChunk,
    fir_media_ssrcs,
    parse_rtcp,
    parse_rtp,
    remb_bitrate,
)
from media.simulcast import allocate_layers
from media.transport_cc import TransportCcRecorder, transport_cc_feedback
from webinar_contracts import Conflict, InvalidInput, NotFound
from webinar_contracts.media import (
    DtlsFingerprint,
    DtlsParameters,
    IceCandidate,
    IceParameters,
    MediaKind,
    RtpCapabilities,
    RtpParameters,
    RtxParameters,
)

logger = logging.getLogger(__name__)

_FINGERPRINT_ALGORITHMS = {"sha-256", "sha-384", "sha-512"}
_MAX_RTCP_DATAGRAM = 1200
_FINGERPRINT_VALUE = re.compile(r"^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2})+$")


def new_ssrc() -> int:
    return random.randint(1, 0xFFFFFFFE)


def new_id() -> str:
    return str(uuid.uuid4())


@dataclass(frozen=True, kw_only=True)
class TransportOptions:
    """Where a node's transports listen and what address they announce to browsers."""

    listen_ip: str = "127.0.0.1"
    announced_ip: str | None = None
    port_range: tuple[int, int] | None = None
    # Close a transport whose peer stopped sending connectivity checks for this long
    # (browsers send one every 2.5-5 s; an ICE-lite agent sends none of its own).
    consent_timeout: float = 30.0
    # How often sender and receiver reports go out (RFC 3550 suggests 5 s; browsers and
    # SFUs send about every second for video).
    rtcp_interval: float = 1.0
    # How often a publisher that numbers its packets transport-wide hears their arrival
    # times (its congestion controller runs on them; Chrome's receivers send every 50-250 ms).
    transport_cc_interval: float = 0.1


class TransportState(StrEnum):
    NEW = "new"
    CONNECTING = "connecting"
    CONNECTED = "connected"
    CLOSED = "closed"


class ProducerDirectory(Protocol):
    """What a transport needs of its router: its capabilities and the producers of the room."""

    @property
    def rtp_capabilities(self) -> RtpCapabilities: ...

    def get_producer(self, producer_id: str) -> Producer: ...

    def add_producer(self, producer: Producer) -> None: ...


@dataclass(frozen=True, slots=True)
class _Route:
    producer: Producer
    layer: int
    rtx: bool


class WebRtcTransport:
    def __init__(
        self,
        *,
        id: str,
        router: ProducerDirectory,
        connection: aiortc_hooks.LiteIceConnection,
        candidate: IceCandidate,
        certificate: RTCCertificate,
        options: TransportOptions,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.id = id
        self._router = router
        self._connection = connection
        self._options = options
        self._clock = clock
        self._ice = aiortc_hooks.ice_transport_over(connection)
        self._dtls = aiortc_hooks.RawRtpDtlsTransport(
            self._ice, certificate, role="server", on_rtp=self._receive_rtp, on_rtcp=self._receive_rtcp
        )
        self._dtls.on("statechange", self._dtls_state_changed)
        fingerprint = aiortc_hooks.sha256_fingerprint(certificate)
        self.ice_parameters = IceParameters(
            username_fragment=connection.local_username, password=connection.local_password, ice_lite=True
        )
        self.ice_candidates = [candidate]
        self.dtls_parameters = DtlsParameters(
            fingerprints=[DtlsFingerprint(fingerprint.algorithm, fingerprint.value)], role="auto"
        )
        self.cname = secrets.token_hex(8)
        self.rtcp_ssrc = new_ssrc()
        self._state = TransportState.NEW
        self._changes: StateChanges[TransportState] = StateChanges(f"transport {id}")
        self._producers: dict[str, Producer] = {}
        self._consumers: dict[str, Consumer] = {}
        self._routes: dict[int, _Route] = {}
        self._consumers_by_ssrc: dict[int, Consumer] = {}
        self._next_mid = 0
        self._transport_sequence_number = 0
        self._transport_cc = TransportCcRecorder()
        self._transport_cc_id: int | None = None  # the id the publisher gave transport-wide-cc
        self._transport_cc_running = False
        self._bandwidth = BandwidthEstimator()
        self._tasks: set[asyncio.Task[None]] = set()
        self._closing: asyncio.Future[None] | None = None
        self.rtp_dropped = 0
        self.send_failures = 0

    @classmethod
    async def create(
        cls, *, router: ProducerDirectory, certificate: RTCCertificate, options: TransportOptions
    ) -> "WebRtcTransport":
        """Bind a UDP port for a new transport and return it, waiting for its peer."""
        connection = aiortc_hooks.LiteIceConnection()
        local = await aiortc_hooks.bind_host_candidate(
            connection, listen_ip=options.listen_ip, announced_ip=options.announced_ip, port_range=options.port_range
        )
        candidate = IceCandidate(
            foundation=local.foundation,
            priority=local.priority,
            ip=local.host,
            address=local.host,
            protocol="udp",
            port=local.port,
            type="host",
        )
        transport = cls(
            id=new_id(),
            router=router,
            connection=connection,
            candidate=candidate,
            certificate=certificate,
            options=options,
        )
        transport._spawn(transport._watch_consent())
        return transport

    # --- state ---

    @property
    def state(self) -> TransportState:
        return self._state

    @property
    def closed(self) -> bool:
        return self._state is TransportState.CLOSED

    @property
    def connected(self) -> bool:
        return self._state is TransportState.CONNECTED and self._dtls.connected

    @property
    def producers(self) -> dict[str, Producer]:
        return dict(self._producers)

    @property
    def consumers(self) -> dict[str, Consumer]:
        return dict(self._consumers)

    @property
    def selected_address(self) -> tuple[str, int] | None:
        return self._connection.selected_address

    def on_state(self, listener: StateListener[TransportState]) -> None:
        self._changes.add(listener)

    def _set_state(self, state: TransportState, reason: CloseReason | None = None) -> None:
        if state is self._state:
            return
        logger.info("transport %s: %s -> %s%s", self.id, self._state, state, f" ({reason})" if reason else "")
        self._state = state
        self._changes.emit(state, reason)

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- connecting ---

    def connect(self, dtls_parameters: DtlsParameters) -> None:
        """Take the peer's DTLS parameters (`connectTransport`). The handshake starts once
        the peer's ICE check nominates a pair; this returns at once."""
        if self._state is TransportState.CLOSED:
            raise Conflict("transport is closed", field="transport_id")
        if self._state is not TransportState.NEW:
            raise Conflict("transport is already connected", field="transport_id")
        if dtls_parameters.role == "server":
            raise InvalidInput(
                "dtlsParameters.role must be client: the media server is the DTLS server", field="dtlsParameters.role"
            )
        usable = [
            f
            for f in dtls_parameters.fingerprints
            if f.algorithm.lower() in _FINGERPRINT_ALGORITHMS and _FINGERPRINT_VALUE.match(f.value)
        ]
        if not usable:
            raise InvalidInput(
                "dtlsParameters.fingerprints needs a sha-256, sha-384 or sha-512 fingerprint",
                field="dtlsParameters.fingerprints",
            )
        self._set_state(TransportState.CONNECTING)
        remote = aiortc_hooks.dtls_parameters([(f.algorithm.lower(), f.value) for f in usable], role="client")
        self._spawn(self._run_dtls(remote))

    async def _run_dtls(self, remote: RTCDtlsParameters) -> None:
        # DTLS may start only once ICE has a pair to send on.
        await self._connection.nominated.wait()
        await self._dtls.start(remote)

    def _dtls_state_changed(self) -> None:
        state = self._dtls.state
        if state == "connected" and self._state is TransportState.CONNECTING:
            self._set_state(TransportState.CONNECTED)
            self._spawn(self._send_reports_periodically())
            for consumer in list(self._consumers.values()):
                self._spawn(consumer.transport_connected())
        elif state == "failed":
            self._close_soon(CloseReason.DTLS_FAILED)
        elif state == "closed":
            self._close_soon(CloseReason.DTLS_CLOSED)

    async def _watch_consent(self) -> None:
        await self._connection.nominated.wait()
        timeout = self._options.consent_timeout
        while True:
            silent_for = time.monotonic() - self._connection.last_check_at
            if silent_for >= timeout:
                self._close_soon(CloseReason.ICE_CONSENT_EXPIRED)
                return
            await asyncio.sleep(timeout - silent_for)

    # --- producing and consuming ---

    def produce(
        self,
        *,
        kind: MediaKind,
        rtp_parameters: RtpParameters,
        paused: bool = False,
        app_data: dict[str, object] | None = None,
    ) -> Producer:
        """A new producer for a track the peer sends on this transport (`produce`)."""
        self._require_open()
        ortc.validate_producer_rtp_parameters(kind, rtp_parameters)
        if isinstance(rtp_parameters.mid, str) and any(p.mid == rtp_parameters.mid for p in self._producers.values()):
            raise Conflict(
                f"a producer with mid {rtp_parameters.mid} exists on this transport", field="rtpParameters.mid"
            )
        for stream_ssrc in _declared_ssrcs(rtp_parameters):
            if stream_ssrc in self._routes:
                raise Conflict(
                    f"ssrc {stream_ssrc} is already produced on this transport", field="rtpParameters.encodings"
                )
        capabilities = self._router.rtp_capabilities
        mapping = ortc.producer_rtp_mapping(rtp_parameters, capabilities, new_ssrc=new_ssrc)
        consumable = ortc.consumable_rtp_parameters(kind, rtp_parameters, capabilities, mapping, cname=self.cname)
        producer = Producer(
            id=new_id(),
            kind=kind,
            rtp_parameters=rtp_parameters,
            consumable_rtp_parameters=consumable,
            mapping=mapping,
            transport=self,
            paused=paused,
            app_data=app_data,
            clock=self._clock,
        )
        self._producers[producer.id] = producer
        transport_cc_id = ortc.header_extension_id(rtp_parameters, ortc.TRANSPORT_WIDE_CC)
        if transport_cc_id is not None:
            self._transport_cc_id = transport_cc_id
        for layer, stream in enumerate(producer.streams):
            if stream.ssrc is not None:
                self._routes[stream.ssrc] = _Route(producer, layer, rtx=False)
            if stream.rtx_ssrc is not None:
                self._routes[stream.rtx_ssrc] = _Route(producer, layer, rtx=True)
        producer.on_state(lambda state, _reason: self._producer_state_changed(producer, state))
        self._router.add_producer(producer)
        return producer

    def consume(
        self,
        *,
        producer_id: str,
        rtp_capabilities: RtpCapabilities,
        paused: bool = False,
        app_data: dict[str, object] | None = None,
    ) -> Consumer:
        """A new consumer sending `producer_id`'s track to this transport's peer (`consume`).
        It starts flowing unless `paused`."""
        self._require_open()
        producer = self._router.get_producer(producer_id)
        # Raises InvalidInput naming the codecs when the device can receive none of them.
        mid = str(self._next_mid)
        rtp_parameters = ortc.consumer_rtp_parameters(
            producer.consumable_rtp_parameters, rtp_capabilities, mid=mid, new_ssrc=new_ssrc
        )
        self._next_mid += 1
        consumer = Consumer(
            id=new_id(),
            producer=producer,
            rtp_parameters=rtp_parameters,
            transport=self,
            paused=paused,
            app_data=app_data,
            clock=self._clock,
        )
        self._consumers[consumer.id] = consumer
        self._consumers_by_ssrc[consumer.ssrc] = consumer
        if consumer.rtx_ssrc is not None:
            self._consumers_by_ssrc[consumer.rtx_ssrc] = consumer
        consumer.on_state(lambda state, _reason: self._consumer_state_changed(consumer, state))
        producer.add_consumer(consumer)
        self.allocate_layers()  # starts on the best layer the viewer's bandwidth allows
        if self.connected:
            self._spawn(consumer.transport_connected())
        return consumer

    def get_producer(self, producer_id: str) -> Producer:
        try:
            return self._producers[producer_id]
        except KeyError:
            raise NotFound(f"no producer {producer_id} on this transport", field="producer_id") from None

    def get_consumer(self, consumer_id: str) -> Consumer:
        try:
            return self._consumers[consumer_id]
        except KeyError:
            raise NotFound(f"no consumer {consumer_id} on this transport", field="consumer_id") from None

    def _require_open(self) -> None:
        if self._state is TransportState.CLOSED:
            raise Conflict("transport is closed", field="transport_id")

    def _producer_state_changed(self, producer: Producer, state: ProducerState) -> None:
        if state is ProducerState.CLOSED:
            self._producers.pop(producer.id, None)
            for ssrc in [s for s, route in self._routes.items() if route.producer is producer]:
                del self._routes[ssrc]

    def _consumer_state_changed(self, consumer: Consumer, state: ConsumerState) -> None:
        if state is ConsumerState.CLOSED:
            self._consumers.pop(consumer.id, None)
            self._consumers_by_ssrc.pop(consumer.ssrc, None)
            if consumer.rtx_ssrc is not None:
                self._consumers_by_ssrc.pop(consumer.rtx_ssrc, None)

    # --- packets ---

    async def _receive_rtp(self, data: bytes) -> None:
        try:
            packet = parse_rtp(data)
        except PacketError:
            self.rtp_dropped += 1
            return
        if self._transport_cc_id is not None:
            # Every numbered packet counts, probes and repairs too: the sender paces on all.
            number = packet.extension(self._transport_cc_id)
            if number is not None and len(number) >= 2:
                self._transport_cc.packet_arrived(int.from_bytes(number[:2], "big"), self._clock(), packet.ssrc)
                if not self._transport_cc_running:
                    self._transport_cc_running = True
                    self._spawn(self._send_transport_cc_periodically())
        route = self._routes.get(packet.ssrc)
        if route is None:
            route = self._learn_route(packet)
            if route is None:
                self.rtp_dropped += 1
                return
        await route.producer.receive_rtp(packet, route.layer, rtx=route.rtx)

    def _learn_route(self, packet: RtpPacket) -> _Route | None:
        # A simulcast layer (or an RTX stream) announces itself with mid + rid/rrid.
        for producer in self._producers.values():
            mid = packet.extension(producer.mid_extension_id)
            if mid is None or producer.mid is None or mid.decode(errors="replace") != producer.mid:
                continue
            rid = packet.extension(producer.rid_extension_id)
            rtx = False
            if rid is None:
                rid = packet.extension(producer.rrid_extension_id)
                rtx = True
            if rid is None:
                return None
            layer = producer.stream_for_rid(rid.decode(errors="replace"))
            if layer is None:
                return None
            producer.learn_ssrc(layer, packet.ssrc, rtx=rtx)
            route = _Route(producer, layer, rtx)
            self._routes[packet.ssrc] = route
            return route
        return None

    async def _receive_rtcp(self, data: bytes) -> None:
        try:
            packets = parse_rtcp(data)
        except PacketError:
            return
        for packet in packets:
            if isinstance(packet, RtcpSenderReport | RtcpReceiverReport):
                if isinstance(packet, RtcpSenderReport):
                    route = self._routes.get(packet.ssrc)
                    if route is not None and not route.rtx:
                        route.producer.receive_sender_report(route.layer, packet)
                reported = []
                for block in packet.reports:
                    consumer = self._consumers_by_ssrc.get(block.ssrc)
                    if consumer is not None and block.ssrc == consumer.ssrc:
                        consumer.receive_report(block)
                        reported.append(consumer)
                if reported:
                    self._loss_reported(reported)
                continue
            if not isinstance(packet, RtcpFeedback):
                continue
            if packet.is_remb:
                try:
                    bitrate, _ssrcs = remb_bitrate(packet.fci)
                except PacketError:
                    continue
                self._bandwidth.remb_received(bitrate, self.sending_bitrate(), self._clock())
                self.allocate_layers()
                continue
            ssrcs = (
                fir_media_ssrcs(packet.fci)
                if packet.is_keyframe_request and packet.fmt == PSFB_FIR
                else [packet.media_ssrc]
            )
            for ssrc in ssrcs:
                consumer = self._consumers_by_ssrc.get(ssrc)
                if consumer is not None:
                    await consumer.receive_rtcp_feedback(packet)

    def _loss_reported(self, consumers: list[Consumer]) -> None:
        # One loss figure for the viewer's link: the consumers' losses, weighted by bitrate.
        rates = [max(c.bitrate(), 1.0) for c in consumers]
        loss = sum(c.fraction_lost * r for c, r in zip(consumers, rates, strict=True)) / sum(rates)
        self._bandwidth.loss_reported(loss, self.sending_bitrate(), self._clock())
        self.allocate_layers()

    # --- bandwidth ---

    def sending_bitrate(self) -> float:
        """What this transport's consumers send now, in bits per second."""
        return sum(c.bitrate() for c in list(self._consumers.values()))

    @property
    def available_bitrate(self) -> float | None:
        """The viewer's estimated bandwidth (bits per second); None while nothing limits it."""
        return self._bandwidth.estimate(self._clock())

    def allocate_layers(self) -> None:
        """Point each simulcast consumer at the best layer the viewer's bandwidth allows."""
        consumers = [c for c in self._consumers.values() if not c.closed and not c.paused and not c.producer_paused]
        if not any(c.type == "simulcast" for c in consumers):
            return
        layers = allocate_layers(self.available_bitrate, [c.layer_demand() for c in consumers])
        for consumer, layer in zip(consumers, layers, strict=True):
            if consumer.type == "simulcast":
                consumer.set_target_layer(layer)

    async def _send_reports_periodically(self) -> None:
        while True:
            await asyncio.sleep(self._options.rtcp_interval)
            try:
                self.allocate_layers()  # layers start and stop upstream too
                await self.send_reports()
            except Exception:
                logger.exception("transport %s: sending RTCP reports failed", self.id)

    async def _send_transport_cc_periodically(self) -> None:
        while True:
            await asyncio.sleep(self._options.transport_cc_interval)
            try:
                await self.send_transport_cc_feedback()
            except Exception:
                logger.exception("transport %s: sending transport-cc feedback failed", self.id)

    async def send_transport_cc_feedback(self) -> None:
        """Report the arrival of the packets numbered since the last report."""
        media_ssrc = self._transport_cc.media_ssrc
        for feedback in self._transport_cc.feedback():
            await self.send_rtcp(
                [transport_cc_feedback(sender_ssrc=self.rtcp_ssrc, media_ssrc=media_ssrc, feedback=feedback)]
            )

    async def send_reports(self) -> None:
        """One round of RTCP reports: a receiver report on the streams its producers receive,
        and a sender report (with its CNAME) for each consumer that has sent something."""
        packets: list[RtcpPacket] = []
        blocks = [block for producer in list(self._producers.values()) for block in producer.receiver_report_blocks()]
        for start in range(0, len(blocks), 31):  # a report carries at most 31 blocks
            packets.append(RtcpReceiverReport(ssrc=self.rtcp_ssrc, reports=blocks[start : start + 31]))
        for consumer in list(self._consumers.values()):
            report = consumer.sender_report()
            if report is not None:
                packets.append(report)
                packets.append(
                    RtcpSourceDescription(chunks=[SdesChunk(ssrc=consumer.ssrc, items=[(1, consumer.cname.encode())])])
                )
        datagram = b""
        for packet in packets:
            data = packet.to_bytes()
            if datagram and len(datagram) + len(data) > _MAX_RTCP_DATAGRAM:
                await self.send_rtp(datagram)
                datagram = b""
            datagram += data
        if datagram and self.connected:
            await self.send_rtp(datagram)

    async def send_rtp(self, data: bytes) -> None:
        """Send one RTP packet to the peer; a failure is counted, never raised into forwarding."""
        try:
            await self._dtls.send_rtp(data)
        except ConnectionError:
            self.send_failures += 1

    async def send_rtcp(self, packets: list[RtcpPacket]) -> None:
        if not self.connected:
            return
        await self.send_rtp(b"".join(p.to_bytes() for p in packets))

    def next_transport_sequence_number(self) -> int:
        self._transport_sequence_number = (self._transport_sequence_number + 1) & 0xFFFF
        return self._transport_sequence_number

    # --- closing ---

    def _begin_close(self, reason: CloseReason) -> "asyncio.Future[None]":
        # The state changes and the cascade happen now; sockets are released in a task,
        # so a close noticed inside aiortc's own tasks (which the release cancels) is safe.
        if self._closing is None:
            self._set_state(TransportState.CLOSED, reason)
            for producer in list(self._producers.values()):
                producer.transport_closed()
            for consumer in list(self._consumers.values()):
                consumer.transport_closed()
            self._closing = asyncio.ensure_future(self._release())
        return self._closing

    def _close_soon(self, reason: CloseReason) -> None:
        self._begin_close(reason)

    async def close(self, reason: CloseReason = CloseReason.REQUESTED) -> None:
        """Close the transport, its producers and its consumers, and free its UDP port.
        Idempotent; a second call waits for the first to finish."""
        await asyncio.shield(self._begin_close(reason))

    async def _release(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._dtls.remove_all_listeners()
        await self._dtls.stop()
        await self._ice.stop()
        self._changes.clear()


def _declared_ssrcs(parameters: RtpParameters) -> list[int]:
    found = []
    for encoding in parameters.encodings:
        if isinstance(encoding.ssrc, int):
            found.append(encoding.ssrc)
        if isinstance(encoding.rtx, RtxParameters):
            found.append(encoding.rtx.ssrc)
    return found
