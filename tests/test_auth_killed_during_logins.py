"""Fault test: the auth process dies (SIGKILL) during a burst of logins."""

import asyncio
import time

import pytest

from restclient import call, new_user
from webinar_devstack.suite import Suite

DEADLINE = 2.0


@pytest.fixture
def fragile_suite(tmp_path, private_nats_url, redis_url, mongo_url):
    suite = Suite(
        workdir=tmp_path,
        nats_url=private_nats_url,
        redis_url=redis_url,
        mongo_url=mongo_url,
        services=["auth", "gateway"],
        env={"BUS_REQUEST_TIMEOUT": str(DEADLINE), "AUTH_DATABASE": "auth_fault", "API_KEY_CACHE_SECONDS": "300"},
    ).start()
    yield suite
    suite.stop()


@pytest.mark.slow
async def test_gateway_answers_503_in_time_and_no_user_is_lost(fragile_suite, http):
    suite = fragile_suite
    users = [new_user() for _ in range(20)]
    for body in users:
        assert (await call(http, "POST", suite.url + "/auth/register", key=suite.api_key, json=body))[0] == 201

    async def login(body):
        started = time.monotonic()
        status, _, _ = await call(http, "POST", suite.url + "/auth/login", key=suite.api_key,
                                  json={"userName": body["email"], "password": body["password"]})  # fmt: skip
        return status, time.monotonic() - started

    burst = [asyncio.create_task(login(users[i % len(users)])) for i in range(60)]
    await asyncio.sleep(0.05)
    suite.processes["auth"].kill()
    after_kill = [await login(body) for body in users[:5]]
    results = await asyncio.gather(*burst) + after_kill

    statuses = {status for status, _ in results}
    assert statuses <= {200, 503}
    assert all(status == 503 for status, _ in after_kill)
    slowest = max(elapsed for _, elapsed in results)
    assert slowest < DEADLINE + 1.5, f"a login took {slowest:.1f}s with auth dead"

    suite.processes["auth"].start_and_wait()
    for body in users:
        status, _, _ = await call(http, "POST", suite.url + "/auth/login", key=suite.api_key,
                                  json={"userName": body["email"], "password": body["password"]})  # fmt: skip
        assert status == 200, f"{body['email']} cannot log in after the restart"
