"""Child processes a service runs beside its event loop (the media node's workers, the
caption workers): each started, started again when it dies (after 1 s, then 2 s, ... while
it keeps dying at once), and on stop asked to drain with SIGTERM, killed if it lingers.
A child dies with its parent: Linux sends it a signal when the parent goes, so a crashed
service leaves nothing running behind it."""

import asyncio
import contextlib
import ctypes
import logging
import signal
import sys
from collections.abc import Callable, Mapping, Sequence

logger = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1
# A child that keeps dying is started again after 1 s, then 2 s, ... up to this.
MAX_RESTART_DELAY = 30.0
# A child that ran this long before dying is started again after 1 s.
STABLE_AFTER = 30.0


def die_with_parent(sig: signal.Signals = signal.SIGTERM) -> Callable[[], None] | None:
    """A `preexec_fn` that has Linux send the child `sig` when its parent dies (None
    elsewhere: nothing to run)."""
    if not sys.platform.startswith("linux"):
        return None

    def preexec() -> None:  # pragma: no cover - runs in the child between fork and exec
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, sig)

    return preexec


class SupervisedProcess:
    """One child process, `argv` with `env`, kept running until `stop()`. `name` is what
    logs call it ("media worker node-1-w0")."""

    def __init__(self, *, name: str, argv: Sequence[str], env: Mapping[str, str], stop_timeout: float) -> None:
        self.name = name
        self._argv = list(argv)
        self._env = dict(env)
        self._stop_timeout = stop_timeout
        self._process: asyncio.subprocess.Process | None = None
        self._watcher: asyncio.Task[None] | None = None
        self._stopping = False
        self.restarts = 0

    @classmethod
    def python_module(
        cls, module: str, *, name: str, env: Mapping[str, str], stop_timeout: float
    ) -> "SupervisedProcess":
        """`python -m module` with this interpreter."""
        return cls(name=name, argv=[sys.executable, "-m", module], env=env, stop_timeout=stop_timeout)

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.returncode is None

    async def start(self) -> None:
        await self._spawn()
        self._watcher = asyncio.create_task(self._watch(), name=self.name)

    async def _spawn(self) -> None:
        self._process = await asyncio.create_subprocess_exec(*self._argv, env=self._env, preexec_fn=die_with_parent())
        logger.info("%s started", self.name, extra={"pid": self._process.pid})

    async def _watch(self) -> None:
        loop = asyncio.get_running_loop()
        delay = 1.0
        while self._process is not None:
            started = loop.time()
            code = await self._process.wait()
            if self._stopping:
                return
            ran = loop.time() - started
            delay = 1.0 if ran >= STABLE_AFTER else delay
            logger.error("%s exited with code %s after %.1fs; starting it again in %.0fs", self.name, code, ran, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, MAX_RESTART_DELAY)
            if self._stopping:
                return
            try:
                await self._spawn()
                self.restarts += 1
            except OSError:
                logger.exception("could not start %s", self.name)

    async def stop(self) -> None:
        """SIGTERM (the child drains as a service does), then SIGKILL when it has not exited
        in time. Idempotent."""
        self._stopping = True
        # The watcher first, so that it cannot start the child again meanwhile.
        if self._watcher is not None:
            self._watcher.cancel()
            await asyncio.gather(self._watcher, return_exceptions=True)
            self._watcher = None
        process = self._process
        if process is None or process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), self._stop_timeout)
        except TimeoutError:
            logger.error("%s did not drain in %.0fs; killing it", self.name, self._stop_timeout)
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
