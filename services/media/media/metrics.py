"""What a media node holds, for Prometheus: rooms, peers, transports, producers, consumers and
whether it drains, per node (worker) id, read when /metrics is scraped (nothing is counted
on the forwarding path).

A process running one worker reads its node directly. A supervisor of several workers
(MEDIA_WORKERS > 1) is the only process of the node whose /metrics is reachable: it asks each
worker for its stats over the bus (`media.node.<id>.stats`) every few seconds and serves the
latest answers, so one scrape shows every worker."""

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable, Iterator

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import REGISTRY, Collector

from webinar_contracts import Empty, ServiceError
from webinar_contracts.media import NODE_STATS, NodeStats
from webinar_runtime.bus import Bus

logger = logging.getLogger(__name__)

GAUGES = {
    "rooms": "Rooms the media node holds",
    "peers": "Peers (sockets) in the node's rooms",
    "transports": "WebRTC transports of the node",
    "producers": "Producers (published tracks) on the node",
    "consumers": "Consumers (tracks sent to viewers) on the node",
    "draining": "1 while the node drains (no new room is placed on it)",
}


class NodeGauges(Collector):
    """The gauges of the nodes `sources` gives, at each scrape."""

    def __init__(self, sources: Callable[[], Iterable[NodeStats]]) -> None:
        self._sources = sources

    def collect(self) -> Iterator[GaugeMetricFamily]:
        families = {
            name: GaugeMetricFamily(f"webinar_media_{name}", help_text, labels=["node"])
            for name, help_text in GAUGES.items()
        }
        for stats in self._sources():
            for name, family in families.items():
                family.add_metric([stats.node_id], float(getattr(stats, name)))
        yield from families.values()


def register(collector: NodeGauges) -> Callable[[], None]:
    """Serve `collector` on this process's /metrics; the function takes it off again."""
    REGISTRY.register(collector)
    return lambda: REGISTRY.unregister(collector)


class WorkerStats:
    """A supervisor's latest stats of each of its workers, asked over the bus every `every`
    seconds (a worker that does not answer keeps its last answer until it does)."""

    def __init__(self, bus: Bus, node_ids: list[str], *, every: float = 5.0, timeout: float = 2.0) -> None:
        self._bus = bus
        self._node_ids = node_ids
        self._every = every
        self._timeout = timeout
        self.latest: dict[str, NodeStats] = {}
        self._task: asyncio.Task[None] | None = None

    def __call__(self) -> list[NodeStats]:
        return [self.latest[node_id] for node_id in self._node_ids if node_id in self.latest]

    async def refresh(self) -> None:
        answers = await asyncio.gather(
            *(self._bus.request(NODE_STATS.at(node_id), Empty(), timeout=self._timeout) for node_id in self._node_ids),
            return_exceptions=True,
        )
        for node_id, answer in zip(self._node_ids, answers, strict=True):
            if isinstance(answer, NodeStats):
                self.latest[node_id] = answer
            elif not isinstance(answer, ServiceError):
                logger.warning("worker stats not read", extra={"node_id": node_id, "error": str(answer)})

    def start(self) -> None:
        self._task = asyncio.create_task(self._keep_refreshing(), name="media-worker-stats")

    async def _keep_refreshing(self) -> None:
        while True:
            await self.refresh()
            await asyncio.sleep(self._every)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
