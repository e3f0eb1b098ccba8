"""`python -m media`: run one media node on the bus. With MEDIA_WORKERS=1 this process is
the node's only worker (its rooms on one core); with more it supervises that many worker
processes (media.workers), each a node of its own in the placement buckets.

On SIGTERM a worker with MEDIA_DRAIN_SECONDS drains first: its record says `draining`, so no
new room is placed on it, while the rooms it holds go on (and may be joined) until they end,
or the drain time is up; then it stops, closing what is left."""

import asyncio
import logging

from media.config import MediaConfig
from media.metrics import NodeGauges, register
from media.node import MediaNode
from media.placement import Placement
from media.router import Worker
from media.signalling import (
    BusCaptionDesk,
    BusPushes,
    BusSessions,
    CaptionsFollowMeetings,
    MeetingsRooms,
    NodeHandlers,
    serve_node,
)
from media.workers import supervise
from webinar_contracts import media as contract
from webinar_contracts import meetings as meetings_contract
from webinar_runtime.service import Service, run_service

log = logging.getLogger("media")

# How often a draining node says how many rooms and peers it still holds.
DRAIN_PROGRESS_SECONDS = 10.0


async def wire(service: Service, config: MediaConfig) -> None:
    if config.workers > 1:
        await supervise(service, config)
    else:
        await wire_worker(service, config)


async def wire_worker(service: Service, config: MediaConfig) -> None:
    """One worker: its rooms, their transports on its port range, its record in the buckets."""
    bus = service.bus
    # Session facts go to JetStream on the service's own bus (its trace ids, its drain).
    pushes = BusPushes(bus.nc, sessions=BusSessions(bus))
    node: MediaNode | None = None

    def record() -> contract.NodeRecord:
        return node.record() if node is not None else contract.NodeRecord(node_id=config.node_id)

    placement = await Placement.open(
        bus.js,
        node_id=config.node_id,
        record=record,
        heartbeat_interval=config.heartbeat_interval,
        node_ttl=config.node_ttl,
        replicas=config.bucket_replicas,
    )
    node = MediaNode(
        node_id=config.node_id,
        worker=Worker(transport_options=config.transport_options()),
        directory=MeetingsRooms(bus),
        claims=placement,
        pushes=pushes,
        empty_room_grace=config.empty_room_grace,
        max_transports_per_peer=config.max_transports_per_peer,
        # Every audio producer is offered to the transcription service's caption workers.
        captions=BusCaptionDesk(bus),
    )
    pushes.start()
    await serve_node(bus, config.node_id, NodeHandlers(node))
    await service.serve(contract.PLACE_ROOM, placement.place)
    # A host turning transcriptEnabled on or off reaches the live room's microphones (docs/captions.md).
    follow = CaptionsFollowMeetings(bus)
    await bus.consume(
        follow.DURABLE, {meetings_contract.MEETING_UPDATED: follow.on_meeting_updated}, deliver_new_only=True
    )
    # Only now may rooms be placed here: everything above answers.
    await placement.start()

    async def stop_node() -> None:
        # Before the bus drains: closing rooms releases their placements in the bucket.
        await placement.stop()
        await node.close()
        await pushes.stop()

    service.on_stop(stop_node)
    # What the node holds, on its /metrics (a supervisor serves its workers': media.metrics).
    unregister_gauges = register(NodeGauges(lambda: [node.stats()]))

    async def stop_gauges() -> None:
        unregister_gauges()

    service.on_close(stop_gauges)

    async def drain_node() -> None:
        # While the bus still serves: the rooms held keep answering their calls.
        node.start_draining()
        try:
            await placement.beat()  # now: no new room is placed here from this moment
        except Exception:
            log.warning("could not record the drain at once; the heartbeat will", exc_info=True)
        await node.wait_until_empty(progress_every=DRAIN_PROGRESS_SECONDS)

    if config.drain_seconds > 0:
        service.on_drain(drain_node, config.drain_seconds)
    log.info(
        "media node ready",
        extra={
            "node_id": config.node_id,
            "ports": f"{config.rtc_min_port}-{config.rtc_max_port}",
            # uvloop (run_service uses it when installed) roughly halves the receive path's cost.
            "loop": type(asyncio.get_running_loop()).__module__,
        },
    )


def main() -> None:
    run_service("media", MediaConfig, wire)


if __name__ == "__main__":
    main()
