"""Sequence number, timestamp and VP8 picture numbering rewriting for one outgoing stream.

A consumer sends one continuous stream whatever happens upstream: it starts late, is
paused and resumed, switches simulcast layers. At each such point (a "sync") the
offsets are chosen so that the next packet follows the last one sent; SRTP refuses a
sequence number that jumps back past its replay window, and a VP8 decoder that sees
its PictureID or TL0PICIDX jump takes frames for lost. Pure: the caller passes the time.
"""

from typing import NamedTuple

from media.codecs import Vp8Descriptor, parse_vp8_descriptor
from media.rtp import seq_newer


class Rewritten(NamedTuple):
    sequence_number: int
    timestamp: int


class StreamRewriter:
    def __init__(self, clock_rate: int) -> None:
        self._clock_rate = clock_rate
        self._seq_offset = 0
        self._ts_offset = 0
        self._synced = False
        self._sync_seq = 0  # the incoming sequence number the current offsets start at
        self._last_seq: int | None = None  # highest outgoing sequence number sent
        self._last_ts = 0
        self._last_sent_at = 0.0
        self.resync_pending = True
        self._pending_timestamp_offset: int | None = None

    def request_sync(self, *, timestamp_offset: int | None = None) -> None:
        """Re-anchor on the next packet passed to `rewrite` (a resume, a layer switch).
        `timestamp_offset`, when the caller knows how the new source's clock relates to
        the old one (from sender reports), keeps timestamps exact; otherwise they advance
        by the time elapsed."""
        self.resync_pending = True
        self._pending_timestamp_offset = timestamp_offset

    def rewrite(self, sequence_number: int, timestamp: int, now: float) -> Rewritten | None:
        """The outgoing numbers for an incoming packet, or None for a packet from before
        the current sync point (a late retransmission or reordering)."""
        if self.resync_pending:
            self._sync(sequence_number, timestamp, now)
        elif sequence_number != self._sync_seq and not seq_newer(sequence_number, self._sync_seq):
            return None
        out_seq = (sequence_number + self._seq_offset) & 0xFFFF
        out_ts = (timestamp + self._ts_offset) & 0xFFFFFFFF
        if self._last_seq is None or seq_newer(out_seq, self._last_seq):
            self._last_seq = out_seq
            self._last_ts = out_ts
            self._last_sent_at = now
        return Rewritten(out_seq, out_ts)

    def _sync(self, sequence_number: int, timestamp: int, now: float) -> None:
        self.resync_pending = False
        self._sync_seq = sequence_number
        if self._last_seq is None:
            # First packet ever: keep the producer's numbering.
            self._seq_offset = 0
            self._ts_offset = 0
            return
        self._seq_offset = (self._last_seq + 1 - sequence_number) & 0xFFFF
        offset = self._pending_timestamp_offset
        self._pending_timestamp_offset = None
        if offset is not None and 0 < (timestamp + offset - self._last_ts) & 0xFFFFFFFF < 1 << 31:
            self._ts_offset = offset & 0xFFFFFFFF
            return
        elapsed = max(1, round((now - self._last_sent_at) * self._clock_rate))
        self._ts_offset = (self._last_ts + elapsed - timestamp) & 0xFFFFFFFF

    @property
    def last_sequence_number(self) -> int | None:
        return self._last_seq

    @property
    def timestamp_offset(self) -> int | None:
        """What is added to incoming timestamps since the last sync; None before the first."""
        return None if self._last_seq is None else self._ts_offset


class Vp8PictureRewriter:
    """Keeps a VP8 stream's PictureID and TL0PICIDX continuous across syncs, writing them
    into a copy of the payload when an offset applies."""

    def __init__(self) -> None:
        self._picture_offset = 0
        self._tl0_offset = 0
        self._last_picture_id: int | None = None  # highest sent, 15-bit space
        self._last_tl0: int | None = None
        self._sync_pending = True

    def request_sync(self) -> None:
        self._sync_pending = True

    def rewrite(self, payload: bytes) -> bytes:
        return self.rewrite_parsed(payload, parse_vp8_descriptor(payload))

    def rewrite_parsed(self, payload: bytes, descriptor: Vp8Descriptor | None) -> bytes:
        """`rewrite` with the payload's descriptor already parsed (once for all consumers)."""
        if descriptor is None or descriptor.picture_id is None:
            return payload
        modulus = 0x8000 if descriptor.picture_id_bytes == 2 else 0x80
        if self._sync_pending:
            self._sync_pending = False
            if self._last_picture_id is not None:
                self._picture_offset = (self._last_picture_id + 1 - descriptor.picture_id) % 0x8000
            if self._last_tl0 is not None and descriptor.tl0_pic_idx is not None:
                self._tl0_offset = (self._last_tl0 + 1 - descriptor.tl0_pic_idx) & 0xFF
        picture_id = (descriptor.picture_id + self._picture_offset) % modulus
        if self._last_picture_id is None or 0 < (picture_id - self._last_picture_id) % modulus < modulus // 2:
            self._last_picture_id = picture_id
        tl0 = None
        if descriptor.tl0_pic_idx is not None:
            tl0 = (descriptor.tl0_pic_idx + self._tl0_offset) & 0xFF
            if self._last_tl0 is None or 0 < (tl0 - self._last_tl0) & 0xFF < 0x80:
                self._last_tl0 = tl0
        if picture_id == descriptor.picture_id and tl0 == descriptor.tl0_pic_idx:
            return payload
        data = bytearray(payload)
        if descriptor.picture_id_bytes == 2:
            data[2] = 0x80 | (picture_id >> 8)
            data[3] = picture_id & 0xFF
        else:
            data[2] = picture_id
        if tl0 is not None:
            data[2 + descriptor.picture_id_bytes] = tl0
        return bytes(data)
