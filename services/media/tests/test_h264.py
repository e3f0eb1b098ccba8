"""H.264 (packetization-mode 1) from an aiortc publisher to an aiortc viewer, not re-encoded."""

from typing import Any

import pytest

from media import ortc
from media.codecs import H264_FU_A, H264_STAP_A, is_h264_keyframe
from media.peer_client import EncodedTrack, encode_h264
from media.router import Router
from media.rtp import RtpPacket, parse_rtp
from webinar_contracts.media import RtpCapabilities, RtpCodecParameters

H264 = RtpCodecParameters(
    mime_type="video/H264",
    payload_type=125,  # Chrome's payload type for constrained baseline
    clock_rate=90000,
    parameters={"level-asymmetry-allowed": 1, "packetization-mode": 1, "profile-level-id": "42e01f"},
)


def annex_b_units(data: bytes) -> list[bytes]:
    """The NAL units of an Annex B byte stream."""
    return [part for part in data.replace(b"\x00\x00\x00\x01", b"\x00\x00\x01").split(b"\x00\x00\x01") if part]


def rtp_units(packets: list[RtpPacket]) -> list[bytes]:
    """The NAL units carried by RTP payloads (single NAL, STAP-A, FU-A; RFC 6184)."""
    units = []
    fragment = bytearray()
    for packet in sorted(packets, key=lambda p: p.sequence_number):
        payload = packet.payload
        nal_type = payload[0] & 0x1F
        if nal_type == H264_STAP_A:
            pos = 1
            while pos + 2 <= len(payload):
                size = int.from_bytes(payload[pos : pos + 2], "big")
                units.append(payload[pos + 2 : pos + 2 + size])
                pos += 2 + size
        elif nal_type == H264_FU_A:
            if payload[1] & 0x80:
                fragment = bytearray([(payload[0] & 0xE0) | (payload[1] & 0x1F)])
            fragment += payload[2:]
            if payload[1] & 0x40 and fragment:
                units.append(bytes(fragment))
                fragment = bytearray()
        else:
            units.append(payload)
    return units


@pytest.fixture(scope="module")
def h264_packets() -> list[Any]:
    return encode_h264(15, keyframe_interval=5)


async def test_h264_reaches_the_viewer_unchanged_and_decodes(
    router: Router, connect_pair: Any, wait_until: Any, chrome_device: RtpCapabilities, h264_packets: list[Any]
) -> None:
    send_transport, publisher, recv_transport, viewer = await connect_pair()
    camera = EncodedTrack("video", h264_packets, interval=0.02)
    producer = send_transport.produce(
        kind="video",
        rtp_parameters=await publisher.publish(
            camera, codec=H264, mid="0", rtcp_feedback=[ortc.GOOG_REMB, ortc.CCM_FIR, ortc.NACK, ortc.NACK_PLI]
        ),
    )
    consumer = recv_transport.consume(producer_id=producer.id, rtp_capabilities=chrome_device)
    codec = consumer.rtp_parameters.codecs[0]
    assert (codec.mime_type, codec.payload_type) == ("video/H264", 103)  # the router's
    assert codec.parameters["packetization-mode"] == 1
    receiver = await viewer.receive("video", consumer.rtp_parameters)

    def received() -> list[RtpPacket]:
        return [p for p in (parse_rtp(d) for d in list(viewer.received.rtp)) if p.ssrc == consumer.ssrc]

    frame = await receiver.track.recv()
    assert (frame.width, frame.height) == (160, 120)
    await wait_until(lambda: len(rtp_units(received())) >= 20)
    packets = received()
    assert is_h264_keyframe(packets[0].payload), "the viewer starts on SPS/PPS and an IDR"
    assert {p.payload_type for p in packets} == {103}
    numbers = [p.sequence_number for p in packets]
    assert numbers == [(numbers[0] + i) & 0xFFFF for i in range(len(numbers))]
    # No re-encoding: every NAL unit the viewer got is one the publisher's encoder made.
    sent = {unit for data in camera.sent for unit in annex_b_units(data)}
    units = rtp_units(packets)
    assert {unit[0] & 0x1F for unit in units} >= {5, 7, 8}  # IDR, SPS, PPS
    assert all(unit in sent for unit in units)
