"""RTP/RTCP parsing and serialising, on packets shaped as Chromium sends them."""

import pytest
from aiortc import rtp as aiortc_rtp
from aiortc.rtcrtpparameters import RTCRtpHeaderExtensionParameters, RTCRtpParameters

from media import rtp

# A VP8 keyframe's first packet: abs-send-time (id 2), mid "1" (id 9), rid "r2" (id 10).
VP8_KEYFRAME = bytes.fromhex(
    "90605a6966b8fa385b3a1c0ebede0003221c4f919031a17232000000908092341002009d012aa000780000"
    "0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f2021222324252627"
)
# Opus with the marker bit, sequence number 65535, audio level (id 1) and mid "0".
OPUS = bytes.fromhex("90effffffffffaf08a12bc41bede000210aa903022010203fcfffe" + "00" * 30)
# An RTX padding-only probe (P bit, 20 bytes of padding) on r0's repair stream.
PADDING_PROBE = bytes.fromhex("b061006466b8fa3811223344bede0003220102039031b17230000000" + "00" * 19 + "14")

SR_SDES = bytes.fromhex(
    "81c8000c5b3a1c0ee9c0a1b2c3d4e5f666b8fa38000004b0000f12060badcafe0c0000050001a2b30000001112345678"
    "0001000081ca00065b3a1c0e011066336b50307658396d5132614c7337420000"
)
RR_REMB = bytes.fromhex(
    "81c90007000000010badcafe00fffffd000111700000000300000000000000008fce0006000000010000000052454d42"
    "020edc6c0000001100000022"
)
NACK = bytes.fromhex("81cd0004010203045b3a1c0efffe000500640000")
PLI_FIR = bytes.fromhex("81ce0002010203045b3a1c0e84ce000401020304000000005b3a1c0e07000000")
TRANSPORT_CC = bytes.fromhex("8fcd0006010203045b3a1c0e00010005001a2b0020050000c8000000")
BYE_APP = bytes.fromhex("82cb00045b3a1c0e11223344076c656176696e67a0cc000400000007544553540102030400000004")


@pytest.mark.parametrize("data", [VP8_KEYFRAME, OPUS, PADDING_PROBE], ids=["vp8", "opus", "padding"])
def test_rtp_packets_serialise_back_byte_for_byte(data: bytes) -> None:
    assert rtp.serialize_rtp(rtp.parse_rtp(data)) == data


def test_vp8_packet_fields_and_extensions() -> None:
    packet = rtp.parse_rtp(VP8_KEYFRAME)
    assert (packet.payload_type, packet.sequence_number, packet.timestamp, packet.ssrc) == (
        96,
        23145,
        1723398712,
        0x5B3A1C0E,
    )
    assert not packet.marker
    assert packet.extension_profile == rtp.ONE_BYTE_PROFILE
    assert packet.extension(2) == bytes.fromhex("1c4f91")
    assert packet.extension(9) == b"1"
    assert packet.extension(10) == b"r2"
    assert packet.extension(11) is None
    assert packet.payload[:4] == bytes.fromhex("90809234")


def test_parsing_agrees_with_aiortc() -> None:
    ids = RTCRtpParameters(
        headerExtensions=[
            RTCRtpHeaderExtensionParameters(id=9, uri="urn:ietf:params:rtp-hdrext:sdes:mid"),
            RTCRtpHeaderExtensionParameters(id=10, uri="urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id"),
            RTCRtpHeaderExtensionParameters(id=1, uri="urn:ietf:params:rtp-hdrext:ssrc-audio-level"),
        ]
    )
    extensions_map = aiortc_rtp.HeaderExtensionsMap()
    extensions_map.configure(ids)
    for data in (VP8_KEYFRAME, OPUS):
        ours = rtp.parse_rtp(data)
        theirs = aiortc_rtp.RtpPacket.parse(data, extensions_map)
        assert (ours.sequence_number, ours.timestamp, ours.ssrc, ours.payload_type, ours.marker) == (
            theirs.sequence_number,
            theirs.timestamp,
            theirs.ssrc,
            theirs.payload_type,
            bool(theirs.marker),
        )
        assert ours.payload == theirs.payload
        assert ours.extension(9) == theirs.extensions.mid.encode()


def test_opus_packet_carries_marker_audio_level_and_top_sequence_number() -> None:
    packet = rtp.parse_rtp(OPUS)
    assert packet.marker
    assert packet.sequence_number == 65535
    assert packet.extension(1) == bytes([0xAA])  # voice activity bit + level 42
    assert packet.payload[:3] == bytes.fromhex("fcfffe")


def test_padding_probe_has_no_payload() -> None:
    packet = rtp.parse_rtp(PADDING_PROBE)
    assert packet.payload == b""
    assert len(packet.padding) == 20
    assert packet.extension(11) == b"r0"


def test_rewriting_changes_header_fields_and_keeps_the_payload() -> None:
    packet = rtp.parse_rtp(VP8_KEYFRAME)
    rewritten = rtp.build_rtp(
        payload_type=101,
        sequence_number=7,
        timestamp=90_000,
        ssrc=0xCAFE,
        marker=packet.marker,
        extensions=((1, b"0"), (4, packet.extension(2) or b"")),
        payload=packet.payload,
    )
    again = rtp.parse_rtp(rewritten)
    assert (again.payload_type, again.sequence_number, again.timestamp, again.ssrc) == (101, 7, 90_000, 0xCAFE)
    assert again.extensions == ((1, b"0"), (4, bytes.fromhex("1c4f91")))
    assert again.payload == packet.payload


def test_long_extension_values_use_the_two_byte_form_and_parse_back() -> None:
    value = bytes(range(20))
    data = rtp.build_rtp(
        payload_type=96, sequence_number=1, timestamp=2, ssrc=3, extensions=((1, value),), payload=b"x"
    )
    packet = rtp.parse_rtp(data)
    assert packet.extension_profile == rtp.TWO_BYTE_PROFILE
    assert packet.extension(1) == value
    assert rtp.serialize_rtp(packet) == data


@pytest.mark.parametrize(
    "data",
    [
        b"\x80\x60\x00",  # shorter than a header
        bytes.fromhex("40605a6966b8fa385b3a1c0e"),  # version 1
        bytes.fromhex("a0605a6966b8fa385b3a1c0e00000030"),  # padding longer than the packet
        bytes.fromhex("90605a6966b8fa385b3a1c0ebede0009221c4f91"),  # extensions run past the end
        bytes.fromhex("90605a6966b8fa385b3a1c0ebede000134aabbcc"),  # element runs past its block
    ],
)
def test_malformed_rtp_is_refused(data: bytes) -> None:
    with pytest.raises(rtp.PacketError):
        rtp.parse_rtp(data)


def test_rtx_unwraps_to_the_original_sequence_number() -> None:
    original = rtp.parse_rtp(VP8_KEYFRAME)
    rtx_payload = original.sequence_number.to_bytes(2, "big") + original.payload
    rtx = rtp.RtpPacket(
        payload_type=97, sequence_number=500, timestamp=original.timestamp, ssrc=77, payload=rtx_payload
    )
    repaired = rtp.unwrap_rtx(rtx, payload_type=96, ssrc=original.ssrc)
    assert (repaired.sequence_number, repaired.ssrc, repaired.payload_type) == (23145, original.ssrc, 96)
    assert repaired.payload == original.payload


def test_rtp_and_rtcp_are_told_apart_on_a_shared_port() -> None:
    assert not rtp.is_rtcp(VP8_KEYFRAME)
    assert not rtp.is_rtcp(OPUS)  # payload type 111 with the marker bit is 239, past RTCP's range
    assert all(rtp.is_rtcp(p) for p in (SR_SDES, RR_REMB, NACK, PLI_FIR, TRANSPORT_CC, BYE_APP))


@pytest.mark.parametrize(
    "data",
    [SR_SDES, RR_REMB, NACK, PLI_FIR, TRANSPORT_CC, BYE_APP],
    ids=["sr+sdes", "rr+remb", "nack", "pli+fir", "transport-cc", "bye+app"],
)
def test_rtcp_compounds_serialise_back_byte_for_byte(data: bytes) -> None:
    assert rtp.serialize_rtcp(rtp.parse_rtcp(data)) == data


def test_sender_report_and_cname() -> None:
    sr, sdes = rtp.parse_rtcp(SR_SDES)
    assert isinstance(sr, rtp.RtcpSenderReport)
    assert (sr.ssrc, sr.rtp_timestamp, sr.packet_count, sr.octet_count) == (0x5B3A1C0E, 1723398712, 1200, 987654)
    assert sr.reports[0].ssrc == 0x0BADCAFE
    assert sr.reports[0].packets_lost == 5
    assert isinstance(sdes, rtp.RtcpSourceDescription)
    assert sdes.chunks[0].items == [(1, b"f3kP0vX9mQ2aLs7B")]


def test_receiver_report_loss_is_signed_and_remb_is_read() -> None:
    rr, remb = rtp.parse_rtcp(RR_REMB)
    assert isinstance(rr, rtp.RtcpReceiverReport)
    assert rr.reports[0].packets_lost == -3  # duplicates make cumulative loss negative
    assert isinstance(remb, rtp.RtcpFeedback)
    assert remb.is_remb
    assert rtp.remb_bitrate(remb.fci) == (1_500_000, [0x11, 0x22])
    built = rtp.receiver_estimated_maximum_bitrate(sender_ssrc=1, bitrate=1_500_000, ssrcs=[0x11, 0x22])
    assert built.to_bytes() == RR_REMB[-28:]


def test_nack_sequence_numbers_wrap_at_65535() -> None:
    (nack,) = rtp.parse_rtcp(NACK)
    assert isinstance(nack, rtp.RtcpFeedback)
    assert nack.is_nack
    assert nack.media_ssrc == 0x5B3A1C0E
    assert rtp.nack_sequence_numbers(nack.fci) == [65534, 65535, 1, 100]
    assert rtp.nack_sequence_numbers(rtp.nack_fci([65534, 65535, 1, 100])) == [65534, 65535, 1, 100]


def test_transport_cc_feedback_is_not_mistaken_for_a_nack() -> None:
    (feedback,) = rtp.parse_rtcp(TRANSPORT_CC)
    assert isinstance(feedback, rtp.RtcpFeedback)
    assert feedback.fmt == rtp.RTPFB_TRANSPORT_CC
    assert not feedback.is_nack
    assert not feedback.is_keyframe_request


def test_pli_and_fir_are_keyframe_requests() -> None:
    pli, fir = rtp.parse_rtcp(PLI_FIR)
    assert isinstance(pli, rtp.RtcpFeedback)
    assert isinstance(fir, rtp.RtcpFeedback)
    assert pli.is_keyframe_request
    assert fir.is_keyframe_request
    assert rtp.fir_media_ssrcs(fir.fci) == [0x5B3A1C0E]
    assert rtp.picture_loss_indication(sender_ssrc=0x01020304, media_ssrc=0x5B3A1C0E).to_bytes() == PLI_FIR[:12]
    built = rtp.full_intra_request(sender_ssrc=0x01020304, media_ssrc=0x5B3A1C0E, sequence=7).to_bytes()
    assert built == PLI_FIR[12:]


def test_bye_reason_and_unknown_packets_are_kept() -> None:
    bye, app = rtp.parse_rtcp(BYE_APP)
    assert isinstance(bye, rtp.RtcpBye)
    assert bye.sources == [0x5B3A1C0E, 0x11223344]
    assert bye.reason == b"leaving"
    assert isinstance(app, rtp.RtcpOther)
    assert app.packet_type == 204
    assert app.padding == bytes.fromhex("00000004")


@pytest.mark.parametrize(
    "data",
    [
        bytes.fromhex("81c9"),  # cut header
        bytes.fromhex("81c90009000000010badcafe"),  # length past the datagram
        bytes.fromhex("41c9000100000001"),  # version 1
        bytes.fromhex("81c8000100000001"),  # SR without its sender info
    ],
)
def test_malformed_rtcp_is_refused(data: bytes) -> None:
    with pytest.raises(rtp.PacketError):
        rtp.parse_rtcp(data)
