"""The environment variables the media service reads."""

import os
import re
from dataclasses import dataclass

from media.transport import TransportOptions
from webinar_contracts.media import NODE_ID_PATTERN
from webinar_runtime.config import ConfigError, RuntimeConfig, setting


@dataclass(frozen=True, kw_only=True)
class MediaConfig(RuntimeConfig):
    node_id: str = setting(
        "MEDIA_NODE_ID",
        "",
        help="this node's name on the bus (letters, digits, - and _; default: derived from INSTANCE_ID)",
    )
    listen_ip: str = setting("MEDIA_LISTEN_IP", "127.0.0.1", help="address the WebRTC transports' UDP sockets bind")
    announced_ip: str = setting(
        "MEDIA_ANNOUNCED_IP",
        "",
        help="address browsers are told to send media to (the node's public address; default: MEDIA_LISTEN_IP)",
    )
    rtc_min_port: int = setting("MEDIA_RTC_MIN_PORT", 40000, help="lowest UDP port of a WebRTC transport")
    rtc_max_port: int = setting(
        "MEDIA_RTC_MAX_PORT", 49999, help="highest UDP port of a WebRTC transport (one port per transport)"
    )
    consent_timeout: float = setting(
        "MEDIA_ICE_CONSENT_TIMEOUT_SECONDS",
        30.0,
        help="a transport whose browser sent no connectivity check for this long is closed, and its peer leaves",
    )
    empty_room_grace: float = setting(
        "MEDIA_EMPTY_ROOM_SECONDS",
        15.0,
        help="a room nobody is in closes after this long (a peer leaving and one arriving may cross)",
    )
    drain_seconds: float = setting(
        "MEDIA_DRAIN_SECONDS",
        0.0,
        help="on SIGTERM, how long a worker keeps the rooms it holds (no new room is placed on it) waiting for "
        "them to end, before it closes the rest and stops; 0: no drain, its rooms close at once",
    )
    heartbeat_interval: float = setting(
        "MEDIA_HEARTBEAT_SECONDS", 2.0, help="how often the node records its load on the bus"
    )
    max_transports_per_peer: int = setting(
        "MEDIA_MAX_TRANSPORTS_PER_PEER", 4, help="WebRTC transports one peer may hold (clients make two)"
    )
    bucket_replicas: int = setting(
        "MEDIA_BUCKET_REPLICAS", 1, help="JetStream replicas of the node and room buckets (3 in a cluster)"
    )
    workers: int = setting(
        "MEDIA_WORKERS",
        0,
        help="media worker processes on this machine, one per core (0: the CPU count; 1: this process is the "
        "worker). Each takes an equal share of the UDP port range and registers as node MEDIA_NODE_ID-w<index>",
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.node_id:
            object.__setattr__(self, "node_id", re.sub(r"[^A-Za-z0-9_-]", "-", self.instance_id)[:64])
        if not NODE_ID_PATTERN.match(self.node_id):
            raise ConfigError("MEDIA_NODE_ID", "must be 1-64 letters, digits, - or _")
        if not 1 <= self.rtc_min_port <= self.rtc_max_port <= 65535:
            raise ConfigError("MEDIA_RTC_MIN_PORT", "the port range must satisfy 1 <= min <= max <= 65535")
        for value, env in (
            (self.consent_timeout, "MEDIA_ICE_CONSENT_TIMEOUT_SECONDS"),
            (self.heartbeat_interval, "MEDIA_HEARTBEAT_SECONDS"),
        ):
            if value <= 0:
                raise ConfigError(env, "must be greater than 0")
        if self.empty_room_grace < 0:
            raise ConfigError("MEDIA_EMPTY_ROOM_SECONDS", "must not be negative")
        if self.drain_seconds < 0:
            raise ConfigError("MEDIA_DRAIN_SECONDS", "must not be negative (0: no drain)")
        if self.max_transports_per_peer < 1:
            raise ConfigError("MEDIA_MAX_TRANSPORTS_PER_PEER", "must be at least 1")
        if not 1 <= self.bucket_replicas <= 5:
            raise ConfigError("MEDIA_BUCKET_REPLICAS", "must be from 1 to 5")
        if self.workers < 0:
            raise ConfigError("MEDIA_WORKERS", "must be 0 (one per CPU) or more")
        if self.workers == 0:
            object.__setattr__(self, "workers", available_cpus())
        if self.rtc_max_port - self.rtc_min_port + 1 < self.workers:
            raise ConfigError("MEDIA_WORKERS", "each worker needs at least one port of the UDP port range")

    @property
    def node_ttl(self) -> float:
        """How long a node's record outlives its last heartbeat: a silent node is dead."""
        return max(3 * self.heartbeat_interval, 1.0)

    def worker_node_id(self, index: int) -> str:
        """The node id worker `index` registers under: this node's id, then `-w<index>`."""
        suffix = f"-w{index}"
        return self.node_id[: 64 - len(suffix)] + suffix

    def worker_port_ranges(self) -> list[tuple[int, int]]:
        """The UDP port range cut into one contiguous share per worker (the first ones a port
        larger when it does not divide evenly)."""
        size, extra = divmod(self.rtc_max_port - self.rtc_min_port + 1, self.workers)
        shares = []
        low = self.rtc_min_port
        for index in range(self.workers):
            high = low + size + (1 if index < extra else 0) - 1
            shares.append((low, high))
            low = high + 1
        return shares

    def transport_options(self) -> TransportOptions:
        return TransportOptions(
            listen_ip=self.listen_ip,
            announced_ip=self.announced_ip or None,
            port_range=(self.rtc_min_port, self.rtc_max_port),
            consent_timeout=self.consent_timeout,
        )


def available_cpus() -> int:
    """The CPUs this process may run on (its affinity mask, which a cpuset narrows), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)
