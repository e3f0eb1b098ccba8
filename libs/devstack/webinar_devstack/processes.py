"""Run a service (`python -m <package>`) as its own process, as `make run` does,
and wait until its readiness endpoint says so."""

import os
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from webinar_devstack.servers import LOOPBACK, ManagedProcess, ServerFailedToStart, free_port


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


class ServiceProcess(ManagedProcess):
    """One service instance started from its package, with its health port chosen here."""

    def __init__(self, package: str, env: dict[str, str], *, log_path: Path | None = None) -> None:
        self.health_port = free_port()
        full_env = {
            **os.environ,
            "PYTHONUNBUFFERED": "1",
            "HEALTH_HOST": LOOPBACK,
            "HEALTH_PORT": str(self.health_port),
            "LOG_FORMAT": "text",
            **env,
        }
        super().__init__(package, [sys.executable, "-m", package], self.health_port, env=full_env, log_path=log_path)

    @property
    def ready_url(self) -> str:
        return f"http://{LOOPBACK}:{self.health_port}/readyz"

    def start_and_wait(self, timeout: float = 60.0) -> "ServiceProcess":
        self.start(lambda: http_ok(self.ready_url), timeout=timeout)
        return self

    def restart(self, timeout: float = 60.0) -> "ServiceProcess":
        self.stop()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and self.running:
            time.sleep(0.05)
        if self.running:
            raise ServerFailedToStart(f"{self.name} would not stop")
        return self.start_and_wait(timeout)
