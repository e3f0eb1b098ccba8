"""Keyframe detection without decoding, and continuous numbering of a consumer's stream."""

import pytest

from media import codecs
from media.rewrite import StreamRewriter

# VP8 payload descriptors: X=1 with a 15-bit PictureID, S=1, partition 0; then the VP8
# payload header, whose lowest bit P is 0 for a keyframe.
VP8_KEYFRAME_START = bytes.fromhex("90809234") + bytes.fromhex("1002009d012a")
VP8_DELTA_START = bytes.fromhex("90809235") + bytes.fromhex("3102")
VP8_KEYFRAME_CONTINUATION = bytes.fromhex("80809234") + bytes.fromhex("aabbcc")
VP8_WITH_TL0_AND_TID = bytes.fromhex("90e0923405a0") + bytes.fromhex("1002")


def test_vp8_keyframe_is_found_at_the_start_of_partition_zero() -> None:
    assert codecs.is_keyframe("video/VP8", VP8_KEYFRAME_START)
    assert not codecs.is_keyframe("video/VP8", VP8_DELTA_START)
    assert not codecs.is_keyframe("video/VP8", VP8_KEYFRAME_CONTINUATION)
    assert not codecs.is_keyframe("video/VP8", b"\x90")


def test_vp8_descriptor_gives_picture_numbering() -> None:
    descriptor = codecs.parse_vp8_descriptor(VP8_WITH_TL0_AND_TID)
    assert descriptor is not None
    assert (descriptor.picture_id, descriptor.picture_id_bytes) == (0x1234, 2)
    assert descriptor.tl0_pic_idx == 5
    assert descriptor.temporal_id == 2
    assert descriptor.size == 6
    assert codecs.is_vp8_keyframe(VP8_WITH_TL0_AND_TID)


@pytest.mark.parametrize(
    ("payload", "keyframe"),
    [
        (bytes([0x65, 0x88]), True),  # IDR slice
        (bytes([0x67, 0x42]), True),  # SPS
        (bytes([0x41, 0x9A]), False),  # non-IDR slice
        (bytes([0x78, 0x00, 0x02, 0x67, 0x42, 0x00, 0x02, 0x68, 0xCE]), True),  # STAP-A with SPS, PPS
        (bytes([0x7C, 0x85, 0x88]), True),  # FU-A start of an IDR
        (bytes([0x7C, 0x05, 0x88]), False),  # FU-A continuation of an IDR
        (bytes([0x7C, 0x81, 0x9A]), False),  # FU-A start of a non-IDR
    ],
)
def test_h264_keyframes(payload: bytes, keyframe: bool) -> None:
    assert codecs.is_keyframe("video/H264", payload) is keyframe


def test_first_packet_keeps_the_producers_numbering() -> None:
    rewriter = StreamRewriter(90_000)
    first = rewriter.rewrite(1000, 5000, now=0.0)
    assert first is not None
    assert (first.sequence_number, first.timestamp) == (1000, 5000)


def test_after_a_resync_the_stream_continues_from_the_last_packet_sent() -> None:
    rewriter = StreamRewriter(90_000)
    rewriter.rewrite(65534, 4294960000, now=0.0)
    rewriter.rewrite(65535, 4294963000, now=0.033)
    rewriter.request_sync()
    # The producer jumped (a pause, another layer): numbering continues at +1, and
    # the timestamp advances by the time elapsed (0.1 s at 90 kHz).
    resumed = rewriter.rewrite(20, 777, now=0.133)
    assert resumed is not None
    assert resumed.sequence_number == 0
    assert resumed.timestamp == (4294963000 + 9000) & 0xFFFFFFFF
    following = rewriter.rewrite(21, 777 + 3000, now=0.166)
    assert following is not None
    assert (following.sequence_number, following.timestamp) == (1, (4294963000 + 12000) & 0xFFFFFFFF)


def test_packets_from_before_the_sync_point_are_dropped_and_reordering_after_it_is_kept() -> None:
    rewriter = StreamRewriter(48_000)
    rewriter.rewrite(100, 0, now=0.0)
    assert rewriter.rewrite(99, 0, now=0.01) is None
    late = rewriter.rewrite(102, 1920, now=0.02)
    early = rewriter.rewrite(101, 960, now=0.03)
    assert late is not None
    assert early is not None
    assert (early.sequence_number, late.sequence_number) == (101, 102)
    assert rewriter.last_sequence_number == 102
