"""k8s/base/redis/build-acl.sh, run as the Redis pod's init container runs it, writes an ACL
file that the real Redis-compatible server (the version the manifests deploy) loads: each
service reaches only its own keys, the default user is off, a malformed URL stops the pod."""

import subprocess

import pytest
import redis

from deployment.manifests import BASE_DIR
from webinar_devstack.servers import ManagedProcess, free_port, redis_server_binary, tcp_ready

SCRIPT = BASE_DIR / "redis" / "build-acl.sh"


def build_acl(path, env):
    return subprocess.run(
        ["sh", str(SCRIPT), str(path)],
        env={"PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        timeout=30,
    )


@pytest.fixture
def acl_server(tmp_path):
    acl = tmp_path / "users.acl"
    built = build_acl(
        acl,
        {
            "REDIS_ADMIN_PASSWORD": "admin-password-1",
            "SERVICE_REDIS_URL_AUTH": "redis://auth:auth-password-1@redis:6379/0",
            "SERVICE_REDIS_URL_MEETINGS": "redis://meetings:meetings-password-1@redis:6379/0",
        },
    )
    assert built.returncode == 0, built.stderr
    port = free_port()
    command = [redis_server_binary(), "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--aclfile", str(acl)]
    server = ManagedProcess("redis-acl", command, port, log_path=tmp_path / "redis.log")
    server.start(tcp_ready(port), timeout=30)
    yield port
    server.stop()


def client(port, user=None, password=None):
    # No retries: a refused login is the answer under test, not a hiccup to retry.
    return redis.Redis(
        host="127.0.0.1",
        port=port,
        username=user,
        password=password,
        socket_timeout=5,
        retry=redis.retry.Retry(redis.backoff.NoBackoff(), 0),
    )


def test_a_service_reads_and_writes_only_its_own_keys(acl_server):
    auth = client(acl_server, "auth", "auth-password-1")
    auth.set("auth:login-failures:x", 1)
    assert auth.get("auth:login-failures:x") == b"1"
    with pytest.raises(redis.exceptions.NoPermissionError):
        auth.get("meetings:chat:room-1")
    with pytest.raises(redis.exceptions.NoPermissionError):
        auth.flushall()
    meetings = client(acl_server, "meetings", "meetings-password-1")
    meetings.rpush("meetings:chat:room-1", "hello")
    assert meetings.llen("meetings:chat:room-1") == 1


def test_the_default_user_and_wrong_passwords_are_refused(acl_server):
    with pytest.raises(redis.exceptions.AuthenticationError):
        client(acl_server, "auth", "meetings-password-1").ping()
    # Without a user name the client is the default user, which is off.
    with pytest.raises(redis.exceptions.AuthenticationError):
        client(acl_server).get("auth:x")
    assert client(acl_server, "admin", "admin-password-1").dbsize() >= 0


def test_a_url_without_credentials_stops_the_init_container(tmp_path):
    acl = tmp_path / "users.acl"
    built = build_acl(acl, {"REDIS_ADMIN_PASSWORD": "x", "SERVICE_REDIS_URL_AUTH": "redis://redis:6379/0"})
    assert built.returncode != 0
    assert "SERVICE_REDIS_URL_AUTH" in built.stderr
    assert not acl.exists()
