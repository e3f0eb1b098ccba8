"""The suite as `make run` starts it, for tests: every service its own process,
on real NATS, Redis and the MongoDB-compatible server, the gateway on a free port."""

import json
import os
import re
import secrets
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterable
from pathlib import Path

from webinar_devstack.processes import ServiceProcess, http_ok
from webinar_devstack.servers import LOOPBACK, ServerFailedToStart, free_port

REPO_ROOT = Path(__file__).resolve().parents[3]


def discover_services(root: Path = REPO_ROOT) -> list[str]:
    """Every service under services/ that runs as `python -m <name>`, the gateway last."""
    found = sorted(
        path.parent.name
        for path in root.glob("services/*/*/__main__.py")
        if path.parent.name == path.parent.parent.name
    )
    return sorted(found, key=lambda name: name == "gateway")


def generate_signing_key(path: Path) -> Path:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    path.write_bytes(
        Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return path


class Suite:
    """Service processes sharing one set of backing servers (by default every service in the repo).

    `api_key` belongs to a Professional tenant created at start (WEBINAR_API_KEY);
    `create_tenant()` makes more, on either plan, through auth's command line.
    """

    def __init__(
        self,
        *,
        workdir: Path,
        nats_url: str,
        redis_url: str,
        mongo_url: str,
        services: Iterable[str] | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.api_key = "wk_test_" + secrets.token_urlsafe(24)
        self.gateway_port = free_port()
        self.env = {
            "NATS_URL": nats_url,
            "REDIS_URL": redis_url,
            "MONGO_URL": mongo_url,
            "AUTH_SIGNING_KEY_FILE": str(generate_signing_key(workdir / "signing-key.pem")),
            "WEBINAR_API_KEY": self.api_key,
            "WEBINAR_TENANT_NAME": "suite-professional",
            "HOST": LOOPBACK,
            "PORT": str(self.gateway_port),
            "BLOB_DIR": str(workdir / "blobs"),
            "RECORDING_BLOB_DIR": str(workdir / "blobs" / "recording"),
            **(env or {}),
        }
        names = discover_services() if services is None else list(services)
        self.processes = {name: ServiceProcess(name, self.env, log_path=workdir / f"{name}.log") for name in names}

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.gateway_port}"

    def start(self, timeout: float = 90.0) -> "Suite":
        for process in self.processes.values():
            process.start_and_wait(timeout)
        self.wait_healthy(timeout)
        return self

    def wait_healthy(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=2) as response:
                    report = json.load(response)
            except urllib.error.HTTPError as refusal:  # 503 while any service is not ready
                report = json.load(refusal)
            except (urllib.error.URLError, ConnectionError, TimeoutError, ValueError):
                report = {}
            services = report.get("services", {})
            # Only the services this suite started: a test may run a subset on purpose.
            if report and all(services.get(name, {}).get("ready") for name in self.processes):
                return
            time.sleep(0.1)
        raise ServerFailedToStart(f"the suite did not become healthy within {timeout}s; logs in {self.workdir}")

    def stop(self) -> None:
        for process in reversed(list(self.processes.values())):
            process.stop()

    def create_tenant(self, plan: str = "essential", name: str | None = None) -> str:
        """A new tenant on `plan`; returns its API key."""
        name = name or f"tenant-{secrets.token_hex(4)}"
        output = subprocess.run(
            [sys.executable, "-m", "auth", "tenants", "create", "--name", name, "--plan", plan],
            env={**os.environ, **self.env},
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout
        found = re.search(r"api key[^:]*: (\S+)", output)
        if not found:
            raise RuntimeError(f"no API key in: {output}")
        return found.group(1)

    def ready(self, name: str) -> bool:
        return http_ok(self.processes[name].ready_url)
