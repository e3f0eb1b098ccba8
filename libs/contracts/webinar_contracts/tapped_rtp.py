"""RTP as a media node's tap sends it (plain RTP over UDP, docs/captions.md): the header of
RFC 3550 read into the fields a tap's receiver needs, and the payload; and one stream's
packets put back in sequence order. Shared by the services that receive taps (recording,
transcription); the media node has its own reader, which also parses header extensions
for forwarding."""

import struct
from collections.abc import Iterator
from dataclasses import dataclass, field


class PacketError(ValueError):
    """Not an RTP packet a tap's receiver can read."""


@dataclass(frozen=True, slots=True)
class RtpPacket:
    payload_type: int
    sequence_number: int
    timestamp: int
    ssrc: int
    marker: bool
    payload: bytes


def parse_rtp(data: bytes) -> RtpPacket:
    """The header fields and payload of an RTP packet; PacketError when malformed."""
    if len(data) < 12 or data[0] >> 6 != 2:
        raise PacketError("not an RTP packet")
    first, second, sequence_number, timestamp, ssrc = struct.unpack_from("!BBHII", data)
    offset = 12 + 4 * (first & 0x0F)
    if first & 0x10:
        if len(data) < offset + 4:
            raise PacketError("truncated header extension")
        (length,) = struct.unpack_from("!H", data, offset + 2)
        offset += 4 + 4 * length
    end = len(data)
    if first & 0x20:
        if end <= offset or data[-1] == 0:
            raise PacketError("bad padding")
        end -= data[-1]
    if end < offset:
        raise PacketError("truncated packet")
    return RtpPacket(
        payload_type=second & 0x7F,
        sequence_number=sequence_number,
        timestamp=timestamp,
        ssrc=ssrc,
        marker=bool(second & 0x80),
        payload=data[offset:end],
    )


class Unwrapper:
    """A wrapping counter (16-bit sequence numbers, 32-bit timestamps) as an ever-growing
    number, near the last one seen (so a packet a little late unwraps right too)."""

    def __init__(self, bits: int) -> None:
        self._modulus = 1 << bits
        self._half = 1 << (bits - 1)
        self._last: int | None = None

    def unwrap(self, value: int) -> int:
        if self._last is None:
            self._last = value
            return value
        delta = (value - self._last) % self._modulus
        if delta >= self._half:
            delta -= self._modulus
        extended = self._last + delta
        self._last = max(self._last, extended)
        return extended


@dataclass(frozen=True, slots=True)
class InOrder:
    """A packet given back in sequence order; `gap_before`: packets before it never came."""

    packet: RtpPacket
    timestamp: int  # the RTP timestamp, unwrapped
    gap_before: bool


@dataclass
class PacketOrder:
    """Puts one stream's packets back in sequence order. A packet that comes early waits
    until the ones before it arrive, or until `depth` packets wait (then the missing ones are
    given up as lost); one that comes after its turn passed, or twice, is dropped."""

    depth: int = 32
    received: int = 0
    lost: int = 0
    late: int = 0
    _sequence: Unwrapper = field(default_factory=lambda: Unwrapper(16))
    _timestamps: Unwrapper = field(default_factory=lambda: Unwrapper(32))
    _next: int | None = None
    _waiting: dict[int, RtpPacket] = field(default_factory=dict)

    def push(self, packet: RtpPacket) -> list[InOrder]:
        number = self._sequence.unwrap(packet.sequence_number)
        if self._next is None:
            self._next = number
        if number < self._next or number in self._waiting:
            self.late += 1
            return []
        self.received += 1
        self._waiting[number] = packet
        released = list(self._release(gap=False))
        if len(self._waiting) > self.depth:
            released.extend(self._release(gap=True))
        return released

    def flush(self) -> list[InOrder]:
        """Every packet still waiting, in order (the stream ends)."""
        released: list[InOrder] = []
        while self._waiting:
            released.extend(self._release(gap=True))
        return released

    def _release(self, *, gap: bool) -> Iterator[InOrder]:
        if self._next is None:
            return
        gap_before = False
        if gap and self._next not in self._waiting:
            first = min(self._waiting)
            self.lost += first - self._next
            self._next = first
            gap_before = True
        while self._next in self._waiting:
            packet = self._waiting.pop(self._next)
            self._next += 1
            yield InOrder(packet, self._timestamps.unwrap(packet.timestamp), gap_before)
            gap_before = False
