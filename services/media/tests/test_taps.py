"""Taps: a producer's RTP, as received, to a service's UDP socket, beside its consumers."""

import asyncio
import itertools
from collections.abc import AsyncIterator
from typing import Any

import msgspec
import pytest

from media import ortc
from media.peer_client import EncodedTrack, encode_opus
from media.producer import Producer
from media.rooms import RoomKey
from media.router import Router
from media.rtp import RtcpFeedback, RtpPacket, build_rtp, parse_rtp
from media.taps import RtpTap, TapEnd, TapSet
from webinar_contracts import NotFound
from webinar_contracts.media import RtpCapabilities, RtpCodecParameters, RtpParameters

OPUS = RtpCodecParameters(
    mime_type="audio/opus", payload_type=111, clock_rate=48000, channels=2, parameters={"useinbandfec": 1}
)


class UdpReceiver(asyncio.DatagramProtocol):
    """A service's socket: every datagram it gets, parsed, in a queue."""

    def __init__(self) -> None:
        self.packets: asyncio.Queue[RtpPacket] = asyncio.Queue()

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.packets.put_nowait(parse_rtp(data))

    async def next(self, timeout: float = 5.0) -> RtpPacket:
        return await asyncio.wait_for(self.packets.get(), timeout)


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[UdpReceiver, int]]:
    loop = asyncio.get_running_loop()
    transport, protocol = await loop.create_datagram_endpoint(UdpReceiver, local_addr=("127.0.0.1", 0))
    yield protocol, transport.get_extra_info("sockname")[1]
    transport.close()


async def test_an_audio_tap_sends_the_publishers_packets_as_received_and_the_viewer_still_gets_them(
    router: Router, connect_pair: Any, wait_until: Any, chrome_device: RtpCapabilities, receiver: Any
) -> None:
    udp, port = receiver
    send_transport, publisher, recv_transport, viewer = await connect_pair()
    microphone = EncodedTrack("audio", encode_opus(10), interval=0.02)
    producer = send_transport.produce(
        kind="audio", rtp_parameters=await publisher.publish(microphone, codec=OPUS, mid="0", rtcp_feedback=[])
    )
    consumer = recv_transport.consume(producer_id=producer.id, rtp_capabilities=chrome_device)
    await viewer.receive("audio", consumer.rtp_parameters)

    tap = await RtpTap.open(producer, host="127.0.0.1", port=port, owner="room")
    described = tap.describe()
    assert (described.kind, described.mime_type, described.payload_type) == ("audio", "audio/opus", 100)
    assert (described.clock_rate, described.channels, described.ssrc) == (48000, 2, tap.ssrc)

    got = [await udp.next() for _ in range(10)]
    # As received: the publisher's payloads and numbering, the router's payload type, the tap's SSRC.
    assert all(packet.payload in set(microphone.sent) for packet in got)
    assert {(packet.payload_type, packet.ssrc) for packet in got} == {(100, tap.ssrc)}
    numbers = [packet.sequence_number for packet in got]
    assert numbers == [(numbers[0] + i) & 0xFFFF for i in range(len(numbers))]
    assert all(packet.extensions == () for packet in got)
    # The consumer is untouched: it keeps getting every packet too.
    sent_before = consumer.packets_sent
    await wait_until(lambda: consumer.packets_sent >= sent_before + 5)

    producer.close()
    assert await asyncio.wait_for(tap.wait_ended(), 1) is TapEnd.PRODUCER_CLOSED
    assert producer.taps == {}


class MemoryTransport:
    def __init__(self) -> None:
        self.rtcp_ssrc = 0x0A0B0C0D
        self.rtcp: list[Any] = []

    async def send_rtcp(self, packets: list[Any]) -> None:
        self.rtcp.extend(packets)


LAYER_SSRCS = (0x1000, 0x2000, 0x3000)


def simulcast_camera(fixture_json: Any) -> tuple[Producer, MemoryTransport]:
    upstream = MemoryTransport()
    parameters = msgspec.convert(fixture_json("chrome_produce_camera_simulcast.json"), RtpParameters)
    caps = ortc.router_rtp_capabilities()
    ssrcs = itertools.count(9000)
    mapping = ortc.producer_rtp_mapping(parameters, caps, new_ssrc=lambda: next(ssrcs))
    producer = Producer(
        id="camera",
        kind="video",
        rtp_parameters=parameters,
        consumable_rtp_parameters=ortc.consumable_rtp_parameters("video", parameters, caps, mapping, cname="c"),
        mapping=mapping,
        transport=upstream,
    )
    for layer, ssrc in enumerate(LAYER_SSRCS):
        producer.learn_ssrc(layer, ssrc, rtx=False)
    return producer, upstream


async def send(producer: Producer, layer: int, sequence_number: int) -> None:
    packet = build_rtp(
        payload_type=96,
        sequence_number=sequence_number,
        timestamp=3000 * sequence_number,
        ssrc=LAYER_SSRCS[layer],
        payload=bytes([0x10, layer, sequence_number & 0xFF]),
    )
    await producer.receive_rtp(parse_rtp(packet), layer, rtx=False)


async def test_a_simulcast_video_tap_sends_the_highest_layer_after_asking_for_a_keyframe(
    fixture_json: Any, receiver: Any
) -> None:
    udp, port = receiver
    producer, upstream = simulcast_camera(fixture_json)
    tap = await RtpTap.open(producer, host="127.0.0.1", port=port, owner="room")
    assert tap.layer == 2
    keyframe_requests = [p for p in upstream.rtcp if isinstance(p, RtcpFeedback) and p.is_keyframe_request]
    assert [request.media_ssrc for request in keyframe_requests] == [LAYER_SSRCS[2]]

    for number in range(1, 4):
        for layer in range(3):
            await send(producer, layer, number)
    got = [await udp.next() for _ in range(3)]
    assert [packet.payload[1] for packet in got] == [2, 2, 2]
    assert [packet.sequence_number for packet in got] == [1, 2, 3]
    assert {packet.payload_type for packet in got} == {tap.payload_type}
    assert udp.packets.empty()
    tap.stop()
    assert tap.ended is TapEnd.STOPPED
    await send(producer, 2, 4)
    assert tap.packets_sent == 3


async def test_a_leased_tap_ends_unless_renewed(fixture_json: Any, receiver: Any) -> None:
    _, port = receiver
    producer, _ = simulcast_camera(fixture_json)
    taps = TapSet()
    tap = await taps.start(producer, host="127.0.0.1", port=port, owner="room", lease_seconds=0.3)
    for _ in range(3):
        await asyncio.sleep(0.15)
        tap.renew()
    assert tap.ended is None
    assert await asyncio.wait_for(tap.wait_ended(), 2) is TapEnd.LEASE_EXPIRED
    assert taps.find(tap.id) is None
    assert producer.taps == {}


async def test_a_node_taps_only_its_rooms_producers_and_each_room_stops_only_its_own_taps(
    fixture_json: Any, receiver: Any, make_node: Any
) -> None:
    _, port = receiver
    node = make_node(empty_room_grace=60)
    mine, theirs = RoomKey("t1", "r1"), RoomKey("t2", "r1")
    try:
        await node.create_room(mine, peer_id="p1", user_id=None)
        await node.create_room(theirs, peer_id="p2", user_id=None)
        producer, _ = simulcast_camera(fixture_json)
        node.room(mine).router.add_producer(producer)
        with pytest.raises(NotFound):
            await node.start_tap(theirs, producer_id=producer.id, host="127.0.0.1", port=port)
        tap = await node.start_tap(mine, producer_id=producer.id, host="127.0.0.1", port=port)
        with pytest.raises(NotFound):
            node.stop_tap(theirs, tap.id)
        node.renew_tap(mine, tap.id)
        node.stop_tap(mine, tap.id)
        assert tap.ended is TapEnd.STOPPED
        with pytest.raises(NotFound):
            node.stop_tap(mine, tap.id)
    finally:
        await node.close()
