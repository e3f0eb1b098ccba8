"""The environment variables the whiteboard service reads."""

from dataclasses import dataclass

from webinar_runtime.config import ConfigError, MongoSettings, RuntimeConfig, setting


@dataclass(frozen=True, kw_only=True)
class WhiteboardConfig(RuntimeConfig, MongoSettings):
    database: str = setting("WHITEBOARD_DATABASE", "whiteboard", help="MongoDB database this service owns")
    max_stage_bytes: int = setting(
        "WHITEBOARD_MAX_STAGE_BYTES",
        256 * 1024,
        help="largest whiteboard stage (Konva JSON) kept, in bytes; larger ones are refused",
    )
    max_drawings: int = setting(
        "WHITEBOARD_MAX_DRAWINGS",
        3000,
        help="drawing events a board keeps since its last stage; more are refused until it is cleared",
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        # A newcomer's state (stage + drawings) travels in one bus reply (NATS: 1 MiB by default).
        if not 1024 <= self.max_stage_bytes <= 512 * 1024:
            raise ConfigError("WHITEBOARD_MAX_STAGE_BYTES", "must be from 1024 to 524288")
        if not 1 <= self.max_drawings <= 3000:
            raise ConfigError("WHITEBOARD_MAX_DRAWINGS", "must be from 1 to 3000")
