"""Taps: one producer's RTP, as received, sent as plain RTP over UDP to a host and port.

A tap is how a process outside the SFU gets a track without being a WebRTC peer: a
caption worker (the transcription service) or a server-side recorder asks the node that
holds the room for one, gets back what it needs to read the stream (kind, codec, payload
type, clock rate, channels, SSRC), and receives packets on its UDP port until it stops
the tap, the producer closes, or (when it asked for a lease) it stops renewing it. A tap
never decodes and never touches what the producer's consumers get; of a simulcast video
it sends the highest layer, asking the publisher for a keyframe when it starts.

Each packet goes out with the router's payload type and the tap's own SSRC; sequence
numbers and timestamps are the publisher's, header extensions are left out.
"""

import asyncio
import logging
import random
import secrets
from collections.abc import Callable
from enum import StrEnum

from media.producer import ForwardedPacket, Producer
from media.rtp import build_rtp
from webinar_contracts import InvalidInput, NotFound
from webinar_contracts.media import TapStarted

logger = logging.getLogger(__name__)

MAX_LEASE_SECONDS = 300.0


class TapEnd(StrEnum):
    """Why a tap stopped."""

    STOPPED = "stopped"  # its receiver asked
    LEASE_EXPIRED = "lease expired"  # its receiver stopped renewing it (it went away)
    PRODUCER_CLOSED = "producer closed"
    NODE_CLOSED = "node closed"


def tap_layer(producer: Producer) -> int:
    """The layer a tap sends: the highest one being sent now, else the highest one."""
    sending = [index for index, bitrate in enumerate(producer.layer_bitrates()) if bitrate is not None]
    return max(sending) if sending else len(producer.streams) - 1


class RtpTap:
    """One producer's packets to one UDP address. Created open by `open()`; `stop()` is idempotent."""

    def __init__(
        self,
        *,
        producer: Producer,
        transport: asyncio.DatagramTransport,
        owner: str,
        layer: int,
        lease_seconds: float,
        on_end: Callable[["RtpTap", TapEnd], None],
    ) -> None:
        self.id = secrets.token_hex(8)
        self.owner = owner  # the tenant and room it belongs to, for logs and lookups
        self.producer = producer
        self.layer = layer
        self.ssrc = random.getrandbits(32)
        codec = producer.consumable_rtp_parameters.codecs[0]
        self.payload_type = codec.payload_type
        self.mime_type = codec.mime_type
        self.clock_rate = codec.clock_rate
        self.channels = codec.channels if isinstance(codec.channels, int) else 1
        self.parameters = dict(codec.parameters)
        self.lease_seconds = lease_seconds
        self.packets_sent = 0
        self.ended: TapEnd | None = None
        self._transport = transport
        self._on_end = on_end
        self._lease_timer: asyncio.TimerHandle | None = None
        self._done = asyncio.Event()
        self.renew()

    @classmethod
    async def open(
        cls,
        producer: Producer,
        *,
        host: str,
        port: int,
        owner: str,
        lease_seconds: float = 0.0,
        on_end: Callable[["RtpTap", TapEnd], None] = lambda tap, end: None,
    ) -> "RtpTap":
        """Start sending `producer`'s packets to `host:port`."""
        if not 1 <= port <= 65535:
            raise InvalidInput("port must be from 1 to 65535", field="port")
        if not 0 <= lease_seconds <= MAX_LEASE_SECONDS:
            raise InvalidInput(f"lease_seconds must be from 0 to {MAX_LEASE_SECONDS:g}", field="lease_seconds")
        if producer.closed:
            raise NotFound(f"producer {producer.id} has closed", field="producer_id")
        loop = asyncio.get_running_loop()
        try:
            transport, _ = await loop.create_datagram_endpoint(asyncio.DatagramProtocol, remote_addr=(host, port))
        except (OSError, UnicodeError) as error:
            raise InvalidInput(f"cannot send to {host}:{port}: {error}", field="host") from None
        tap = cls(
            producer=producer,
            transport=transport,
            owner=owner,
            layer=tap_layer(producer),
            lease_seconds=lease_seconds,
            on_end=on_end,
        )
        producer.add_tap(tap)  # a producer that closed meanwhile ends the tap at once
        if producer.kind == "video" and tap.ended is None:
            await producer.request_keyframe(tap.layer)
        logger.info(
            "tap %s: producer %s (%s) to %s:%d%s",
            tap.id,
            producer.id,
            producer.kind,
            host,
            port,
            f", lease {lease_seconds:g}s" if lease_seconds else "",
        )
        return tap

    def describe(self) -> TapStarted:
        """What a receiver needs to read the stream."""
        return TapStarted(
            tap_id=self.id,
            producer_id=self.producer.id,
            kind=self.producer.kind,
            mime_type=self.mime_type,
            payload_type=self.payload_type,
            clock_rate=self.clock_rate,
            channels=self.channels,
            ssrc=self.ssrc,
            parameters=self.parameters,
            lease_seconds=self.lease_seconds,
        )

    # --- the producer's side ---

    def forward(self, packet: ForwardedPacket) -> None:
        if self.ended is not None or packet.layer != self.layer or packet.payload_type != self.payload_type:
            return
        source = packet.packet
        data = build_rtp(
            payload_type=self.payload_type,
            sequence_number=source.sequence_number,
            timestamp=source.timestamp,
            ssrc=self.ssrc,
            payload=source.payload,
            marker=source.marker,
        )
        try:
            self._transport.sendto(data)
        except OSError:  # the receiver's port is closed (ICMP): it renews or its lease ends
            return
        self.packets_sent += 1

    def producer_closed(self) -> None:
        self._end(TapEnd.PRODUCER_CLOSED)

    # --- the receiver's side ---

    def renew(self) -> None:
        """The receiver is still there: the lease runs for `lease_seconds` from now."""
        if self.ended is not None or not self.lease_seconds:
            return
        if self._lease_timer is not None:
            self._lease_timer.cancel()
        loop = asyncio.get_running_loop()
        self._lease_timer = loop.call_later(self.lease_seconds, self._end, TapEnd.LEASE_EXPIRED)

    async def request_keyframe(self) -> None:
        """The receiver misses a picture: ask the publisher for a keyframe of the tapped layer."""
        if self.ended is None and self.producer.kind == "video":
            await self.producer.request_keyframe(self.layer)

    def stop(self, end: TapEnd = TapEnd.STOPPED) -> None:
        self._end(end)

    async def wait_ended(self) -> TapEnd:
        await self._done.wait()
        return self.ended or TapEnd.STOPPED

    def _end(self, end: TapEnd) -> None:
        if self.ended is not None:
            return
        self.ended = end
        if self._lease_timer is not None:
            self._lease_timer.cancel()
            self._lease_timer = None
        self.producer.remove_tap(self.id)
        self._transport.close()
        self._done.set()
        logger.info("tap %s ended (%s) after %d packets", self.id, end, self.packets_sent)
        try:
            self._on_end(self, end)
        except Exception:
            logger.exception("tap %s: its end listener failed", self.id)


class TapSet:
    """The taps of one node, by id."""

    def __init__(self) -> None:
        self._taps: dict[str, RtpTap] = {}

    def __len__(self) -> int:
        return len(self._taps)

    async def start(
        self, producer: Producer, *, host: str, port: int, owner: str, lease_seconds: float = 0.0
    ) -> RtpTap:
        tap = await RtpTap.open(
            producer, host=host, port=port, owner=owner, lease_seconds=lease_seconds, on_end=self._ended
        )
        if tap.ended is None:
            self._taps[tap.id] = tap
        return tap

    def get(self, tap_id: str, *, owner: str) -> RtpTap:
        tap = self._taps.get(tap_id)
        if tap is None or tap.owner != owner:
            raise NotFound(f"no tap {tap_id} in this room", field="tap_id")
        return tap

    def find(self, tap_id: str) -> RtpTap | None:
        return self._taps.get(tap_id)

    def _ended(self, tap: RtpTap, end: TapEnd) -> None:
        if self._taps.get(tap.id) is tap:
            del self._taps[tap.id]

    def close(self) -> None:
        for tap in list(self._taps.values()):
            tap.stop(TapEnd.NODE_CLOSED)
