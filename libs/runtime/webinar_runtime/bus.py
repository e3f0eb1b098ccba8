"""The NATS bus: request/reply with deadlines and typed errors, events on JetStream.

Requests go to `<service>.<...>` subjects served with queue group = the service,
so N replicas share the load with no other discovery. Every request carries a
deadline and a trace id in its headers; a refusal travels as an ErrorReply and is
raised again on the asking side as the same ServiceError subclass.

Events are published to one JetStream stream with a unique id (`Nats-Msg-Id`, so
a retried publish is stored once) and consumed by durable pull consumers that ack
only after the handler succeeded.
"""

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

import msgspec
import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, StorageType, StreamConfig

from webinar_contracts import Endpoint, ErrorReply, EventType, InvalidInput, RequestContext, ServiceError
from webinar_contracts.errors import ErrorCode, Unavailable
from webinar_contracts.validation import explain
from webinar_runtime import metrics
from webinar_runtime.logs import new_trace_id, trace_id_var
from webinar_runtime.retry import retry

log = logging.getLogger("webinar.bus")

Req = TypeVar("Req", bound=msgspec.Struct)
Rep = TypeVar("Rep", bound=msgspec.Struct)
P = TypeVar("P", bound=msgspec.Struct)

EVENT_STREAM = "EVENTS"
DEADLINE_HEADER = "deadline-ms"
ERROR_HEADER = "error"
# A request nobody listens to is asked once more after this long (a replica may be subscribing).
NO_RESPONDERS_RETRY = 0.1
EVENT_ID_HEADER = "Nats-Msg-Id"
EVENT_TIME_HEADER = "occurred-at"
EVENT_VERSION_HEADER = "event-version"

RequestHandler = Callable[[Req, RequestContext], Awaitable[Rep]]


@dataclass(frozen=True)
class Event(Generic[P]):
    """One delivered event: its unique id, when it happened, who caused it, what."""

    id: str
    subject: str
    occurred_at: datetime
    context: RequestContext
    payload: P


EventHandler = Callable[[Event[Any]], Awaitable[None]]


def _now_ms() -> int:
    return int(time.time() * 1000)


class Bus:
    """One service's connection to NATS: serves its subjects, asks others, publishes events."""

    def __init__(self, nc: NatsClient, *, service: str, request_timeout: float, max_in_flight: int) -> None:
        self.nc = nc
        self.js = nc.jetstream()
        self.service = service
        self.request_timeout = request_timeout
        self._slots = asyncio.Semaphore(max_in_flight)
        self._subscriptions: list[Subscription] = []
        self._in_flight: set[asyncio.Task[None]] = set()
        self._consumers: list[asyncio.Task[None]] = []
        self._pull_subscriptions: list[Any] = []
        self._stopping = asyncio.Event()

    @classmethod
    async def connect(
        cls,
        url: str,
        *,
        service: str,
        instance: str,
        request_timeout: float = 5.0,
        max_in_flight: int = 256,
        attempts: int = 30,
    ) -> "Bus":
        """Connect to NATS, retrying up to `attempts` times (dependencies may start later)."""

        async def open_connection() -> NatsClient:
            # With endless reconnects nats-py also retries a first connect forever: bound each
            # attempt here, and let retry() bound their number.
            return await asyncio.wait_for(
                nats.connect(
                    servers=[part.strip() for part in url.split(",")],
                    name=f"{service}:{instance}",
                    connect_timeout=2,
                    allow_reconnect=True,
                    max_reconnect_attempts=-1,
                    reconnect_time_wait=0.5,
                    error_cb=_log_nats_error,
                    disconnected_cb=_log_disconnected,
                    reconnected_cb=_log_reconnected,
                ),
                timeout=5,
            )

        nc = await retry(open_connection, what=f"NATS at {url}", attempts=attempts)
        return cls(nc, service=service, request_timeout=request_timeout, max_in_flight=max_in_flight)

    @property
    def connected(self) -> bool:
        return self.nc.is_connected

    # -- request/reply -------------------------------------------------------

    async def serve(self, endpoint: Endpoint[Req, Rep], handler: RequestHandler[Req, Rep]) -> None:
        """Answer `endpoint.subject` with `handler`, sharing the load with every replica."""
        if endpoint.service != self.service:
            raise ValueError(f"{self.service} cannot serve {endpoint.subject}, which belongs to {endpoint.service}")

        async def on_message(msg: Msg) -> None:
            await self._slots.acquire()
            task = asyncio.create_task(self._handle(endpoint, handler, msg))
            self._in_flight.add(task)
            task.add_done_callback(self._request_done)

        self._subscriptions.append(await self.nc.subscribe(endpoint.subject, queue=self.service, cb=on_message))
        # The server knows of the subscription once this returns: "ready" then means reachable.
        await self.nc.flush()

    async def answer_all(self, subject: str, responder: Callable[[], Awaitable[msgspec.Struct]]) -> None:
        """Answer `subject` from every replica (no queue group): used for health roll-calls."""

        async def on_message(msg: Msg) -> None:
            if msg.reply:
                await self.nc.publish(msg.reply, msgspec.json.encode(await responder()))

        self._subscriptions.append(await self.nc.subscribe(subject, cb=on_message))

    def _request_done(self, task: asyncio.Task[None]) -> None:
        self._in_flight.discard(task)
        self._slots.release()

    async def _handle(self, endpoint: Endpoint[Any, Any], handler: RequestHandler[Any, Any], msg: Msg) -> None:
        headers = msg.headers or {}
        context = RequestContext.from_headers(headers)
        token = trace_id_var.set(context.trace_id or new_trace_id())
        started = time.perf_counter()
        outcome = "ok"
        try:
            deadline = int(headers.get(DEADLINE_HEADER, "0") or 0)
            if deadline and deadline < _now_ms():
                # The asker has given up: doing the work now could only half-finish it.
                outcome = "expired"
                log.warning("request expired before handling", extra={"subject": msg.subject})
                return
            try:
                request = msgspec.json.decode(msg.data, type=endpoint.request)
                reply: msgspec.Struct = await handler(request, context)
                body, reply_headers = msgspec.json.encode(reply), None
            except msgspec.ValidationError as error:
                refusal = explain(error)
                outcome = refusal.code.value
                body, reply_headers = msgspec.json.encode(refusal.to_reply()), {ERROR_HEADER: "1"}
            except msgspec.DecodeError as error:
                refusal = InvalidInput(f"malformed request: {error}")
                outcome = refusal.code.value
                body, reply_headers = msgspec.json.encode(refusal.to_reply()), {ERROR_HEADER: "1"}
            except ServiceError as error:
                outcome = error.code.value
                body, reply_headers = msgspec.json.encode(error.to_reply()), {ERROR_HEADER: "1"}
            except Exception:
                outcome = ErrorCode.INTERNAL.value
                log.exception("request handler failed", extra={"subject": msg.subject})
                failure = ErrorReply(code=ErrorCode.INTERNAL, message=f"internal error (trace {trace_id_var.get()})")
                body, reply_headers = msgspec.json.encode(failure), {ERROR_HEADER: "1"}
            if msg.reply:
                await self.nc.publish(msg.reply, body, headers=reply_headers)
        finally:
            metrics.BUS_REQUESTS.labels(endpoint.subject, outcome).inc()
            metrics.BUS_REQUEST_SECONDS.labels(endpoint.subject).observe(time.perf_counter() - started)
            trace_id_var.reset(token)

    async def request(
        self,
        endpoint: Endpoint[Req, Rep],
        payload: Req,
        *,
        context: RequestContext | None = None,
        timeout: float | None = None,
    ) -> Rep:
        """Ask the service owning `endpoint`; its refusal is raised as a ServiceError,
        its absence or silence as Unavailable."""
        if not isinstance(payload, endpoint.request):
            raise TypeError(f"{endpoint.subject} takes {endpoint.request.__name__}, not {type(payload).__name__}")
        timeout = self.request_timeout if timeout is None else timeout
        context = context or RequestContext()
        trace_id = context.trace_id or trace_id_var.get() or new_trace_id()
        headers = RequestContext(
            trace_id=trace_id,
            tenant_id=context.tenant_id,
            plan=context.plan,
            user_id=context.user_id,
            client_ip=context.client_ip,
        ).to_headers()
        deadline = time.monotonic() + timeout
        headers[DEADLINE_HEADER] = str(_now_ms() + int(timeout * 1000))
        data = msgspec.json.encode(payload)
        try:
            try:
                msg = await self.nc.request(endpoint.subject, data, timeout=timeout, headers=headers)
            except nats.errors.NoRespondersError:
                # Nobody listens this instant: a replica may be (re)subscribing, as in a rolling
                # restart. Ask once more a moment later before saying the service is away.
                await asyncio.sleep(min(NO_RESPONDERS_RETRY, max(0.0, deadline - time.monotonic())))
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise
                msg = await self.nc.request(endpoint.subject, data, timeout=remaining, headers=headers)
        except nats.errors.NoRespondersError:
            raise Unavailable(f"the {endpoint.service} service is not running") from None
        except nats.errors.TimeoutError:
            raise Unavailable(f"the {endpoint.service} service did not answer within {timeout:g}s") from None
        except (nats.errors.ConnectionClosedError, nats.errors.ConnectionReconnectingError):
            raise Unavailable("the message bus is not reachable") from None
        if msg.headers and msg.headers.get(ERROR_HEADER):
            raise ServiceError.from_reply(msgspec.json.decode(msg.data, type=ErrorReply))
        return msgspec.json.decode(msg.data, type=endpoint.reply)

    async def roll_call(self, subject: str, reply_type: type[Rep], *, timeout: float = 0.5) -> list[Rep]:
        """Ask every replica listening on `subject` and collect what answers within `timeout`."""
        inbox = self.nc.new_inbox()
        replies: list[Rep] = []

        async def collect(msg: Msg) -> None:
            try:
                replies.append(msgspec.json.decode(msg.data, type=reply_type))
            except msgspec.MsgspecError:
                log.warning("unreadable roll-call reply", extra={"subject": subject})

        sub = await self.nc.subscribe(inbox, cb=collect)
        try:
            await self.nc.publish(subject, b"{}", reply=inbox)
            await asyncio.sleep(timeout)
        finally:
            await sub.unsubscribe()
        return replies

    # -- events --------------------------------------------------------------

    async def ensure_event_stream(self, *, replicas: int = 1, max_age_days: float = 30) -> None:
        """Create the events stream, or leave it as it is when it exists."""
        config = StreamConfig(
            name=EVENT_STREAM,
            subjects=["events.>"],
            storage=StorageType.FILE,
            num_replicas=replicas,
            max_age=max_age_days * 86400,
            duplicate_window=120,
        )
        try:
            await self.js.stream_info(EVENT_STREAM)
        except nats.js.errors.NotFoundError:
            try:
                await self.js.add_stream(config)
            except nats.js.errors.BadRequestError:
                # Another replica created it between our look and our add.
                await self.js.stream_info(EVENT_STREAM)

    async def publish(
        self,
        event_type: EventType[P],
        payload: P,
        *,
        context: RequestContext | None = None,
        event_id: str | None = None,
    ) -> str:
        """Store an event durably; returns its id. A retry with the same id is stored once."""
        if not isinstance(payload, event_type.payload):
            raise TypeError(f"{event_type.subject} carries {event_type.payload.__name__}, not {type(payload).__name__}")
        event_id = event_id or uuid.uuid4().hex
        context = context or RequestContext()
        headers = RequestContext(
            trace_id=context.trace_id or trace_id_var.get(),
            tenant_id=context.tenant_id,
            plan=context.plan,
            user_id=context.user_id,
            client_ip=context.client_ip,
        ).to_headers()
        headers[EVENT_ID_HEADER] = event_id
        headers[EVENT_TIME_HEADER] = datetime.now(UTC).isoformat()
        headers[EVENT_VERSION_HEADER] = str(event_type.version)
        await self.js.publish(event_type.subject, msgspec.json.encode(payload), headers=headers)
        metrics.EVENTS_PUBLISHED.labels(event_type.subject).inc()
        return event_id

    async def consume(
        self,
        durable: str,
        handlers: dict[EventType[Any], EventHandler],
        *,
        deliver_new_only: bool = False,
        max_deliver: int = 20,
        ack_wait: float = 30,
    ) -> None:
        """Run a durable consumer named `durable` over the given event types until shutdown.

        A handler that raises gets its event again later (with back-off); an event
        that cannot be decoded is logged and dropped. Handlers must be idempotent:
        JetStream delivers at least once.
        """
        by_subject = {event_type.subject: (event_type, handler) for event_type, handler in handlers.items()}
        config = ConsumerConfig(
            durable_name=durable,
            filter_subjects=sorted(by_subject),
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.NEW if deliver_new_only else DeliverPolicy.ALL,
            max_deliver=max_deliver,
            ack_wait=ack_wait,
        )
        await self.js.add_consumer(EVENT_STREAM, config)
        subscription = await self.js.pull_subscribe_bind(durable=durable, stream=EVENT_STREAM)
        self._pull_subscriptions.append(subscription)
        task = asyncio.create_task(self._consume_loop(durable, subscription, by_subject), name=f"consumer:{durable}")
        self._consumers.append(task)

    async def _consume_loop(self, durable: str, subscription: Any, by_subject: dict[str, Any]) -> None:
        while not self._stopping.is_set():
            try:
                batch = await subscription.fetch(batch=32, timeout=1)
            except TimeoutError:  # nothing came within the second (nats-py raises its own or asyncio's)
                continue
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("event fetch failed", extra={"consumer": durable})
                await asyncio.sleep(1)
                continue
            for msg in batch:
                await self._deliver(durable, msg, by_subject)

    async def _deliver(self, durable: str, msg: Msg, by_subject: dict[str, Any]) -> None:
        event_type, handler = by_subject.get(msg.subject, (None, None))
        headers = msg.headers or {}
        context = RequestContext.from_headers(headers)
        token = trace_id_var.set(context.trace_id or new_trace_id())
        try:
            if handler is None:
                await msg.term()
                return
            try:
                payload = msgspec.json.decode(msg.data, type=event_type.payload)
                event = Event(
                    id=headers.get(EVENT_ID_HEADER) or f"{msg.metadata.stream}:{msg.metadata.sequence.stream}",
                    subject=msg.subject,
                    occurred_at=datetime.fromisoformat(headers[EVENT_TIME_HEADER])
                    if EVENT_TIME_HEADER in headers
                    else datetime.now(UTC),
                    context=context,
                    payload=payload,
                )
            except (msgspec.MsgspecError, ValueError):
                log.error("dropping an event that cannot be read", extra={"subject": msg.subject, "consumer": durable})
                metrics.EVENTS_HANDLED.labels(msg.subject, "unreadable").inc()
                await msg.term()
                return
            try:
                await handler(event)
            except asyncio.CancelledError:
                raise
            except Exception:
                attempt = msg.metadata.num_delivered or 1
                log.exception(
                    "event handler failed; will retry",
                    extra={"subject": msg.subject, "consumer": durable, "event_id": event.id, "attempt": attempt},
                )
                metrics.EVENTS_HANDLED.labels(msg.subject, "failed").inc()
                await msg.nak(delay=min(30.0, 0.5 * 2**attempt))
                return
            await msg.ack()
            metrics.EVENTS_HANDLED.labels(msg.subject, "ok").inc()
        finally:
            trace_id_var.reset(token)

    # -- shutdown ------------------------------------------------------------

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)

    async def stop_taking_work(self) -> None:
        """Stop receiving requests and events; what is in flight goes on."""
        self._stopping.set()
        for subscription in self._subscriptions:
            with contextlib.suppress(nats.errors.Error):
                await subscription.unsubscribe()
        self._subscriptions.clear()

    async def finish_in_flight(self, timeout: float) -> bool:
        """Wait up to `timeout` for in-flight requests and event handlers; True if all finished."""
        pending: set[asyncio.Task[None]] = set(self._in_flight) | set(self._consumers)
        if not pending:
            return True
        _, still = await asyncio.wait(pending, timeout=timeout)
        for task in still:
            task.cancel()
        await asyncio.gather(*still, return_exceptions=True)
        # Pull subscriptions are left open until their loops end; drain would wait on them.
        for subscription in self._pull_subscriptions:
            with contextlib.suppress(nats.errors.Error):
                await subscription.unsubscribe()
        self._pull_subscriptions.clear()
        return not still

    async def close(self) -> None:
        """Flush what was published, then close the connection."""
        if self.nc.is_closed:
            return
        try:
            await self.nc.drain()
        except (TimeoutError, nats.errors.Error):
            await self.nc.close()


async def _log_nats_error(error: Exception) -> None:
    log.warning("nats error: %s", error)


async def _log_disconnected() -> None:
    log.warning("disconnected from NATS")


async def _log_reconnected() -> None:
    log.info("reconnected to NATS")
