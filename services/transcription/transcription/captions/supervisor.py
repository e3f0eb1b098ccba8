"""The caption worker processes of one transcription instance: CAPTION_WORKERS of them,
each `python -m transcription.captions` (its own event loop, its own engine), started
again when one dies. Transcribing is CPU work: it happens in these processes, never on
the service's event loop. More captioning capacity is more workers or more replicas;
they share the offers through the bus's queue group."""

import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Mapping

from transcription.config import TranscriptionConfig
from webinar_runtime.service import Service

log = logging.getLogger("transcription.captions")

MAX_RESTART_DELAY = 30.0  # a worker that keeps dying is started after 1 s, 2 s, ... up to this
STABLE_AFTER = 30.0  # a worker that ran this long before dying is started again after 1 s
STOP_MARGIN = 10.0  # beyond its own shutdown grace, before it is killed


def worker_environment(config: TranscriptionConfig, index: int) -> dict[str, str]:
    """What makes `python -m transcription.captions` worker `index` of this instance."""
    return {
        "INSTANCE_ID": f"{config.instance_id}-c{index}",
        # The instance holds the health port; a worker's own is for looking at it alone.
        "HEALTH_HOST": "127.0.0.1",
        "HEALTH_PORT": "0",
    }


def _die_with_parent() -> None:
    """In the worker, before exec: Linux sends it SIGTERM (it drains) if the service dies."""
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class CaptionWorkerProcess:
    def __init__(self, *, name: str, env: Mapping[str, str], stop_timeout: float) -> None:
        self.name = name
        self._env = dict(env)
        self._stop_timeout = stop_timeout
        self._process: asyncio.subprocess.Process | None = None
        self._watcher: asyncio.Task[None] | None = None
        self._stopping = False
        self.restarts = 0

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.returncode is None

    async def start(self) -> None:
        await self._spawn()
        self._watcher = asyncio.create_task(self._watch(), name=f"caption-worker-{self.name}")

    async def _spawn(self) -> None:
        self._process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "transcription.captions", env=self._env, preexec_fn=_die_with_parent
        )
        log.info("caption worker %s started", self.name, extra={"pid": self._process.pid})

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
            log.error("caption worker %s exited with code %s after %.1fs; starting it again in %.0fs",
                      self.name, code, ran, delay)  # fmt: skip
            await asyncio.sleep(delay)
            delay = min(delay * 2, MAX_RESTART_DELAY)
            if self._stopping:
                return
            try:
                await self._spawn()
                self.restarts += 1
            except OSError:
                log.exception("could not start caption worker %s", self.name)

    async def stop(self) -> None:
        """SIGTERM (the worker hands its streams back and drains), SIGKILL if it lingers."""
        self._stopping = True
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
            log.error("caption worker %s did not drain in %.0fs; killing it", self.name, self._stop_timeout)
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()


def caption_workers(
    config: TranscriptionConfig, *, environ: Mapping[str, str] | None = None
) -> list[CaptionWorkerProcess]:
    base = dict(os.environ if environ is None else environ)
    return [
        CaptionWorkerProcess(
            name=f"{config.instance_id}-c{index}",
            env={**base, **worker_environment(config, index)},
            stop_timeout=config.shutdown_grace + STOP_MARGIN,
        )
        for index in range(config.caption_workers)
    ]


async def supervise_caption_workers(service: Service, config: TranscriptionConfig) -> list[CaptionWorkerProcess]:
    """Start the caption workers with the service and stop them with it. The service does
    not wait for their engines: until a worker answers, the nodes keep offering."""
    workers = caption_workers(config)
    if not workers:
        return workers

    async def stop_all() -> None:
        await asyncio.gather(*(worker.stop() for worker in workers))

    service.on_stop(stop_all)
    for worker in workers:
        await worker.start()

    async def running() -> bool:
        return all(worker.running for worker in workers)

    service.add_check("caption-workers", running)
    log.info("caption workers started", extra={"workers": len(workers), "engine": config.caption_engine_in_use})
    return workers
