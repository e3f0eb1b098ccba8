"""Transport-wide congestion control feedback: recorded arrivals and the bytes reported."""

from media.rtp import parse_rtcp
from media.transport_cc import (
    MAX_STATUSES_PER_FEEDBACK,
    TransportCcRecorder,
    TransportFeedback,
    build_transport_cc_fci,
    parse_transport_cc_fci,
    transport_cc_feedback,
)

SENDER = 0x01020304
MEDIA = 0x5B3A1C0E


def test_packets_in_order_make_one_run_length_chunk() -> None:
    recorder = TransportCcRecorder()
    for index in range(5):
        recorder.packet_arrived(100 + index, 10.0 + 0.005 * index, MEDIA)
    (feedback,) = recorder.feedback()
    # Reference 156 x 64 ms = 9.984 s; deltas 64, 20, 20, 20, 20 ticks of 250 us.
    assert feedback == TransportFeedback(
        base_sequence_number=100, reference_time=156, feedback_count=0, arrivals=[64, 84, 104, 124, 144]
    )
    message = transport_cc_feedback(sender_ssrc=SENDER, media_ssrc=recorder.media_ssrc, feedback=feedback)
    assert message.to_bytes() == bytes.fromhex("afcd0006010203045b3a1c0e0064000500009c002005401414141401")
    (parsed,) = parse_rtcp(message.to_bytes())
    assert parsed == message


def test_a_loss_and_a_long_delta_use_a_two_bit_status_vector() -> None:
    recorder = TransportCcRecorder()
    recorder.packet_arrived(1, 1.0, MEDIA)
    recorder.packet_arrived(3, 1.1, MEDIA)  # 2 is lost; 3 comes 100 ms later: 400 ticks
    recorder.packet_arrived(4, 1.101, MEDIA)
    (feedback,) = recorder.feedback()
    assert feedback.arrivals == [160, None, 560, 564]
    # Symbols small, lost, large, small: one two-bit vector 0xd240; deltas a0, 0190, 04.
    assert build_transport_cc_fci(feedback) == bytes.fromhex("0001000400000f00d240a0019004")
    assert transport_cc_feedback(sender_ssrc=SENDER, media_ssrc=MEDIA, feedback=feedback).to_bytes()[-2:] == b"\x00\x02"


def test_long_mixed_sequences_parse_back_as_built() -> None:
    arrivals: list[int | None] = []
    tick = 10
    for index in range(120):
        if index % 17 in (3, 4, 5) or 60 <= index < 75:
            arrivals.append(None)
            continue
        tick += 300 if index % 29 == 0 else (index % 9)
        arrivals.append(tick)
    feedback = TransportFeedback(
        base_sequence_number=65500, reference_time=0xABCDEF, feedback_count=9, arrivals=arrivals
    )
    assert parse_transport_cc_fci(build_transport_cc_fci(feedback)) == feedback


def test_feedback_follows_on_across_wrap_around_and_ignores_what_came_too_late() -> None:
    recorder = TransportCcRecorder()
    recorder.packet_arrived(65534, 5.0, MEDIA)
    recorder.packet_arrived(65535, 5.001, MEDIA)
    (first,) = recorder.feedback()
    assert (first.base_sequence_number, len(first.arrivals)) == (65534, 2)
    recorder.packet_arrived(1, 5.01, MEDIA)  # 0 is lost
    recorder.packet_arrived(65535, 5.011, MEDIA)  # a duplicate of what was reported
    (second,) = recorder.feedback()
    assert second.base_sequence_number == 0
    assert second.arrivals[0] is None
    assert second.arrivals[1] is not None
    assert second.feedback_count == 1
    assert recorder.feedback() == []


def test_a_burst_longer_than_one_message_is_split() -> None:
    recorder = TransportCcRecorder()
    for index in range(MAX_STATUSES_PER_FEEDBACK + 10):
        recorder.packet_arrived(index, 1.0 + index * 0.0001, MEDIA)
    first, second = recorder.feedback()
    assert len(first.arrivals) == MAX_STATUSES_PER_FEEDBACK
    assert (second.base_sequence_number, len(second.arrivals)) == (MAX_STATUSES_PER_FEEDBACK, 10)
    assert len(transport_cc_feedback(sender_ssrc=SENDER, media_ssrc=MEDIA, feedback=first).to_bytes()) < 1200
