"""How much a viewer can receive, and how much a stream carries.

A viewer's browser tells the SFU two things about the link towards it: REMB, its own
delay-based estimate (goog-remb, from the abs-send-time the SFU stamps), and the loss in
its receiver reports. The estimate is the lower of what the two say:

- REMB below what is being sent means the link is the limit: the estimate is REMB.
  REMB at or above it says only that nothing is congested (a browser's estimate never
  grows much past what it receives), so the estimate grows from there by
  `PROBE_GROWTH` a second, which lets consumers step up a layer now and then and find
  out: if the link cannot carry it, REMB falls and they step back down.
- Loss, in the manner of Google congestion control: more than 10% lost cuts the rate by
  half the loss, less than 2% lets it grow by 8% a report.

Pure: callers pass the time.
"""

from collections import deque

LOSS_HIGH = 0.10
LOSS_LOW = 0.02
LOSS_GROWTH = 1.08
MIN_BITRATE = 30_000.0
MAX_BITRATE = 100_000_000.0  # past this, loss no longer limits anything

# A REMB older than this no longer bounds the estimate (the browser stopped sending it).
REMB_MAX_AGE = 5.0
# REMB under this share of the sending rate: the viewer's link is congested.
REMB_CONGESTED = 0.85
PROBE_GROWTH = 1.15  # per second, while REMB shows no congestion


class BitrateMeter:
    """Bits per second over a sliding window, kept in small buckets."""

    def __init__(self, *, window: float = 1.0, buckets: int = 10) -> None:
        self._window = window
        self._bucket_span = window / buckets
        self._buckets: deque[tuple[int, int]] = deque()  # (bucket index, bytes)
        self.last_at: float | None = None

    def add(self, size: int, now: float) -> None:
        index = int(now / self._bucket_span)
        if self._buckets and self._buckets[-1][0] == index:
            self._buckets[-1] = (index, self._buckets[-1][1] + size)
        else:
            self._buckets.append((index, size))
            oldest = index - int(self._window / self._bucket_span)
            while self._buckets and self._buckets[0][0] <= oldest:
                self._buckets.popleft()
        self.last_at = now

    def bitrate(self, now: float) -> float:
        oldest = int(now / self._bucket_span) - int(self._window / self._bucket_span)
        total = sum(size for index, size in self._buckets if index > oldest)
        return total * 8 / self._window

    def active(self, now: float, *, within: float = 1.0) -> bool:
        """Whether anything was counted in the last `within` seconds."""
        return self.last_at is not None and now - self.last_at <= within


class BandwidthEstimator:
    """One viewer's available bandwidth, in bits per second; None while nothing limits it."""

    def __init__(self, *, min_bitrate: float = MIN_BITRATE) -> None:
        self._min_bitrate = min_bitrate
        self._remb: float | None = None  # the REMB-based estimate, probing included
        self._remb_at = 0.0
        self._probing = False
        self._loss_based: float | None = None
        self.last_remb: float | None = None
        self.last_loss = 0.0

    def remb_received(self, bitrate: float, sending_bitrate: float, now: float) -> None:
        """A REMB from the viewer, while this transport sends `sending_bitrate` to it."""
        self.last_remb = bitrate
        if bitrate < REMB_CONGESTED * sending_bitrate:
            self._remb = max(bitrate, self._min_bitrate)
            self._probing = False
        else:
            floor = max(bitrate, sending_bitrate, self._min_bitrate)
            if self._probing and self._remb is not None:
                grown = self._remb * PROBE_GROWTH ** max(0.0, now - self._remb_at)
                self._remb = max(floor, grown)
            else:
                self._remb = floor
            self._probing = True
        self._remb_at = now

    def loss_reported(self, fraction_lost: float, sending_bitrate: float, now: float) -> None:
        """A receiver report's loss over the interval in which `sending_bitrate` was sent."""
        self.last_loss = fraction_lost
        if fraction_lost > LOSS_HIGH:
            # Cut from what was really sent when that is lower than the estimate: the link
            # is lossy at the current rate, whatever was estimated before.
            base = sending_bitrate if self._loss_based is None else min(self._loss_based, max(sending_bitrate, 1.0))
            self._loss_based = max(self._min_bitrate, base * (1 - 0.5 * fraction_lost))
        elif fraction_lost < LOSS_LOW and self._loss_based is not None:
            grown = self._loss_based * LOSS_GROWTH
            remb = self._current_remb(now)
            if (remb is not None and grown >= remb) or grown >= MAX_BITRATE:
                self._loss_based = None  # REMB bounds it again; loss no longer does
            else:
                self._loss_based = grown

    def _current_remb(self, now: float) -> float | None:
        if self._remb is None or now - self._remb_at > REMB_MAX_AGE:
            return None
        return self._remb

    def estimate(self, now: float) -> float | None:
        limits = [b for b in (self._current_remb(now), self._loss_based) if b is not None]
        return min(limits) if limits else None
