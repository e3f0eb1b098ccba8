"""The media node's settings: a node id usable in subjects, a sane port range."""

import os

import pytest

from media.config import MediaConfig
from webinar_contracts.media import NODE_ID_PATTERN
from webinar_runtime.config import ConfigError, load_config


def test_defaults_announce_loopback_and_derive_the_node_id_from_the_instance() -> None:
    config = load_config(MediaConfig, {"INSTANCE_ID": "media.host:7/1"})
    assert config.node_id == "media-host-7-1"
    options = config.transport_options()
    assert (options.listen_ip, options.announced_ip, options.port_range) == ("127.0.0.1", None, (40000, 49999))
    assert config.node_ttl == 3 * config.heartbeat_interval


def test_an_announced_ip_and_port_range_are_passed_to_the_transports() -> None:
    config = load_config(
        MediaConfig,
        {
            "MEDIA_NODE_ID": "edge-1",
            "MEDIA_LISTEN_IP": "0.0.0.0",
            "MEDIA_ANNOUNCED_IP": "203.0.113.7",
            "MEDIA_RTC_MIN_PORT": "50000",
            "MEDIA_RTC_MAX_PORT": "50100",
        },
    )
    options = config.transport_options()
    assert (config.node_id, options.listen_ip, options.announced_ip) == ("edge-1", "0.0.0.0", "203.0.113.7")
    assert options.port_range == (50000, 50100)


@pytest.mark.parametrize(
    ("environ", "variable"),
    [
        ({"MEDIA_NODE_ID": "has.dots"}, "MEDIA_NODE_ID"),
        ({"MEDIA_RTC_MIN_PORT": "5000", "MEDIA_RTC_MAX_PORT": "4000"}, "MEDIA_RTC_MIN_PORT"),
        ({"MEDIA_HEARTBEAT_SECONDS": "0"}, "MEDIA_HEARTBEAT_SECONDS"),
        ({"MEDIA_EMPTY_ROOM_SECONDS": "-1"}, "MEDIA_EMPTY_ROOM_SECONDS"),
    ],
)
def test_bad_settings_name_their_variable(environ: dict[str, str], variable: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(MediaConfig, environ)
    assert caught.value.variable == variable


def test_workers_default_to_one_per_cpu_this_process_may_use() -> None:
    config = load_config(MediaConfig, {})
    assert config.workers == len(os.sched_getaffinity(0))
    assert load_config(MediaConfig, {"MEDIA_WORKERS": "1"}).workers == 1


def test_each_worker_gets_its_own_node_id_and_share_of_the_port_range() -> None:
    config = load_config(
        MediaConfig,
        {"MEDIA_NODE_ID": "edge-1", "MEDIA_WORKERS": "3", "MEDIA_RTC_MIN_PORT": "40000", "MEDIA_RTC_MAX_PORT": "40010"},
    )
    assert [config.worker_node_id(index) for index in range(3)] == ["edge-1-w0", "edge-1-w1", "edge-1-w2"]
    shares = config.worker_port_ranges()
    assert shares == [(40000, 40003), (40004, 40007), (40008, 40010)]
    # Disjoint and covering the whole range.
    ports = [port for low, high in shares for port in range(low, high + 1)]
    assert ports == list(range(40000, 40011))


def test_a_worker_node_id_stays_a_valid_node_id_when_the_node_id_is_long() -> None:
    config = load_config(MediaConfig, {"MEDIA_NODE_ID": "n" * 64, "MEDIA_WORKERS": "12"})
    worker_id = config.worker_node_id(11)
    assert worker_id.endswith("-w11")
    assert NODE_ID_PATTERN.match(worker_id)


@pytest.mark.parametrize(
    "environ",
    [
        {"MEDIA_WORKERS": "-1"},
        {"MEDIA_WORKERS": "3", "MEDIA_RTC_MIN_PORT": "5000", "MEDIA_RTC_MAX_PORT": "5001"},
    ],
)
def test_impossible_worker_counts_name_media_workers(environ: dict[str, str]) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(MediaConfig, environ)
    assert caught.value.variable == "MEDIA_WORKERS"
