"""Background tasks with an owner: each is tracked until it ends, a failure is logged,
and closing the owner cancels and awaits whatever is left."""

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

logger = logging.getLogger(__name__)


class TaskSet:
    def __init__(self, owner: str) -> None:
        self._owner = owner
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False

    def __len__(self) -> int:
        return len(self._tasks)

    def spawn(self, coroutine: Coroutine[Any, Any, None], *, name: str | None = None) -> asyncio.Task[None] | None:
        """Run `coroutine` in the background; after close() it is refused (and closed unrun)."""
        if self._closed:
            coroutine.close()
            return None
        task = asyncio.create_task(coroutine, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._finished)
        return task

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("%s: background task %s failed", self._owner, task.get_name(), exc_info=task.exception())

    async def close(self) -> None:
        """Cancel every task still running and wait for them to end. Idempotent."""
        self._closed = True
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
