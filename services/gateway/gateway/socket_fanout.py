"""Socket.IO across gateway processes: rooms, emits and acknowledgements travel
over NATS, so a broadcast reaches every socket of a room whichever gateway
process holds it (python-socketio's pub/sub manager needs only `_publish` and
`_listen`)."""

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import nats.errors
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from socketio.async_pubsub_manager import AsyncPubSubManager

log = logging.getLogger("gateway.sockets")

MAX_QUEUED = 10_000


class NatsClientManager(AsyncPubSubManager):  # type: ignore[misc]
    """A Socket.IO client manager whose pub/sub channel is a NATS subject."""

    name = "nats"

    def __init__(self, nc: NatsClient, *, channel: str = "socketio") -> None:
        super().__init__(channel=channel)
        self.nc = nc
        self.subject = f"gateway.socketio.{channel}"
        self.listening = asyncio.Event()

    async def _publish(self, data: Any) -> None:
        await self.nc.publish(self.subject, json.dumps(data, separators=(",", ":")).encode("utf-8"))

    async def _listen(self) -> AsyncIterator[bytes]:
        queue: asyncio.Queue[bytes] = asyncio.Queue(MAX_QUEUED)

        async def enqueue(msg: Msg) -> None:
            try:
                queue.put_nowait(msg.data)
            except asyncio.QueueFull:
                log.error("socket fan-out queue full; dropping a message", extra={"subject": self.subject})

        if self.nc.is_closed:
            # Shut down: python-socketio calls _listen again at once after a failure, so
            # park here instead of failing in a tight loop.
            await asyncio.Event().wait()
        try:
            subscription = await self.nc.subscribe(self.subject, cb=enqueue)
        except nats.errors.Error:
            await asyncio.sleep(1)  # reconnecting: let the manager retry, but not in a tight loop
            raise
        self.listening.set()
        try:
            while True:
                yield await queue.get()
        finally:
            # Never replace a cancellation with a closed-connection error: the manager
            # would then retry instead of stopping.
            with contextlib.suppress(nats.errors.Error):
                await subscription.unsubscribe()
