"""Pushes from the services to sockets: a service publishes an event for a room or a
recording on its push subject, and one gateway process (a queue group) takes each and emits
it through its Socket.IO server, whose client manager fans it out to every gateway process."""

import contextlib
from collections.abc import Awaitable, Callable

import nats.errors
from aiohttp import web
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from webinar_runtime.bus import Bus


def relay_pushes(
    app: web.Application, bus: Bus, subject: str, queue: str, relay: Callable[[Msg], Awaitable[None]]
) -> None:
    """Relay `subject`'s messages with `relay` while `app` runs (subscribed at its startup,
    unsubscribed at its cleanup)."""
    subscription: list[Subscription] = []

    async def start(_: web.Application) -> None:
        subscription.append(await bus.nc.subscribe(subject, queue=queue, cb=relay))

    async def stop(_: web.Application) -> None:
        while subscription:
            with contextlib.suppress(nats.errors.Error):
                await subscription.pop().unsubscribe()

    app.on_startup.append(start)
    app.on_cleanup.append(stop)
