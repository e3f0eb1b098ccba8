"""Typed configuration read from environment variables and validated at start.

A service declares a keyword-only dataclass whose fields are `setting(...)`s; a
missing or malformed value stops the service with a message naming the variable.
The same declaration lists the variables a deployment must provide.
"""

import dataclasses
import os
import socket
from collections.abc import Mapping
from typing import Any, TypeVar, get_type_hints

T = TypeVar("T")
_MISSING = dataclasses.MISSING


class ConfigError(ValueError):
    """A configuration variable is missing or cannot be read as its type."""

    def __init__(self, variable: str, problem: str) -> None:
        super().__init__(f"{variable}: {problem}")
        self.variable = variable


def setting(env: str, default: Any = _MISSING, *, help: str = "", secret: bool = False) -> Any:
    """Declare a configuration field read from the environment variable `env`."""
    metadata = {"env": env, "help": help, "secret": secret}
    if default is _MISSING:
        return dataclasses.field(metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


@dataclasses.dataclass(frozen=True)
class Variable:
    name: str
    required: bool
    default: Any
    help: str
    secret: bool


def variables(config_type: type) -> list[Variable]:
    """Every environment variable a config class reads, in declaration order."""
    found = []
    for field in dataclasses.fields(config_type):
        env = field.metadata.get("env")
        if env is None:
            continue
        found.append(
            Variable(
                name=env,
                required=field.default is _MISSING,
                default=None if field.default is _MISSING else field.default,
                help=field.metadata.get("help", ""),
                secret=field.metadata.get("secret", False),
            )
        )
    return found


def _parse(variable: str, raw: str, kind: Any) -> Any:
    if kind is bool:
        lowered = raw.strip().lower()
        if lowered in {"1", "true", "yes", "on"}:
            return True
        if lowered in {"0", "false", "no", "off", ""}:
            return False
        raise ConfigError(variable, f"expected true or false, got {raw!r}")
    if kind is int:
        try:
            return int(raw)
        except ValueError:
            raise ConfigError(variable, f"expected an integer, got {raw!r}") from None
    if kind is float:
        try:
            return float(raw)
        except ValueError:
            raise ConfigError(variable, f"expected a number, got {raw!r}") from None
    if kind == tuple[str, ...]:
        return tuple(part.strip() for part in raw.split(",") if part.strip())
    if kind is str or kind == (str | None):
        return raw
    raise TypeError(f"{variable}: unsupported setting type {kind!r}")


def load_config(config_type: type[T], environ: Mapping[str, str] | None = None) -> T:
    """Build `config_type` from the environment; raise ConfigError naming the bad variable."""
    environ = os.environ if environ is None else environ
    hints = get_type_hints(config_type)
    values: dict[str, Any] = {}
    for field in dataclasses.fields(config_type):  # type: ignore[arg-type]
        env = field.metadata.get("env")
        if env is None:
            continue
        raw = environ.get(env)
        if raw is None or (raw == "" and field.default is _MISSING):
            if field.default is _MISSING:
                raise ConfigError(env, "is required and not set")
            continue
        values[field.name] = _parse(env, raw, hints[field.name])
    for field in dataclasses.fields(config_type):  # type: ignore[arg-type]
        if field.name in values:
            continue
        if field.default is _MISSING and field.default_factory is _MISSING:  # type: ignore[misc]
            raise ConfigError(field.name, "has no environment variable and no default")
    return config_type(**values)


def default_instance_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


@dataclasses.dataclass(frozen=True, kw_only=True)
class RuntimeConfig:
    """What every service reads. A service's config subclasses this."""

    nats_url: str = setting("NATS_URL", "nats://127.0.0.1:4222", help="NATS server(s), comma-separated")
    health_host: str = setting("HEALTH_HOST", "127.0.0.1", help="address of the liveness/readiness/metrics server")
    health_port: int = setting(
        "HEALTH_PORT", 0, help="port of the liveness/readiness/metrics server (0: any free port)"
    )
    log_level: str = setting("LOG_LEVEL", "INFO", help="DEBUG, INFO, WARNING or ERROR")
    log_format: str = setting("LOG_FORMAT", "json", help="json (one object per line) or text")
    request_timeout: float = setting("BUS_REQUEST_TIMEOUT", 5.0, help="seconds a bus request waits for its reply")
    max_in_flight: int = setting("BUS_MAX_IN_FLIGHT", 256, help="requests one instance handles at once")
    shutdown_grace: float = setting("SHUTDOWN_GRACE_SECONDS", 20.0, help="seconds to finish in-flight work on SIGTERM")
    connect_attempts: int = setting("CONNECT_ATTEMPTS", 30, help="tries to reach NATS/MongoDB/Redis at start")
    instance_id: str = setting("INSTANCE_ID", "", help="name of this replica in logs and health (default: host-pid)")
    events_replicas: int = setting(
        "EVENTS_STREAM_REPLICAS",
        1,
        help="replicas of the JetStream events stream when a service creates it (3 in a cluster)",
    )

    def __post_init__(self) -> None:
        if self.log_format not in {"json", "text"}:
            raise ConfigError("LOG_FORMAT", f"expected json or text, got {self.log_format!r}")
        if self.log_level.upper() not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ConfigError("LOG_LEVEL", f"expected DEBUG, INFO, WARNING or ERROR, got {self.log_level!r}")
        for name, env in (("request_timeout", "BUS_REQUEST_TIMEOUT"), ("shutdown_grace", "SHUTDOWN_GRACE_SECONDS")):
            if getattr(self, name) <= 0:
                raise ConfigError(env, "must be greater than 0")
        if not 1 <= self.events_replicas <= 5:
            raise ConfigError("EVENTS_STREAM_REPLICAS", "must be between 1 and 5")
        if not 0 <= self.health_port <= 65535:
            raise ConfigError("HEALTH_PORT", "must be a port number")
        if not self.instance_id:
            object.__setattr__(self, "instance_id", default_instance_id())


@dataclasses.dataclass(frozen=True, kw_only=True)
class MongoSettings:
    mongo_url: str = setting("MONGO_URL", help="MongoDB connection string (mongodb://...)")


@dataclasses.dataclass(frozen=True, kw_only=True)
class RedisSettings:
    redis_url: str = setting("REDIS_URL", help="Redis connection string (redis://...)")
