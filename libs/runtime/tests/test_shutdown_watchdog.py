"""A service whose shutdown hangs still exits, after its drain budgets, its grace and a margin."""

import os
import signal
import subprocess
import sys
import textwrap
import time

from webinar_runtime.service import HUNG_SHUTDOWN_EXIT_CODE, SHUTDOWN_MARGIN

HANGING = textwrap.dedent(
    """
    import asyncio
    from webinar_runtime.config import RuntimeConfig
    from webinar_runtime.service import run_service

    async def wire(service, config):
        async def hang():
            print("stopping", flush=True)
            await asyncio.sleep(3600)  # a drain step that never returns

        service.on_stop(hang)
        print("ready", flush=True)

    run_service("hanging", RuntimeConfig, wire)
    """
)

# A service whose drain takes longer than grace + margin (the margin shrunk to 0.5 s here),
# within its budget, then hangs in a stop step.
DRAINING = textwrap.dedent(
    """
    import asyncio
    import webinar_runtime.service
    from webinar_runtime.config import RuntimeConfig
    from webinar_runtime.service import run_service

    webinar_runtime.service.SHUTDOWN_MARGIN = 0.5

    async def wire(service, config):
        async def drain():
            await asyncio.sleep(1.5)
            print("drained", flush=True)

        async def hang():
            await asyncio.sleep(3600)

        service.on_drain(drain, 2.0)
        service.on_stop(hang)
        print("ready", flush=True)

    run_service("draining", RuntimeConfig, wire)
    """
)


def terminated(source: str, nats_url: str, *, timeout: float) -> tuple[int, float, str, str]:
    """Start the service `source` (grace 0.5 s), SIGTERM it once ready: its exit code, the
    seconds it took to exit, and what it printed after "ready" and on stderr."""
    env = {**os.environ, "NATS_URL": nats_url, "SHUTDOWN_GRACE_SECONDS": "0.5", "LOG_FORMAT": "text"}
    process = subprocess.Popen(
        [sys.executable, "-c", source], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "ready"
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=timeout)
        elapsed = time.monotonic() - started
    finally:
        process.kill()
    assert process.stdout is not None
    assert process.stderr is not None
    return code, elapsed, process.stdout.read(), process.stderr.read()


def test_a_hung_shutdown_ends_the_process_after_grace_and_margin(nats_url):
    code, elapsed, _, errors = terminated(HANGING, nats_url, timeout=SHUTDOWN_MARGIN + 20)
    assert code == HUNG_SHUTDOWN_EXIT_CODE
    assert SHUTDOWN_MARGIN <= elapsed < SHUTDOWN_MARGIN + 10
    assert "did not finish shutting down within 10s; exiting" in errors


def test_the_shutdown_watchdog_waits_for_the_drain_budget_too(nats_url):
    code, elapsed, printed, errors = terminated(DRAINING, nats_url, timeout=20)
    assert printed.strip() == "drained"  # not killed at grace + margin (1 s)
    assert code == HUNG_SHUTDOWN_EXIT_CODE
    assert 3.0 <= elapsed < 8  # budget 2 + grace 0.5 + margin 0.5
    assert "did not finish shutting down within 3s; exiting" in errors
