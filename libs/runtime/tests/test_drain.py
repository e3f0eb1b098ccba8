"""Drain hooks (`Service.on_drain`): run first at shutdown, while the service still answers
on the bus and says it is not ready; cut off at their budget; the shutdown watchdog waits
for them."""

import asyncio
import time
import uuid

import aiohttp
import msgspec
import pytest

from webinar_contracts import Endpoint, RequestContext
from webinar_runtime.bus import Bus
from webinar_runtime.config import RuntimeConfig
from webinar_runtime.service import SHUTDOWN_MARGIN, Service


class Ping(msgspec.Struct):
    text: str


class Pong(msgspec.Struct):
    text: str


async def pong(request: Ping, context: RequestContext) -> Pong:
    return Pong(text=request.text)


async def test_a_drain_hook_runs_first_while_the_bus_serves_and_the_service_is_live_but_not_ready(nats_url):
    service = Service("test", RuntimeConfig(nats_url=nats_url, shutdown_grace=1))
    await service.start()
    ping = Endpoint(f"test.drain-{uuid.uuid4().hex[:8]}", Ping, Pong)
    await service.serve(ping, pong)
    service.mark_ready()
    asker = await Bus.connect(nats_url, service="test", instance="asker", request_timeout=2)
    steps: list[str] = []
    seen: dict[str, object] = {}

    async def drain() -> None:
        steps.append("drain")
        seen["ready"] = (await service.health_report()).ready
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as http:
            base = f"http://127.0.0.1:{service.health_port}"
            async with http.get(f"{base}/readyz") as readyz, http.get(f"{base}/livez") as livez:
                seen["readyz"], seen["livez"] = readyz.status, livez.status
        seen["answer"] = await asker.request(ping, Ping(text="still here"))

    async def stop() -> None:
        steps.append("stop")

    async def close() -> None:
        steps.append("close")
        seen["bus connected at close"] = service.bus.connected

    service.on_drain(drain, 5)
    service.on_stop(stop)
    service.on_close(close)
    try:
        assert (await service.health_report()).ready
        await service.shutdown()
    finally:
        await asker.close()
    assert steps == ["drain", "stop", "close"]
    assert seen == {
        "ready": False,
        "readyz": 503,
        "livez": 200,
        "answer": Pong(text="still here"),
        "bus connected at close": False,
    }


async def test_a_drain_hook_past_its_budget_is_cut_off_and_the_shutdown_goes_on(nats_url):
    service = Service("overstaying", RuntimeConfig(nats_url=nats_url, shutdown_grace=1))
    await service.start()
    service.mark_ready()
    cancelled = asyncio.Event()
    stopped = asyncio.Event()

    async def never_drained() -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    async def stop() -> None:
        stopped.set()

    service.on_drain(never_drained, 0.2)
    service.on_stop(stop)
    started = time.monotonic()
    await asyncio.wait_for(service.shutdown(), 10)
    assert 0.2 <= time.monotonic() - started < 5
    assert cancelled.is_set()
    assert stopped.is_set()


def test_the_shutdown_budget_adds_every_drain_budget_to_the_grace_and_margin():
    service = Service("budgeted", RuntimeConfig(shutdown_grace=20))
    assert service.shutdown_budget == 20 + SHUTDOWN_MARGIN

    async def wait() -> None:
        pass

    service.on_drain(wait, 3600)
    service.on_drain(wait, 30)
    assert service.shutdown_budget == 3600 + 30 + 20 + SHUTDOWN_MARGIN
    with pytest.raises(ValueError, match="budget"):
        service.on_drain(wait, 0)
