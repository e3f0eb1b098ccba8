"""RTCP sender and receiver reports (RFC 3550 6.4): what the SFU counts of each stream it
receives and sends, and the reports built from the counts.

Pure: callers pass the time. `now` is a monotonic clock in seconds; NTP timestamps are
64-bit fixed point (32.32) seconds since 1900.
"""

from dataclasses import dataclass

from media.rtp import ReportBlock, RtcpSenderReport

NTP_EPOCH_OFFSET = 2208988800  # seconds from 1900 (NTP) to 1970 (Unix)

# RFC 3550 A.1: a jump this far ahead is a restart, this far behind is reordering.
MAX_DROPOUT = 3000
MAX_MISORDER = 100


def ntp_timestamp(unix_seconds: float) -> int:
    """The 64-bit NTP timestamp of a Unix time."""
    return round((unix_seconds + NTP_EPOCH_OFFSET) * (1 << 32)) & 0xFFFFFFFFFFFFFFFF


def ntp_seconds(ntp: int) -> float:
    """Seconds since 1900 of a 64-bit NTP timestamp."""
    return ntp / (1 << 32)


def ntp_middle(ntp: int) -> int:
    """The middle 32 bits of an NTP timestamp, as LSR fields carry it."""
    return (ntp >> 16) & 0xFFFFFFFF


@dataclass(frozen=True, slots=True, kw_only=True)
class SenderClock:
    """A sender's mapping between its NTP clock and its RTP timestamps, from its latest
    sender report, and when that report arrived here."""

    ntp: int
    rtp_timestamp: int
    received_at: float

    def rtp_timestamp_at(self, ntp: int, clock_rate: int) -> int:
        """The RTP timestamp this sender would stamp at NTP time `ntp`."""
        elapsed = ntp_seconds(ntp) - ntp_seconds(self.ntp)
        return (self.rtp_timestamp + round(elapsed * clock_rate)) & 0xFFFFFFFF

    def ntp_of(self, rtp_timestamp: int, clock_rate: int) -> int:
        """The NTP time of a packet with this RTP timestamp (within half a wrap of the report)."""
        ticks = (rtp_timestamp - self.rtp_timestamp) & 0xFFFFFFFF
        if ticks >= 1 << 31:
            ticks -= 1 << 32
        return self.ntp + round(ticks / clock_rate * (1 << 32))


class ReceiveStatistics:
    """What one incoming stream's receiver report says: loss, highest sequence number,
    interarrival jitter, and the last sender report's echo."""

    def __init__(self, ssrc: int, clock_rate: int) -> None:
        self.ssrc = ssrc
        self._clock_rate = clock_rate
        self._started = False
        self._base_seq = 0
        self._max_seq = 0
        self._cycles = 0
        self._received = 0
        self._expected_prior = 0
        self._received_prior = 0
        self._jitter = 0.0
        self._last_transit: float | None = None
        self.sender_clock: SenderClock | None = None
        self.bytes_received = 0

    @property
    def packets_received(self) -> int:
        return self._received

    @property
    def extended_highest_sequence(self) -> int:
        return (self._cycles << 16) | self._max_seq

    def packet_received(self, sequence_number: int, timestamp: int, now: float, size: int = 0) -> None:
        self.bytes_received += size
        if not self._started:
            self._started = True
            self._restart(sequence_number)
        else:
            ahead = (sequence_number - self._max_seq) & 0xFFFF
            if 0 < ahead < MAX_DROPOUT:
                if sequence_number < self._max_seq:
                    self._cycles += 1
                self._max_seq = sequence_number
            elif MAX_DROPOUT <= ahead <= 0x10000 - MAX_MISORDER:
                self._restart(sequence_number)  # the sender restarted its numbering
                self._last_transit = None
        self._received += 1
        # Interarrival jitter (A.8), in timestamp units; a repeated timestamp (a frame's
        # later packets) changes nothing but the arrival spread it really has.
        transit = now * self._clock_rate - timestamp
        if self._last_transit is not None:
            difference = transit - self._last_transit
            # The timestamp wraps at 2**32: fold the difference back near zero.
            difference = (difference + (1 << 31)) % (1 << 32) - (1 << 31)
            self._jitter += (abs(difference) - self._jitter) / 16
        self._last_transit = transit

    def _restart(self, sequence_number: int) -> None:
        self._base_seq = sequence_number
        self._max_seq = sequence_number
        self._cycles = 0
        self._received = 0
        self._expected_prior = 0
        self._received_prior = 0

    def sender_report_received(self, ntp: int, rtp_timestamp: int, now: float) -> None:
        self.sender_clock = SenderClock(ntp=ntp, rtp_timestamp=rtp_timestamp, received_at=now)

    def report_block(self, now: float) -> ReportBlock:
        """The report block for this stream; starts a new interval for `fraction_lost`."""
        expected = self.extended_highest_sequence - self._base_seq + 1
        lost = expected - self._received
        expected_interval = expected - self._expected_prior
        received_interval = self._received - self._received_prior
        self._expected_prior = expected
        self._received_prior = self._received
        lost_interval = expected_interval - received_interval
        fraction = 0 if expected_interval <= 0 or lost_interval <= 0 else (lost_interval << 8) // expected_interval
        lsr = dlsr = 0
        if self.sender_clock is not None:
            lsr = ntp_middle(self.sender_clock.ntp)
            dlsr = min(0xFFFFFFFF, round((now - self.sender_clock.received_at) * 65536))
        return ReportBlock(
            ssrc=self.ssrc,
            fraction_lost=min(fraction, 255),
            packets_lost=max(-0x800000, min(0x7FFFFF, lost)),
            highest_sequence=self.extended_highest_sequence & 0xFFFFFFFF,
            jitter=int(self._jitter),
            lsr=lsr,
            dlsr=dlsr,
        )


class SendStatistics:
    """What one outgoing stream's sender reports say, and the round-trip time its
    receiver's reports reveal."""

    def __init__(self, ssrc: int, clock_rate: int) -> None:
        self.ssrc = ssrc
        self._clock_rate = clock_rate
        self.packet_count = 0
        self.octet_count = 0
        self._last_timestamp = 0
        self._last_sent_at = 0.0
        self._last_report: tuple[int, float] | None = None  # (LSR value, when sent)
        self.round_trip_time: float | None = None
        self.fraction_lost = 0  # from the receiver's latest report, /256

    def packet_sent(self, timestamp: int, payload_size: int, now: float) -> None:
        self.packet_count = (self.packet_count + 1) & 0xFFFFFFFF
        self.octet_count = (self.octet_count + payload_size) & 0xFFFFFFFF
        if self.packet_count == 1 or (timestamp - self._last_timestamp) & 0xFFFFFFFF < 1 << 31:
            self._last_timestamp = timestamp
            self._last_sent_at = now

    def sender_report(self, now: float, wall_clock: float, mapping: SenderClock | None = None) -> RtcpSenderReport:
        """A sender report for this stream. With `mapping` (the upstream sender's clock,
        already shifted into this stream's timestamps) its NTP/RTP pair follows the
        publisher's, so that a viewer lines up audio and video as the publisher did;
        without, it follows this server's wall clock and the last packet sent."""
        if mapping is not None:
            ntp = mapping.ntp + round((now - mapping.received_at) * (1 << 32))
            rtp_timestamp = mapping.rtp_timestamp_at(ntp, self._clock_rate)
        else:
            ntp = ntp_timestamp(wall_clock)
            rtp_timestamp = (self._last_timestamp + round((now - self._last_sent_at) * self._clock_rate)) & 0xFFFFFFFF
        ntp &= 0xFFFFFFFFFFFFFFFF
        self._last_report = (ntp_middle(ntp), now)
        return RtcpSenderReport(
            ssrc=self.ssrc,
            ntp_timestamp=ntp,
            rtp_timestamp=rtp_timestamp,
            packet_count=self.packet_count,
            octet_count=self.octet_count,
        )

    def report_received(self, block: ReportBlock, now: float) -> None:
        """The receiver's report block about this stream: loss, and the round trip when it
        echoes our last sender report."""
        self.fraction_lost = block.fraction_lost
        if self._last_report is not None and block.lsr and block.lsr == self._last_report[0]:
            rtt = now - self._last_report[1] - block.dlsr / 65536
            if rtt >= 0:
                self.round_trip_time = (
                    rtt if self.round_trip_time is None else 0.875 * self.round_trip_time + 0.125 * rtt
                )
