"""A NATS server of this service's tests alone, so the suite's own processes (which
answer the same subjects on the shared one) never take these tests' requests."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from webinar_devstack.servers import start_nats


@pytest.fixture(scope="module")
def private_nats_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data: Path = tmp_path_factory.mktemp("private-nats")
    server = start_nats(data / "nats", log_path=data / "nats.log")
    yield f"nats://127.0.0.1:{server.port}"
    server.stop()
