"""Loss repair (generic NACK, RFC 4585; RTX, RFC 4588): which packets a producer asks its
publisher to send again, and the history a consumer answers its viewer's NACKs from.

Pure: the caller passes the time, and sends what these objects decide.
"""

from dataclasses import dataclass

from media.rtp import seq_newer

# Upstream: ask again after this long without the packet, at most this often, and give
# up (asking for a keyframe instead) when a packet is this old.
NACK_RETRY_INTERVAL = 0.03
NACK_MAX_RETRIES = 10
NACK_MAX_AGE = 1.0
# A gap this large is a restart or a long outage: NACKing it would flood the publisher.
NACK_MAX_MISSING = 500

# Downstream: how many sent packets a consumer keeps, how long a packet stays worth
# sending again, and how soon the same packet may be sent again.
HISTORY_SIZE = 1024  # a power of two; about 5 s of 720p video
HISTORY_MAX_AGE = 1.0
RESEND_MIN_INTERVAL = 0.02


@dataclass(slots=True)
class _Missing:
    first_missed_at: float
    last_nacked_at: float = -1e9
    nacks: int = 0


@dataclass(frozen=True, slots=True)
class NackDecision:
    """What one arriving packet tells the producer to do."""

    nack: list[int]  # sequence numbers to NACK now, oldest first
    new: bool  # first time seen (a repair fills a hole): forward it; a duplicate is not
    keyframe_needed: bool  # a loss could not be repaired: only a keyframe recovers


class NackGenerator:
    """Tracks one incoming stream's sequence numbers and decides which lost packets to NACK."""

    def __init__(
        self,
        *,
        retry_interval: float = NACK_RETRY_INTERVAL,
        max_retries: int = NACK_MAX_RETRIES,
        max_age: float = NACK_MAX_AGE,
        max_missing: int = NACK_MAX_MISSING,
    ) -> None:
        self._retry_interval = retry_interval
        self._max_retries = max_retries
        self._max_age = max_age
        self._max_missing = max_missing
        self._highest: int | None = None
        self._missing: dict[int, _Missing] = {}

    @property
    def missing(self) -> list[int]:
        return list(self._missing)

    def packet_received(self, sequence_number: int, now: float) -> NackDecision:
        """Record one packet (first transmission or repair) and say what to NACK."""
        keyframe_needed = False
        if self._highest is None:
            self._highest = sequence_number
            return NackDecision([], new=True, keyframe_needed=False)
        if seq_newer(sequence_number, self._highest):
            gap = ((sequence_number - self._highest) & 0xFFFF) - 1
            if gap > self._max_missing or len(self._missing) + gap > self._max_missing:
                self._missing.clear()
                keyframe_needed = True
            else:
                for step in range(1, gap + 1):
                    self._missing[(self._highest + step) & 0xFFFF] = _Missing(now)
            self._highest = sequence_number
            new = True
        else:
            new = self._missing.pop(sequence_number, None) is not None
        nack = []
        for missing_sequence, missing in list(self._missing.items()):
            if now - missing.first_missed_at > self._max_age or missing.nacks >= self._max_retries:
                del self._missing[missing_sequence]
                keyframe_needed = True
            elif now - missing.last_nacked_at >= self._retry_interval:
                missing.last_nacked_at = now
                missing.nacks += 1
                nack.append(missing_sequence)
        return NackDecision(nack, new=new, keyframe_needed=keyframe_needed)


@dataclass(slots=True, kw_only=True)
class SentPacket:
    """A packet as a consumer sent it, minus what is stamped at sending (abs-send-time,
    transport-wide sequence number)."""

    sequence_number: int
    timestamp: int
    marker: bool
    payload: bytes
    csrcs: tuple[int, ...] = ()
    extension_elements: bytes = b""  # one-byte header extension elements, the consumer's ids
    sent_at: float
    resent_at: float = -1e9


class RetransmissionHistory:
    """The last packets a consumer sent, by outgoing sequence number."""

    def __init__(
        self,
        *,
        size: int = HISTORY_SIZE,
        max_age: float = HISTORY_MAX_AGE,
        min_resend_interval: float = RESEND_MIN_INTERVAL,
    ) -> None:
        if size <= 0 or size & (size - 1):
            raise ValueError("history size must be a power of two")
        self._slots: list[SentPacket | None] = [None] * size
        self._mask = size - 1
        self._max_age = max_age
        self._min_resend_interval = min_resend_interval

    def add(self, packet: SentPacket) -> None:
        self._slots[packet.sequence_number & self._mask] = packet

    def to_resend(self, sequence_number: int, now: float) -> SentPacket | None:
        """The packet to send again for a NACK of `sequence_number`, or None when it is not
        kept, too old to help, or was sent again a moment ago."""
        packet = self._slots[sequence_number & self._mask]
        if packet is None or packet.sequence_number != sequence_number:
            return None
        if now - packet.sent_at > self._max_age or now - packet.resent_at < self._min_resend_interval:
            return None
        packet.resent_at = now
        return packet
