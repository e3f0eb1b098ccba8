"""Cross-service fixtures: the suite's processes on real backing servers."""

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest

from webinar_devstack.servers import start_nats
from webinar_devstack.suite import Suite


@pytest.fixture(scope="session")
def suite(tmp_path_factory: pytest.TempPathFactory, nats_url: str, redis_url: str, mongo_url: str) -> Iterator[Suite]:
    running = Suite(
        workdir=tmp_path_factory.mktemp("suite"),
        nats_url=nats_url,
        redis_url=redis_url,
        mongo_url=mongo_url,
        # One media worker: tests that count nodes start more on purpose (tests/test_sfu_workers.py).
        # Server-side recordings in short segments, taken over soon (tests/test_server_recording.py).
        env={
            "BUS_REQUEST_TIMEOUT": "3",
            "MAX_BODY_BYTES": "65536",
            "MEDIA_WORKERS": "1",
            "RECORDING_SEGMENT_SECONDS": "2",
            "RECORDING_LOST_AFTER_SECONDS": "4",
        },
    ).start()
    yield running
    running.stop()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        yield session


@pytest.fixture(scope="session")
def essential_key(suite: Suite) -> str:
    return suite.create_tenant("essential")


@pytest.fixture
def private_nats_url(tmp_path: Path) -> Iterator[str]:
    """A NATS server of the test's own: services started on it never share queue
    groups with the session suite's services."""
    server = start_nats(tmp_path / "private-nats")
    yield f"nats://127.0.0.1:{server.port}"
    server.stop()
