"""The environment variables the gateway reads."""

from dataclasses import dataclass

from webinar_runtime.config import ConfigError, RuntimeConfig, setting


@dataclass(frozen=True, kw_only=True)
class GatewayConfig(RuntimeConfig):
    host: str = setting("HOST", "127.0.0.1", help="address the REST and Socket.IO server binds")
    port: int = setting("PORT", 8080, help="port of the REST and Socket.IO server")
    max_body_bytes: int = setting("MAX_BODY_BYTES", 1_048_576, help="largest JSON request body accepted (413 above)")
    api_key_cache_seconds: float = setting(
        "API_KEY_CACHE_SECONDS", 30.0, help="how long a resolved API key is trusted before asking auth again"
    )
    trust_proxy: bool = setting(
        "TRUST_PROXY", False, help="take the client address from the first X-Forwarded-For hop (behind a proxy)"
    )
    cors_origins: tuple[str, ...] = setting(
        "CORS_ORIGINS", (), help="comma-separated origins allowed to call the API from a browser (empty: same origin)"
    )
    token_issuer: str = setting("AUTH_TOKEN_ISSUER", "webinar-auth", help="`iss` claim access tokens must carry")

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 1 <= self.port <= 65535:
            raise ConfigError("PORT", f"must be a port number, got {self.port}")
        if self.max_body_bytes < 1024:
            raise ConfigError("MAX_BODY_BYTES", "must be at least 1024")
