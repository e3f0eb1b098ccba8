"""What makes `python -m media` one worker of a node: its own id and port share, the
node's announced address, one worker (never a supervisor again), a health port of its own."""

from media.config import MediaConfig
from media.workers import worker_environment
from webinar_runtime.config import load_config


def test_a_worker_runs_alone_on_its_share_announcing_the_nodes_address() -> None:
    config = load_config(
        MediaConfig,
        {
            "MEDIA_NODE_ID": "edge-1",
            "INSTANCE_ID": "pod-7",
            "MEDIA_WORKERS": "2",
            "MEDIA_LISTEN_IP": "0.0.0.0",
            "MEDIA_ANNOUNCED_IP": "203.0.113.7",
            "MEDIA_RTC_MIN_PORT": "40000",
            "MEDIA_RTC_MAX_PORT": "40999",
            "HEALTH_HOST": "0.0.0.0",
            "HEALTH_PORT": "8080",
        },
    )
    second = worker_environment(config, 1)
    assert second == {
        "MEDIA_WORKERS": "1",
        "MEDIA_NODE_ID": "edge-1-w1",
        "MEDIA_RTC_MIN_PORT": "40500",
        "MEDIA_RTC_MAX_PORT": "40999",
        "MEDIA_ANNOUNCED_IP": "203.0.113.7",
        "INSTANCE_ID": "pod-7-w1",
        "HEALTH_HOST": "127.0.0.1",
        "HEALTH_PORT": "0",
    }
    # The worker's own configuration loads from it, as that worker.
    worker = load_config(MediaConfig, {"MEDIA_LISTEN_IP": "0.0.0.0", **second})
    assert (worker.workers, worker.node_id) == (1, "edge-1-w1")
    assert worker.transport_options().port_range == (40500, 40999)


def test_without_an_announced_ip_workers_announce_the_listen_address() -> None:
    config = load_config(MediaConfig, {"MEDIA_WORKERS": "2", "MEDIA_LISTEN_IP": "127.0.0.1"})
    assert worker_environment(config, 0)["MEDIA_ANNOUNCED_IP"] == "127.0.0.1"
