"""The environment variables the recording service reads."""

from dataclasses import dataclass

from webinar_runtime.config import ConfigError, MongoSettings, RuntimeConfig, setting


@dataclass(frozen=True, kw_only=True)
class RecordingConfig(RuntimeConfig, MongoSettings):
    database: str = setting("RECORDING_DATABASE", "recording", help="MongoDB database this service owns")
    max_page_size: int = setting("RECORDING_MAX_PAGE_SIZE", 100, help="most recordings one list page returns")

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 1 <= self.max_page_size <= 1000:
            raise ConfigError("RECORDING_MAX_PAGE_SIZE", "must be between 1 and 1000")
