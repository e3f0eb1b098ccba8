"""Tapped RTP to 16 kHz mono 16-bit PCM: the RTP header read, packets put back in sequence
order, Opus decoded with PyAV (libopus), resampled. A gap in the RTP timestamps (lost
packets, or a sender's DTX silence) becomes that much silence, so the audio's timeline
stays the speaker's."""

import av
import numpy as np

from webinar_contracts.tapped_rtp import PacketError as PacketError
from webinar_contracts.tapped_rtp import PacketOrder
from webinar_contracts.tapped_rtp import RtpPacket as RtpPacket
from webinar_contracts.tapped_rtp import parse_rtp as parse_rtp

SAMPLE_RATE = 16000
BYTES_PER_SAMPLE = 2
MAX_GAP_SECONDS = 2.0  # a longer gap is filled with this much silence: enough to end an utterance
# Packets that may wait for a missing one before it is given up as lost (20 ms each): a
# packet overtaken on the network is decoded in its turn, at the cost of this much delay
# only when one is missing.
REORDER_DEPTH = 5


def _newer(a: int, b: int) -> bool:
    """Sequence number `a` comes after `b` (16-bit, wrapping)."""
    return a != b and (a - b) & 0xFFFF < 0x8000


class OpusDecoder:
    """One tapped Opus stream to 16 kHz mono PCM, packet by packet, in order: a packet older
    than the last one decoded (late or repeated) is dropped."""

    def __init__(self, *, clock_rate: int = 48000, channels: int = 2) -> None:
        self._codec = av.CodecContext.create("libopus", "r")
        self._codec.sample_rate = 48000  # type: ignore[attr-defined]
        self._codec.layout = "stereo" if channels == 2 else "mono"  # type: ignore[attr-defined]
        self._resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
        self._clock_rate = clock_rate
        self._last_sequence: int | None = None
        self._next_timestamp: int | None = None
        self.packets_decoded = 0
        self.packets_dropped = 0

    def decode(self, packet: RtpPacket) -> bytes:
        """The PCM this packet adds (with the silence of any gap before it); b"" for a
        packet that came too late or cannot be decoded."""
        if self._last_sequence is not None and not _newer(packet.sequence_number, self._last_sequence):
            self.packets_dropped += 1
            return b""
        self._last_sequence = packet.sequence_number
        silence = b""
        if self._next_timestamp is not None:
            gap = (packet.timestamp - self._next_timestamp) & 0xFFFFFFFF
            if 0 < gap < 0x80000000:
                seconds = min(gap / self._clock_rate, MAX_GAP_SECONDS)
                silence = bytes(int(seconds * SAMPLE_RATE) * BYTES_PER_SAMPLE)
        try:
            frames = self._codec.decode(av.Packet(packet.payload))  # type: ignore[attr-defined]
        except av.FFmpegError:
            self.packets_dropped += 1
            return silence
        chunks = [silence]
        samples = 0
        for frame in frames:
            samples += frame.samples
            for out in self._resampler.resample(frame):
                chunks.append(np.asarray(out.to_ndarray(), dtype=np.int16).reshape(-1).tobytes())
        # The frame's length at 48 kHz, in RTP clock units, is where the next packet should start.
        self._next_timestamp = (packet.timestamp + samples * self._clock_rate // 48000) & 0xFFFFFFFF
        self.packets_decoded += 1
        return b"".join(chunks)


class TappedOpus:
    """A tapped Opus stream to 16 kHz mono PCM: its packets put back in sequence order (one
    that comes a little late is decoded in its turn, not dropped), then decoded."""

    def __init__(self, *, clock_rate: int = 48000, channels: int = 2, depth: int = REORDER_DEPTH) -> None:
        self.order = PacketOrder(depth=depth)
        self.decoder = OpusDecoder(clock_rate=clock_rate, channels=channels)

    def push(self, packet: RtpPacket) -> bytes:
        """The PCM the packets released by this one add (b"" while it waits for an earlier one)."""
        return b"".join(self.decoder.decode(item.packet) for item in self.order.push(packet))

    def flush(self) -> bytes:
        """The PCM of the packets still waiting (the stream ends)."""
        return b"".join(self.decoder.decode(item.packet) for item in self.order.flush())
