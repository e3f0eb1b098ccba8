"""Which lost packets a producer NACKs upstream, and what a consumer's history resends."""

from media.nack import NackGenerator, RetransmissionHistory, SentPacket


def test_a_gap_is_nacked_at_once_and_again_after_the_retry_interval() -> None:
    generator = NackGenerator(retry_interval=0.03)
    generator.packet_received(10, now=0.0)
    decision = generator.packet_received(13, now=0.001)
    assert decision.nack == [11, 12]
    assert decision.new
    assert generator.packet_received(14, now=0.01).nack == []  # asked a moment ago
    assert generator.packet_received(15, now=0.04).nack == [11, 12]


def test_a_repair_fills_its_hole_once_and_a_duplicate_is_not_new() -> None:
    generator = NackGenerator()
    generator.packet_received(100, now=0.0)
    generator.packet_received(102, now=0.01)
    assert generator.packet_received(101, now=0.02).new
    assert not generator.packet_received(101, now=0.03).new
    assert not generator.packet_received(102, now=0.03).new
    assert generator.missing == []


def test_nacking_follows_sequence_numbers_across_wrap_around() -> None:
    generator = NackGenerator()
    generator.packet_received(65533, now=0.0)
    assert generator.packet_received(1, now=0.01).nack == [65534, 65535, 0]


def test_a_loss_never_repaired_ends_in_a_keyframe_request() -> None:
    generator = NackGenerator(retry_interval=0.03, max_retries=3, max_age=1.0)
    generator.packet_received(1, now=0.0)
    generator.packet_received(3, now=0.0)
    now = 0.0
    asked = 1
    while True:
        now += 0.05
        decision = generator.packet_received(3 + asked, now=now)
        if decision.keyframe_needed:
            break
        assert decision.nack == [2]
        asked += 1
    assert asked == 3  # the first NACK and two retries
    assert generator.missing == []


def test_a_gap_too_large_to_nack_asks_for_a_keyframe_instead() -> None:
    generator = NackGenerator(max_missing=100)
    generator.packet_received(1, now=0.0)
    decision = generator.packet_received(500, now=0.01)
    assert decision.keyframe_needed
    assert decision.nack == []
    assert generator.packet_received(501, now=0.02).nack == []


def sent(sequence_number: int, at: float) -> SentPacket:
    return SentPacket(sequence_number=sequence_number, timestamp=9000, marker=False, payload=b"x", sent_at=at)


def test_history_resends_a_kept_packet_but_not_twice_at_once_nor_when_stale() -> None:
    history = RetransmissionHistory(size=16, max_age=1.0, min_resend_interval=0.02)
    history.add(sent(40, at=0.0))
    history.add(sent(41, at=0.0))
    first = history.to_resend(40, now=0.1)
    assert first is not None
    assert first.sequence_number == 40
    assert history.to_resend(40, now=0.11) is None  # just resent
    assert history.to_resend(40, now=0.2) is not None
    assert history.to_resend(41, now=1.5) is None  # too old to help
    assert history.to_resend(42, now=0.1) is None  # never sent


def test_history_forgets_a_packet_overwritten_by_a_later_one() -> None:
    history = RetransmissionHistory(size=16)
    history.add(sent(3, at=0.0))
    history.add(sent(19, at=0.0))  # same slot
    assert history.to_resend(3, now=0.1) is None
    resent = history.to_resend(19, now=0.1)
    assert resent is not None
    assert resent.sequence_number == 19
