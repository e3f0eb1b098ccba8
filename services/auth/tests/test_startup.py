"""The service refuses to start on a bad configuration, naming the variable."""

import os
import subprocess
import sys


def run_auth(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("MONGO_", "REDIS_", "AUTH_", "NATS_"))}
    return subprocess.run(
        [sys.executable, "-m", "auth"], env={**clean, **env}, capture_output=True, text=True, timeout=60
    )


def test_missing_database_url_stops_the_service_naming_it():
    result = run_auth({"REDIS_URL": "redis://127.0.0.1:1/0", "AUTH_SIGNING_KEY": "x"})
    assert result.returncode == 2
    assert "auth: configuration error: MONGO_URL: is required and not set" in result.stderr


def test_malformed_number_stops_the_service_naming_it():
    result = run_auth({
        "MONGO_URL": "mongodb://127.0.0.1:1/", "REDIS_URL": "redis://127.0.0.1:1/0",
        "AUTH_SIGNING_KEY": "x", "AUTH_TOKEN_TTL_SECONDS": "an hour",
    })  # fmt: skip
    assert result.returncode == 2
    assert "AUTH_TOKEN_TTL_SECONDS: expected an integer, got 'an hour'" in result.stderr


def test_unreachable_database_stops_the_service_after_bounded_retries(tmp_path):
    from auth.tokens import generate_signing_key_pem

    result = run_auth({
        "MONGO_URL": "mongodb://127.0.0.1:9/", "REDIS_URL": "redis://127.0.0.1:9/0", "NATS_URL": "nats://127.0.0.1:9",
        "AUTH_SIGNING_KEY": generate_signing_key_pem(), "CONNECT_ATTEMPTS": "2", "LOG_FORMAT": "text",
    })  # fmt: skip
    assert result.returncode == 3
    assert "could not reach NATS at nats://127.0.0.1:9 after 2 attempts" in result.stderr
