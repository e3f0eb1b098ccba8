"""Producer and consumer behaviour with an in-memory transport and a controlled clock."""

import itertools
from typing import Any

import msgspec

from media import ortc
from media.consumer import Consumer
from media.producer import Producer
from media.rtp import (
    PSFB_FIR,
    PSFB_PLI,
    RtcpFeedback,
    RtcpPacket,
    RtcpSenderReport,
    build_rtp,
    generic_nack,
    parse_rtp,
    picture_loss_indication,
)
from webinar_contracts.media import RtpCapabilities, RtpParameters

KEY = bytes.fromhex("9080923410020000")  # VP8: start of partition 0, keyframe
DELTA = bytes.fromhex("9080923531020000")  # VP8: start of partition 0, not a keyframe


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class MemoryTransport:
    """Both sides of a transport as producers and consumers see them, kept in lists."""

    def __init__(self, *, fail: bool = False) -> None:
        self.rtcp_ssrc = 0x01020304
        self.connected = True
        self.rtcp: list[RtcpPacket] = []
        self.rtp: list[bytes] = []
        self._fail = fail
        self._twcc = itertools.count(1)

    async def send_rtcp(self, packets: list[RtcpPacket]) -> None:
        self.rtcp.extend(packets)

    async def send_rtp(self, data: bytes) -> None:
        if self._fail:
            raise RuntimeError("broken socket")
        self.rtp.append(data)

    def next_transport_sequence_number(self) -> int:
        return next(self._twcc)


def make_producer(
    fixture_json: Any, transport: MemoryTransport, clock: Clock, *, feedback: list[Any] | None = None
) -> Producer:
    raw = fixture_json("chrome_produce_screen.json")
    if feedback is not None:
        raw["codecs"][0]["rtcpFeedback"] = feedback
    parameters = msgspec.convert(raw, RtpParameters)
    caps = ortc.router_rtp_capabilities()
    ssrcs = itertools.count(5000)
    mapping = ortc.producer_rtp_mapping(parameters, caps, new_ssrc=lambda: next(ssrcs))
    consumable = ortc.consumable_rtp_parameters("video", parameters, caps, mapping, cname="c")
    return Producer(
        id="p1",
        kind="video",
        rtp_parameters=parameters,
        consumable_rtp_parameters=consumable,
        mapping=mapping,
        transport=transport,
        clock=clock,
    )


def make_consumer(
    producer: Producer, transport: MemoryTransport, device: RtpCapabilities, clock: Clock, name: str
) -> Consumer:
    parameters = ortc.consumer_rtp_parameters(
        producer.consumable_rtp_parameters, device, mid="0", new_ssrc=lambda: 7000 + len(name)
    )
    consumer = Consumer(id=name, producer=producer, rtp_parameters=parameters, transport=transport, clock=clock)
    producer.add_consumer(consumer)
    return consumer


def vp8(sequence_number: int, payload: bytes) -> Any:
    return parse_rtp(
        build_rtp(
            payload_type=96,
            sequence_number=sequence_number,
            timestamp=sequence_number * 3000,
            ssrc=1711563410,
            payload=payload,
        )
    )


async def test_keyframe_requests_upstream_are_rate_limited(fixture_json: Any) -> None:
    clock, upstream = Clock(), MemoryTransport()
    producer = make_producer(fixture_json, upstream, clock)
    await producer.request_keyframe(0)
    await producer.request_keyframe(0)
    clock.now += 0.1
    await producer.request_keyframe(0)
    assert len(upstream.rtcp) == 1
    clock.now += 0.15
    await producer.request_keyframe(0)
    assert len(upstream.rtcp) == 2
    request = upstream.rtcp[0]
    assert isinstance(request, RtcpFeedback)
    assert (request.fmt, request.media_ssrc, request.sender_ssrc) == (PSFB_PLI, 1711563410, 0x01020304)


async def test_fir_is_sent_when_the_publisher_did_not_negotiate_pli(fixture_json: Any) -> None:
    clock, upstream = Clock(), MemoryTransport()
    producer = make_producer(fixture_json, upstream, clock, feedback=[{"type": "ccm", "parameter": "fir"}])
    await producer.request_keyframe(0)
    (request,) = upstream.rtcp
    assert isinstance(request, RtcpFeedback)
    assert request.fmt == PSFB_FIR


async def test_video_consumer_waits_for_a_keyframe_and_asks_for_one(
    fixture_json: Any, chrome_device: RtpCapabilities
) -> None:
    clock, upstream, downstream = Clock(), MemoryTransport(), MemoryTransport()
    producer = make_producer(fixture_json, upstream, clock)
    consumer = make_consumer(producer, downstream, chrome_device, clock, "viewer")
    await producer.receive_rtp(vp8(10, DELTA), 0, rtx=False)
    assert downstream.rtp == []
    assert len(upstream.rtcp) == 1  # the consumer asked for a keyframe
    await producer.receive_rtp(vp8(11, KEY), 0, rtx=False)
    await producer.receive_rtp(vp8(12, DELTA), 0, rtx=False)
    sent = [parse_rtp(d) for d in downstream.rtp]
    assert [(p.ssrc, p.payload_type, p.payload) for p in sent] == [
        (consumer.ssrc, 101, KEY),
        (consumer.ssrc, 101, DELTA),
    ]
    assert sent[1].sequence_number == (sent[0].sequence_number + 1) & 0xFFFF


async def test_a_viewers_picture_loss_indication_reaches_the_publisher(
    fixture_json: Any, chrome_device: RtpCapabilities
) -> None:
    clock, upstream, downstream = Clock(), MemoryTransport(), MemoryTransport()
    producer = make_producer(fixture_json, upstream, clock)
    consumer = make_consumer(producer, downstream, chrome_device, clock, "viewer")
    await consumer.receive_rtcp_feedback(picture_loss_indication(sender_ssrc=1, media_ssrc=consumer.ssrc))
    (request,) = upstream.rtcp
    assert isinstance(request, RtcpFeedback)
    assert request.media_ssrc == 1711563410


async def test_one_failing_consumer_does_not_stop_the_others(fixture_json: Any, chrome_device: RtpCapabilities) -> None:
    clock, upstream, broken, healthy = Clock(), MemoryTransport(), MemoryTransport(fail=True), MemoryTransport()
    producer = make_producer(fixture_json, upstream, clock)
    make_consumer(producer, broken, chrome_device, clock, "a")
    make_consumer(producer, healthy, chrome_device, clock, "bb")
    await producer.receive_rtp(vp8(1, KEY), 0, rtx=False)
    await producer.receive_rtp(vp8(2, DELTA), 0, rtx=False)
    assert len(healthy.rtp) == 2


async def test_padding_and_rtx_are_not_forwarded(fixture_json: Any, chrome_device: RtpCapabilities) -> None:
    clock, upstream, downstream = Clock(), MemoryTransport(), MemoryTransport()
    producer = make_producer(fixture_json, upstream, clock)
    make_consumer(producer, downstream, chrome_device, clock, "viewer")
    await producer.receive_rtp(vp8(1, KEY), 0, rtx=False)
    await producer.receive_rtp(vp8(2, b""), 0, rtx=False)
    await producer.receive_rtp(vp8(3, DELTA), 0, rtx=True)
    assert len(downstream.rtp) == 1


def rtx(sequence_number: int, original_sequence_number: int, payload: bytes) -> Any:
    return parse_rtp(
        build_rtp(
            payload_type=97,
            sequence_number=sequence_number,
            timestamp=original_sequence_number * 3000,
            ssrc=3093347917,
            payload=original_sequence_number.to_bytes(2, "big") + payload,
        )
    )


async def test_a_lost_packet_is_nacked_upstream_and_its_repair_forwarded_once(
    fixture_json: Any, chrome_device: RtpCapabilities
) -> None:
    clock, upstream, downstream = Clock(), MemoryTransport(), MemoryTransport()
    producer = make_producer(fixture_json, upstream, clock)
    make_consumer(producer, downstream, chrome_device, clock, "viewer")
    await producer.receive_rtp(vp8(1, KEY), 0, rtx=False)
    await producer.receive_rtp(vp8(3, DELTA + b"3"), 0, rtx=False)
    (nack,) = upstream.rtcp
    assert isinstance(nack, RtcpFeedback)
    # RTPFB fmt 1 from the transport's RTCP SSRC about the publisher's SSRC: PID 2, BLP 0.
    assert nack.to_bytes() == bytes.fromhex("81cd0003010203046604629200020000")

    await producer.receive_rtp(rtx(500, 2, DELTA + b"2"), 0, rtx=True)
    await producer.receive_rtp(rtx(501, 2, DELTA + b"2"), 0, rtx=True)  # a second answer to the NACK
    await producer.receive_rtp(rtx(502, 3, DELTA + b"3"), 0, rtx=True)  # repairs what was not lost
    sent = [parse_rtp(d) for d in downstream.rtp]
    assert [(p.sequence_number, p.payload) for p in sent] == [(1, KEY), (3, DELTA + b"3"), (2, DELTA + b"2")]
    assert producer.packets_repaired == 1


async def test_a_viewers_nack_is_answered_with_rtx_from_the_history(
    fixture_json: Any, chrome_device: RtpCapabilities
) -> None:
    clock, upstream, downstream = Clock(), MemoryTransport(), MemoryTransport()
    producer = make_producer(fixture_json, upstream, clock)
    consumer = make_consumer(producer, downstream, chrome_device, clock, "viewer")
    await producer.receive_rtp(vp8(1, KEY), 0, rtx=False)
    await producer.receive_rtp(vp8(2, DELTA), 0, rtx=False)
    lost = parse_rtp(downstream.rtp[1])

    clock.now += 0.05
    nack = generic_nack(sender_ssrc=1, media_ssrc=consumer.ssrc, sequence_numbers=[lost.sequence_number])
    await consumer.receive_rtcp_feedback(nack)
    await consumer.receive_rtcp_feedback(nack)  # repeated at once: sent again only later
    assert len(downstream.rtp) == 3
    repair = parse_rtp(downstream.rtp[2])
    assert consumer.rtx_ssrc is not None
    assert (repair.ssrc, repair.payload_type, repair.timestamp) == (consumer.rtx_ssrc, 102, lost.timestamp)
    assert repair.payload == lost.sequence_number.to_bytes(2, "big") + lost.payload
    assert repair.extension(1) == lost.extension(1) == b"0"  # the viewer's mid

    clock.now += 0.05
    await consumer.receive_rtcp_feedback(nack)
    second = parse_rtp(downstream.rtp[3])
    assert second.sequence_number == (repair.sequence_number + 1) & 0xFFFF
    assert consumer.packets_retransmitted == 2


async def test_a_consumers_sender_report_carries_the_publishers_clock_in_its_own_timestamps(
    fixture_json: Any, chrome_device: RtpCapabilities
) -> None:
    clock, upstream, downstream = Clock(), MemoryTransport(), MemoryTransport()
    producer = make_producer(fixture_json, upstream, clock)
    consumer = make_consumer(producer, downstream, chrome_device, clock, "viewer")
    assert consumer.sender_report() is None  # nothing sent yet
    await producer.receive_rtp(vp8(1, KEY), 0, rtx=False)
    consumer.pause()
    consumer.resume()
    clock.now += 2.0
    await producer.receive_rtp(vp8(70, KEY), 0, rtx=False)  # resumes with a new timestamp offset
    sent = parse_rtp(downstream.rtp[-1])
    offset = (sent.timestamp - 70 * 3000) & 0xFFFFFFFF
    assert offset != 0

    ntp = 0xE9C0A1B2C3D4E5F6
    producer.receive_sender_report(
        0, RtcpSenderReport(ssrc=1711563410, ntp_timestamp=ntp, rtp_timestamp=70 * 3000, packet_count=0, octet_count=0)
    )
    clock.now += 0.25
    report = consumer.sender_report()
    assert report is not None
    assert report.ssrc == consumer.ssrc
    assert report.ntp_timestamp == ntp + (1 << 30)  # a quarter of a second later
    assert report.rtp_timestamp == (70 * 3000 + 22500 + offset) & 0xFFFFFFFF
    assert (report.packet_count, report.octet_count) == (2, 2 * len(KEY))


async def test_a_keyframe_asked_for_too_soon_is_asked_for_later_unless_one_arrives(fixture_json: Any) -> None:
    clock, upstream = Clock(), MemoryTransport()
    producer = make_producer(fixture_json, upstream, clock)
    await producer.request_keyframe(0)
    clock.now += 0.1
    await producer.request_keyframe(0)  # too soon: deferred
    await producer.receive_rtp(vp8(1, DELTA), 0, rtx=False)
    assert len(upstream.rtcp) == 1
    clock.now += 0.15
    await producer.receive_rtp(vp8(2, DELTA), 0, rtx=False)
    assert len(upstream.rtcp) == 2  # the deferred request, once allowed

    clock.now += 0.05
    await producer.request_keyframe(0)  # deferred again...
    await producer.receive_rtp(vp8(3, KEY), 0, rtx=False)  # ...but a keyframe came anyway
    clock.now += 0.3
    await producer.receive_rtp(vp8(4, DELTA), 0, rtx=False)
    assert len(upstream.rtcp) == 2
