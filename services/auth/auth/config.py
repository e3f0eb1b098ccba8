"""The environment variables the auth service reads."""

from dataclasses import dataclass

from webinar_runtime.config import ConfigError, MongoSettings, RedisSettings, RuntimeConfig, setting


@dataclass(frozen=True, kw_only=True)
class AuthConfig(RuntimeConfig, MongoSettings, RedisSettings):
    database: str = setting("AUTH_DATABASE", "auth", help="MongoDB database this service owns")
    signing_key: str = setting(
        "AUTH_SIGNING_KEY", "", secret=True, help="Ed25519 private key (PEM) that signs access tokens"
    )
    signing_key_file: str = setting(
        "AUTH_SIGNING_KEY_FILE", "", help="file holding AUTH_SIGNING_KEY instead (a mounted Secret)"
    )
    token_ttl: int = setting("AUTH_TOKEN_TTL_SECONDS", 3600, help="lifetime of an access token")
    token_issuer: str = setting("AUTH_TOKEN_ISSUER", "webinar-auth", help="`iss` claim of access tokens")
    bootstrap_api_key: str = setting(
        "WEBINAR_API_KEY",
        "",
        secret=True,
        help="when set, a Professional tenant with this API key exists from the start",
    )
    bootstrap_tenant_name: str = setting("WEBINAR_TENANT_NAME", "default", help="name of that tenant")
    login_max_failures: int = setting("LOGIN_MAX_FAILURES", 5, help="failed logins per email and address before 429")
    login_lockout_seconds: int = setting("LOGIN_LOCKOUT_SECONDS", 900, help="how long those failures are counted")

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.signing_key and not self.signing_key_file:
            raise ConfigError("AUTH_SIGNING_KEY", "is required (or AUTH_SIGNING_KEY_FILE)")
        if self.token_ttl < 60:
            raise ConfigError("AUTH_TOKEN_TTL_SECONDS", "must be at least 60")
        if self.login_max_failures < 1:
            raise ConfigError("LOGIN_MAX_FAILURES", "must be at least 1")
        if self.login_lockout_seconds < 1:
            raise ConfigError("LOGIN_LOCKOUT_SECONDS", "must be at least 1")

    def signing_key_pem(self) -> str:
        if self.signing_key:
            return self.signing_key
        try:
            with open(self.signing_key_file, encoding="ascii") as key_file:
                return key_file.read()
        except OSError as error:
            raise ConfigError("AUTH_SIGNING_KEY_FILE", f"cannot read {self.signing_key_file}: {error}") from None


@dataclass(frozen=True, kw_only=True)
class AuthCliConfig(MongoSettings):
    """What `python -m auth tenants|keys` reads: only the database."""

    database: str = setting("AUTH_DATABASE", "auth", help="MongoDB database this service owns")
