import pytest

from webinar_runtime.retry import DependencyUnreachable, retry


async def test_retry_returns_once_the_dependency_answers():
    calls = []

    async def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise ConnectionRefusedError("not yet")
        return "up"

    assert await retry(flaky, what="thing", attempts=5, first_delay=0.001) == "up"
    assert len(calls) == 3


async def test_retry_gives_up_after_the_bound_naming_the_dependency():
    async def down():
        raise ConnectionRefusedError("refused")

    with pytest.raises(DependencyUnreachable, match="could not reach NATS at x after 3 attempts: refused"):
        await retry(down, what="NATS at x", attempts=3, first_delay=0.001)
