"""Forwarding without re-encoding: an aiortc peer publishes Opus and VP8, another receives."""

from typing import Any

import msgspec
import pytest

from media import ortc
from media.codecs import is_vp8_keyframe, parse_vp8_descriptor
from media.peer_client import EncodedTrack, PeerTransport, encode_opus, encode_vp8
from media.router import Router
from media.rtp import RtcpReceiverReport, RtcpSenderReport, RtpPacket, build_rtp, parse_rtcp, parse_rtp, unwrap_rtx
from media.transport import TransportOptions
from webinar_contracts.media import RtpCapabilities, RtpCodecParameters, RtpParameters

VP8 = RtpCodecParameters(mime_type="video/VP8", payload_type=96, clock_rate=90000)
OPUS = RtpCodecParameters(
    mime_type="audio/opus",
    payload_type=111,
    clock_rate=48000,
    channels=2,
    parameters={"minptime": 10, "useinbandfec": 1},
)
VIDEO_FEEDBACK = [ortc.GOOG_REMB, ortc.CCM_FIR, ortc.NACK, ortc.NACK_PLI]


def packets_of(peer: PeerTransport, ssrc: int) -> list[RtpPacket]:
    parsed = (parse_rtp(data) for data in list(peer.received.rtp))
    return [p for p in parsed if p.ssrc == ssrc]


def vp8_frames(packets: list[RtpPacket]) -> list[bytes]:
    """Reassemble complete VP8 frames: consecutive packets of one timestamp, from the one
    that begins partition 0 to the one with the marker bit."""
    frames = []
    current: list[RtpPacket] = []
    for packet in sorted(packets, key=lambda p: p.sequence_number):
        descriptor = parse_vp8_descriptor(packet.payload)
        if descriptor is None:
            continue
        if descriptor.begins_frame:
            current = [packet]
        elif (
            current
            and packet.timestamp == current[-1].timestamp
            and packet.sequence_number == current[-1].sequence_number + 1
        ):
            current.append(packet)
        else:
            current = []
        if current and packet.marker:
            frames.append(b"".join(p.payload[parse_vp8_descriptor(p.payload).size :] for p in current))  # type: ignore[union-attr]
            current = []
    return frames


@pytest.fixture(scope="module")
def vp8_packets() -> list[Any]:
    return encode_vp8(15, keyframe_interval=5)


@pytest.fixture(scope="module")
def opus_packets() -> list[Any]:
    return encode_opus(10)


async def test_opus_and_vp8_reach_the_viewer_byte_for_byte(
    router: Router,
    connect_pair: Any,
    wait_until: Any,
    chrome_device: RtpCapabilities,
    vp8_packets: list[Any],
    opus_packets: list[Any],
) -> None:
    send_transport, publisher, recv_transport, viewer = await connect_pair()

    camera = EncodedTrack("video", vp8_packets, interval=0.02)
    microphone = EncodedTrack("audio", opus_packets, interval=0.02)
    video_producer = send_transport.produce(
        kind="video",
        rtp_parameters=await publisher.publish(camera, codec=VP8, mid="1", rtcp_feedback=VIDEO_FEEDBACK),
    )
    audio_producer = send_transport.produce(
        kind="audio",
        rtp_parameters=await publisher.publish(microphone, codec=OPUS, mid="0", rtcp_feedback=[]),
    )

    video_consumer = recv_transport.consume(producer_id=video_producer.id, rtp_capabilities=chrome_device)
    audio_consumer = recv_transport.consume(producer_id=audio_producer.id, rtp_capabilities=chrome_device)
    assert (video_consumer.rtp_parameters.mid, audio_consumer.rtp_parameters.mid) == ("0", "1")
    video_receiver = await viewer.receive("video", video_consumer.rtp_parameters)
    audio_receiver = await viewer.receive("audio", audio_consumer.rtp_parameters)

    await wait_until(lambda: len(vp8_frames(packets_of(viewer, video_consumer.ssrc))) >= 3)
    await wait_until(lambda: len(packets_of(viewer, audio_consumer.ssrc)) >= 5)

    # No re-encoding: every frame the viewer got is, byte for byte, a frame the publisher sent.
    sent_frames = set(camera.sent)
    received_frames = vp8_frames(packets_of(viewer, video_consumer.ssrc))
    assert received_frames
    assert all(frame in sent_frames for frame in received_frames)
    sent_audio = set(microphone.sent)
    assert all(p.payload in sent_audio for p in packets_of(viewer, audio_consumer.ssrc))

    # The consumer's own SSRC, the router's payload types, continuous numbering, the viewer's mid.
    video = packets_of(viewer, video_consumer.ssrc)
    assert is_vp8_keyframe(video[0].payload), "video starts on a keyframe"
    assert {p.payload_type for p in video} == {101}
    assert {p.payload_type for p in packets_of(viewer, audio_consumer.ssrc)} == {100}
    numbers = [p.sequence_number for p in video]
    assert numbers == [(numbers[0] + i) & 0xFFFF for i in range(len(numbers))]
    assert {p.extension(1) for p in video} == {b"0"}
    assert {p.extension(1) for p in packets_of(viewer, audio_consumer.ssrc)} == {b"1"}

    # And a real decoder accepts both streams.
    frame = await video_receiver.track.recv()
    assert (frame.width, frame.height) == (160, 120)
    audio_frame = await audio_receiver.track.recv()
    assert audio_frame.sample_rate == 48000
    assert video_consumer.packets_sent >= len(video)


async def test_a_paused_consumer_sends_nothing_and_resumes_on_a_keyframe(
    connect_pair: Any,
    wait_until: Any,
    chrome_device: RtpCapabilities,
    vp8_packets: list[Any],
) -> None:
    send_transport, publisher, recv_transport, viewer = await connect_pair()
    camera = EncodedTrack("video", vp8_packets, interval=0.01)
    producer = send_transport.produce(
        kind="video", rtp_parameters=await publisher.publish(camera, codec=VP8, mid="0", rtcp_feedback=VIDEO_FEEDBACK)
    )
    consumer = recv_transport.consume(producer_id=producer.id, rtp_capabilities=chrome_device, paused=True)
    received_before = producer.packets_received
    await wait_until(lambda: producer.packets_received > received_before + 20)
    assert packets_of(viewer, consumer.ssrc) == []

    consumer.resume()
    consumer.resume()  # harmless on a flowing consumer
    await wait_until(lambda: len(packets_of(viewer, consumer.ssrc)) >= 5)
    video = packets_of(viewer, consumer.ssrc)
    assert is_vp8_keyframe(video[0].payload)


async def test_header_extensions_are_rewritten_to_the_viewers_ids(
    router: Router, connect_pair: Any, wait_until: Any, chrome_device: RtpCapabilities, fixture_json: Any
) -> None:
    send_transport, publisher, recv_transport, viewer = await connect_pair()
    # Chrome's ids: mid 9, abs-send-time 2, audio level 1.
    parameters = msgspec.convert(fixture_json("chrome_produce_audio.json"), RtpParameters)
    producer = send_transport.produce(kind="audio", rtp_parameters=parameters)
    consumer = recv_transport.consume(producer_id=producer.id, rtp_capabilities=chrome_device)

    opus = bytes.fromhex("fcfffe") + bytes(20)
    await publisher.send_raw(
        build_rtp(
            payload_type=111,
            sequence_number=300,
            timestamp=48000,
            ssrc=2316457025,
            marker=True,
            extensions=((9, b"0"), (2, b"\x01\x02\x03"), (1, bytes([0x80 | 33]))),
            payload=opus,
        )
    )
    await wait_until(lambda: len(packets_of(viewer, consumer.ssrc)) == 1)
    (packet,) = packets_of(viewer, consumer.ssrc)
    # The router's ids: mid 1 (with the viewer's mid), abs-send-time 4 (restamped), audio level 10.
    assert packet.extension(1) == b"0"
    assert packet.extension(10) == bytes([0x80 | 33])
    assert packet.extension(4) is not None
    assert packet.extension(9) is None
    assert packet.extension(2) is None
    assert (packet.payload_type, packet.marker, packet.payload) == (100, True, opus)


async def test_simulcast_layers_are_routed_by_mid_and_rid_and_one_layer_is_sent(
    connect_pair: Any, wait_until: Any, chrome_device: RtpCapabilities, fixture_json: Any
) -> None:
    send_transport, publisher, recv_transport, viewer = await connect_pair()
    # Chrome's simulcast camera: rids r0..r2, no SSRCs; mid 9, rid 10, rrid 11.
    parameters = msgspec.convert(fixture_json("chrome_produce_camera_simulcast.json"), RtpParameters)
    producer = send_transport.produce(kind="video", rtp_parameters=parameters)
    consumer = recv_transport.consume(producer_id=producer.id, rtp_capabilities=chrome_device)
    assert consumer.type == "simulcast"

    key = bytes.fromhex("9080923410020000")
    for layer, ssrc in enumerate((0x1000, 0x2000, 0x3000)):
        rid = f"r{layer}".encode()
        await publisher.send_raw(
            build_rtp(
                payload_type=96,
                sequence_number=10,
                timestamp=9000,
                ssrc=ssrc,
                marker=True,
                extensions=((9, b"1"), (10, rid)),
                payload=key + rid,
            )
        )
        # Chrome's padding on the layer's repair stream, named by rrid.
        await publisher.send_raw(
            build_rtp(
                payload_type=97,
                sequence_number=5,
                timestamp=9000,
                ssrc=ssrc + 1,
                extensions=((9, b"1"), (11, rid)),
                payload=b"",
                padding=bytes(3) + b"\x04",
            )
        )
    await wait_until(lambda: [s.rtx_ssrc for s in producer.streams] == [0x1001, 0x2001, 0x3001])
    assert [s.ssrc for s in producer.streams] == [0x1000, 0x2000, 0x3000]
    await wait_until(lambda: len(packets_of(viewer, consumer.ssrc)) == 1)
    (packet,) = packets_of(viewer, consumer.ssrc)
    assert packet.payload == key + b"r2"  # the best layer, alone, on the consumer's SSRC


async def test_packets_lost_towards_the_viewer_are_repaired_with_rtx(
    connect_pair: Any,
    wait_until: Any,
    chrome_device: RtpCapabilities,
    vp8_packets: list[Any],
) -> None:
    send_transport, publisher, recv_transport, viewer = await connect_pair()
    camera = EncodedTrack("video", vp8_packets, interval=0.01)
    producer = send_transport.produce(
        kind="video", rtp_parameters=await publisher.publish(camera, codec=VP8, mid="0", rtcp_feedback=VIDEO_FEEDBACK)
    )
    consumer = recv_transport.consume(producer_id=producer.id, rtp_capabilities=chrome_device)
    receiver = await viewer.receive("video", consumer.rtp_parameters, feedback=True)  # sends NACKs
    lost: list[int] = []
    passed = 0

    def lose_every_fifth(data: bytes) -> bool:
        # Once the receiver has seen a few packets (a NACK needs one before the hole).
        nonlocal passed
        packet = parse_rtp(data)
        if packet.ssrc != consumer.ssrc or packet.sequence_number in lost:
            return False
        if passed < 3 or packet.sequence_number % 5 != 2:
            passed += 1
            return False
        lost.append(packet.sequence_number)
        return True

    viewer.lose_packets(incoming=lose_every_fifth)
    await wait_until(lambda: len(lost) >= 6)
    assert consumer.rtx_ssrc is not None
    rtx_ssrc = consumer.rtx_ssrc

    def repaired() -> set[int]:
        return {int.from_bytes(p.payload[:2], "big") for p in packets_of(viewer, rtx_ssrc)}

    await wait_until(lambda: set(lost[:6]) <= repaired())
    assert consumer.nacks_received > 0
    # The repairs carry the lost payloads: the frames they complete are frames the camera sent.
    media = {p.sequence_number: p for p in packets_of(viewer, consumer.ssrc)}
    for repair in packets_of(viewer, rtx_ssrc):
        original = unwrap_rtx(repair, payload_type=101, ssrc=consumer.ssrc)
        media.setdefault(original.sequence_number, original)
    frames = vp8_frames(list(media.values()))
    assert len(frames) >= 5
    assert all(frame in set(camera.sent) for frame in frames)
    frame = await receiver.track.recv()
    assert frame.width == 160


async def test_packets_lost_from_the_publisher_are_nacked_and_the_repairs_forwarded(
    connect_pair: Any,
    wait_until: Any,
    chrome_device: RtpCapabilities,
    vp8_packets: list[Any],
) -> None:
    send_transport, publisher, recv_transport, viewer = await connect_pair()
    lost: set[int] = set()

    def lose_every_fifth(data: bytes) -> bool:
        packet = parse_rtp(data)
        if packet.payload_type != VP8.payload_type or packet.sequence_number % 5 != 2 or packet.sequence_number in lost:
            return False
        lost.add(packet.sequence_number)
        return True

    publisher.lose_packets(outgoing=lose_every_fifth)
    camera = EncodedTrack("video", vp8_packets, interval=0.01)
    producer = send_transport.produce(
        kind="video",
        rtp_parameters=await publisher.publish(
            camera, codec=VP8, mid="0", rtcp_feedback=VIDEO_FEEDBACK, rtx_payload_type=97
        ),
    )
    consumer = recv_transport.consume(producer_id=producer.id, rtp_capabilities=chrome_device)
    await viewer.receive("video", consumer.rtp_parameters)
    await wait_until(lambda: producer.packets_repaired >= 6)
    assert producer.nacks_sent >= 6
    # Whatever was lost upstream reached the viewer late: its numbering has no hole.
    await wait_until(lambda: len(packets_of(viewer, consumer.ssrc)) >= 40)
    numbers = sorted(p.sequence_number for p in packets_of(viewer, consumer.ssrc))
    first = numbers[0]
    assert numbers[:30] == list(range(first, first + 30))


async def test_sender_reports_keep_the_publishers_audio_and_video_clock_and_receiver_reports_go_upstream(
    router: Router,
    connect_peer: Any,
    wait_until: Any,
    chrome_device: RtpCapabilities,
    vp8_packets: list[Any],
    opus_packets: list[Any],
) -> None:
    options = TransportOptions(listen_ip="127.0.0.1", rtcp_interval=0.2)
    send_transport = await router.create_webrtc_transport(options=options)
    recv_transport = await router.create_webrtc_transport(options=options)
    publisher: PeerTransport = await connect_peer(send_transport)
    viewer: PeerTransport = await connect_peer(recv_transport)
    camera = EncodedTrack("video", vp8_packets, interval=0.03)
    microphone = EncodedTrack("audio", opus_packets, interval=0.02)
    video = send_transport.produce(
        kind="video", rtp_parameters=await publisher.publish(camera, codec=VP8, mid="0", rtcp_feedback=VIDEO_FEEDBACK)
    )
    audio = send_transport.produce(
        kind="audio", rtp_parameters=await publisher.publish(microphone, codec=OPUS, mid="1", rtcp_feedback=[])
    )
    consumers = [recv_transport.consume(producer_id=p.id, rtp_capabilities=chrome_device) for p in (video, audio)]

    def reports_after_publishers() -> list[RtcpSenderReport]:
        # Sender reports the viewer got once the publisher's own had reached the SFU.
        found = []
        for data in list(viewer.received.rtcp):
            found.extend(p for p in parse_rtcp(data) if isinstance(p, RtcpSenderReport))
        return found

    await wait_until(lambda: all(p.sender_clock(0) is not None for p in (video, audio)), 3.0)
    count = len(reports_after_publishers())
    await wait_until(lambda: {r.ssrc for r in reports_after_publishers()[count:]} >= {c.ssrc for c in consumers})
    latest = {r.ssrc: r for r in reports_after_publishers()[count:]}
    for producer, consumer in zip((video, audio), consumers, strict=True):
        publisher_clock = producer.sender_clock(0)
        assert publisher_clock is not None
        report = latest[consumer.ssrc]
        # The consumer kept the producer's numbering (offset 0): its NTP/RTP pair lies on
        # the publisher's line, to within the 20 ms between two of the publisher's reports.
        expected = publisher_clock.rtp_timestamp_at(report.ntp_timestamp, producer.clock_rate)
        drift = (report.rtp_timestamp - expected + (1 << 31)) % (1 << 32) - (1 << 31)
        assert abs(drift) < producer.clock_rate * 0.02
        assert 0 < report.packet_count <= consumer.packets_sent

    # The publisher hears receiver reports about its streams, echoing its sender reports.
    def echoes() -> set[int]:
        found = set()
        for data in list(publisher.received.rtcp):
            for packet in parse_rtcp(data):
                if isinstance(packet, RtcpReceiverReport):
                    found.update(block.ssrc for block in packet.reports if block.lsr)
        return found

    video_ssrc, audio_ssrc = (p.streams[0].ssrc for p in (video, audio))
    await wait_until(lambda: {video_ssrc, audio_ssrc} <= echoes())
