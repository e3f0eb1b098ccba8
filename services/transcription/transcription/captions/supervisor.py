"""The caption worker processes of one transcription instance: CAPTION_WORKERS of them,
each `python -m transcription.captions` (its own event loop, its own engine), started
again when one dies. Transcribing is CPU work: it happens in these processes, never on
the service's event loop. More captioning capacity is more workers or more replicas;
they share the offers through the bus's queue group."""

import asyncio
import logging
import os
from collections.abc import Mapping

from transcription.config import TranscriptionConfig
from webinar_runtime.child_processes import SupervisedProcess
from webinar_runtime.service import Service

log = logging.getLogger("transcription.captions")

STOP_MARGIN = 10.0  # beyond its own shutdown grace, before it is killed


def worker_environment(config: TranscriptionConfig, index: int) -> dict[str, str]:
    """What makes `python -m transcription.captions` worker `index` of this instance."""
    return {
        "INSTANCE_ID": f"{config.instance_id}-c{index}",
        # The instance holds the health port; a worker's own is for looking at it alone.
        "HEALTH_HOST": "127.0.0.1",
        "HEALTH_PORT": "0",
    }


def caption_workers(
    config: TranscriptionConfig, *, environ: Mapping[str, str] | None = None
) -> list[SupervisedProcess]:
    base = dict(os.environ if environ is None else environ)
    return [
        SupervisedProcess.python_module(
            "transcription.captions",
            name=f"caption worker {config.instance_id}-c{index}",
            env={**base, **worker_environment(config, index)},
            stop_timeout=config.shutdown_grace + STOP_MARGIN,
        )
        for index in range(config.caption_workers)
    ]


async def supervise_caption_workers(service: Service, config: TranscriptionConfig) -> list[SupervisedProcess]:
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
