"""pytest fixtures: real nats-server, Redis and MongoDB-compatible servers on free
loopback ports, one of each per test session, stopped at its end."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from webinar_devstack.servers import start_mongo, start_nats, start_redis


@pytest.fixture(scope="session")
def backing_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("backing")


@pytest.fixture(scope="session")
def nats_url(backing_dir: Path) -> Iterator[str]:
    server = start_nats(backing_dir / "nats", log_path=backing_dir / "nats.log")
    yield f"nats://127.0.0.1:{server.port}"
    server.stop()


@pytest.fixture(scope="session")
def redis_url(backing_dir: Path) -> Iterator[str]:
    server = start_redis(backing_dir / "redis", log_path=backing_dir / "redis.log")
    yield f"redis://127.0.0.1:{server.port}/0"
    server.stop()


@pytest.fixture(scope="session")
def mongo_url(backing_dir: Path) -> Iterator[str]:
    server = start_mongo(backing_dir / "mongo", log_path=backing_dir / "mongo.log")
    yield f"mongodb://127.0.0.1:{server.port}/"
    server.stop()
