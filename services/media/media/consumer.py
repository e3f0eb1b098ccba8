"""A Consumer: one producer's track sent to one peer, on that peer's receiving transport.

It copies each packet, rewriting SSRC, payload type, sequence number, timestamp and the
header extensions to what this peer negotiated; nothing is decoded. Video starts (and
resumes) on a keyframe, which it asks the producer for. Of a simulcast producer it sends
one layer at a time as one stream, and moves to the layer its transport chooses (from
the viewer's bandwidth) on that layer's next keyframe, keeping VP8 picture numbering
continuous. It keeps what it sent for a moment, to answer its viewer's NACKs with RTX.
"""

import logging
import random
import time
from collections.abc import Callable
from enum import StrEnum
from typing import Protocol

from msgspec import UnsetType

from media import ortc
from media.lifecycle import CloseReason, StateChanges, StateListener
from media.nack import RetransmissionHistory, SentPacket
from media.producer import PASSED_ON_EXTENSIONS, ForwardedPacket, Producer
from media.reports import NTP_EPOCH_OFFSET, SenderClock, SendStatistics
from media.rewrite import StreamRewriter, Vp8PictureRewriter
from media.rtp import (
    PSFB_FIR,
    ReportBlock,
    RtcpFeedback,
    RtcpSenderReport,
    abs_send_time,
    build_rtp_with_elements,
    fir_media_ssrcs,
    nack_sequence_numbers,
    one_byte_element,
)
from media.simulcast import LayerDemand
from webinar_contracts.media import MediaKind, RtpParameters

logger = logging.getLogger(__name__)

KEYFRAME_RETRY_INTERVAL = 1.0  # seconds between a waiting consumer's own keyframe requests


class ConsumerState(StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"
    CLOSED = "closed"


class ConsumerTransport(Protocol):
    """What a consumer needs of the transport it sends on."""

    @property
    def connected(self) -> bool: ...

    def next_transport_sequence_number(self) -> int: ...

    async def send_rtp(self, data: bytes) -> None: ...


class Consumer:
    def __init__(
        self,
        *,
        id: str,
        producer: Producer,
        rtp_parameters: RtpParameters,
        transport: ConsumerTransport,
        paused: bool = False,
        app_data: dict[str, object] | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.id = id
        self.producer_id = producer.id
        self.kind: MediaKind = producer.kind
        self.type = producer.type
        self.rtp_parameters = rtp_parameters
        self.app_data = app_data or {}
        self._producer = producer
        self._transport = transport
        self._clock = clock
        self._wall_clock = wall_clock
        self._state = ConsumerState.PAUSED if paused else ConsumerState.ACTIVE
        self._changes: StateChanges[ConsumerState] = StateChanges(f"consumer {id}")
        self.producer_paused = producer.paused

        encoding = rtp_parameters.encodings[0]
        if isinstance(encoding.ssrc, UnsetType):
            raise ValueError("consumer rtpParameters need an SSRC")
        self.ssrc = encoding.ssrc
        self.rtx_ssrc = None if isinstance(encoding.rtx, UnsetType) else encoding.rtx.ssrc
        codec = rtp_parameters.codecs[0]
        self._payload_type = codec.payload_type
        rtx_codec = next((c for c in rtp_parameters.codecs[1:] if ortc.is_rtx(c)), None)
        self._rtx_payload_type = None if rtx_codec is None or self.rtx_ssrc is None else rtx_codec.payload_type
        self._rtx_sequence_number = random.randint(0, 0xFFFF)
        self._history = RetransmissionHistory() if self.kind == "video" and ortc.NACK in codec.rtcp_feedback else None
        # Header extensions as encoded one-byte elements (the router's ids are all below 15).
        mid = b"" if isinstance(rtp_parameters.mid, UnsetType) else rtp_parameters.mid.encode()
        mid_id = ortc.header_extension_id(rtp_parameters, ortc.MID)
        self._mid_element = one_byte_element(mid_id, mid) if mid_id is not None and mid else b""
        abs_send_time_id = ortc.header_extension_id(rtp_parameters, ortc.ABS_SEND_TIME)
        self._abs_send_time_prefix = b"" if abs_send_time_id is None else bytes(((abs_send_time_id << 4) | 2,))
        self._transport_cc_id = ortc.header_extension_id(rtp_parameters, ortc.TRANSPORT_WIDE_CC)
        self._passed_on = {
            ext.uri: ext.id for ext in rtp_parameters.header_extensions if ext.uri in PASSED_ON_EXTENSIONS
        }
        self._rewriter = StreamRewriter(codec.clock_rate)
        self._clock_rate = codec.clock_rate
        self._send_stats = SendStatistics(self.ssrc, codec.clock_rate)
        cname = rtp_parameters.rtcp.cname
        self.cname = "" if isinstance(cname, UnsetType) else cname
        self._pictures = Vp8PictureRewriter() if codec.mime_type.lower() == "video/vp8" else None
        # One layer at a time: `current_layer` is being sent (None: video waiting for a
        # keyframe to start on), `target_layer` is where it goes on that layer's next
        # keyframe. The best layer until the transport chooses.
        self.target_layer = len(producer.streams) - 1
        self.current_layer: int | None = None if self.kind == "video" else 0
        self.preferred_layer: int | None = None
        self.layer_switches = 0
        self._last_keyframe_request_at = -1e9
        self.packets_sent = 0
        self.packets_retransmitted = 0
        self.nacks_received = 0

    # --- state ---

    @property
    def state(self) -> ConsumerState:
        return self._state

    @property
    def closed(self) -> bool:
        return self._state is ConsumerState.CLOSED

    @property
    def paused(self) -> bool:
        return self._state is ConsumerState.PAUSED

    def on_state(self, listener: StateListener[ConsumerState]) -> None:
        self._changes.add(listener)

    def _set_state(self, state: ConsumerState, reason: CloseReason | None = None) -> None:
        if state is self._state:
            return
        logger.info("consumer %s: %s -> %s%s", self.id, self._state, state, f" ({reason})" if reason else "")
        self._state = state
        self._changes.emit(state, reason)

    def pause(self) -> None:
        if self._state is ConsumerState.ACTIVE:
            self._set_state(ConsumerState.PAUSED)

    def resume(self) -> None:
        """Resume a paused consumer; harmless on a flowing one (the seed's clients never pause)."""
        if self._state is ConsumerState.PAUSED:
            self._set_state(ConsumerState.ACTIVE)
            self._restart()

    def producer_paused_changed(self, paused: bool) -> None:
        self.producer_paused = paused
        if not paused:
            self._restart()

    def _restart(self) -> None:
        self._rewriter.request_sync()
        if self.kind == "video":
            self.current_layer = None

    def close(self) -> None:
        """Close this consumer at its owner's request."""
        self._close(CloseReason.REQUESTED)

    def producer_closed(self) -> None:
        self._close(CloseReason.PRODUCER_CLOSED)

    def transport_closed(self) -> None:
        self._close(CloseReason.TRANSPORT_CLOSED)

    def _close(self, reason: CloseReason) -> None:
        if self._state is ConsumerState.CLOSED:
            return
        self._producer.remove_consumer(self.id)
        self._set_state(ConsumerState.CLOSED, reason)
        self._changes.clear()

    # --- media ---

    @property
    def layer(self) -> int:
        """The layer being sent, or the one it will start on."""
        return self.target_layer if self.current_layer is None else self.current_layer

    def set_target_layer(self, layer: int) -> None:
        """Move to `layer` on its next keyframe (asked for at its next packet)."""
        if self.kind != "video" or not 0 <= layer < len(self._producer.streams) or layer == self.target_layer:
            return
        self.target_layer = layer
        self._last_keyframe_request_at = -1e9

    def set_preferred_layer(self, layer: int | None) -> None:
        """The highest layer this viewer wants (a small tile needs no 720p); None: any."""
        self.preferred_layer = layer
        if layer is not None and self.target_layer > layer:
            self.set_target_layer(max(0, layer))

    def layer_demand(self) -> LayerDemand:
        """What this consumer could send, for the transport's choice of layers."""
        adjustable = self.type == "simulcast"
        return LayerDemand(
            bitrates=self._producer.layer_bitrates(),
            current=self.current_layer,
            max_layer=self.preferred_layer,
            adjustable=adjustable,
        )

    def bitrate(self) -> float:
        """What this consumer sends now (its layer's bitrate), in bits per second."""
        if self.current_layer is None or self._state is not ConsumerState.ACTIVE or self.producer_paused:
            return 0.0
        return self._producer.layer_bitrate(self.current_layer)

    async def transport_connected(self) -> None:
        """The peer can receive now: video asks for a keyframe to start on."""
        if self.current_layer is None:
            await self._ask_keyframe()

    async def _ask_keyframe(self) -> None:
        now = self._clock()
        if now - self._last_keyframe_request_at >= KEYFRAME_RETRY_INTERVAL:
            self._last_keyframe_request_at = now
            await self._producer.request_keyframe(self.target_layer)

    async def send_rtp(self, forwarded: ForwardedPacket) -> None:
        if (
            self._state is not ConsumerState.ACTIVE
            or self.producer_paused
            or forwarded.payload_type != self._payload_type
            or not self._transport.connected
        ):
            return
        if forwarded.layer != self.current_layer:
            if forwarded.layer != self.target_layer:
                return
            if not forwarded.keyframe:
                await self._ask_keyframe()
                return
            self._switch_to(forwarded.layer, forwarded.packet.timestamp)
        elif self.target_layer != self.current_layer and self.kind == "video":
            await self._ask_keyframe()  # keeps asking while the target layer sends nothing
        packet = forwarded.packet
        now = forwarded.received_at
        rewritten = self._rewriter.rewrite(packet.sequence_number, packet.timestamp, now)
        if rewritten is None:
            return
        elements = self._mid_element
        if forwarded.extensions:
            for uri, value in forwarded.extensions.items():
                ext_id = self._passed_on.get(uri)
                if ext_id is not None and 1 <= len(value) <= 16:
                    elements += one_byte_element(ext_id, value)
        payload = packet.payload
        if self._pictures is not None:
            payload = self._pictures.rewrite_parsed(payload, forwarded.vp8)
        sequence_number, timestamp = rewritten
        data = build_rtp_with_elements(
            payload_type=self._payload_type,
            sequence_number=sequence_number,
            timestamp=timestamp,
            ssrc=self.ssrc,
            marker=packet.marker,
            csrcs=packet.csrcs,
            elements=elements + self._stamps(forwarded.abs_send_time),
            payload=payload,
        )
        await self._transport.send_rtp(data)
        self.packets_sent += 1
        self._send_stats.packet_sent(timestamp, len(payload), now)
        if self._history is not None:
            self._history.add(
                SentPacket(
                    sequence_number=sequence_number,
                    timestamp=timestamp,
                    marker=packet.marker,
                    payload=payload,
                    csrcs=packet.csrcs,
                    extension_elements=elements,
                    sent_at=now,
                )
            )

    def _switch_to(self, layer: int, timestamp: int) -> None:
        """Start sending `layer` with this keyframe, continuing the outgoing numbering."""
        offset = None
        if self.current_layer is not None and self.current_layer != layer:
            self.layer_switches += 1
            offset = self._switch_timestamp_offset(self.current_layer, layer, timestamp)
        self._rewriter.request_sync(timestamp_offset=offset)
        if self._pictures is not None:
            self._pictures.request_sync()
        self.current_layer = layer

    def _switch_timestamp_offset(self, old: int, new: int, timestamp: int) -> int | None:
        # With both layers' sender reports, the new layer's timestamp maps exactly onto the
        # old layer's clock (simulcast layers need not share a timestamp base).
        old_clock = self._producer.sender_clock(old)
        new_clock = self._producer.sender_clock(new)
        old_offset = self._rewriter.timestamp_offset
        if old_clock is None or new_clock is None or old_offset is None:
            return None
        ntp = new_clock.ntp_of(timestamp, self._clock_rate)
        return (old_clock.rtp_timestamp_at(ntp, self._clock_rate) + old_offset - timestamp) & 0xFFFFFFFF

    def _stamps(self, abs_send_time_value: bytes | None = None) -> bytes:
        # Header extension elements written at the moment of sending, first transmission
        # or repair alike.
        stamps = b""
        if self._abs_send_time_prefix:
            if abs_send_time_value is None:
                abs_send_time_value = abs_send_time(self._wall_clock() + NTP_EPOCH_OFFSET)
            stamps = self._abs_send_time_prefix + abs_send_time_value
        if self._transport_cc_id is not None:
            sequence = self._transport.next_transport_sequence_number()
            stamps += one_byte_element(self._transport_cc_id, sequence.to_bytes(2, "big"))
        return stamps

    async def _resend(self, sent: SentPacket) -> None:
        """Send a packet again: as RTX on the repair stream when negotiated, else as it was."""
        elements = sent.extension_elements + self._stamps()
        if self._rtx_payload_type is not None and self.rtx_ssrc is not None:
            data = build_rtp_with_elements(
                payload_type=self._rtx_payload_type,
                sequence_number=self._rtx_sequence_number,
                timestamp=sent.timestamp,
                ssrc=self.rtx_ssrc,
                marker=sent.marker,
                csrcs=sent.csrcs,
                elements=elements,
                payload=sent.sequence_number.to_bytes(2, "big") + sent.payload,
            )
            self._rtx_sequence_number = (self._rtx_sequence_number + 1) & 0xFFFF
        else:
            data = build_rtp_with_elements(
                payload_type=self._payload_type,
                sequence_number=sent.sequence_number,
                timestamp=sent.timestamp,
                ssrc=self.ssrc,
                marker=sent.marker,
                csrcs=sent.csrcs,
                elements=elements,
                payload=sent.payload,
            )
        await self._transport.send_rtp(data)
        self.packets_retransmitted += 1

    # --- reports ---

    def sender_report(self) -> RtcpSenderReport | None:
        """This stream's sender report, None before its first packet. Its NTP/RTP pair is the
        publisher's (from the producer's latest sender report, shifted by this consumer's
        timestamp offset), so a viewer syncs audio and video as the publisher sent them."""
        if self._send_stats.packet_count == 0:
            return None
        mapping = None
        upstream = self._producer.sender_clock(self.layer)
        offset = self._rewriter.timestamp_offset
        if upstream is not None and offset is not None:
            mapping = SenderClock(
                ntp=upstream.ntp,
                rtp_timestamp=(upstream.rtp_timestamp + offset) & 0xFFFFFFFF,
                received_at=upstream.received_at,
            )
        return self._send_stats.sender_report(self._clock(), self._wall_clock(), mapping)

    def receive_report(self, block: ReportBlock) -> None:
        """The viewer's report block about this stream (loss, round trip)."""
        self._send_stats.report_received(block, self._clock())

    @property
    def round_trip_time(self) -> float | None:
        return self._send_stats.round_trip_time

    @property
    def fraction_lost(self) -> float:
        """The share of packets the viewer reported lost in its latest report."""
        return self._send_stats.fraction_lost / 256

    async def receive_rtcp_feedback(self, feedback: RtcpFeedback) -> None:
        """RTCP feedback the peer sent about this consumer's stream."""
        if self._state is ConsumerState.CLOSED:
            return
        if feedback.is_nack:
            self.nacks_received += 1
            if self._history is None or not self._transport.connected:
                return
            now = self._clock()
            for sequence_number in nack_sequence_numbers(feedback.fci):
                sent = self._history.to_resend(sequence_number, now)
                if sent is not None:
                    await self._resend(sent)
        elif feedback.is_keyframe_request:
            if feedback.fmt == PSFB_FIR and self.ssrc not in fir_media_ssrcs(feedback.fci):
                return
            await self._producer.request_keyframe(self.layer)
