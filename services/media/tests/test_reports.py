"""Sender and receiver reports: what the SFU counts of each stream, and the reports it builds."""

from media.reports import ReceiveStatistics, SenderClock, SendStatistics, ntp_seconds, ntp_timestamp
from media.rtp import ReportBlock, parse_rtcp

SSRC = 0x5B3A1C0E
NTP = 0xE9C0A1B2C3D4E5F6


def receive(stats: ReceiveStatistics, sequence_numbers: list[int], *, start: float = 0.0) -> None:
    for index, sequence_number in enumerate(sequence_numbers):
        stats.packet_received(sequence_number, 3000 * index, start + index / 30)


def test_receiver_report_counts_loss_across_wrap_around() -> None:
    stats = ReceiveStatistics(SSRC, 90000)
    numbers = [*range(65530, 65536), 0, 1, 3, 4, 5]  # 2 lost
    for sequence_number in numbers:
        offset = (sequence_number - 65530) & 0xFFFF
        stats.packet_received(sequence_number, 3000 * offset, offset / 30)
    block = stats.report_block(now=1.0)
    # fraction 1/12 of 256 = 21, cumulative 1 lost, highest 65541 (one wrap, then 5), no jitter.
    assert block.to_bytes() == bytes.fromhex("5b3a1c0e1500000100010005000000000000000000000000")
    stats.packet_received(6, 3000 * 12, 12 / 30)
    again = stats.report_block(now=2.0)
    assert (again.fraction_lost, again.packets_lost, again.highest_sequence) == (0, 1, 65542)


def test_jitter_follows_a_late_packet() -> None:
    stats = ReceiveStatistics(SSRC, 90000)
    stats.packet_received(1, 0, 0.0)
    stats.packet_received(2, 3000, 1 / 30 + 0.01)  # 10 ms late: 900 ticks
    stats.packet_received(3, 6000, 2 / 30)  # on time again
    # J = 900/16 = 56.25, then 56.25 + (900 - 56.25)/16 = 108.98
    assert stats.report_block(now=1.0).jitter == 108


def test_report_echoes_the_last_sender_report_and_the_delay_since() -> None:
    stats = ReceiveStatistics(SSRC, 90000)
    receive(stats, [10, 11])
    stats.sender_report_received(NTP, 123456, now=10.0)
    block = stats.report_block(now=10.5)
    assert (block.lsr, block.dlsr) == (0xA1B2C3D4, 32768)


def test_a_restarted_stream_is_counted_afresh() -> None:
    stats = ReceiveStatistics(SSRC, 90000)
    receive(stats, list(range(100, 110)))
    receive(stats, list(range(20000, 20005)), start=1.0)
    block = stats.report_block(now=2.0)
    assert (block.packets_lost, block.highest_sequence) == (0, 20004)
    assert stats.packets_received == 5


def test_sender_report_follows_the_publishers_clock_when_it_has_one() -> None:
    stats = SendStatistics(SSRC, 90000)
    for index in range(3):
        stats.packet_sent(1000 + 3000 * index, 100, now=100.0 + index / 30)
    publisher = SenderClock(ntp=NTP, rtp_timestamp=500_000, received_at=100.0)
    report = stats.sender_report(now=100.5, wall_clock=0.0, mapping=publisher)
    # Half a second after the publisher's report: NTP + 0.5 s, RTP + 45000 ticks.
    assert report.to_bytes() == bytes.fromhex("80c800065b3a1c0ee9c0a1b343d4e5f6000850e8000000030000012c")


def test_sender_report_without_the_publishers_clock_extrapolates_the_last_packet() -> None:
    stats = SendStatistics(SSRC, 48000)
    stats.packet_sent(960, 60, now=5.0)
    stats.packet_sent(1920, 60, now=5.02)
    report = stats.sender_report(now=5.12, wall_clock=1_700_000_000.25)
    assert report.rtp_timestamp == 1920 + 4800
    assert report.ntp_timestamp == ntp_timestamp(1_700_000_000.25)
    assert ntp_seconds(report.ntp_timestamp) == 1_700_000_000.25 + 2208988800


def test_round_trip_time_comes_from_the_echo_of_our_sender_report() -> None:
    stats = SendStatistics(SSRC, 90000)
    stats.packet_sent(0, 100, now=9.9)
    report = stats.sender_report(now=10.0, wall_clock=1_700_000_000.0)
    lsr = (report.ntp_timestamp >> 16) & 0xFFFFFFFF
    block = ReportBlock(ssrc=SSRC, fraction_lost=64, packets_lost=3, highest_sequence=9, jitter=0, lsr=lsr, dlsr=16384)
    stats.report_received(block, now=10.3)  # held 0.25 s by the receiver: 50 ms on the wire
    assert stats.round_trip_time is not None
    assert abs(stats.round_trip_time - 0.05) < 1e-6
    assert stats.fraction_lost == 64


def test_reports_parse_back_from_their_bytes() -> None:
    stats = SendStatistics(SSRC, 90000)
    stats.packet_sent(0, 100, now=1.0)
    data = stats.sender_report(now=1.0, wall_clock=1_700_000_000.0).to_bytes()
    (parsed,) = parse_rtcp(data)
    assert parsed.to_bytes() == data
