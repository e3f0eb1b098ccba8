"""What a node tells a service that records a room: every producer of the room with its peer
(NODE_ROOM_PRODUCERS), and a keyframe asked for through a tap (a renewal with `keyframe`)."""

import itertools
from typing import Any

import msgspec
import pytest

from media import ortc
from media.producer import Producer
from media.rooms import RoomKey
from media.rtp import RtcpFeedback
from webinar_contracts import NotFound
from webinar_contracts.media import RoomProducer, RtpParameters

CAMERA_SSRCS = (0x1000, 0x2000, 0x3000)


class Upstream:
    def __init__(self) -> None:
        self.rtcp_ssrc = 0x0A0B0C0D
        self.rtcp: list[Any] = []

    async def send_rtcp(self, packets: list[Any]) -> None:
        self.rtcp.extend(packets)


def producer(fixture_json: Any, kind: str, producer_id: str, clock: list[float]) -> tuple[Producer, Upstream]:
    fixture = "chrome_produce_audio.json" if kind == "audio" else "chrome_produce_camera_simulcast.json"
    parameters = msgspec.convert(fixture_json(fixture), RtpParameters)
    caps = ortc.router_rtp_capabilities()
    ssrcs = itertools.count(9000)
    mapping = ortc.producer_rtp_mapping(parameters, caps, new_ssrc=lambda: next(ssrcs))
    upstream = Upstream()
    made = Producer(
        id=producer_id,
        kind=kind,  # type: ignore[arg-type]
        rtp_parameters=parameters,
        consumable_rtp_parameters=ortc.consumable_rtp_parameters(kind, parameters, caps, mapping, cname="c"),  # type: ignore[arg-type]
        mapping=mapping,
        transport=upstream,
        app_data={"type": "camera" if kind == "video" else "mic"},
        clock=lambda: clock[0],
    )
    if kind == "video":
        for layer, ssrc in enumerate(CAMERA_SSRCS):
            made.learn_ssrc(layer, ssrc, rtx=False)
    return made, upstream


async def test_a_service_lists_every_producer_of_a_room_with_its_peer_and_asks_keyframes_through_its_tap(
    fixture_json: Any, make_node: Any
) -> None:
    node = make_node(empty_room_grace=60)
    mine, theirs = RoomKey("t1", "r1"), RoomKey("t2", "r1")
    clock = [100.0]
    try:
        await node.create_room(mine, peer_id="sock-1", user_id="u1")
        await node.create_room(theirs, peer_id="sock-9", user_id="u9")
        room = node.room(mine)
        peer = await room.join(peer_id="sock-1", name="Avery Stone", user_id="u1")
        camera, upstream = producer(fixture_json, "video", "camera-1", clock)
        mic, _ = producer(fixture_json, "audio", "mic-1", clock)
        for made in (camera, mic):
            room.router.add_producer(made)
            peer.add_producer(made)

        listed = sorted(node.room_producers(mine), key=lambda item: item.producer_id)
        assert listed == [
            RoomProducer(producer_id="camera-1", peer_id="sock-1", name="Avery Stone", kind="video",
                         app_data={"type": "camera"}),
            RoomProducer(producer_id="mic-1", peer_id="sock-1", name="Avery Stone", kind="audio",
                         app_data={"type": "mic"}),
        ]  # fmt: skip
        assert node.room_producers(theirs) == []
        with pytest.raises(NotFound):
            node.room_producers(RoomKey("t1", "nowhere"))

        tap = await node.start_tap(mine, producer_id="camera-1", host="127.0.0.1", port=9, lease_seconds=3)
        clock[0] += 5  # past the producer's keyframe request interval
        await node.tap_keyframe(mine, tap.id)
        requests = [p for p in upstream.rtcp if isinstance(p, RtcpFeedback) and p.is_keyframe_request]
        assert [request.media_ssrc for request in requests] == [CAMERA_SSRCS[2], CAMERA_SSRCS[2]]
        with pytest.raises(NotFound):
            await node.tap_keyframe(theirs, tap.id)
    finally:
        await node.close()
