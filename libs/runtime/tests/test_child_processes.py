"""Supervised child processes: started again when they die, drained with SIGTERM on stop
and killed when they ignore it, and gone with their parent."""

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from webinar_runtime.child_processes import SupervisedProcess


def python(code: str) -> list[str]:
    return [sys.executable, "-c", textwrap.dedent(code)]


async def wait_for(predicate, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    async with asyncio.timeout(timeout):
        while not predicate():  # noqa: ASYNC110 - a process's state has no event to await
            await asyncio.sleep(0.05)


def alive(pid: int) -> bool:
    """Running (a zombie waiting for whoever adopted it to reap it is dead)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


async def test_a_child_that_dies_is_started_again_and_stop_drains_it(tmp_path: Path) -> None:
    drained = tmp_path / "drained"
    child = SupervisedProcess(
        name="test child",
        argv=python(f"""
            import signal, sys, time
            def drain(*_):
                open({str(drained)!r}, "a").write("drained\\n")
                sys.exit(0)
            signal.signal(signal.SIGTERM, drain)
            time.sleep(60)
        """),
        env=os.environ,
        stop_timeout=5,
    )
    await child.start()
    await wait_for(lambda: child.running)
    first = child.pid
    assert first is not None
    os.kill(first, signal.SIGKILL)
    await wait_for(lambda: child.restarts == 1 and child.running)
    assert child.pid != first

    await asyncio.sleep(0.3)  # its SIGTERM handler is installed
    await child.stop()
    assert not child.running
    assert drained.read_text() == "drained\n"
    await asyncio.sleep(1.5)  # a stopped child is not started again
    assert child.restarts == 1
    assert not child.running


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
async def test_a_child_that_ignores_sigterm_is_killed_after_its_stop_timeout() -> None:
    child = SupervisedProcess(
        name="stubborn child",
        argv=python("""
            import signal, time
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            print("ready", flush=True)
            time.sleep(60)
        """),
        env=os.environ,
        stop_timeout=0.5,
    )
    await child.start()
    await asyncio.sleep(0.5)
    pid = child.pid
    assert pid is not None
    await asyncio.wait_for(child.stop(), 5)
    assert not alive(pid)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the parent-death signal and /proc are Linux's")
def test_a_child_dies_with_its_parent(tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    parent = textwrap.dedent(f"""
        import asyncio, os, sys
        from webinar_runtime.child_processes import SupervisedProcess

        async def main():
            child = SupervisedProcess(
                name="orphan", argv=[sys.executable, "-c", "import time; time.sleep(60)"],
                env=os.environ, stop_timeout=1,
            )
            await child.start()
            open({str(pid_file)!r}, "w").write(str(child.pid))
            await asyncio.sleep(60)

        asyncio.run(main())
    """)
    process = subprocess.Popen([sys.executable, "-c", parent])
    try:
        for _ in range(200):
            if pid_file.exists() and pid_file.read_text():
                break
            subprocess.run(["sleep", "0.05"], check=True)
        child_pid = int(pid_file.read_text())
        assert alive(child_pid)
    finally:
        process.kill()
        process.wait()
    for _ in range(100):
        if not alive(child_pid):
            break
        subprocess.run(["sleep", "0.05"], check=True)
    else:
        pytest.fail("the child outlived its parent")
