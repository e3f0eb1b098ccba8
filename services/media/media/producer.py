"""A Producer: one incoming track (a microphone, a camera, a screen) on a WebRTC transport.

It hands each packet to its consumers (and to its taps: media.taps) as it arrives, with
no decoding, and asks its
publisher for a keyframe (PLI, or FIR where PLI was not negotiated) when a consumer
needs one, at most once per `KEYFRAME_REQUEST_INTERVAL` per layer. Where the publisher
negotiated NACK, it asks again for lost packets and forwards the repairs (RTX).
"""

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol

from msgspec import UnsetType

from media import ortc
from media.bandwidth import BitrateMeter
from media.codecs import Vp8Descriptor, is_keyframe, parse_vp8_descriptor
from media.lifecycle import CloseReason, StateChanges, StateListener
from media.nack import NackGenerator
from media.reports import NTP_EPOCH_OFFSET, ReceiveStatistics, SenderClock
from media.rtp import (
    ReportBlock,
    RtcpPacket,
    RtcpSenderReport,
    RtpPacket,
    abs_send_time,
    full_intra_request,
    generic_nack,
    picture_loss_indication,
    unwrap_rtx,
)
from webinar_contracts.media import MediaKind, RtpParameters

if TYPE_CHECKING:
    from media.consumer import Consumer

logger = logging.getLogger(__name__)

KEYFRAME_REQUEST_INTERVAL = 0.2  # seconds, per layer
# A layer that sent nothing for this long is off (the publisher stops layers it cannot afford).
LAYER_ACTIVE_WITHIN = 1.0
# Bytes a packet carries besides its payload (RTP header, extensions, SRTP tag), for bitrates.
PACKET_OVERHEAD = 30

# Header extensions a consumer may carry on as the producer received them. mid is
# rewritten per consumer, abs-send-time is stamped at sending, rid/rrid stay upstream.
PASSED_ON_EXTENSIONS = frozenset({ortc.AUDIO_LEVEL, ortc.VIDEO_ORIENTATION, ortc.TOFFSET})


class ProducerState(StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"
    CLOSED = "closed"


class ProducerTransport(Protocol):
    """What a producer needs of the transport it arrives on."""

    @property
    def rtcp_ssrc(self) -> int: ...

    async def send_rtcp(self, packets: list[RtcpPacket]) -> None: ...


@dataclass(slots=True)
class ProducerStream:
    """One encoding (simulcast layer) of the producer, and what was learned of it."""

    ssrc: int | None
    rtx_ssrc: int | None
    rid: str | None
    nack: NackGenerator | None = None
    keyframe_wanted: bool = False  # asked for when it could not be sent (SSRC unknown, too soon)
    stats: ReceiveStatistics | None = None  # once its SSRC is known
    meter: BitrateMeter = field(default_factory=BitrateMeter)
    last_keyframe_request_at: float = -1e9
    fir_sequence: int = 0


@dataclass(slots=True, kw_only=True)
class ForwardedPacket:
    """What a producer hands each of its consumers for one incoming packet."""

    packet: RtpPacket
    payload_type: int  # the router's
    keyframe: bool
    layer: int
    extensions: dict[str, bytes] = field(default_factory=dict)  # passed-on values by URI
    retransmitted: bool = False  # a repair of upstream loss, arriving late
    # Worked out once for all consumers:
    received_at: float = 0.0  # the producer's clock
    abs_send_time: bytes = b"\x00\x00\x00"  # the 24-bit abs-send-time to stamp
    vp8: Vp8Descriptor | None = None  # the VP8 payload descriptor, when VP8


class PacketTap(Protocol):
    """Something besides the consumers that gets every packet the producer forwards
    (media.taps.RtpTap: plain RTP to a recorder or a caption worker)."""

    @property
    def id(self) -> str: ...

    def forward(self, packet: ForwardedPacket) -> None:
        """Take one packet; this must neither block nor raise."""
        ...

    def producer_closed(self) -> None: ...


class Producer:
    def __init__(
        self,
        *,
        id: str,
        kind: MediaKind,
        rtp_parameters: RtpParameters,
        consumable_rtp_parameters: RtpParameters,
        mapping: ortc.RtpMapping,
        transport: ProducerTransport,
        app_data: dict[str, object] | None = None,
        paused: bool = False,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.id = id
        self.kind: MediaKind = kind
        self.rtp_parameters = rtp_parameters
        self.consumable_rtp_parameters = consumable_rtp_parameters
        self.mapping = mapping
        self.app_data = app_data or {}
        self.type = ortc.consumer_type(consumable_rtp_parameters)
        self._transport = transport
        self._clock = clock
        self._wall_clock = wall_clock
        self._state = ProducerState.PAUSED if paused else ProducerState.ACTIVE
        self._changes: StateChanges[ProducerState] = StateChanges(f"producer {id}")
        self._consumers: dict[str, Consumer] = {}
        self._taps: dict[str, PacketTap] = {}
        feedback = rtp_parameters.codecs[0].rtcp_feedback
        self._uses_fir = ortc.NACK_PLI not in feedback and ortc.CCM_FIR in feedback
        uses_nack = kind == "video" and ortc.NACK in feedback
        self.streams = [
            ProducerStream(
                ssrc=None if isinstance(e.ssrc, UnsetType) else e.ssrc,
                rtx_ssrc=None if isinstance(e.rtx, UnsetType) else e.rtx.ssrc,
                rid=None if isinstance(e.rid, UnsetType) else e.rid,
                nack=NackGenerator() if uses_nack else None,
            )
            for e in rtp_parameters.encodings
        ]
        self.clock_rate = rtp_parameters.codecs[0].clock_rate
        for stream in self.streams:
            if stream.ssrc is not None:
                stream.stats = ReceiveStatistics(stream.ssrc, self.clock_rate)
        self.mid = None if isinstance(rtp_parameters.mid, UnsetType) else rtp_parameters.mid
        self.mid_extension_id = ortc.header_extension_id(rtp_parameters, ortc.MID)
        self.rid_extension_id = ortc.header_extension_id(rtp_parameters, ortc.RTP_STREAM_ID)
        self.rrid_extension_id = ortc.header_extension_id(rtp_parameters, ortc.REPAIRED_RTP_STREAM_ID)
        self._passed_on = {
            ext.id: ext.uri for ext in rtp_parameters.header_extensions if ext.uri in PASSED_ON_EXTENSIONS
        }
        self._router_payload_types = {
            c.payload_type: c.mapped_payload_type
            for c in mapping.codecs
            if not ortc.is_rtx(next(p for p in rtp_parameters.codecs if p.payload_type == c.payload_type))
        }
        self._mime_types = {c.payload_type: c.mime_type for c in rtp_parameters.codecs}
        self._vp8_payload_types = {pt for pt, mime in self._mime_types.items() if mime.lower() == "video/vp8"}
        # RTX payload type -> the media payload type it repairs (its apt).
        self._rtx_apt = {
            c.payload_type: int(c.parameters["apt"])
            for c in rtp_parameters.codecs
            if ortc.is_rtx(c) and isinstance(c.parameters.get("apt"), int | str)
        }
        self.packets_received = 0
        self.packets_dropped = 0
        self.packets_repaired = 0
        self.nacks_sent = 0

    # --- state ---

    @property
    def state(self) -> ProducerState:
        return self._state

    @property
    def closed(self) -> bool:
        return self._state is ProducerState.CLOSED

    @property
    def paused(self) -> bool:
        return self._state is ProducerState.PAUSED

    def on_state(self, listener: StateListener[ProducerState]) -> None:
        self._changes.add(listener)

    def _set_state(self, state: ProducerState, reason: CloseReason | None = None) -> None:
        if state is self._state:
            return
        logger.info("producer %s: %s -> %s%s", self.id, self._state, state, f" ({reason})" if reason else "")
        self._state = state
        self._changes.emit(state, reason)

    def pause(self) -> None:
        if self._state is ProducerState.ACTIVE:
            self._set_state(ProducerState.PAUSED)
            for consumer in list(self._consumers.values()):
                consumer.producer_paused_changed(True)

    def resume(self) -> None:
        if self._state is ProducerState.PAUSED:
            self._set_state(ProducerState.ACTIVE)
            for consumer in list(self._consumers.values()):
                consumer.producer_paused_changed(False)

    def close(self) -> None:
        """Close this producer at its owner's request; its consumers close too."""
        self._close(CloseReason.REQUESTED)

    def transport_closed(self) -> None:
        self._close(CloseReason.TRANSPORT_CLOSED)

    def router_closed(self) -> None:
        self._close(CloseReason.ROUTER_CLOSED)

    def _close(self, reason: CloseReason) -> None:
        if self._state is ProducerState.CLOSED:
            return
        self._set_state(ProducerState.CLOSED, reason)
        for consumer in list(self._consumers.values()):
            consumer.producer_closed()
        self._consumers.clear()
        for tap in list(self._taps.values()):
            tap.producer_closed()
        self._taps.clear()
        self._changes.clear()

    # --- consumers ---

    def add_consumer(self, consumer: "Consumer") -> None:
        self._consumers[consumer.id] = consumer

    def remove_consumer(self, consumer_id: str) -> None:
        self._consumers.pop(consumer_id, None)

    @property
    def consumers(self) -> dict[str, "Consumer"]:
        return dict(self._consumers)

    # --- taps ---

    def add_tap(self, tap: PacketTap) -> None:
        if self.closed:
            tap.producer_closed()
            return
        self._taps[tap.id] = tap

    def remove_tap(self, tap_id: str) -> None:
        self._taps.pop(tap_id, None)

    @property
    def taps(self) -> dict[str, PacketTap]:
        return dict(self._taps)

    # --- media ---

    def stream_for_rid(self, rid: str) -> int | None:
        for index, stream in enumerate(self.streams):
            if stream.rid == rid:
                return index
        return None

    def learn_ssrc(self, layer: int, ssrc: int, *, rtx: bool) -> None:
        stream = self.streams[layer]
        if rtx:
            stream.rtx_ssrc = ssrc
        else:
            stream.ssrc = ssrc
            stream.stats = ReceiveStatistics(ssrc, self.clock_rate)

    async def receive_rtp(self, packet: RtpPacket, layer: int, *, rtx: bool) -> None:
        """Hand one packet of layer `layer` to every consumer; a consumer that fails is
        logged and the others still get the packet. An RTX packet is unwrapped and
        forwarded only when it repairs a loss."""
        if self._state is ProducerState.CLOSED:
            return
        stream = self.streams[layer]
        if rtx:
            apt = self._rtx_apt.get(packet.payload_type)
            # Two bytes or less: a padding-only bandwidth probe, not a repair.
            if apt is None or stream.ssrc is None or len(packet.payload) <= 2:
                return
            packet = unwrap_rtx(packet, payload_type=apt, ssrc=stream.ssrc)
        elif not packet.payload:
            return  # padding-only bandwidth probe
        payload_type = self._router_payload_types.get(packet.payload_type)
        if payload_type is None:
            self.packets_dropped += 1
            return
        now = self._clock()
        if not rtx:
            stream.meter.add(len(packet.payload) + PACKET_OVERHEAD, now)
            if stream.stats is not None:
                stream.stats.packet_received(packet.sequence_number, packet.timestamp, now, len(packet.payload))
        if stream.nack is not None:
            decision = stream.nack.packet_received(packet.sequence_number, now)
            if decision.nack:
                await self._send_nack(stream, decision.nack)
            if decision.keyframe_needed:
                await self.request_keyframe(layer)
            if not decision.new:
                return
        elif rtx:
            return  # without NACK tracking a repair cannot be told from a duplicate
        if rtx:
            self.packets_repaired += 1
        else:
            self.packets_received += 1
        if self._state is not ProducerState.ACTIVE:
            return
        vp8 = parse_vp8_descriptor(packet.payload) if packet.payload_type in self._vp8_payload_types else None
        # A repair never starts a stream: the packets after it went by already.
        if rtx or self.kind != "video":
            keyframe = False
        elif vp8 is not None:
            keyframe = vp8.begins_frame and len(packet.payload) > vp8.size and not packet.payload[vp8.size] & 0x01
        else:
            keyframe = is_keyframe(self._mime_types[packet.payload_type], packet.payload)
        extensions = {}
        for ext_id, value in packet.extensions:
            uri = self._passed_on.get(ext_id)
            if uri is not None:
                extensions[uri] = value
        forwarded = ForwardedPacket(
            packet=packet,
            payload_type=payload_type,
            keyframe=keyframe,
            layer=layer,
            extensions=extensions,
            retransmitted=rtx,
            received_at=now,
            abs_send_time=abs_send_time(self._wall_clock() + NTP_EPOCH_OFFSET),
            vp8=vp8,
        )
        if keyframe:
            stream.keyframe_wanted = False
        elif stream.keyframe_wanted and now - stream.last_keyframe_request_at >= KEYFRAME_REQUEST_INTERVAL:
            await self.request_keyframe(layer)
        for consumer in list(self._consumers.values()):
            try:
                await consumer.send_rtp(forwarded)
            except Exception:
                logger.exception("producer %s: consumer %s failed to forward", self.id, consumer.id)
        for tap in list(self._taps.values()):
            tap.forward(forwarded)

    def receive_sender_report(self, layer: int, report: RtcpSenderReport) -> None:
        """The publisher's sender report for one of its streams: its NTP/RTP clock mapping."""
        stats = self.streams[layer].stats
        if stats is not None:
            stats.sender_report_received(report.ntp_timestamp, report.rtp_timestamp, self._clock())

    def sender_clock(self, layer: int) -> SenderClock | None:
        """The publisher's clock mapping for a layer, from its latest sender report."""
        if not 0 <= layer < len(self.streams):
            return None
        stats = self.streams[layer].stats
        return None if stats is None else stats.sender_clock

    def layer_bitrate(self, layer: int) -> float:
        """One layer's bitrate now, in bits per second."""
        if not 0 <= layer < len(self.streams):
            return 0.0
        return self.streams[layer].meter.bitrate(self._clock())

    def layer_bitrates(self) -> list[float | None]:
        """Each layer's bitrate now (bits per second), None for a layer not being sent."""
        now = self._clock()
        return [
            stream.meter.bitrate(now) if stream.meter.active(now, within=LAYER_ACTIVE_WITHIN) else None
            for stream in self.streams
        ]

    def receiver_report_blocks(self) -> list[ReportBlock]:
        """One report block per stream received so far, for the transport's receiver report."""
        now = self._clock()
        return [
            stream.stats.report_block(now)
            for stream in self.streams
            if stream.stats is not None and stream.stats.packets_received
        ]

    async def _send_nack(self, stream: ProducerStream, sequence_numbers: list[int]) -> None:
        if stream.ssrc is None:
            return
        self.nacks_sent += 1
        await self._transport.send_rtcp(
            [
                generic_nack(
                    sender_ssrc=self._transport.rtcp_ssrc, media_ssrc=stream.ssrc, sequence_numbers=sequence_numbers
                )
            ]
        )

    async def request_keyframe(self, layer: int) -> None:
        """Ask the publisher for a keyframe of `layer`, unless one was asked for just now."""
        if self._state is ProducerState.CLOSED or self.kind != "video" or not 0 <= layer < len(self.streams):
            return
        stream = self.streams[layer]
        now = self._clock()
        if stream.ssrc is None:
            stream.keyframe_wanted = True  # asked for as soon as the layer shows up
            return
        if now - stream.last_keyframe_request_at < KEYFRAME_REQUEST_INTERVAL:
            # Asked a moment ago: unless that keyframe arrives first, ask again when allowed.
            stream.keyframe_wanted = True
            return
        stream.keyframe_wanted = False
        stream.last_keyframe_request_at = now
        sender = self._transport.rtcp_ssrc
        if self._uses_fir:
            stream.fir_sequence = (stream.fir_sequence + 1) & 0xFF
            request = full_intra_request(sender_ssrc=sender, media_ssrc=stream.ssrc, sequence=stream.fir_sequence)
        else:
            request = picture_loss_indication(sender_ssrc=sender, media_ssrc=stream.ssrc)
        await self._transport.send_rtcp([request])
