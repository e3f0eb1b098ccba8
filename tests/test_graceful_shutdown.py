"""SIGTERM: a service stops taking requests, finishes those in flight, then exits cleanly."""

import asyncio
import signal

import pytest

from restclient import call, new_user
from webinar_devstack.suite import Suite


@pytest.fixture
def own_suite(tmp_path, private_nats_url, redis_url, mongo_url):
    suite = Suite(
        workdir=tmp_path, nats_url=private_nats_url, redis_url=redis_url, mongo_url=mongo_url,
        services=["auth", "gateway"], env={"AUTH_DATABASE": "auth_shutdown", "BUS_REQUEST_TIMEOUT": "5"},
    ).start()  # fmt: skip
    yield suite
    suite.stop()


@pytest.mark.slow
async def test_sigterm_lets_logins_in_flight_finish(own_suite, http):
    suite = own_suite
    body = new_user()
    assert (await call(http, "POST", suite.url + "/auth/register", key=suite.api_key, json=body))[0] == 201
    credentials = {"userName": body["email"], "password": body["password"]}

    burst = [
        asyncio.create_task(call(http, "POST", suite.url + "/auth/login", key=suite.api_key, json=credentials))
        for _ in range(16)
    ]
    await asyncio.sleep(0.15)  # argon2 keeps several logins in flight now
    auth = suite.processes["auth"].process
    auth.send_signal(signal.SIGTERM)
    statuses = [status for status, _, _ in await asyncio.gather(*burst)]
    exit_code = await asyncio.to_thread(auth.wait, 30)

    assert exit_code == 0
    assert set(statuses) <= {200, 503}, statuses
    assert statuses.count(200) >= 1
    # Nothing in flight was cut off: every 503 is a refusal of a request that arrived after the stop.
    status, answer, _ = await call(http, "POST", suite.url + "/auth/login", key=suite.api_key, json=credentials)
    assert (status, answer["message"]) == (503, "the auth service is not running")
