"""What both benchmarks start: the backing servers and the services the SFU socket needs,
as their own processes on 127.0.0.1, in a temporary directory, stopped at the end."""

import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from webinar_devstack.servers import ManagedProcess, start_mongo, start_nats, start_redis
from webinar_devstack.suite import Suite

# The gateway (SFU socket, demo page), auth (the API key), meetings (what a room id names)
# and media: the rest of the suite plays no part in joining a room and forwarding media.
SFU_SERVICES = ["auth", "meetings", "media", "gateway"]


@contextlib.contextmanager
def loopback_suite(
    name: str, *, env: dict[str, str], keep_logs: bool = False, services: list[str] = SFU_SERVICES
) -> Iterator[Suite]:
    """NATS, Redis, the MongoDB-compatible server and SFU_SERVICES, started and then stopped;
    their logs are kept (and their directory printed) when the body fails or `keep_logs`."""
    workdir = Path(tempfile.mkdtemp(prefix=f"{name}-"))
    servers: list[ManagedProcess] = []
    suite: Suite | None = None
    failed = True
    try:
        print(f"starting NATS, Redis, the MongoDB-compatible server and {', '.join(services)} in {workdir}")
        servers = [
            start_nats(workdir / "nats", log_path=workdir / "nats.log"),
            start_redis(workdir / "redis", log_path=workdir / "redis.log"),
            start_mongo(workdir / "mongo", log_path=workdir / "mongo.log"),
        ]
        nats, redis, mongo = (server.port for server in servers)
        suite = Suite(
            workdir=workdir / "suite",
            nats_url=f"nats://127.0.0.1:{nats}",
            redis_url=f"redis://127.0.0.1:{redis}",
            mongo_url=f"mongodb://127.0.0.1:{mongo}",
            services=services,
            env=env,
        )
        suite.start()
        yield suite
        failed = False
    finally:
        if suite is not None:
            suite.stop()
        for server in reversed(servers):
            server.stop()
        if failed or keep_logs:
            print(f"logs kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
