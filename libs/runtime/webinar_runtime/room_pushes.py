"""Room events for sockets, sent without waiting: a service (a media node, a caption worker)
queues each MediaPush and one task publishes them, in order, on the media plane's push
subject (core NATS: a push nobody hears is moot), which one gateway process relays to the
room's sockets. A full queue drops the push and says so; stopping sends what is queued
(briefly)."""

import asyncio
import contextlib
import logging

import msgspec
from nats.aio.client import Client as NatsClient

from webinar_contracts.media import PUSH_SUBJECT, MediaPush

logger = logging.getLogger(__name__)

MAX_QUEUED_PUSHES = 10_000


class RoomPushQueue:
    def __init__(self, nc: NatsClient, *, name: str, max_queued: int = MAX_QUEUED_PUSHES) -> None:
        self._nc = nc
        self._name = name
        self._queue: asyncio.Queue[MediaPush] = asyncio.Queue(max_queued)
        self._sender: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._sender = asyncio.create_task(self._send_forever(), name=self._name)

    def send(self, message: MediaPush) -> None:
        try:
            self._queue.put_nowait(message)
        except asyncio.QueueFull:
            logger.error("%s queue full; dropping %s for room %s", self._name, message.event, message.room_id)

    async def _send_forever(self) -> None:
        while True:
            message = await self._queue.get()
            try:
                await self._nc.publish(PUSH_SUBJECT, msgspec.json.encode(message))
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("could not send %s to the gateways", message.event)

    async def stop(self, *, flush_for: float = 1.0) -> None:
        """Send what is queued (for up to `flush_for` seconds), then stop."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(flush_for):
                while not self._queue.empty():  # noqa: ASYNC110 - the sender empties it
                    await asyncio.sleep(0.01)
        if self._sender is not None:
            self._sender.cancel()
            await asyncio.gather(self._sender, return_exceptions=True)
            self._sender = None
