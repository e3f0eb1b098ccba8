"""Tapped RTP back into the frames the publisher encoded, with no decoding: the RTP header
read (RFC 3550), packets put back in sequence order, and each codec's payload format undone
(VP8: RFC 7741; H.264: RFC 6184, single NAL units, STAP-A and FU-A; Opus: RFC 7587, one
frame per packet). A frame that lost a packet is dropped whole, and a video track then
waits for its next keyframe, so that what is written always decodes.

Everything here is synchronous and free of I/O: the recorder feeds it datagrams.
"""

import struct
from abc import ABC, abstractmethod
from dataclasses import dataclass

from webinar_contracts.tapped_rtp import InOrder as InOrder
from webinar_contracts.tapped_rtp import PacketError as PacketError
from webinar_contracts.tapped_rtp import PacketOrder as PacketOrder
from webinar_contracts.tapped_rtp import RtpPacket as RtpPacket
from webinar_contracts.tapped_rtp import Unwrapper as Unwrapper
from webinar_contracts.tapped_rtp import parse_rtp as parse_rtp

H264_START_CODE = b"\x00\x00\x00\x01"
H264_IDR, H264_SPS, H264_PPS, H264_STAP_A, H264_FU_A = 5, 7, 8, 24, 28
VP8_START_CODE = b"\x9d\x01\x2a"


@dataclass(frozen=True, slots=True)
class Frame:
    """One encoded frame as the publisher made it; `timestamp` is the unwrapped RTP timestamp."""

    timestamp: int
    data: bytes
    keyframe: bool
    width: int = 0  # of a VP8 keyframe, from its header
    height: int = 0


class Depacketizer(ABC):
    """One codec's payload format undone: in-order packets in, whole frames out."""

    @abstractmethod
    def push(self, item: InOrder) -> list[Frame]: ...

    def flush(self) -> list[Frame]:
        return []


class OpusDepacketizer(Depacketizer):
    """RFC 7587: each payload is one Opus packet (several 20 ms frames at most, one TOC)."""

    def push(self, item: InOrder) -> list[Frame]:
        if not item.packet.payload:
            return []
        return [Frame(timestamp=item.timestamp, data=item.packet.payload, keyframe=True)]


def vp8_descriptor_size(payload: bytes) -> tuple[int, bool]:
    """The VP8 payload descriptor's length and whether the packet begins a frame (S set on
    partition 0); PacketError when the payload is too short for its descriptor."""
    if not payload:
        raise PacketError("empty VP8 payload")
    first = payload[0]
    size = 1
    if first & 0x80:
        if len(payload) < 2:
            raise PacketError("truncated VP8 descriptor")
        extension = payload[1]
        size = 2
        if extension & 0x80:  # I: PictureID, 7 or 15 bits
            if len(payload) <= size:
                raise PacketError("truncated VP8 descriptor")
            size += 2 if payload[size] & 0x80 else 1
        if extension & 0x40:  # L: TL0PICIDX
            size += 1
        if extension & 0x30:  # T or K: TID/Y/KEYIDX
            size += 1
    if len(payload) <= size:
        raise PacketError("VP8 payload without data")
    return size, bool(first & 0x10) and first & 0x0F == 0


def vp8_keyframe_size(frame: bytes) -> tuple[int, int] | None:
    """The picture size a VP8 keyframe declares (RFC 6386, 9.1), or None if it is not one."""
    if len(frame) < 10 or frame[0] & 0x01 or frame[3:6] != VP8_START_CODE:
        return None
    width, height = struct.unpack_from("<HH", frame, 6)
    return width & 0x3FFF, height & 0x3FFF


class Vp8Depacketizer(Depacketizer):
    """RFC 7741: a frame begins with S=1 on partition 0 and ends with the marker bit (or
    when the next frame begins); a frame with a gap in it is dropped."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self._timestamp: int | None = None
        self._broken = False

    def push(self, item: InOrder) -> list[Frame]:
        frames: list[Frame] = []
        try:
            size, begins = vp8_descriptor_size(item.packet.payload)
        except PacketError:
            self._broken = True
            return frames
        if begins or (self._timestamp is not None and item.timestamp != self._timestamp):
            self._finish(complete=False)  # its marker never came: it may miss its end
            self._parts, self._timestamp, self._broken = [], item.timestamp, not begins
        elif item.gap_before:
            self._broken = True
        if self._timestamp is None:  # joined mid-frame: wait for the next one
            return frames
        self._parts.append(item.packet.payload[size:])
        if item.packet.marker:
            frames.extend(self._finish(complete=True))
        return frames

    def flush(self) -> list[Frame]:
        return self._finish(complete=False)

    def _finish(self, *, complete: bool) -> list[Frame]:
        parts, timestamp, broken = self._parts, self._timestamp, self._broken
        self._parts, self._timestamp, self._broken = [], None, False
        # Without its marker a frame may miss its last packets: only a marked one is whole.
        if not parts or timestamp is None or broken or not complete:
            return []
        data = b"".join(parts)
        size = vp8_keyframe_size(data)
        if size is None:
            return [Frame(timestamp=timestamp, data=data, keyframe=False)]
        return [Frame(timestamp=timestamp, data=data, keyframe=True, width=size[0], height=size[1])]


class H264Depacketizer(Depacketizer):
    """RFC 6184 (packetization-mode 1): NAL units from single-NAL, STAP-A and FU-A packets,
    gathered per timestamp into one access unit in Annex B form (start codes), which is
    what the Matroska muxer takes; a keyframe is an access unit with an IDR slice."""

    def __init__(self) -> None:
        self._nals: list[bytes] = []
        self._fragment: bytearray | None = None
        self._timestamp: int | None = None
        self._broken = False

    def push(self, item: InOrder) -> list[Frame]:
        if self._timestamp is not None and item.timestamp != self._timestamp:
            self._finish(complete=False)  # its marker never came: it may miss its end
        if self._timestamp is None:
            self._timestamp = item.timestamp
        if item.gap_before:
            self._broken = True
        try:
            self._add(item.packet.payload)
        except PacketError:
            self._broken = True
        return self._finish(complete=True) if item.packet.marker else []

    def flush(self) -> list[Frame]:
        return self._finish(complete=False)

    def _add(self, payload: bytes) -> None:
        if not payload:
            raise PacketError("empty H.264 payload")
        nal_type = payload[0] & 0x1F
        if 1 <= nal_type <= 23:
            self._nals.append(payload)
        elif nal_type == H264_STAP_A:
            position = 1
            while position < len(payload):
                if position + 2 > len(payload):
                    raise PacketError("truncated STAP-A")
                (size,) = struct.unpack_from("!H", payload, position)
                position += 2
                if size == 0 or position + size > len(payload):
                    raise PacketError("truncated STAP-A unit")
                self._nals.append(payload[position : position + size])
                position += size
        elif nal_type == H264_FU_A:
            if len(payload) < 3:
                raise PacketError("truncated FU-A")
            indicator, header = payload[0], payload[1]
            if header & 0x80:  # S: the first fragment carries the NAL header's type
                self._fragment = bytearray([(indicator & 0xE0) | (header & 0x1F)])
            elif self._fragment is None:
                raise PacketError("FU-A fragment without its start")
            self._fragment += payload[2:]
            if header & 0x40:  # E
                self._nals.append(bytes(self._fragment))
                self._fragment = None
        else:
            raise PacketError(f"H.264 NAL type {nal_type} is not read")

    def _finish(self, *, complete: bool) -> list[Frame]:
        nals, timestamp, broken = self._nals, self._timestamp, self._broken or self._fragment is not None
        self._nals, self._fragment, self._timestamp, self._broken = [], None, None, False
        if not nals or timestamp is None or broken or not complete:
            return []
        keyframe = any(nal[0] & 0x1F == H264_IDR for nal in nals)
        data = b"".join(H264_START_CODE + nal for nal in nals)
        return [Frame(timestamp=timestamp, data=data, keyframe=keyframe)]


@dataclass(frozen=True)
class TrackCodec:
    """How a tapped codec is written: the muxer's codec name, the container and the file's
    MIME type and extension."""

    name: str
    kind: str
    container: str
    mime_type: str
    extension: str


CODECS = {
    "audio/opus": TrackCodec("opus", "audio", "webm", "audio/webm;codecs=opus", "webm"),
    "video/vp8": TrackCodec("vp8", "video", "webm", "video/webm;codecs=vp8", "webm"),
    "video/h264": TrackCodec("h264", "video", "matroska", "video/x-matroska;codecs=avc1", "mkv"),
}


def track_codec(mime_type: str) -> TrackCodec | None:
    """How a tap's codec is recorded, or None when it cannot be (the recorder skips it)."""
    return CODECS.get(mime_type.lower())


def depacketizer_for(codec: TrackCodec) -> Depacketizer:
    if codec.name == "vp8":
        return Vp8Depacketizer()
    if codec.name == "h264":
        return H264Depacketizer()
    return OpusDepacketizer()
