"""Simulcast: which layer each consumer sends, and switching layers as one continuous stream."""

import asyncio
import itertools
from typing import Any

import msgspec
import pytest

from media import ortc
from media.codecs import parse_vp8_descriptor
from media.consumer import Consumer
from media.peer_client import SimulcastCamera, encode_vp8
from media.producer import Producer
from media.rewrite import StreamRewriter, Vp8PictureRewriter
from media.rtp import (
    PSFB_PLI,
    ReportBlock,
    RtcpFeedback,
    RtcpReceiverReport,
    RtcpSenderReport,
    build_rtp,
    parse_rtp,
    receiver_estimated_maximum_bitrate,
)
from media.simulcast import LayerDemand, allocate_layers
from webinar_contracts.media import RtpCapabilities, RtpParameters

FEEDBACK = [ortc.GOOG_REMB, ortc.CCM_FIR, ortc.NACK, ortc.NACK_PLI]


def vp8_frames(packets: list[Any]) -> list[bytes]:
    """Complete VP8 frames (descriptors stripped) from consecutive packets of one timestamp."""
    frames = []
    current: list[Any] = []
    for packet in sorted(packets, key=lambda p: p.sequence_number):
        descriptor = parse_vp8_descriptor(packet.payload)
        if descriptor is None:
            continue
        if descriptor.begins_frame:
            current = [packet]
        elif current and packet.sequence_number == current[-1].sequence_number + 1:
            current.append(packet)
        else:
            current = []
        if current and packet.marker:
            frames.append(b"".join(p.payload[parse_vp8_descriptor(p.payload).size :] for p in current))  # type: ignore[union-attr]
            current = []
    return frames


# --- choosing layers ---

LADDER = [100_000.0, 300_000.0, 900_000.0]


def test_without_a_bandwidth_limit_every_consumer_gets_its_best_layer() -> None:
    demands = [LayerDemand(bitrates=LADDER), LayerDemand(bitrates=[100_000.0, 300_000.0, None])]
    assert allocate_layers(None, demands) == [2, 1]


def test_before_any_layer_is_seen_the_best_allowed_is_chosen() -> None:
    assert allocate_layers(None, [LayerDemand(bitrates=[None, None, None])]) == [2]
    assert allocate_layers(500_000, [LayerDemand(bitrates=[None, None, None], max_layer=1)]) == [1]


def test_a_limited_viewer_gets_the_best_layer_that_fits() -> None:
    assert allocate_layers(1_200_000, [LayerDemand(bitrates=LADDER, current=2)]) == [2]
    assert allocate_layers(800_000, [LayerDemand(bitrates=LADDER, current=2)]) == [1]
    assert allocate_layers(150_000, [LayerDemand(bitrates=LADDER, current=2)]) == [0]
    # Nothing fits: the lowest layer still flows.
    assert allocate_layers(20_000, [LayerDemand(bitrates=LADDER, current=2)]) == [0]


def test_stepping_up_needs_headroom_that_staying_does_not() -> None:
    # 950k holds layer 2 (900k) but is not enough room to climb to it (900k + 15%).
    assert allocate_layers(950_000, [LayerDemand(bitrates=LADDER, current=2)]) == [2]
    assert allocate_layers(950_000, [LayerDemand(bitrates=LADDER, current=1)]) == [1]
    assert allocate_layers(1_100_000, [LayerDemand(bitrates=LADDER, current=1)]) == [2]


def test_fixed_streams_are_paid_for_first_and_consumers_share_the_rest() -> None:
    audio = LayerDemand(bitrates=[50_000.0], adjustable=False)
    screen = LayerDemand(bitrates=[600_000.0], adjustable=False)
    cameras = [LayerDemand(bitrates=LADDER, current=0), LayerDemand(bitrates=LADDER, current=0)]
    # 1.5M - 650k leaves 850k: both cameras step to layer 1 (2 x 300k), neither reaches 2.
    assert allocate_layers(1_500_000, [audio, screen, *cameras]) == [0, 0, 1, 1]


def test_inactive_and_unwanted_layers_are_skipped() -> None:
    assert allocate_layers(5_000_000, [LayerDemand(bitrates=[100_000.0, None, 900_000.0], max_layer=1)]) == [0]
    assert allocate_layers(350_000, [LayerDemand(bitrates=[None, 300_000.0, 900_000.0], current=2)]) == [1]


# --- numbering across a switch ---


def vp8_payload(picture_id: int, tl0: int, *, key: bool, temporal_id: int = 0) -> bytes:
    # X, S, partition 0; I, L, T; 15-bit PictureID; TL0PICIDX; TID; then the VP8 header byte.
    descriptor = bytes([0x90, 0xE0, 0x80 | picture_id >> 8, picture_id & 0xFF, tl0, temporal_id << 6])
    return descriptor + (b"\x10\x02" if key else b"\x11\x02")


def test_picture_numbering_continues_across_a_switch_byte_for_byte() -> None:
    pictures = Vp8PictureRewriter()
    assert pictures.rewrite(vp8_payload(100, 5, key=True)) == vp8_payload(100, 5, key=True)
    pictures.rewrite(vp8_payload(101, 5, key=False, temporal_id=2))
    pictures.request_sync()
    # Another layer numbers its pictures 9000 and its base frames 200: they follow on.
    assert pictures.rewrite(vp8_payload(9000, 200, key=True)) == bytes.fromhex("90e080660600") + b"\x10\x02"
    assert (
        pictures.rewrite(vp8_payload(9001, 200, key=False, temporal_id=1))
        == bytes.fromhex("90e080670640") + b"\x11\x02"
    )


def test_picture_numbering_wraps_at_fifteen_bits() -> None:
    pictures = Vp8PictureRewriter()
    pictures.rewrite(vp8_payload(0x7FFF, 255, key=True))
    pictures.request_sync()
    following = parse_vp8_descriptor(pictures.rewrite(vp8_payload(40, 9, key=True)))
    assert following is not None
    assert (following.picture_id, following.tl0_pic_idx) == (0, 0)


def test_a_known_clock_relation_keeps_timestamps_exact_at_a_sync() -> None:
    rewriter = StreamRewriter(90_000)
    rewriter.rewrite(10, 1_000_000, now=0.0)
    rewriter.request_sync(timestamp_offset=-500_000)
    synced = rewriter.rewrite(700, 1_503_000, now=0.5)  # the elapsed time would say +45000
    assert synced is not None
    assert (synced.sequence_number, synced.timestamp) == (11, 1_003_000)
    # An offset that would send time backwards is not trusted: elapsed time is used.
    rewriter.request_sync(timestamp_offset=-1_000_000)
    fallback = rewriter.rewrite(40, 1_000_000, now=0.6)
    assert fallback is not None
    assert fallback.timestamp == 1_003_000 + 9000


# --- a consumer moving between layers ---


class Clock:
    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


class MemoryTransport:
    def __init__(self) -> None:
        self.rtcp_ssrc = 0x0A0B0C0D
        self.connected = True
        self.rtcp: list[Any] = []
        self.rtp: list[bytes] = []
        self._twcc = itertools.count(1)

    async def send_rtcp(self, packets: list[Any]) -> None:
        self.rtcp.extend(packets)

    async def send_rtp(self, data: bytes) -> None:
        self.rtp.append(data)

    def next_transport_sequence_number(self) -> int:
        return next(self._twcc)


LAYER_SSRCS = (0x1000, 0x2000, 0x3000)


def simulcast_pair(
    fixture_json: Any, device: RtpCapabilities
) -> tuple[Producer, Consumer, Clock, MemoryTransport, MemoryTransport]:
    clock, upstream, downstream = Clock(), MemoryTransport(), MemoryTransport()
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
        clock=clock,
    )
    for layer, ssrc in enumerate(LAYER_SSRCS):
        producer.learn_ssrc(layer, ssrc, rtx=False)
    consumer_parameters = ortc.consumer_rtp_parameters(
        producer.consumable_rtp_parameters, device, mid="0", new_ssrc=lambda: 4242
    )
    consumer = Consumer(
        id="viewer", producer=producer, rtp_parameters=consumer_parameters, transport=downstream, clock=clock
    )
    producer.add_consumer(consumer)
    return producer, consumer, clock, upstream, downstream


async def send(producer: Producer, layer: int, sequence_number: int, payload: bytes) -> None:
    packet = parse_rtp(
        build_rtp(
            payload_type=96,
            sequence_number=sequence_number,
            timestamp=3000 * sequence_number,
            ssrc=LAYER_SSRCS[layer],
            payload=payload,
        )
    )
    await producer.receive_rtp(packet, layer, rtx=False)


async def test_a_consumer_switches_layer_on_the_new_layers_keyframe_as_one_stream(
    fixture_json: Any, chrome_device: RtpCapabilities
) -> None:
    producer, consumer, clock, upstream, downstream = simulcast_pair(fixture_json, chrome_device)
    assert (consumer.target_layer, consumer.current_layer) == (2, None)
    await send(producer, 2, 100, vp8_payload(500, 10, key=True))
    await send(producer, 0, 7, vp8_payload(40, 3, key=False))  # another layer: not sent
    assert consumer.current_layer == 2

    consumer.set_target_layer(0)
    clock.now += 0.01
    await send(producer, 0, 8, vp8_payload(41, 3, key=False))
    (pli,) = [p for p in upstream.rtcp if isinstance(p, RtcpFeedback) and p.fmt == PSFB_PLI]
    assert pli.media_ssrc == LAYER_SSRCS[0]  # a keyframe of the layer it is moving to
    await send(producer, 2, 101, vp8_payload(501, 10, key=False))  # still on layer 2 meanwhile
    clock.now += 0.05
    await send(producer, 0, 9, vp8_payload(42, 4, key=True))  # the switch
    await send(producer, 2, 102, vp8_payload(502, 10, key=False))  # the old layer: dropped now
    await send(producer, 0, 10, vp8_payload(43, 4, key=False, temporal_id=2))

    sent = [parse_rtp(d) for d in downstream.rtp]
    assert consumer.current_layer == 0
    assert consumer.layer_switches == 1
    assert {p.ssrc for p in sent} == {consumer.ssrc}
    numbers = [p.sequence_number for p in sent]
    assert numbers == [100, 101, 102, 103]
    descriptors = [parse_vp8_descriptor(p.payload) for p in sent]
    assert [(d.picture_id, d.tl0_pic_idx) for d in descriptors if d] == [(500, 10), (501, 10), (502, 11), (503, 11)]
    assert [p.payload[6:] for p in sent] == [b"\x10\x02", b"\x11\x02", b"\x10\x02", b"\x11\x02"]
    timestamps = [p.timestamp for p in sent]
    assert timestamps[0] < timestamps[1] < timestamps[2] < timestamps[3]


async def test_a_switch_maps_timestamps_through_both_layers_sender_reports(
    fixture_json: Any, chrome_device: RtpCapabilities
) -> None:
    producer, consumer, clock, _upstream, downstream = simulcast_pair(fixture_json, chrome_device)
    ntp = 0xE9C0A1B2_00000000
    # Layer 2 stamps 300_000 and layer 0 stamps 21_000 at the same instant.
    producer.receive_sender_report(
        2, RtcpSenderReport(ssrc=0x3000, ntp_timestamp=ntp, rtp_timestamp=300_000, packet_count=0, octet_count=0)
    )
    producer.receive_sender_report(
        0, RtcpSenderReport(ssrc=0x1000, ntp_timestamp=ntp, rtp_timestamp=21_000, packet_count=0, octet_count=0)
    )
    await send(producer, 2, 100, vp8_payload(500, 10, key=True))  # timestamp 300_000
    consumer.set_target_layer(0)
    clock.now += 0.7  # late: elapsed time would be wrong, the reports are not
    await send(producer, 0, 10, vp8_payload(42, 4, key=True))  # timestamp 30_000: 0.1 s later
    first, switched = (parse_rtp(d) for d in downstream.rtp)
    assert switched.timestamp - first.timestamp == 9000


async def test_the_transport_choice_reaches_the_consumer_and_a_viewer_cap_holds(
    fixture_json: Any, chrome_device: RtpCapabilities
) -> None:
    producer, consumer, clock, _upstream, _downstream = simulcast_pair(fixture_json, chrome_device)
    for step in range(10):
        clock.now += 0.03
        for layer, size in enumerate((300, 900, 2700)):
            await send(producer, layer, 10 + step, vp8_payload(step, 0, key=False) + bytes(size))
    rates = producer.layer_bitrates()
    assert all(rate is not None for rate in rates)
    demand = consumer.layer_demand()
    assert allocate_layers(rates[1] * 1.2 if rates[1] else None, [demand]) == [1]
    consumer.set_preferred_layer(0)
    assert consumer.target_layer == 0
    assert allocate_layers(None, [consumer.layer_demand()]) == [0]


# --- end to end: an aiortc viewer whose bandwidth drops and comes back ---

LAYER_SIZES = ((64, 48, 50_000), (128, 96, 150_000), (256, 192, 450_000))


@pytest.fixture(scope="module")
def camera_layers() -> list[list[bytes]]:
    return [
        [bytes(p) for p in encode_vp8(30, width=w, height=h, keyframe_interval=300, bit_rate=rate, noisy=True)]
        for w, h, rate in LAYER_SIZES
    ]


async def test_a_viewer_with_less_bandwidth_moves_down_a_layer_and_back_without_stalling(
    connect_pair: Any,
    wait_until: Any,
    chrome_device: RtpCapabilities,
    camera_layers: list[list[bytes]],
) -> None:
    send_transport, publisher, recv_transport, viewer = await connect_pair()
    camera = SimulcastCamera(publisher, camera_layers)
    producer = send_transport.produce(kind="video", rtp_parameters=camera.rtp_parameters(rtcp_feedback=FEEDBACK))
    camera.start()
    consumer = recv_transport.consume(producer_id=producer.id, rtp_capabilities=chrome_device)
    receiver = await viewer.receive("video", consumer.rtp_parameters)

    loop = asyncio.get_running_loop()
    decoded: list[tuple[float, int]] = []  # (when, width)

    async def watch() -> None:
        while True:
            frame = await receiver.track.recv()
            decoded.append((loop.time(), frame.width))

    watcher = asyncio.ensure_future(watch())
    try:
        # It starts on the best layer.
        await wait_until(lambda: bool(decoded) and decoded[-1][1] == 256)
        # A second of every layer, for its bitrate.
        await wait_until(lambda: all(s.stats is not None and s.stats.packets_received >= 30 for s in producer.streams))
        low, middle, high = (rate or 0.0 for rate in producer.layer_bitrates())
        assert low < middle < high

        async def remb(bitrate: float) -> None:
            message = receiver_estimated_maximum_bitrate(
                sender_ssrc=0x5EED, bitrate=int(bitrate), ssrcs=[consumer.ssrc]
            )
            await viewer.send_raw(message.to_bytes())

        # The viewer's link now carries little more than the lowest layer.
        await remb(low * 1.1)
        await wait_until(lambda: consumer.current_layer == 0 and decoded[-1][1] == 64)
        assert camera.layers[0].keyframe_requests >= 1  # the switch asked for a keyframe
        assert recv_transport.available_bitrate == pytest.approx(low * 1.1, rel=0.01)
        # A consumer made now starts on the layer the viewer's bandwidth allows.
        second = recv_transport.consume(producer_id=producer.id, rtp_capabilities=chrome_device)
        assert second.target_layer == 0
        second.close()

        # And then plenty again.
        await remb(10_000_000)
        await wait_until(lambda: consumer.current_layer == 2 and decoded[-1][1] == 256)

        # Then its receiver reports half the packets lost: the loss-based estimate
        # (what is sent x (1 - 0.5 x 0.5)) leaves room for the middle layer only.
        report = RtcpReceiverReport(
            ssrc=0x5EED,
            reports=[
                ReportBlock(
                    ssrc=consumer.ssrc, fraction_lost=128, packets_lost=40, highest_sequence=0, jitter=0, lsr=0, dlsr=0
                )
            ],
        )
        await viewer.send_raw(report.to_bytes())
        await wait_until(lambda: consumer.current_layer == 1 and decoded[-1][1] == 128)
        await asyncio.sleep(0.2)  # a few frames after the last switch
    finally:
        watcher.cancel()
        await asyncio.gather(watcher, return_exceptions=True)
        await camera.stop()

    assert consumer.layer_switches == 3
    gaps = [later[0] - earlier[0] for earlier, later in itertools.pairwise(decoded)]
    assert max(gaps) < 1.0, f"the viewer's decoder stalled for {max(gaps):.2f} s"
    runs = [width for width, _ in itertools.groupby(width for _, width in decoded)]
    assert runs == [256, 64, 256, 128]  # what the viewer saw: best, lowest, best again, middle
    # No re-encoding: every frame sent on the one outgoing stream is a frame the camera made.
    sent_frames = {frame for layer in camera_layers for frame in layer}
    received = [parse_rtp(d) for d in viewer.received.rtp]
    frames = vp8_frames([p for p in received if p.ssrc == consumer.ssrc])
    assert frames
    assert all(frame in sent_frames for frame in frames)
