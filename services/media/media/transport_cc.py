"""Transport-wide congestion control feedback (draft-holmer-rmcat-transport-wide-cc-extensions-01).

A publisher that negotiated the transport-wide-cc header extension numbers every packet
it sends on a transport and runs its congestion controller (Chrome's send-side
estimator) on the arrival times the receiver reports back. This module records those
arrivals and writes the feedback (RTPFB, FMT 15). Pure: callers pass the time.
"""

import struct
from dataclasses import dataclass

from media.rtp import RTCP_RTPFB, RTPFB_TRANSPORT_CC, PacketError, RtcpFeedback

NOT_RECEIVED = 0
SMALL_DELTA = 1  # received, delta of 0..255 ticks in one byte
LARGE_DELTA = 2  # received, signed delta in two bytes

TICK = 0.00025  # seconds per delta unit (250 us)
REFERENCE_TICK = 0.064  # seconds per reference time unit

_RUN_LENGTH_MAX = 0x1FFF
_ONE_BIT_CAPACITY = 14
_TWO_BIT_CAPACITY = 7
# Statuses in one feedback message, so that it stays well inside one datagram.
MAX_STATUSES_PER_FEEDBACK = 500
# A hole longer than this in the numbering is an outage, not loss worth reporting.
MAX_REPORTED_GAP = 1000


def _encode_chunks(symbols: list[int]) -> bytes:
    """Packet status chunks for `symbols`: run-length chunks for long runs, status
    vectors (one-bit while no large delta is among them, else two-bit) otherwise."""
    chunks: list[int] = []
    pending: list[int] = []

    def can_add(symbol: int) -> bool:
        if len(pending) < _TWO_BIT_CAPACITY:
            return True
        has_large = LARGE_DELTA in pending or symbol == LARGE_DELTA
        if len(pending) < _ONE_BIT_CAPACITY and not has_large:
            return True
        all_same = all(s == symbol for s in pending)
        return all_same and len(pending) < _RUN_LENGTH_MAX

    def emit() -> None:
        # Called when the next symbol does not fit: write what can be written, keep the rest.
        nonlocal pending
        if all(s == pending[0] for s in pending):
            chunks.append(_run_length(pending[0], len(pending)))
            pending = []
        elif len(pending) == _ONE_BIT_CAPACITY and LARGE_DELTA not in pending:
            chunks.append(_one_bit_vector(pending))
            pending = []
        else:
            chunks.append(_two_bit_vector(pending[:_TWO_BIT_CAPACITY]))
            pending = pending[_TWO_BIT_CAPACITY:]

    for symbol in symbols:
        while not can_add(symbol):
            emit()
        pending.append(symbol)
    while pending:
        if all(s == pending[0] for s in pending):
            chunks.append(_run_length(pending[0], len(pending)))
            pending = []
        elif len(pending) <= _TWO_BIT_CAPACITY:
            chunks.append(_two_bit_vector(pending))
            pending = []
        elif LARGE_DELTA not in pending and len(pending) <= _ONE_BIT_CAPACITY:
            chunks.append(_one_bit_vector(pending))
            pending = []
        else:
            chunks.append(_two_bit_vector(pending[:_TWO_BIT_CAPACITY]))
            pending = pending[_TWO_BIT_CAPACITY:]
    return struct.pack(f"!{len(chunks)}H", *chunks)


def _run_length(symbol: int, length: int) -> int:
    return (symbol << 13) | length


def _one_bit_vector(symbols: list[int]) -> int:
    chunk = 0x8000
    for index, symbol in enumerate(symbols):
        chunk |= symbol << (13 - index)
    return chunk


def _two_bit_vector(symbols: list[int]) -> int:
    chunk = 0xC000
    for index, symbol in enumerate(symbols):
        chunk |= symbol << (12 - 2 * index)
    return chunk


@dataclass(frozen=True, slots=True, kw_only=True)
class TransportFeedback:
    """One feedback message's content: for each sequence number from the base, the
    arrival time in ticks after `reference_time` (64 ms units), or None when lost."""

    base_sequence_number: int
    reference_time: int
    feedback_count: int
    arrivals: list[int | None]


def build_transport_cc_fci(feedback: TransportFeedback) -> bytes:
    """The FCI of a transport-cc feedback message, without padding."""
    symbols = []
    deltas = []
    previous = 0
    for arrival in feedback.arrivals:
        if arrival is None:
            symbols.append(NOT_RECEIVED)
            continue
        delta = arrival - previous
        previous = arrival
        if 0 <= delta <= 0xFF:
            symbols.append(SMALL_DELTA)
            deltas.append(bytes((delta,)))
        elif -0x8000 <= delta <= 0x7FFF:
            symbols.append(LARGE_DELTA)
            deltas.append(struct.pack("!h", delta))
        else:
            raise PacketError(f"receive delta of {delta} ticks does not fit a transport-cc feedback")
    header = struct.pack(
        "!HHI",
        feedback.base_sequence_number & 0xFFFF,
        len(feedback.arrivals),
        ((feedback.reference_time & 0xFFFFFF) << 8) | (feedback.feedback_count & 0xFF),
    )
    return header + _encode_chunks(symbols) + b"".join(deltas)


def parse_transport_cc_fci(fci: bytes) -> TransportFeedback:
    """Read a transport-cc FCI back (padding after the deltas is ignored)."""
    if len(fci) < 8:
        raise PacketError("transport-cc feedback shorter than its header")
    base, count, reference = struct.unpack_from("!HHI", fci)
    pos = 8
    symbols: list[int] = []
    while len(symbols) < count:
        if pos + 2 > len(fci):
            raise PacketError("transport-cc feedback shorter than its status chunks")
        (chunk,) = struct.unpack_from("!H", fci, pos)
        pos += 2
        if not chunk & 0x8000:
            symbols.extend([(chunk >> 13) & 0x03] * (chunk & _RUN_LENGTH_MAX))
        elif not chunk & 0x4000:
            symbols.extend((chunk >> (13 - i)) & 0x01 for i in range(_ONE_BIT_CAPACITY))
        else:
            symbols.extend((chunk >> (12 - 2 * i)) & 0x03 for i in range(_TWO_BIT_CAPACITY))
    arrivals: list[int | None] = []
    previous = 0
    for symbol in symbols[:count]:
        if symbol == NOT_RECEIVED:
            arrivals.append(None)
            continue
        size = 1 if symbol == SMALL_DELTA else 2
        if pos + size > len(fci):
            raise PacketError("transport-cc feedback shorter than its receive deltas")
        delta = fci[pos] if size == 1 else struct.unpack_from("!h", fci, pos)[0]
        pos += size
        previous += delta
        arrivals.append(previous)
    return TransportFeedback(
        base_sequence_number=base, reference_time=reference >> 8, feedback_count=reference & 0xFF, arrivals=arrivals
    )


def transport_cc_feedback(*, sender_ssrc: int, media_ssrc: int, feedback: TransportFeedback) -> RtcpFeedback:
    """The RTCP message, padded to whole words with the padding bit, as libwebrtc writes it."""
    fci = build_transport_cc_fci(feedback)
    pad = -len(fci) % 4
    return RtcpFeedback(
        packet_type=RTCP_RTPFB,
        fmt=RTPFB_TRANSPORT_CC,
        sender_ssrc=sender_ssrc,
        media_ssrc=media_ssrc,
        fci=fci,
        padding=bytes(pad - 1) + bytes((pad,)) if pad else b"",
    )


class TransportCcRecorder:
    """The arrival times of one transport's numbered packets, until they are reported."""

    def __init__(self) -> None:
        self._arrivals: dict[int, float] = {}  # unwrapped sequence number -> arrival
        self._last: int | None = None
        self._next_base: int | None = None  # the first sequence number not yet reported
        self._feedback_count = 0
        self.media_ssrc = 0

    def packet_arrived(self, sequence_number: int, now: float, media_ssrc: int) -> None:
        if self._last is None:
            unwrapped = sequence_number
        else:
            step = (sequence_number - self._last) & 0xFFFF
            unwrapped = self._last + (step - 0x10000 if step >= 0x8000 else step)
        if self._last is None or unwrapped > self._last:
            self._last = unwrapped
        if self._next_base is not None and unwrapped < self._next_base:
            return  # already reported (as lost): too late to tell
        self._arrivals.setdefault(unwrapped, now)
        self.media_ssrc = media_ssrc

    @property
    def pending(self) -> int:
        return len(self._arrivals)

    def feedback(self) -> list[TransportFeedback]:
        """Feedback for every packet since the last call (and the holes between them)."""
        if not self._arrivals:
            return []
        numbers = sorted(self._arrivals)
        begin = numbers[0] if self._next_base is None else self._next_base
        if numbers[-1] - begin >= MAX_REPORTED_GAP:
            begin = numbers[0]
        parts: list[tuple[int, int, list[int | None]]] = []  # (base, reference, ticks)
        current: list[int | None] = []
        base = begin
        reference: int | None = None
        last_tick = 0
        for number in range(begin, numbers[-1] + 1):
            arrival = self._arrivals.get(number)
            tick = None
            if arrival is not None:
                tick = round(arrival / TICK)
                if reference is not None and not -0x8000 <= tick - last_tick <= 0x7FFF:
                    # Too far from the previous arrival for one message: start another.
                    parts.append((base, reference, current))
                    current, base, reference = [], number, None
                if reference is None:
                    reference = int(arrival / REFERENCE_TICK)
                last_tick = tick
            current.append(tick)
            if len(current) == MAX_STATUSES_PER_FEEDBACK:
                parts.append((base, reference or 0, current))
                current, base, reference = [], number + 1, None
        if current:
            parts.append((base, reference or 0, current))
        self._next_base = numbers[-1] + 1
        self._arrivals.clear()
        return [self._message(*part) for part in parts if any(t is not None for t in part[2])]

    def _message(self, base: int, reference: int, ticks: list[int | None]) -> TransportFeedback:
        origin = round(reference * REFERENCE_TICK / TICK)
        message = TransportFeedback(
            base_sequence_number=base & 0xFFFF,
            reference_time=reference & 0xFFFFFF,
            feedback_count=self._feedback_count,
            arrivals=[None if t is None else t - origin for t in ticks],
        )
        self._feedback_count = (self._feedback_count + 1) & 0xFF
        return message
