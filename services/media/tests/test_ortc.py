"""Capability and RTP parameter negotiation, from Chromium/mediasoup-client shaped payloads."""

import itertools
import json
from pathlib import Path
from typing import Any

import msgspec
import pytest

from media import ortc
from webinar_contracts import InvalidInput
from webinar_contracts.media import RtpCapabilities, RtpCodecCapability, RtpParameters

FIXTURES = Path(__file__).parent / "fixtures"


def load_json(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def load(name: str, into: type[Any]) -> Any:
    return msgspec.json.decode((FIXTURES / name).read_bytes(), type=into)


def ssrcs() -> Any:
    counter = itertools.count(1000)
    return lambda: next(counter)


@pytest.fixture
def router_caps() -> RtpCapabilities:
    return ortc.router_rtp_capabilities()


@pytest.fixture
def chrome_device() -> RtpCapabilities:
    caps: RtpCapabilities = load("chrome_device_rtp_capabilities.json", RtpCapabilities)
    return caps


def consumable_for(name: str, kind: Any, router_caps: RtpCapabilities) -> RtpParameters:
    parameters = load(name, RtpParameters)
    ortc.validate_producer_rtp_parameters(kind, parameters)
    mapping = ortc.producer_rtp_mapping(parameters, router_caps, new_ssrc=ssrcs())
    return ortc.consumable_rtp_parameters(kind, parameters, router_caps, mapping, cname="transportcname")


# --- router capabilities ---


def test_router_capabilities_announce_opus_vp8_h264_with_rtx_in_mediasoup_shape(router_caps: RtpCapabilities) -> None:
    wire = msgspec.to_builtins(router_caps)
    codecs = {(c["mimeType"], c["preferredPayloadType"]): c for c in wire["codecs"]}
    assert list(codecs) == [
        ("audio/opus", 100),
        ("video/VP8", 101),
        ("video/rtx", 102),
        ("video/H264", 103),
        ("video/rtx", 104),
    ]
    assert codecs[("audio/opus", 100)]["channels"] == 2
    assert codecs[("video/rtx", 102)]["parameters"] == {"apt": 101}
    assert codecs[("video/rtx", 104)]["parameters"] == {"apt": 103}
    assert codecs[("video/H264", 103)]["parameters"]["packetization-mode"] == 1
    vp8_feedback = [(fb["type"], fb["parameter"]) for fb in codecs[("video/VP8", 101)]["rtcpFeedback"]]
    assert vp8_feedback == [("nack", ""), ("nack", "pli"), ("ccm", "fir"), ("goog-remb", ""), ("transport-cc", "")]
    assert codecs[("video/rtx", 102)]["rtcpFeedback"] == []
    assert "channels" not in codecs[("video/VP8", 101)]  # absent, not null


def test_router_capabilities_list_routing_extensions_with_preferred_ids(router_caps: RtpCapabilities) -> None:
    wire = msgspec.to_builtins(router_caps)
    extensions = {(e["kind"], e["uri"]): (e["preferredId"], e["direction"]) for e in wire["headerExtensions"]}
    assert extensions[("video", ortc.MID)] == (1, "sendrecv")
    assert extensions[("video", ortc.RTP_STREAM_ID)] == (2, "recvonly")
    assert extensions[("video", ortc.REPAIRED_RTP_STREAM_ID)] == (3, "recvonly")
    assert extensions[("video", ortc.ABS_SEND_TIME)] == (4, "sendrecv")
    assert extensions[("audio", ortc.AUDIO_LEVEL)] == (10, "sendrecv")
    # Read from publishers (the router answers with transport-cc feedback), never sent to viewers.
    assert extensions[("video", ortc.TRANSPORT_WIDE_CC)] == (5, "recvonly")
    assert extensions[("audio", ortc.TRANSPORT_WIDE_CC)] == (5, "recvonly")


def test_transport_cc_feedback_is_announced_only_with_its_extension() -> None:
    without_twcc = ortc.router_rtp_capabilities(
        header_extension_uris=ortc.DEFAULT_HEADER_EXTENSION_URIS - {ortc.TRANSPORT_WIDE_CC}
    )
    vp8 = next(c for c in without_twcc.codecs if c.mime_type == "video/VP8")
    assert ortc.TRANSPORT_CC not in vp8.rtcp_feedback
    assert all(e.uri != ortc.TRANSPORT_WIDE_CC for e in without_twcc.header_extensions)
    without_abs_send_time = ortc.router_rtp_capabilities(header_extension_uris={ortc.MID})
    vp8 = next(c for c in without_abs_send_time.codecs if c.mime_type == "video/VP8")
    assert ortc.GOOG_REMB not in vp8.rtcp_feedback


def test_router_refuses_a_codec_it_cannot_forward() -> None:
    with pytest.raises(InvalidInput, match="unsupported codec video/VP9") as caught:
        ortc.router_rtp_capabilities([RtpCodecCapability(kind="video", mime_type="video/VP9", clock_rate=90000)])
    assert caught.value.field == "mediaCodecs[0]"


def test_router_keeps_a_configured_payload_type() -> None:
    caps = ortc.router_rtp_capabilities(
        [
            RtpCodecCapability(
                kind="audio", mime_type="audio/opus", clock_rate=48000, channels=2, preferred_payload_type=111
            )
        ]
    )
    assert [c.preferred_payload_type for c in caps.codecs] == [111]


# --- producers ---


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("chrome_produce_audio.json", "audio"),
        ("chrome_produce_camera_simulcast.json", "video"),
        ("chrome_produce_screen.json", "video"),
    ],
)
def test_chrome_produce_parameters_are_accepted(name: str, kind: Any) -> None:
    ortc.validate_producer_rtp_parameters(kind, load(name, RtpParameters))


def test_produce_parameters_survive_a_round_trip_through_the_wire_types() -> None:
    raw = load_json("chrome_produce_camera_simulcast.json")
    decoded = msgspec.convert(raw, RtpParameters)
    assert msgspec.to_builtins(decoded) == raw


def broken(name: str, **changes: Any) -> RtpParameters:
    raw = load_json(name)
    for path, value in changes.items():
        target = raw
        *parents, last = path.split("__")
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        if value is None:
            del target[int(last) if last.isdigit() else last]
        else:
            target[int(last) if last.isdigit() else last] = value
    parameters: RtpParameters = msgspec.convert(raw, RtpParameters)
    return parameters


@pytest.mark.parametrize(
    ("parameters", "kind", "field"),
    [
        (broken("chrome_produce_audio.json"), "video", "rtpParameters.codecs[0].mimeType"),
        (broken("chrome_produce_audio.json", encodings=[]), "audio", "rtpParameters.encodings"),
        (broken("chrome_produce_audio.json", encodings__0={"dtx": False}), "audio", "rtpParameters.encodings[0]"),
        (
            broken("chrome_produce_screen.json", codecs__1__parameters={"apt": 120}),
            "video",
            "rtpParameters.codecs[1].parameters.apt",
        ),
        (
            broken("chrome_produce_screen.json", codecs__1__payloadType=96),
            "video",
            "rtpParameters.codecs[1].payloadType",
        ),
        (broken("chrome_produce_camera_simulcast.json", mid=None), "video", "rtpParameters.mid"),
        (
            broken("chrome_produce_camera_simulcast.json", encodings__1__rid="r0"),
            "video",
            "rtpParameters.encodings[1].rid",
        ),
        (broken("chrome_produce_camera_simulcast.json", encodings__2={"ssrc": 5}), "video", "rtpParameters.encodings"),
        (
            broken("chrome_produce_screen.json", encodings__0__rtx={"ssrc": 1711563410}),
            "video",
            "rtpParameters.encodings[0].ssrc",
        ),
        (
            broken("chrome_produce_camera_simulcast.json", headerExtensions=[]),
            "video",
            "rtpParameters.headerExtensions",
        ),
    ],
)
def test_malformed_produce_parameters_are_refused_naming_the_field(
    parameters: RtpParameters, kind: Any, field: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        ortc.validate_producer_rtp_parameters(kind, parameters)
    assert caught.value.field == field


def test_producer_payload_types_map_onto_the_routers(router_caps: RtpCapabilities) -> None:
    screen = load("chrome_produce_screen.json", RtpParameters)
    mapping = ortc.producer_rtp_mapping(screen, router_caps, new_ssrc=ssrcs())
    assert mapping.router_payload_type(96) == 101
    assert mapping.router_payload_type(97) == 102
    assert mapping.router_payload_type(111) is None
    assert [(e.ssrc, e.mapped_ssrc) for e in mapping.encodings] == [(1711563410, 1000)]


def test_simulcast_encodings_map_by_rid_to_distinct_router_ssrcs(router_caps: RtpCapabilities) -> None:
    camera = load("chrome_produce_camera_simulcast.json", RtpParameters)
    mapping = ortc.producer_rtp_mapping(camera, router_caps, new_ssrc=ssrcs())
    assert [(e.rid, e.ssrc, e.mapped_ssrc) for e in mapping.encodings] == [
        ("r0", None, 1000),
        ("r1", None, 1001),
        ("r2", None, 1002),
    ]


def test_a_codec_the_router_does_not_accept_is_refused_by_name(router_caps: RtpCapabilities) -> None:
    high_profile = broken(
        "chrome_produce_screen.json",
        codecs__0__mimeType="video/H264",
        codecs__0__parameters={"packetization-mode": 1, "profile-level-id": "640c1f"},
    )
    with pytest.raises(InvalidInput, match=r"does not accept video/H264/90000 \(constrained-high") as caught:
        ortc.producer_rtp_mapping(high_profile, router_caps, new_ssrc=ssrcs())
    assert caught.value.field == "rtpParameters.codecs[0]"


def test_h264_packetization_mode_1_maps_and_mode_0_does_not(router_caps: RtpCapabilities) -> None:
    mode_1 = broken(
        "chrome_produce_screen.json",
        codecs__0__mimeType="video/H264",
        codecs__0__parameters={"level-asymmetry-allowed": 1, "packetization-mode": 1, "profile-level-id": "42e01f"},
    )
    assert ortc.producer_rtp_mapping(mode_1, router_caps, new_ssrc=ssrcs()).router_payload_type(96) == 103
    mode_0 = broken(
        "chrome_produce_screen.json",
        codecs__0__mimeType="video/H264",
        codecs__0__parameters={"packetization-mode": 0, "profile-level-id": "42e01f"},
    )
    with pytest.raises(InvalidInput):
        ortc.producer_rtp_mapping(mode_0, router_caps, new_ssrc=ssrcs())


def test_consumable_parameters_use_router_payload_types_and_drop_rid_extensions(router_caps: RtpCapabilities) -> None:
    consumable = consumable_for("chrome_produce_camera_simulcast.json", "video", router_caps)
    assert [(c.mime_type, c.payload_type) for c in consumable.codecs] == [("video/VP8", 101), ("video/rtx", 102)]
    assert {e.uri: e.id for e in consumable.header_extensions} == {
        ortc.MID: 1,
        ortc.ABS_SEND_TIME: 4,
        ortc.VIDEO_ORIENTATION: 11,
        ortc.TOFFSET: 12,
    }
    assert [e.ssrc for e in consumable.encodings] == [1000, 1001, 1002]
    assert all(isinstance(e.rid, msgspec.UnsetType) for e in consumable.encodings)
    # Chrome's simulcast produce carries an empty cname; the transport's stands in.
    assert consumable.rtcp.cname == "transportcname"


# --- consumers ---


def test_chrome_device_consumes_simulcast_camera_as_one_stream(
    router_caps: RtpCapabilities, chrome_device: RtpCapabilities
) -> None:
    consumable = consumable_for("chrome_produce_camera_simulcast.json", "video", router_caps)
    assert ortc.can_consume(consumable, chrome_device)
    parameters = ortc.consumer_rtp_parameters(consumable, chrome_device, mid="3", new_ssrc=lambda: 4242)
    wire = msgspec.to_builtins(parameters)
    assert wire["mid"] == "3"
    assert [(c["mimeType"], c["payloadType"]) for c in wire["codecs"]] == [("video/VP8", 101), ("video/rtx", 102)]
    assert wire["codecs"][1]["parameters"] == {"apt": 101}
    assert wire["encodings"] == [{"ssrc": 4242, "rtx": {"ssrc": 4243}, "scalabilityMode": "L3T3", "maxBitrate": 900000}]
    assert [(e["uri"], e["id"]) for e in wire["headerExtensions"]] == [
        (ortc.MID, 1),
        (ortc.ABS_SEND_TIME, 4),
        (ortc.VIDEO_ORIENTATION, 11),
        (ortc.TOFFSET, 12),
    ]
    assert wire["rtcp"] == {"cname": "transportcname", "reducedSize": True, "mux": True}
    assert ortc.consumer_type(consumable) == "simulcast"


def test_consumer_feedback_keeps_only_what_both_sides_know(
    router_caps: RtpCapabilities, chrome_device: RtpCapabilities
) -> None:
    consumable = consumable_for("chrome_produce_screen.json", "video", router_caps)
    no_remb = msgspec.structs.replace(
        chrome_device,
        codecs=[
            msgspec.structs.replace(c, rtcp_feedback=[fb for fb in c.rtcp_feedback if fb.type != "goog-remb"])
            for c in chrome_device.codecs
        ],
    )
    parameters = ortc.consumer_rtp_parameters(consumable, no_remb, mid="0", new_ssrc=lambda: 7)
    assert parameters.codecs[0].rtcp_feedback == [ortc.NACK, ortc.NACK_PLI, ortc.CCM_FIR]
    assert ortc.consumer_type(consumable) == "simple"


def test_a_viewer_that_knows_transport_cc_is_still_given_remb(
    router_caps: RtpCapabilities, chrome_device: RtpCapabilities
) -> None:
    # mediasoup-client's device lists transport-cc feedback but (the extension being the
    # router's recvonly) not the extension: the consumer falls back to REMB.
    with_transport_cc = msgspec.structs.replace(
        chrome_device,
        codecs=[
            msgspec.structs.replace(c, rtcp_feedback=[*c.rtcp_feedback, ortc.TRANSPORT_CC])
            for c in chrome_device.codecs
        ],
    )
    consumable = consumable_for("chrome_produce_screen.json", "video", router_caps)
    parameters = ortc.consumer_rtp_parameters(consumable, with_transport_cc, mid="0", new_ssrc=lambda: 7)
    assert ortc.GOOG_REMB in parameters.codecs[0].rtcp_feedback
    assert ortc.TRANSPORT_CC not in parameters.codecs[0].rtcp_feedback
    assert all(e.uri != ortc.TRANSPORT_WIDE_CC for e in parameters.header_extensions)


def test_audio_consumer_gets_opus_with_router_payload_type_and_audio_level(
    router_caps: RtpCapabilities, chrome_device: RtpCapabilities
) -> None:
    consumable = consumable_for("chrome_produce_audio.json", "audio", router_caps)
    parameters = ortc.consumer_rtp_parameters(consumable, chrome_device, mid="0", new_ssrc=lambda: 9)
    assert [(c.mime_type, c.payload_type, c.channels) for c in parameters.codecs] == [("audio/opus", 100, 2)]
    assert parameters.codecs[0].parameters == {"minptime": 10, "useinbandfec": 1, "usedtx": 1}
    assert {e.uri for e in parameters.header_extensions} == {ortc.MID, ortc.ABS_SEND_TIME, ortc.AUDIO_LEVEL}
    assert msgspec.to_builtins(parameters.encodings) == [{"ssrc": 9}]
    assert parameters.rtcp.cname == "f3kP0vX9mQ2aLs7B"


def test_a_device_that_cannot_receive_the_codec_gets_a_clear_error(
    router_caps: RtpCapabilities, chrome_device: RtpCapabilities
) -> None:
    consumable = consumable_for("chrome_produce_screen.json", "video", router_caps)
    audio_only = msgspec.structs.replace(chrome_device, codecs=[c for c in chrome_device.codecs if c.kind == "audio"])
    assert not ortc.can_consume(consumable, audio_only)
    with pytest.raises(InvalidInput, match="this device cannot receive video/VP8/90000") as caught:
        ortc.consumer_rtp_parameters(consumable, audio_only, mid="0", new_ssrc=lambda: 1)
    assert caught.value.field == "rtpCapabilities"


def test_a_device_without_rtx_gets_no_rtx_stream(router_caps: RtpCapabilities, chrome_device: RtpCapabilities) -> None:
    consumable = consumable_for("chrome_produce_screen.json", "video", router_caps)
    no_rtx = msgspec.structs.replace(chrome_device, codecs=[c for c in chrome_device.codecs if not ortc.is_rtx(c)])
    parameters = ortc.consumer_rtp_parameters(consumable, no_rtx, mid="0", new_ssrc=lambda: 1)
    assert [c.mime_type for c in parameters.codecs] == ["video/VP8"]
    assert isinstance(parameters.encodings[0].rtx, msgspec.UnsetType)


@pytest.mark.parametrize(
    ("profile_level_id", "profile"),
    [
        ("42e01f", "constrained-baseline"),
        ("42001f", "baseline"),
        ("4d001f", "main"),
        ("640c1f", "constrained-high"),
        ("64001f", "high"),
        ("zz001f", None),
    ],
)
def test_h264_profiles_are_told_apart(profile_level_id: str, profile: str | None) -> None:
    assert ortc.h264_profile(profile_level_id) == profile
