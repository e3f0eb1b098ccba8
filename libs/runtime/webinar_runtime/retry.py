"""Bounded retries for reaching a dependency at start, as a pod on Kubernetes must."""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")
log = logging.getLogger("webinar.retry")


class DependencyUnreachable(ConnectionError):
    """A dependency did not answer after every allowed attempt."""


async def retry(
    attempt: Callable[[], Awaitable[T]],
    *,
    what: str,
    attempts: int = 30,
    first_delay: float = 0.2,
    max_delay: float = 2.0,
) -> T:
    """Call `attempt` until it succeeds, at most `attempts` times, backing off between tries."""
    if attempts < 1:
        raise ValueError("attempts must be at least 1")
    delay = first_delay
    for number in range(1, attempts + 1):
        try:
            return await attempt()
        except asyncio.CancelledError:
            raise
        except Exception as error:
            if number == attempts:
                raise DependencyUnreachable(f"could not reach {what} after {attempts} attempts: {error}") from error
            log.info("waiting for %s (attempt %d/%d): %s", what, number, attempts, error)
            await asyncio.sleep(delay)
            delay = min(max_delay, delay * 2)
    raise AssertionError("unreachable")  # pragma: no cover
