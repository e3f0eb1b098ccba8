"""The environment variables the meetings service reads."""

from dataclasses import dataclass

from webinar_runtime.config import ConfigError, MongoSettings, RedisSettings, RuntimeConfig, setting

BLOB_BACKENDS = ("local", "nats")


@dataclass(frozen=True, kw_only=True)
class MeetingsConfig(RuntimeConfig, MongoSettings, RedisSettings):
    database: str = setting("MEETINGS_DATABASE", "meetings", help="MongoDB database this service owns")
    blob_backend: str = setting(
        "MEETINGS_BLOB_BACKEND",
        "local",
        help="where room files are kept: local (a directory under BLOB_DIR; share it between nodes) "
        "or nats (a JetStream object-store bucket every node reaches)",
    )
    blob_dir: str = setting("BLOB_DIR", "var/blobs", help="directory of local blobs (room files go under meetings/)")
    blob_bucket: str = setting(
        "MEETINGS_BLOB_BUCKET", "meetings_files", help="JetStream object-store bucket of room files (nats backend)"
    )
    max_file_bytes: int = setting(
        "ROOM_FILE_MAX_BYTES", 16 * 1024 * 1024, help="largest room file accepted, in bytes (413 above)"
    )
    staging_bucket: str = setting(
        "UPLOAD_STAGING_BUCKET", "upload_staging", help="JetStream object-store bucket uploads pass through"
    )
    staging_ttl: float = setting(
        "UPLOAD_STAGING_TTL_SECONDS", 3600.0, help="how long an abandoned staged upload is kept before it vanishes"
    )
    object_store_replicas: int = setting(
        "OBJECT_STORE_REPLICAS", 1, help="JetStream replicas of the buckets this service creates (3 in a cluster)"
    )
    chat_history_max: int = setting(
        "CHAT_HISTORY_MAX_MESSAGES", 200, help="chat messages kept per room (the oldest go first)"
    )
    chat_retention: int = setting(
        "CHAT_RETENTION_SECONDS",
        86400,
        help="how long a room's chat history is kept after its last activity (a message, a join, a leave)",
    )
    chat_max_chars: int = setting("CHAT_MAX_MESSAGE_CHARS", 2000, help="longest chat message accepted, in characters")
    chat_rate_messages: int = setting(
        "CHAT_RATE_MESSAGES", 10, help="chat messages one sender may send per CHAT_RATE_WINDOW_SECONDS"
    )
    chat_rate_window: int = setting(
        "CHAT_RATE_WINDOW_SECONDS", 10, help="the window, in seconds, CHAT_RATE_MESSAGES counts over"
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.blob_backend not in BLOB_BACKENDS:
            raise ConfigError("MEETINGS_BLOB_BACKEND", f"expected one of {', '.join(BLOB_BACKENDS)}")
        if self.max_file_bytes < 1:
            raise ConfigError("ROOM_FILE_MAX_BYTES", "must be at least 1")
        if self.staging_ttl < 60:
            raise ConfigError("UPLOAD_STAGING_TTL_SECONDS", "must be at least 60")
        if not 1 <= self.object_store_replicas <= 5:
            raise ConfigError("OBJECT_STORE_REPLICAS", "must be from 1 to 5")
        for value, env in (
            (self.chat_history_max, "CHAT_HISTORY_MAX_MESSAGES"),
            (self.chat_retention, "CHAT_RETENTION_SECONDS"),
            (self.chat_max_chars, "CHAT_MAX_MESSAGE_CHARS"),
            (self.chat_rate_messages, "CHAT_RATE_MESSAGES"),
            (self.chat_rate_window, "CHAT_RATE_WINDOW_SECONDS"),
        ):
            if value < 1:
                raise ConfigError(env, "must be at least 1")
