"""A service whose shutdown hangs still exits, after its grace and a margin."""

import os
import signal
import subprocess
import sys
import textwrap
import time

from webinar_runtime.service import HUNG_SHUTDOWN_EXIT_CODE, SHUTDOWN_MARGIN

SERVICE = textwrap.dedent(
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


def test_a_hung_shutdown_ends_the_process_after_grace_and_margin(nats_url):
    env = {**os.environ, "NATS_URL": nats_url, "SHUTDOWN_GRACE_SECONDS": "0.5", "LOG_FORMAT": "text"}
    process = subprocess.Popen(
        [sys.executable, "-c", SERVICE], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "ready"
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=SHUTDOWN_MARGIN + 20)
        elapsed = time.monotonic() - started
    finally:
        process.kill()
    assert code == HUNG_SHUTDOWN_EXIT_CODE
    assert SHUTDOWN_MARGIN <= elapsed < SHUTDOWN_MARGIN + 10
    assert "did not finish shutting down within 10s; exiting" in process.stderr.read()
