"""One media worker process per core, as mediasoup runs one worker per core (the GIL
lets one Python process forward on one core only).

With MEDIA_WORKERS above 1, `python -m media` becomes a supervisor: it starts that many
workers, each `python -m media` again with MEDIA_WORKERS=1, its own node id
(`<node>-w<index>`) and its own share of the UDP port range, all announcing the same
address. Each worker registers in the placement buckets as a node of its own, so rooms
spread over the workers as they spread over machines (least loaded first). The
supervisor restarts a worker that dies, is ready while every worker is registered, and
on SIGTERM stops them all, each draining as a service does: with MEDIA_DRAIN_SECONDS a
worker first waits for its rooms to end, and the supervisor waits for that too.
"""

import asyncio
import logging
import os
import sys
from collections.abc import Mapping

import nats.errors
import nats.js.errors
from nats.js.api import StorageType
from nats.js.kv import KeyValue

from media.config import MediaConfig
from media.metrics import NodeGauges, WorkerStats, register
from media.placement import open_bucket
from webinar_contracts.media import NODES_BUCKET
from webinar_runtime.child_processes import SupervisedProcess
from webinar_runtime.service import Service

logger = logging.getLogger(__name__)

# Time a worker gets beyond its drain and its shutdown grace to stop before it is killed.
STOP_MARGIN = 10.0


def worker_stop_timeout(config: MediaConfig) -> float:
    """How long a worker may take to stop after SIGTERM before it is killed: its drain
    (MEDIA_DRAIN_SECONDS), its grace for requests in flight, and a margin."""
    return config.drain_seconds + config.shutdown_grace + STOP_MARGIN


def worker_environment(config: MediaConfig, index: int) -> dict[str, str]:
    """The variables that make `python -m media` worker `index` of this node (everything
    else is inherited from the supervisor's environment)."""
    low, high = config.worker_port_ranges()[index]
    return {
        "MEDIA_WORKERS": "1",
        "MEDIA_NODE_ID": config.worker_node_id(index),
        "MEDIA_RTC_MIN_PORT": str(low),
        "MEDIA_RTC_MAX_PORT": str(high),
        "MEDIA_ANNOUNCED_IP": config.announced_ip or config.listen_ip,
        "INSTANCE_ID": f"{config.instance_id}-w{index}",
        # The supervisor holds the node's health port; a worker's own is for its supervisor only.
        "HEALTH_HOST": "127.0.0.1",
        "HEALTH_PORT": "0",
    }


class WorkerProcess(SupervisedProcess):
    """One worker, `python -m media` registered as node `node_id`: started again when it
    dies; stopping it drains it (its rooms close and its record goes)."""

    def __init__(self, *, index: int, node_id: str, env: Mapping[str, str], stop_timeout: float) -> None:
        argv = [sys.executable, "-m", "media"]
        super().__init__(name=f"media worker {node_id}", argv=argv, env=env, stop_timeout=stop_timeout)
        self.index = index
        self.node_id = node_id


class Supervisor:
    """The workers of one node."""

    def __init__(self, workers: list[WorkerProcess], nodes: KeyValue) -> None:
        self.workers = workers
        self._nodes = nodes

    async def start(self) -> None:
        for worker in self.workers:
            await worker.start()

    async def registered(self) -> set[str]:
        """The ids of this node's workers whose record is in the nodes bucket now."""
        found = await asyncio.gather(
            *(self._nodes.get(worker.node_id) for worker in self.workers), return_exceptions=True
        )
        for entry in found:
            if isinstance(entry, BaseException) and not isinstance(entry, nats.js.errors.KeyNotFoundError):
                raise entry
        return {
            worker.node_id
            for worker, entry in zip(self.workers, found, strict=True)
            if not isinstance(entry, BaseException)
        }

    async def ready(self) -> bool:
        """Every worker runs and has recorded itself (rooms can be placed on it)."""
        if not all(worker.running for worker in self.workers):
            return False
        try:
            return len(await self.registered()) == len(self.workers)
        except nats.errors.Error:
            return False

    async def wait_ready(self, timeout: float) -> None:
        """Return once every worker is registered; RuntimeError naming the missing ones when
        a worker exits at start or `timeout` passes."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not await self.ready():
            exited = [worker.node_id for worker in self.workers if not worker.running]
            if exited:
                raise RuntimeError(f"media worker(s) {', '.join(exited)} exited while starting; see their logs")
            if loop.time() > deadline:
                missing = {worker.node_id for worker in self.workers} - await self.registered()
                raise RuntimeError(f"media worker(s) {', '.join(sorted(missing))} did not register in {timeout:.0f}s")
            await asyncio.sleep(0.1)

    async def stop(self) -> None:
        await asyncio.gather(*(worker.stop() for worker in self.workers))


def supervisor_for(config: MediaConfig, nodes: KeyValue, *, environ: Mapping[str, str] | None = None) -> Supervisor:
    base = dict(os.environ if environ is None else environ)
    workers = [
        WorkerProcess(
            index=index,
            node_id=config.worker_node_id(index),
            env={**base, **worker_environment(config, index)},
            stop_timeout=worker_stop_timeout(config),
        )
        for index in range(config.workers)
    ]
    return Supervisor(workers, nodes)


async def supervise(service: Service, config: MediaConfig) -> None:
    """Wire the supervisor: start the workers and report ready once they all are."""
    nodes = await open_bucket(
        service.bus.js,
        NODES_BUCKET,
        ttl=config.node_ttl,
        storage=StorageType.MEMORY,
        replicas=config.bucket_replicas,
        description="media nodes: heartbeat and load",
    )
    supervisor = supervisor_for(config, nodes)
    # Stopping the workers is the supervisor's drain: it lasts as long as theirs (each waits for
    # its rooms to end first), and the supervisor's shutdown watchdog allows for it, plus the
    # time to kill and reap a worker that overstays. Registered first: workers started before
    # a failure are stopped with the service.
    service.on_drain(supervisor.stop, worker_stop_timeout(config) + STOP_MARGIN)
    await supervisor.start()
    await supervisor.wait_ready(timeout=max(60.0, float(config.connect_attempts) * 2))
    service.add_check("workers", supervisor.ready)
    # The workers' /metrics listen on loopback only: the supervisor serves what each holds.
    worker_stats = WorkerStats(service.bus, [worker.node_id for worker in supervisor.workers])
    worker_stats.start()
    unregister_gauges = register(NodeGauges(worker_stats))

    async def stop_worker_stats() -> None:
        await worker_stats.stop()
        unregister_gauges()

    service.on_stop(stop_worker_stats)
    logger.info(
        "media node ready",
        extra={
            "node_id": config.node_id,
            "workers": " ".join(
                f"{worker.node_id}:{low}-{high}"
                for worker, (low, high) in zip(supervisor.workers, config.worker_port_ranges(), strict=True)
            ),
        },
    )
