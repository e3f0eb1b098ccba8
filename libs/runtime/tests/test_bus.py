"""The bus against a real nats-server with JetStream."""

import asyncio
import logging
import uuid
from typing import Any

import msgspec
import nats.errors
import pytest

from webinar_contracts import Conflict, Endpoint, EventType, InvalidInput, RequestContext, Unavailable
from webinar_contracts.errors import ServiceError
from webinar_contracts.plans import Plan
from webinar_runtime.bus import Bus
from webinar_runtime.logs import trace_id_var


class Greet(msgspec.Struct):
    name: str


class Greeting(msgspec.Struct):
    text: str
    tenant: str | None = None
    trace: str = ""


class Happened(msgspec.Struct):
    what: str


def endpoint() -> Endpoint[Greet, Greeting]:
    return Endpoint(f"test.greet-{uuid.uuid4().hex[:8]}", Greet, Greeting)


@pytest.fixture
async def bus(nats_url):
    bus = await Bus.connect(nats_url, service="test", instance="one", request_timeout=2)
    await bus.ensure_event_stream()
    yield bus
    await bus.stop_taking_work()
    await bus.finish_in_flight(2)
    await bus.close()


async def test_request_reaches_the_handler_with_its_context(bus):
    greet = endpoint()

    async def handler(request: Greet, context: RequestContext) -> Greeting:
        return Greeting(text=f"hello {request.name}", tenant=context.tenant_id, trace=trace_id_var.get())

    await bus.serve(greet, handler)
    reply = await bus.request(greet, Greet(name="ada"), context=RequestContext(trace_id="trace-1", tenant_id="t1"))
    assert reply == Greeting(text="hello ada", tenant="t1", trace="trace-1")


async def test_refusal_is_raised_on_the_asking_side_as_the_same_class(bus):
    greet = endpoint()

    async def handler(request: Greet, context: RequestContext) -> Greeting:
        raise Conflict("name taken", field="name")

    await bus.serve(greet, handler)
    with pytest.raises(Conflict) as caught:
        await bus.request(greet, Greet(name="ada"))
    assert (caught.value.message, caught.value.field) == ("name taken", "name")


async def test_a_payload_of_the_wrong_shape_is_refused_naming_the_field(bus, nats_url):
    greet = endpoint()

    async def handler(request: Greet, context: RequestContext) -> Greeting:
        return Greeting(text="unreachable")

    await bus.serve(greet, handler)
    wrong = Endpoint(greet.subject, Happened, Greeting)  # a caller with an outdated schema
    with pytest.raises(InvalidInput) as caught:
        await bus.request(wrong, Happened(what="x"))
    assert caught.value.field == "name"


async def test_a_crashing_handler_answers_internal_error_and_keeps_serving(bus):
    greet = endpoint()
    calls = []

    async def handler(request: Greet, context: RequestContext) -> Greeting:
        calls.append(request.name)
        if request.name == "boom":
            raise RuntimeError("bug")
        return Greeting(text="fine")

    await bus.serve(greet, handler)
    with pytest.raises(ServiceError) as caught:
        await bus.request(greet, Greet(name="boom"))
    assert caught.value.code == "internal"
    assert "internal error (trace " in caught.value.message
    assert (await bus.request(greet, Greet(name="ok"))).text == "fine"


async def test_nobody_serving_is_unavailable_at_once(bus):
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(Unavailable, match="the test service is not running"):
        await bus.request(endpoint(), Greet(name="x"), timeout=5)
    assert loop.time() - started < 1


async def test_a_replica_that_subscribes_a_moment_after_the_request_still_answers_it(bus, nats_url):
    greet = endpoint()
    replica = await Bus.connect(nats_url, service="test", instance="starting")

    async def handler(request: Greet, context: RequestContext) -> Greeting:
        return Greeting(text=f"hello {request.name}")

    async def start_serving_soon() -> None:
        await asyncio.sleep(0.03)
        await replica.serve(greet, handler)

    try:
        serving = asyncio.create_task(start_serving_soon())
        assert (await bus.request(greet, Greet(name="early"), timeout=5)).text == "hello early"
        await serving
    finally:
        await replica.close()


async def test_a_silent_service_is_unavailable_after_the_deadline(bus):
    greet = endpoint()

    async def handler(request: Greet, context: RequestContext) -> Greeting:
        await asyncio.sleep(1)
        return Greeting(text="late")

    await bus.serve(greet, handler)
    with pytest.raises(Unavailable, match=r"did not answer within 0\.2s"):
        await bus.request(greet, Greet(name="x"), timeout=0.2)


async def test_replicas_share_requests_through_the_queue_group(bus, nats_url):
    greet = endpoint()
    other = await Bus.connect(nats_url, service="test", instance="two")
    served: list[str] = []

    def handler_for(instance: str):
        async def handler(request: Greet, context: RequestContext) -> Greeting:
            served.append(instance)
            return Greeting(text=instance)

        return handler

    try:
        await bus.serve(greet, handler_for("one"))
        await other.serve(greet, handler_for("two"))
        await asyncio.gather(*(bus.request(greet, Greet(name=str(i))) for i in range(40)))
        assert len(served) == 40
        assert {"one", "two"} == set(served)
    finally:
        await other.close()


async def test_stopping_finishes_in_flight_requests_and_takes_no_new_ones(nats_url):
    greet = endpoint()
    server = await Bus.connect(nats_url, service="test", instance="draining")
    client = await Bus.connect(nats_url, service="test", instance="client")
    release, entered = asyncio.Event(), asyncio.Event()

    async def handler(request: Greet, context: RequestContext) -> Greeting:
        entered.set()
        await release.wait()
        return Greeting(text="finished")

    await server.serve(greet, handler)
    # Generous bounds: the session's NATS may be busy with other tests' JetStream writes.
    in_flight = asyncio.create_task(client.request(greet, Greet(name="x"), timeout=20))
    await asyncio.wait_for(entered.wait(), 20)
    assert server.in_flight == 1
    await server.stop_taking_work()
    with pytest.raises(Unavailable):
        await client.request(greet, Greet(name="late"), timeout=1)
    release.set()
    assert await server.finish_in_flight(5)
    assert (await in_flight).text == "finished"
    await server.close()
    await client.close()


def event_type() -> EventType[Happened]:
    return EventType(f"events.test.{uuid.uuid4().hex[:8]}.happened", Happened)


async def wait_for(predicate, timeout=10.0):
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise TimeoutError("condition not met")
        await asyncio.sleep(0.02)


async def test_event_published_twice_with_one_id_is_delivered_once(bus):
    happened = event_type()
    seen: list[tuple[str, str, str | None]] = []

    async def handler(event):
        seen.append((event.id, event.payload.what, event.context.tenant_id))

    context = RequestContext(tenant_id="t9", plan=Plan.ESSENTIAL)
    await bus.publish(happened, Happened(what="first"), context=context, event_id="evt-1")
    await bus.publish(happened, Happened(what="first"), context=context, event_id="evt-1")
    await bus.publish(happened, Happened(what="second"), context=context)
    await bus.consume(f"test-{uuid.uuid4().hex[:8]}", {happened: handler})
    await wait_for(lambda: len(seen) >= 2)
    await asyncio.sleep(0.3)
    assert [what for _, what, _ in seen] == ["first", "second"]
    assert seen[0][0] == "evt-1"
    assert seen[0][2] == "t9"


async def test_a_failing_handler_gets_the_event_again(bus):
    happened = event_type()
    attempts: list[str] = []

    async def handler(event):
        attempts.append(event.id)
        if len(attempts) == 1:
            raise RuntimeError("transient")

    await bus.publish(happened, Happened(what="retry me"), event_id="evt-retry")
    await bus.consume(f"test-{uuid.uuid4().hex[:8]}", {happened: handler})
    await wait_for(lambda: len(attempts) >= 2)
    assert attempts[:2] == ["evt-retry", "evt-retry"]


async def test_a_durable_consumer_resumes_where_it_stopped(nats_url):
    happened = event_type()
    durable = f"test-{uuid.uuid4().hex[:8]}"
    first = await Bus.connect(nats_url, service="test", instance="c1")
    await first.ensure_event_stream()
    seen: list[str] = []

    async def handler(event):
        seen.append(event.payload.what)

    await first.publish(happened, Happened(what="a"))
    await first.consume(durable, {happened: handler})
    await wait_for(lambda: seen == ["a"])
    await first.stop_taking_work()
    await first.finish_in_flight(5)
    await first.close()

    publisher = await Bus.connect(nats_url, service="test", instance="pub")
    await publisher.publish(happened, Happened(what="b"))  # published while nobody consumes
    await publisher.close()

    second = await Bus.connect(nats_url, service="test", instance="c2")
    await second.consume(durable, {happened: handler})
    await wait_for(lambda: seen == ["a", "b"])
    await second.stop_taking_work()
    await second.finish_in_flight(5)
    await second.close()


async def test_a_pull_that_times_out_as_asyncio_does_is_an_empty_batch_not_an_error(bus, caplog):
    """nats-py's fetch raises asyncio's TimeoutError in one of its paths, its own in others:
    both mean "nothing came this second"."""
    pulls = 0

    class Subscription:
        async def fetch(self, batch: int, timeout: float) -> list[Any]:
            nonlocal pulls
            pulls += 1
            if pulls == 1:
                raise TimeoutError  # what nats-py raises when its deadline passes between requests
            if pulls == 2:
                raise nats.errors.TimeoutError
            bus._stopping.set()
            return []

    with caplog.at_level(logging.WARNING, logger="webinar.bus"):
        await asyncio.wait_for(bus._consume_loop("idle", Subscription(), {}), 5)
    assert pulls == 3
    assert "event fetch failed" not in caplog.text
