"""What the SFU must know of a video payload without decoding it: where a keyframe
starts (VP8, RFC 7741; H.264, RFC 6184) and the VP8 picture numbering it rewrites."""

from dataclasses import dataclass

H264_IDR = 5
H264_SPS = 7
H264_STAP_A = 24
H264_FU_A = 28


@dataclass(frozen=True, slots=True, kw_only=True)
class Vp8Descriptor:
    """The VP8 payload descriptor at the start of each RTP payload."""

    start_of_partition: bool
    partition_id: int
    picture_id: int | None
    picture_id_bytes: int  # 0, 1 or 2: where `picture_id` sits is byte 2 when present
    tl0_pic_idx: int | None
    temporal_id: int | None
    size: int  # bytes before the VP8 payload header

    @property
    def begins_frame(self) -> bool:
        return self.start_of_partition and self.partition_id == 0


def parse_vp8_descriptor(payload: bytes) -> Vp8Descriptor | None:
    """Parse the VP8 payload descriptor, or None when the payload is too short for it."""
    if not payload:
        return None
    first = payload[0]
    pos = 1
    picture_id = None
    picture_id_bytes = 0
    tl0_pic_idx = None
    temporal_id = None
    if first & 0x80:  # X: extension byte follows
        if len(payload) < 2:
            return None
        ext = payload[1]
        pos = 2
        if ext & 0x80:  # I: PictureID
            if len(payload) < pos + 1:
                return None
            if payload[pos] & 0x80:  # M: 15-bit PictureID
                if len(payload) < pos + 2:
                    return None
                picture_id = ((payload[pos] & 0x7F) << 8) | payload[pos + 1]
                picture_id_bytes = 2
            else:
                picture_id = payload[pos] & 0x7F
                picture_id_bytes = 1
            pos += picture_id_bytes
        if ext & 0x40:  # L: TL0PICIDX
            if len(payload) < pos + 1:
                return None
            tl0_pic_idx = payload[pos]
            pos += 1
        if ext & 0x30:  # T or K: TID/Y/KEYIDX byte
            if len(payload) < pos + 1:
                return None
            if ext & 0x20:
                temporal_id = payload[pos] >> 6
            pos += 1
    return Vp8Descriptor(
        start_of_partition=bool(first & 0x10),
        partition_id=first & 0x0F,
        picture_id=picture_id,
        picture_id_bytes=picture_id_bytes,
        tl0_pic_idx=tl0_pic_idx,
        temporal_id=temporal_id,
        size=pos,
    )


def is_vp8_keyframe(payload: bytes) -> bool:
    """Whether this packet starts a VP8 keyframe: first packet of partition 0 whose
    payload header has the inverse keyframe bit P clear."""
    descriptor = parse_vp8_descriptor(payload)
    if descriptor is None or not descriptor.begins_frame or len(payload) <= descriptor.size:
        return False
    return not payload[descriptor.size] & 0x01


def is_h264_keyframe(payload: bytes) -> bool:
    """Whether this packet carries the start of an H.264 IDR picture (or the SPS before it)."""
    if not payload:
        return False
    nal_type = payload[0] & 0x1F
    if nal_type in (H264_IDR, H264_SPS):
        return True
    if nal_type == H264_STAP_A:
        pos = 1
        while pos + 2 < len(payload):
            size = int.from_bytes(payload[pos : pos + 2], "big")
            if size == 0 or pos + 2 + size > len(payload):
                return False
            if payload[pos + 2] & 0x1F in (H264_IDR, H264_SPS):
                return True
            pos += 2 + size
        return False
    if nal_type == H264_FU_A and len(payload) >= 2:
        return bool(payload[1] & 0x80) and payload[1] & 0x1F in (H264_IDR, H264_SPS)
    return False


def is_keyframe(mime_type: str, payload: bytes) -> bool:
    """Whether the packet starts a keyframe, for the video codecs the SFU forwards."""
    mime = mime_type.lower()
    if mime == "video/vp8":
        return is_vp8_keyframe(payload)
    if mime == "video/h264":
        return is_h264_keyframe(payload)
    return False
