"""`python -m webinar_devstack run`: start the whole suite on this machine (what `make run` calls).

Checks that the ports are free, prepares `var/` (data, the token signing key, the
development API key), then hands over to honcho with deploy/Procfile. Ctrl-C or
SIGTERM stops every process it started.
"""

import argparse
import json
import os
import secrets
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from webinar_devstack.servers import port_in_use, redis_command

PORTS = {"NATS_PORT": 4222, "REDIS_PORT": 6379, "MONGO_PORT": 27017, "PORT": 8080}
WHAT = {"NATS_PORT": "NATS", "REDIS_PORT": "Redis", "MONGO_PORT": "MongoDB", "PORT": "the gateway"}


def _ports() -> dict[str, int]:
    chosen = {}
    for variable, default in PORTS.items():
        raw = os.environ.get(variable, str(default))
        if not raw.isdigit() or not 0 < int(raw) < 65536:
            sys.exit(f"{variable} must be a port number, got {raw!r}")
        chosen[variable] = int(raw)
    return chosen


def _signing_key(path: Path) -> None:
    if path.exists():
        return
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    path.write_bytes(pem)
    path.chmod(0o600)


def _api_key(path: Path) -> tuple[str, bool]:
    """WEBINAR_API_KEY when set; else the key kept in var/ from an earlier run; else a new one."""
    given = os.environ.get("WEBINAR_API_KEY", "").strip()
    if given:
        return given, False
    if path.exists():
        return path.read_text().strip(), False
    key = "wk_" + secrets.token_urlsafe(32)
    path.write_text(key + "\n")
    path.chmod(0o600)
    return key, True


def run(root: Path) -> None:
    ports = _ports()
    taken = [f"  {WHAT[v]} port {p} (set {v} to use another)" for v, p in ports.items() if port_in_use(p)]
    if taken:
        sys.exit("cannot start: these ports are already taken:\n" + "\n".join(taken))
    var = root / "var"
    for folder in ("nats", "redis", "mongo", "blobs"):
        (var / folder).mkdir(parents=True, exist_ok=True)
    _signing_key(var / "auth-signing-key.pem")
    api_key, created = _api_key(var / "api-key")
    bin_dir = str(Path(sys.executable).parent)
    env = {
        **os.environ,
        **{variable: str(port) for variable, port in ports.items() if variable != "PORT"},
        "GATEWAY_PORT": str(ports["PORT"]),
        "PATH": bin_dir + os.pathsep + os.environ.get("PATH", ""),
        "NATS_URL": f"nats://127.0.0.1:{ports['NATS_PORT']}",
        "REDIS_URL": f"redis://127.0.0.1:{ports['REDIS_PORT']}/0",
        "MONGO_URL": f"mongodb://127.0.0.1:{ports['MONGO_PORT']}/",
        "AUTH_SIGNING_KEY_FILE": str(var / "auth-signing-key.pem"),
        "WEBINAR_API_KEY": api_key,
        "WEBINAR_API_KEY_CREATED": "1" if created else "",
        "LOG_FORMAT": os.environ.get("LOG_FORMAT", "text"),
        "PYTHONUNBUFFERED": "1",
    }
    procfile = root / "deploy" / "Procfile"
    os.chdir(root)
    os.execvpe("honcho", ["honcho", "start", "-f", str(procfile), "-d", str(root)], env)


def announce() -> None:
    """Wait until every service is ready, print where the suite answers, then idle."""
    url = f"http://127.0.0.1:{os.environ.get('PORT', '8080')}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=2) as response:
                if json.load(response).get("status") == "ok":
                    break
        except (urllib.error.URLError, ConnectionError, TimeoutError, ValueError):
            pass
        time.sleep(0.5)
    else:
        print(f"the suite did not become ready within 120 s: see the logs above and {url}/healthz", flush=True)
    key = os.environ.get("WEBINAR_API_KEY", "")
    note = " (new, kept in var/api-key)" if os.environ.get("WEBINAR_API_KEY_CREATED") else ""
    print(
        f"\n  webinar suite ready at {url}\n"
        f"  API key{note}: {key}\n"
        f"  the web app (the key is in the link; it stays in your browser): {url}/app/#key={key}\n"
        "  Ctrl-C stops everything.\n",
        flush=True,
    )
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass


def redis_server(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m webinar_devstack redis-server")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--dir", type=Path, required=True)
    args = parser.parse_args(argv)
    args.dir.mkdir(parents=True, exist_ok=True)
    command = redis_command(args.port, args.dir.resolve())
    os.execv(command[0], command)


def main(argv: list[str]) -> None:
    if not argv or argv[0] == "run":
        run(Path.cwd())
    elif argv[0] == "announce":
        announce()
    elif argv[0] == "redis-server":
        redis_server(argv[1:])
    else:
        sys.exit("usage: python -m webinar_devstack [run | announce | redis-server --port P --dir D]")


if __name__ == "__main__":
    main(sys.argv[1:])
