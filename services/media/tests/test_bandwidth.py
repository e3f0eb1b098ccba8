"""A viewer's bandwidth from REMB and receiver-report loss, and stream bitrates."""

import pytest

from media.bandwidth import BandwidthEstimator, BitrateMeter


def test_bitrate_meter_counts_the_last_second_only() -> None:
    meter = BitrateMeter(window=1.0, buckets=10)
    for step in range(20):  # 1250 bytes every 50 ms: 200 kbps
        meter.add(1250, now=10.0 + step * 0.05)
    assert meter.bitrate(now=10.99) == pytest.approx(200_000, rel=0.1)
    assert meter.active(now=11.5)
    assert meter.bitrate(now=13.0) == 0
    assert not meter.active(now=13.0)


def test_nothing_limits_a_viewer_nobody_heard_from() -> None:
    assert BandwidthEstimator().estimate(now=0.0) is None


def test_remb_below_the_sending_rate_is_the_estimate() -> None:
    estimator = BandwidthEstimator()
    estimator.remb_received(300_000, sending_bitrate=1_000_000, now=1.0)
    assert estimator.estimate(now=1.0) == 300_000


def test_remb_that_shows_no_congestion_lets_the_estimate_grow_past_it() -> None:
    estimator = BandwidthEstimator()
    estimator.remb_received(150_000, sending_bitrate=100_000, now=1.0)
    assert estimator.estimate(now=1.0) == 150_000
    estimator.remb_received(150_000, sending_bitrate=100_000, now=3.0)  # two seconds later: x 1.15^2
    assert estimator.estimate(now=3.0) == pytest.approx(150_000 * 1.15**2)
    estimator.remb_received(200_000, sending_bitrate=400_000, now=4.0)  # now the link is the limit
    assert estimator.estimate(now=4.0) == 200_000


def test_a_stale_remb_no_longer_limits() -> None:
    estimator = BandwidthEstimator()
    estimator.remb_received(300_000, sending_bitrate=1_000_000, now=1.0)
    assert estimator.estimate(now=7.0) is None


def test_heavy_loss_cuts_the_rate_and_light_loss_lets_it_recover() -> None:
    estimator = BandwidthEstimator()
    estimator.loss_reported(0.01, sending_bitrate=800_000, now=1.0)
    assert estimator.estimate(now=1.0) is None  # no loss worth acting on
    estimator.loss_reported(0.20, sending_bitrate=800_000, now=2.0)
    assert estimator.estimate(now=2.0) == pytest.approx(720_000)  # 800k x (1 - 0.5 x 0.2)
    estimator.loss_reported(0.05, sending_bitrate=700_000, now=3.0)
    assert estimator.estimate(now=3.0) == pytest.approx(720_000)  # between 2% and 10%: hold
    estimator.loss_reported(0.0, sending_bitrate=700_000, now=4.0)
    assert estimator.estimate(now=4.0) == pytest.approx(720_000 * 1.08)


def test_the_lower_of_remb_and_loss_wins_and_loss_hands_back_to_remb() -> None:
    estimator = BandwidthEstimator()
    estimator.remb_received(800_000, sending_bitrate=1_000_000, now=1.0)
    estimator.loss_reported(0.5, sending_bitrate=1_000_000, now=1.0)
    assert estimator.estimate(now=1.0) == pytest.approx(750_000)  # 1M x (1 - 0.25), under REMB
    estimator.loss_reported(0.0, sending_bitrate=750_000, now=2.0)  # 810k would pass REMB
    assert estimator.estimate(now=2.0) == 800_000
