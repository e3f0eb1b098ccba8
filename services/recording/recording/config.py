"""The environment variables the recording service reads."""

from dataclasses import dataclass

from recording.domain import parse_size
from webinar_runtime.config import ConfigError, MongoSettings, RuntimeConfig, setting

BLOB_BACKENDS = ("local", "nats")
# A chunk travels base64-encoded in one NATS message (1 MiB by default) with its headers.
MAX_CHUNK_LIMIT = 700 * 1024
GIB = 1024**3


@dataclass(frozen=True, kw_only=True)
class RecordingConfig(RuntimeConfig, MongoSettings):
    database: str = setting("RECORDING_DATABASE", "recording", help="MongoDB database this service owns")
    max_page_size: int = setting("RECORDING_MAX_PAGE_SIZE", 100, help="most recordings one list page returns")
    blob_backend: str = setting(
        "RECORDING_BLOB_BACKEND",
        "local",
        help="where chunks and processed files are kept: local (a directory under BLOB_DIR; share it between "
        "nodes) or nats (a JetStream object-store bucket every node reaches)",
    )
    blob_dir: str = setting("RECORDING_BLOB_DIR", "var/blobs/recording", help="directory of the local backend's blobs")
    blob_bucket: str = setting(
        "RECORDING_BLOB_BUCKET", "recording_files", help="JetStream object-store bucket of recordings (nats backend)"
    )
    object_store_replicas: int = setting(
        "RECORDING_OBJECT_STORE_REPLICAS",
        1,
        help="JetStream replicas of the bucket this service creates (3 in a cluster)",
    )
    max_chunk_bytes: int = setting(
        "RECORDING_MAX_CHUNK_BYTES", 512 * 1024, help="largest chunk one `stream` event carries, in bytes"
    )
    max_recording_bytes: int = setting(
        "RECORDING_MAX_BYTES", 4 * GIB, help="most bytes of chunks one recording may hold (its files together)"
    )
    max_tenant_bytes: int = setting(
        "RECORDING_TENANT_MAX_BYTES", 50 * GIB, help="most bytes of recordings (chunks and processed files) per tenant"
    )
    workers: int = setting("RECORDING_PROCESS_WORKERS", 1, help="processing jobs (ffmpeg processes) run at once")
    job_ack_wait: float = setting(
        "RECORDING_JOB_ACK_WAIT_SECONDS",
        30.0,
        help="a job whose replica stops answering for this long (it crashed) is handed to another",
    )
    job_max_attempts: int = setting(
        "RECORDING_JOB_MAX_ATTEMPTS", 3, help="tries of one processing job before the recording is marked failed"
    )
    upload_idle_seconds: float = setting(
        "RECORDING_UPLOAD_IDLE_SECONDS",
        3600.0,
        help="a recording being written that gets no chunk for this long is marked failed (upload abandoned)",
    )
    ffmpeg: str = setting(
        "RECORDING_FFMPEG", "", help="the ffmpeg program (default: ffmpeg on PATH, else the one imageio-ffmpeg ships)"
    )
    work_dir: str = setting(
        "RECORDING_WORK_DIR", "", help="directory of processing jobs' temporary files (default: the system's)"
    )
    x264_preset: str = setting(
        "RECORDING_X264_PRESET", "veryfast", help="libx264 preset of processed files (slower: smaller files)"
    )
    # Server-side recording of rooms (docs/recording.md).
    max_rooms: int = setting(
        "RECORDING_MAX_ROOMS", 20, help="rooms one replica records at once; a start beyond it is refused (503)"
    )
    listen_ip: str = setting(
        "RECORDING_LISTEN_IP", "127.0.0.1", help="address the recorders' UDP sockets bind (0.0.0.0 in a pod)"
    )
    announced_ip: str = setting(
        "RECORDING_ANNOUNCED_IP",
        "",
        help="address media nodes send tapped RTP to (default: RECORDING_LISTEN_IP, or this host's address "
        "when that is 0.0.0.0; on Kubernetes the pod IP)",
    )
    tap_lease_seconds: float = setting(
        "RECORDING_TAP_LEASE_SECONDS", 3.0, help="how long a tap outlives its recorder's last renewal"
    )
    producer_poll_seconds: float = setting(
        "RECORDING_PRODUCER_POLL_SECONDS",
        1.0,
        help="how often a recorder asks its room's node for producers (a new one is tapped within this) "
        "and renews its taps",
    )
    segment_seconds: float = setting(
        "RECORDING_SEGMENT_SECONDS",
        10.0,
        help="a server-side recording's track files are finished and stored this often while the room is "
        "recorded: a replica that dies loses at most about this much of each track",
    )
    lost_after_seconds: float = setting(
        "RECORDING_LOST_AFTER_SECONDS",
        30.0,
        help="a replica silent this long has its server-side recordings taken over by another (ended at "
        "their last stored segment and composed)",
    )
    grid_size: str = setting(
        "RECORDING_GRID_SIZE", "1280x720", help="picture size of a server-side recording's composed MP4 (WIDTHxHEIGHT)"
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 1 <= self.max_page_size <= 1000:
            raise ConfigError("RECORDING_MAX_PAGE_SIZE", "must be between 1 and 1000")
        if self.blob_backend not in BLOB_BACKENDS:
            raise ConfigError("RECORDING_BLOB_BACKEND", f"expected one of {', '.join(BLOB_BACKENDS)}")
        if not 1 <= self.object_store_replicas <= 5:
            raise ConfigError("RECORDING_OBJECT_STORE_REPLICAS", "must be from 1 to 5")
        if not 1024 <= self.max_chunk_bytes <= MAX_CHUNK_LIMIT:
            raise ConfigError("RECORDING_MAX_CHUNK_BYTES", f"must be from 1024 to {MAX_CHUNK_LIMIT}")
        if self.max_recording_bytes < self.max_chunk_bytes:
            raise ConfigError("RECORDING_MAX_BYTES", "must be at least RECORDING_MAX_CHUNK_BYTES")
        if self.max_tenant_bytes < self.max_chunk_bytes:
            raise ConfigError("RECORDING_TENANT_MAX_BYTES", "must be at least RECORDING_MAX_CHUNK_BYTES")
        if not 1 <= self.workers <= 64:
            raise ConfigError("RECORDING_PROCESS_WORKERS", "must be from 1 to 64")
        if not 1 <= self.job_ack_wait <= 3600:
            raise ConfigError("RECORDING_JOB_ACK_WAIT_SECONDS", "must be from 1 to 3600")
        if not 1 <= self.job_max_attempts <= 20:
            raise ConfigError("RECORDING_JOB_MAX_ATTEMPTS", "must be from 1 to 20")
        if self.upload_idle_seconds < 1:
            raise ConfigError("RECORDING_UPLOAD_IDLE_SECONDS", "must be at least 1")
        if not 1 <= self.max_rooms <= 1000:
            raise ConfigError("RECORDING_MAX_ROOMS", "must be from 1 to 1000")
        if not self.listen_ip.strip():
            raise ConfigError("RECORDING_LISTEN_IP", "must be an address")
        if not 1 <= self.tap_lease_seconds <= 300:
            raise ConfigError("RECORDING_TAP_LEASE_SECONDS", "must be from 1 to 300")
        if not 0.1 <= self.producer_poll_seconds <= self.tap_lease_seconds / 2:
            raise ConfigError(
                "RECORDING_PRODUCER_POLL_SECONDS", "must be from 0.1 to half of RECORDING_TAP_LEASE_SECONDS"
            )
        if not 1 <= self.segment_seconds <= 3600:
            raise ConfigError("RECORDING_SEGMENT_SECONDS", "must be from 1 to 3600")
        if not 3 <= self.lost_after_seconds <= 3600:
            raise ConfigError("RECORDING_LOST_AFTER_SECONDS", "must be from 3 to 3600")
        try:
            parse_size(self.grid_size)
        except ValueError as error:
            raise ConfigError("RECORDING_GRID_SIZE", str(error)) from None

    @property
    def canvas(self) -> tuple[int, int]:
        return parse_size(self.grid_size)
