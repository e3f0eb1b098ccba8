"""One way to start any service: config, logs, bus, stores, health, metrics, shutdown.

A service's `__main__` is its domain wiring plus one call:

    run_service("auth", AuthConfig, wire)

where `wire(service, config)` opens what it needs through `service` and registers
its handlers. On SIGTERM or SIGINT the service turns unready, waits for long-lived
work to end by itself while it still serves (its drain hooks, if any, each within its
budget), stops taking requests, finishes those in flight (up to SHUTDOWN_GRACE_SECONDS),
drains NATS and closes its stores, in that order.
"""

import asyncio
import logging
import os
import signal
import sys
import threading
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import msgspec
import redis.asyncio as aioredis
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pymongo.asynchronous.database import AsyncDatabase

from webinar_contracts import Endpoint
from webinar_contracts.system import HEALTH_SUBJECT, HealthReport
from webinar_runtime.bus import Bus, RequestHandler
from webinar_runtime.config import ConfigError, RuntimeConfig, load_config
from webinar_runtime.logs import configure_logging
from webinar_runtime.retry import DependencyUnreachable
from webinar_runtime.stores import connect_mongo, connect_redis, mongo_ready, redis_ready

log = logging.getLogger("webinar.service")

C = TypeVar("C", bound=RuntimeConfig)
Check = Callable[[], Awaitable[bool]]
Hook = Callable[[], Awaitable[None]]


class Service:
    """A running service instance and everything it owns."""

    def __init__(self, name: str, config: RuntimeConfig) -> None:
        self.name = name
        self.config = config
        self._bus: Bus | None = None
        self._checks: dict[str, Check] = {}
        self._drain_hooks: list[tuple[Hook, float]] = []
        self._stop_hooks: list[Hook] = []
        self._close_hooks: list[Hook] = []
        self._stopped = asyncio.Event()
        self._ready = False
        self._health_runner: web.AppRunner | None = None
        self.health_port: int | None = None

    # -- wiring --------------------------------------------------------------

    @property
    def bus(self) -> Bus:
        if self._bus is None:
            raise RuntimeError("the bus is not connected yet: call start() first")
        return self._bus

    def add_check(self, name: str, check: Check) -> None:
        """A readiness condition; the service is ready when every check passes."""
        self._checks[name] = check

    def on_drain(self, hook: Hook, budget_seconds: float) -> None:
        """Run first at shutdown, while the service still answers on the bus but reports
        not ready: wait there for long-lived work (a media node's rooms) to end by itself.
        The hook is cancelled after `budget_seconds`, and the shutdown watchdog allows that
        much more time. Hooks run one after another, in the order registered."""
        if budget_seconds <= 0:
            raise ValueError("a drain hook needs a budget of more than 0 seconds")
        self._drain_hooks.append((hook, budget_seconds))

    @property
    def shutdown_budget(self) -> float:
        """How long a shutdown may take before the watchdog ends the process: the drain
        hooks' budgets, the grace for work in flight, and a margin for the rest."""
        return sum(budget for _, budget in self._drain_hooks) + self.config.shutdown_grace + SHUTDOWN_MARGIN

    def on_stop(self, hook: Hook) -> None:
        """Run at shutdown before the bus stops (e.g. stop an HTTP server, finishing its requests)."""
        self._stop_hooks.append(hook)

    def on_close(self, hook: Hook) -> None:
        """Run at shutdown after the bus has drained (close clients), last registered first."""
        self._close_hooks.append(hook)

    async def serve(self, endpoint: Endpoint[Any, Any], handler: RequestHandler[Any, Any]) -> None:
        await self.bus.serve(endpoint, handler)

    async def open_mongo(self, url: str, database: str) -> AsyncDatabase[Any]:
        """This service's own MongoDB database (one per service); closed at shutdown."""
        client = await connect_mongo(url, attempts=self.config.connect_attempts, app_name=self.name)
        db = client[database]
        self.add_check("mongo", lambda: mongo_ready(db))
        self.on_close(client.close)
        return db

    async def open_redis(self, url: str) -> "aioredis.Redis":
        client = await connect_redis(url, attempts=self.config.connect_attempts)
        self.add_check("redis", lambda: redis_ready(client))
        self.on_close(client.aclose)
        return client

    # -- life cycle ----------------------------------------------------------

    async def start(self) -> None:
        """Start the health server (live at once), then connect the bus."""
        await self._start_health_server()
        self._bus = await Bus.connect(
            self.config.nats_url,
            service=self.name,
            instance=self.config.instance_id,
            request_timeout=self.config.request_timeout,
            max_in_flight=self.config.max_in_flight,
            attempts=self.config.connect_attempts,
        )
        self.add_check("nats", self._nats_ready)
        await self._bus.ensure_event_stream(replicas=self.config.events_replicas)
        await self._bus.answer_all(HEALTH_SUBJECT, self.health_report)

    def mark_ready(self) -> None:
        """Called once wiring is done: from now on readiness follows the checks."""
        self._ready = True
        log.info("%s ready", self.name, extra={"health_port": self.health_port})

    async def _nats_ready(self) -> bool:
        return self._bus is not None and self._bus.connected

    async def readiness(self) -> dict[str, bool]:
        results = {}
        for name, check in self._checks.items():
            try:
                results[name] = await asyncio.wait_for(check(), timeout=2)
            except Exception:
                results[name] = False
        return results

    async def health_report(self) -> HealthReport:
        checks = await self.readiness()
        return HealthReport(
            service=self.name,
            instance=self.config.instance_id,
            ready=self._ready and all(checks.values()),
            checks=checks,
        )

    def request_stop(self) -> None:
        self._stopped.set()

    async def wait_for_stop(self) -> None:
        await self._stopped.wait()

    async def shutdown(self) -> None:
        """Unready, drain (still serving), stop taking work, finish in-flight work, drain
        the bus, close stores."""
        self._ready = False
        log.info("%s stopping", self.name)
        for hook, budget in self._drain_hooks:
            await _run_drain_hook(hook, budget)
        for hook in reversed(self._stop_hooks):
            await _run_hook(hook)
        if self._bus is not None:
            await self._bus.stop_taking_work()
            finished = await self._bus.finish_in_flight(self.config.shutdown_grace)
            if not finished:
                log.warning("in-flight work cancelled after %ss grace", self.config.shutdown_grace)
            await self._bus.close()
        for hook in reversed(self._close_hooks):
            await _run_hook(hook)
        if self._health_runner is not None:
            await self._health_runner.cleanup()
        log.info("%s stopped", self.name)

    # -- health server -------------------------------------------------------

    async def _start_health_server(self) -> None:
        app = web.Application()
        app.router.add_get("/livez", self._livez)
        app.router.add_get("/readyz", self._readyz)
        app.router.add_get("/metrics", metrics_endpoint)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, self.config.health_host, self.config.health_port)
        await site.start()
        self._health_runner = runner
        self.health_port = int(runner.addresses[0][1]) if runner.addresses else self.config.health_port

    async def _livez(self, request: web.Request) -> web.Response:
        return web.json_response({"service": self.name, "live": True})

    async def _readyz(self, request: web.Request) -> web.Response:
        report = await self.health_report()
        return web.Response(
            body=msgspec.json.encode(report), status=200 if report.ready else 503, content_type="application/json"
        )


async def metrics_endpoint(request: web.Request) -> web.Response:
    return web.Response(body=generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})


async def _run_hook(hook: Hook) -> None:
    try:
        await hook()
    except Exception:
        log.exception("shutdown step failed")


async def _run_drain_hook(hook: Hook, budget: float) -> None:
    deadline = asyncio.timeout(budget)
    try:
        async with deadline:
            await hook()
    except TimeoutError:
        if not deadline.expired():
            log.exception("drain step failed")  # a timeout of the hook's own
        else:
            log.warning("drain step cut off after its budget of %.0fs", budget)
    except Exception:
        log.exception("drain step failed")


async def run_until_stopped(service: Service, wire: Callable[[Service], Awaitable[None]]) -> None:
    """Start `service`, wire it, serve until SIGTERM/SIGINT, then shut it down."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, service.request_stop)
    try:
        await service.start()
        await wire(service)
        service.mark_ready()
        await service.wait_for_stop()
    finally:
        watchdog = _exit_if_shutdown_hangs(service.name, service.shutdown_budget)
        try:
            await service.shutdown()
        finally:
            watchdog.cancel()


SHUTDOWN_MARGIN = 10.0
HUNG_SHUTDOWN_EXIT_CODE = 70


def _exit_if_shutdown_hangs(name: str, seconds: float) -> threading.Timer:
    """A shutdown step with no timeout of its own (a dependency gone mid-drain) must not
    leave the process running for ever: a thread, which a stuck event loop cannot stop,
    ends it after `seconds`."""

    def give_up() -> None:
        log.error("%s did not finish shutting down within %.0fs; exiting", name, seconds)
        logging.shutdown()
        os._exit(HUNG_SHUTDOWN_EXIT_CODE)

    timer = threading.Timer(seconds, give_up)
    timer.daemon = True
    timer.start()
    return timer


def run_service(name: str, config_type: type[C], wire: Callable[[Service, C], Awaitable[None]]) -> None:
    """The whole `main` of a service: read config (exit 2 naming a bad variable), log, run."""
    try:
        config = load_config(config_type)
    except ConfigError as error:
        print(f"{name}: configuration error: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    configure_logging(service=name, instance=config.instance_id, level=config.log_level, fmt=config.log_format)
    service = Service(name, config)
    main = run_until_stopped(service, lambda svc: wire(svc, config))
    try:
        try:
            import uvloop
        except ImportError:  # uvloop is optional (it does not build everywhere)
            asyncio.run(main)
        else:
            uvloop.run(main)
    except DependencyUnreachable as error:
        log.error("%s", error)
        raise SystemExit(3) from None
