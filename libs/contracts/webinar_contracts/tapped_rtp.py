"""RTP as a media node's tap sends it (plain RTP over UDP, docs/captions.md): the header of
RFC 3550 read into the fields a tap's receiver needs, and the payload. Shared by the
services that receive taps (recording, transcription); the media node has its own reader,
which also parses header extensions for forwarding."""

import struct
from dataclasses import dataclass


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
