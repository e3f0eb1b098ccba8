"""A media node's gauges on /metrics: read from the node at each scrape, or, for a
supervisor of several workers, from the workers' stats asked over the bus."""

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from media.metrics import NodeGauges, WorkerStats
from webinar_contracts import Empty, RequestContext
from webinar_contracts.media import NODE_STATS, NodeStats
from webinar_runtime.bus import Bus


def stats(node_id: str, rooms: int, *, draining: bool = False) -> NodeStats:
    return NodeStats(
        node_id=node_id, rooms=rooms, peers=2 * rooms, transports=3, producers=1, consumers=4, tasks=9,
        open_files=20, draining=draining,
    )  # fmt: skip


def scraped(collector: NodeGauges) -> str:
    registry = CollectorRegistry()
    registry.register(collector)
    return generate_latest(registry).decode()


def test_each_node_is_a_labelled_series_read_at_scrape_time() -> None:
    held = [stats("node-1", 1)]
    collector = NodeGauges(lambda: held)
    text = scraped(collector)
    assert 'webinar_media_rooms{node="node-1"} 1.0' in text
    assert 'webinar_media_consumers{node="node-1"} 4.0' in text
    assert 'webinar_media_draining{node="node-1"} 0.0' in text
    held[:] = [stats("node-1", 3, draining=True), stats("node-2", 0)]
    text = scraped(collector)
    assert 'webinar_media_rooms{node="node-1"} 3.0' in text
    assert 'webinar_media_draining{node="node-1"} 1.0' in text
    assert 'webinar_media_peers{node="node-2"} 0.0' in text


@pytest.fixture
async def bus(nats_url: str):  # type: ignore[no-untyped-def]
    connected = await Bus.connect(nats_url, service="media", instance="metrics-test")
    yield connected
    await connected.close()


async def test_a_supervisor_serves_what_its_workers_said_last(bus: Bus) -> None:
    answers = {"w0": stats("w0", 2)}

    async def w0_stats(request: Empty, context: RequestContext) -> NodeStats:
        return answers["w0"]

    await bus.serve(NODE_STATS.at("w0"), w0_stats)  # w1 never answers: it is not running
    workers = WorkerStats(bus, ["w0", "w1"], timeout=0.5)
    await workers.refresh()
    assert [s.node_id for s in workers()] == ["w0"]
    answers["w0"] = stats("w0", 5)
    await workers.refresh()
    text = scraped(NodeGauges(workers))
    assert 'webinar_media_rooms{node="w0"} 5.0' in text
    assert 'node="w1"' not in text
