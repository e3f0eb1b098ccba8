"""RTP capability and parameter negotiation for the router, its producers and consumers.

The logic of mediasoup's `ortc.ts`, written anew: the router announces what it
accepts, a producer's `rtpParameters` are checked and mapped onto the router's
payload types and SSRCs, and a consumer gets parameters its device can receive.
Pure functions: no I/O, no clock; SSRCs come from a caller-supplied source.
"""

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

import msgspec
from msgspec import UNSET, UnsetType

from webinar_contracts import InvalidInput
from webinar_contracts.media import (
    CodecParameterValue,
    MediaKind,
    RtcpFeedback,
    RtcpParameters,
    RtpCapabilities,
    RtpCodecCapability,
    RtpCodecParameters,
    RtpEncodingParameters,
    RtpHeaderExtension,
    RtpHeaderExtensionParameters,
    RtpParameters,
    RtxParameters,
)

# Header extension URIs the media plane understands.
MID = "urn:ietf:params:rtp-hdrext:sdes:mid"
RTP_STREAM_ID = "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id"
REPAIRED_RTP_STREAM_ID = "urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id"
ABS_SEND_TIME = "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"
TRANSPORT_WIDE_CC = "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01"
AUDIO_LEVEL = "urn:ietf:params:rtp-hdrext:ssrc-audio-level"
VIDEO_ORIENTATION = "urn:3gpp:video-orientation"
TOFFSET = "urn:ietf:params:rtp-hdrext:toffset"

NACK = RtcpFeedback("nack")
NACK_PLI = RtcpFeedback("nack", "pli")
CCM_FIR = RtcpFeedback("ccm", "fir")
GOOG_REMB = RtcpFeedback("goog-remb")
TRANSPORT_CC = RtcpFeedback("transport-cc")

_VIDEO_FEEDBACK = [NACK, NACK_PLI, CCM_FIR, GOOG_REMB, TRANSPORT_CC]

# What this media server can forward, whatever a router is configured with.
SUPPORTED_CODECS: tuple[RtpCodecCapability, ...] = (
    RtpCodecCapability(
        kind="audio", mime_type="audio/opus", clock_rate=48000, channels=2, rtcp_feedback=[TRANSPORT_CC]
    ),
    RtpCodecCapability(kind="video", mime_type="video/VP8", clock_rate=90000, rtcp_feedback=_VIDEO_FEEDBACK),
    RtpCodecCapability(
        kind="video",
        mime_type="video/H264",
        clock_rate=90000,
        parameters={"packetization-mode": 1},
        rtcp_feedback=_VIDEO_FEEDBACK,
    ),
)

# Ids as mediasoup numbers them. `recvonly`: the router reads it from producers and
# never writes it towards consumers (rid/rrid name a producer's layers).
SUPPORTED_HEADER_EXTENSIONS: tuple[RtpHeaderExtension, ...] = (
    RtpHeaderExtension(kind="audio", uri=MID, preferred_id=1, direction="sendrecv"),
    RtpHeaderExtension(kind="video", uri=MID, preferred_id=1, direction="sendrecv"),
    RtpHeaderExtension(kind="video", uri=RTP_STREAM_ID, preferred_id=2, direction="recvonly"),
    RtpHeaderExtension(kind="video", uri=REPAIRED_RTP_STREAM_ID, preferred_id=3, direction="recvonly"),
    RtpHeaderExtension(kind="audio", uri=ABS_SEND_TIME, preferred_id=4, direction="sendrecv"),
    RtpHeaderExtension(kind="video", uri=ABS_SEND_TIME, preferred_id=4, direction="sendrecv"),
    RtpHeaderExtension(kind="audio", uri=TRANSPORT_WIDE_CC, preferred_id=5, direction="recvonly"),
    RtpHeaderExtension(kind="video", uri=TRANSPORT_WIDE_CC, preferred_id=5, direction="recvonly"),
    RtpHeaderExtension(kind="audio", uri=AUDIO_LEVEL, preferred_id=10, direction="sendrecv"),
    RtpHeaderExtension(kind="video", uri=VIDEO_ORIENTATION, preferred_id=11, direction="sendrecv"),
    RtpHeaderExtension(kind="video", uri=TOFFSET, preferred_id=12, direction="sendrecv"),
)

# What a router announces unless told otherwise. transport-wide-cc is `recvonly`: the
# router reports the arrival of a publisher's packets (transport_cc.py), which Chrome's
# send-side estimator needs (announced and then left without feedback, it collapses and
# simulcast layers stop). Towards viewers the server estimates from REMB and receiver
# reports (bandwidth.py), so consumers are not given the extension.
DEFAULT_HEADER_EXTENSION_URIS: frozenset[str] = frozenset(
    {
        MID,
        RTP_STREAM_ID,
        REPAIRED_RTP_STREAM_ID,
        ABS_SEND_TIME,
        TRANSPORT_WIDE_CC,
        AUDIO_LEVEL,
        VIDEO_ORIENTATION,
        TOFFSET,
    }
)

DEFAULT_MEDIA_CODECS: tuple[RtpCodecCapability, ...] = (
    RtpCodecCapability(kind="audio", mime_type="audio/opus", clock_rate=48000, channels=2),
    RtpCodecCapability(kind="video", mime_type="video/VP8", clock_rate=90000),
    RtpCodecCapability(
        kind="video",
        mime_type="video/H264",
        clock_rate=90000,
        parameters={"packetization-mode": 1, "profile-level-id": "42e01f", "level-asymmetry-allowed": 1},
    ),
)

# Dynamic payload types in the order mediasoup hands them out.
_DYNAMIC_PAYLOAD_TYPES: tuple[int, ...] = (*range(100, 128), *range(96, 100))


class _Codec(Protocol):
    @property
    def mime_type(self) -> str: ...
    @property
    def clock_rate(self) -> int: ...
    @property
    def channels(self) -> int | UnsetType: ...
    @property
    def parameters(self) -> dict[str, CodecParameterValue]: ...


def kind_of(mime_type: str) -> MediaKind:
    """`audio` or `video` from a MIME type such as `video/VP8`; anything else is invalid."""
    prefix = mime_type.partition("/")[0].lower()
    if prefix == "audio":
        return "audio"
    if prefix == "video":
        return "video"
    raise InvalidInput(f"mimeType {mime_type!r} is neither audio/* nor video/*", field="mimeType")


def is_rtx(codec: _Codec) -> bool:
    return codec.mime_type.lower().endswith("/rtx")


# --- H.264 profiles (RFC 6184 profile-level-id), enough to tell profiles apart ---

# (profile_idc, profile-iop bit pattern, profile); "x" is any bit.
_H264_PROFILE_PATTERNS: tuple[tuple[int, str, str], ...] = (
    (0x42, "x1xx0000", "constrained-baseline"),
    (0x4D, "1xxx0000", "constrained-baseline"),
    (0x58, "11xx0000", "constrained-baseline"),
    (0x42, "x0xx0000", "baseline"),
    (0x58, "10xx0000", "baseline"),
    (0x4D, "0x0x0000", "main"),
    (0x64, "00000000", "high"),
    (0x64, "00001100", "constrained-high"),
    (0xF4, "00000000", "predictive-high-444"),
)
_DEFAULT_PROFILE_LEVEL_ID = "42e01f"
_PROFILE_LEVEL_ID = re.compile(r"^[0-9a-fA-F]{6}$")


def h264_profile(profile_level_id: str) -> str | None:
    """The H.264 profile a `profile-level-id` names, or None if it names none we know."""
    if not _PROFILE_LEVEL_ID.match(profile_level_id):
        return None
    profile_idc = int(profile_level_id[0:2], 16)
    iop = format(int(profile_level_id[2:4], 16), "08b")
    for idc, pattern, profile in _H264_PROFILE_PATTERNS:
        if idc == profile_idc and all(p in ("x", bit) for p, bit in zip(pattern, iop, strict=True)):
            return profile
    return None


def _h264_profile_of(parameters: dict[str, CodecParameterValue]) -> str | None:
    return h264_profile(str(parameters.get("profile-level-id", _DEFAULT_PROFILE_LEVEL_ID)))


def _int_parameter(parameters: dict[str, CodecParameterValue], name: str, default: int) -> int:
    value = parameters.get(name, default)
    try:
        return int(value)
    except (TypeError, ValueError):
        return -1


def _channels(codec: _Codec) -> int:
    return 1 if isinstance(codec.channels, UnsetType) else codec.channels


def codecs_match(a: _Codec, b: _Codec, *, strict: bool) -> bool:
    """Whether two codecs are the same codec. `strict` also compares what must agree for a
    stream to be decodable by the other side (H.264 profile)."""
    mime = a.mime_type.lower()
    if mime != b.mime_type.lower() or a.clock_rate != b.clock_rate:
        return False
    if mime.startswith("audio/") and _channels(a) != _channels(b):
        return False
    if mime == "video/h264":
        if _int_parameter(a.parameters, "packetization-mode", 0) != _int_parameter(
            b.parameters, "packetization-mode", 0
        ):
            return False
        if strict:
            profile = _h264_profile_of(a.parameters)
            if profile is None or profile != _h264_profile_of(b.parameters):
                return False
    if mime == "video/vp9" and strict:
        return _int_parameter(a.parameters, "profile-id", 0) == _int_parameter(b.parameters, "profile-id", 0)
    return True


# --- the router's capabilities ---


def router_rtp_capabilities(
    media_codecs: Sequence[RtpCodecCapability] = DEFAULT_MEDIA_CODECS,
    *,
    header_extension_uris: Iterable[str] = DEFAULT_HEADER_EXTENSION_URIS,
) -> RtpCapabilities:
    """The capabilities a router announces (`getRouterRtpCapabilities`): each requested
    codec with a payload type and the feedback this server implements, an RTX codec per
    video codec, and the header extensions it reads and writes."""
    uris = set(header_extension_uris)
    unknown = uris - {ext.uri for ext in SUPPORTED_HEADER_EXTENSIONS}
    if unknown:
        raise InvalidInput(f"unsupported header extension {sorted(unknown)[0]}", field="headerExtensions")
    header_extensions = [ext for ext in SUPPORTED_HEADER_EXTENSIONS if ext.uri in uris]

    taken: set[int] = {c.preferred_payload_type for c in media_codecs if isinstance(c.preferred_payload_type, int)}
    free = iter([pt for pt in _DYNAMIC_PAYLOAD_TYPES if pt not in taken])

    def next_payload_type() -> int:
        try:
            return next(free)
        except StopIteration:
            raise InvalidInput("too many codecs: no dynamic payload type left", field="mediaCodecs") from None

    codecs: list[RtpCodecCapability] = []
    for index, requested in enumerate(media_codecs):
        if is_rtx(requested):
            raise InvalidInput("RTX is added by the router, not configured", field=f"mediaCodecs[{index}]")
        if requested.kind != kind_of(requested.mime_type):
            raise InvalidInput(f"kind does not match {requested.mime_type}", field=f"mediaCodecs[{index}].kind")
        supported = next((s for s in SUPPORTED_CODECS if codecs_match(requested, s, strict=False)), None)
        if supported is None:
            raise InvalidInput(f"unsupported codec {requested.mime_type}", field=f"mediaCodecs[{index}]")
        payload_type = requested.preferred_payload_type
        if isinstance(payload_type, UnsetType):
            payload_type = next_payload_type()
        codecs.append(
            RtpCodecCapability(
                kind=supported.kind,
                mime_type=supported.mime_type,
                clock_rate=supported.clock_rate,
                preferred_payload_type=payload_type,
                channels=supported.channels,
                parameters=dict(requested.parameters),
                rtcp_feedback=_feedback_for(supported.rtcp_feedback, uris),
            )
        )
        if supported.kind == "video":
            codecs.append(
                RtpCodecCapability(
                    kind="video",
                    mime_type="video/rtx",
                    clock_rate=supported.clock_rate,
                    preferred_payload_type=next_payload_type(),
                    parameters={"apt": payload_type},
                )
            )
    return RtpCapabilities(codecs=codecs, header_extensions=header_extensions)


def _feedback_for(feedback: Sequence[RtcpFeedback], uris: set[str]) -> list[RtcpFeedback]:
    # Congestion feedback is announced only with the extension it relies on.
    kept = []
    for fb in feedback:
        if fb.type == "transport-cc" and TRANSPORT_WIDE_CC not in uris:
            continue
        if fb.type == "goog-remb" and ABS_SEND_TIME not in uris:
            continue
        kept.append(fb)
    return kept


# --- producers ---

_MID_SHAPE = re.compile(r"^[A-Za-z0-9_\-]{1,16}$")
_RID_SHAPE = re.compile(r"^[A-Za-z0-9_\-]{1,16}$")


def validate_producer_rtp_parameters(kind: MediaKind, parameters: RtpParameters) -> None:
    """Check what msgspec's types cannot: a `produce` request's rtpParameters make sense for
    `kind`. Raises InvalidInput naming the field at fault."""
    where = "rtpParameters"
    if not isinstance(parameters.mid, UnsetType) and not _MID_SHAPE.match(parameters.mid):
        raise InvalidInput("mid must be 1-16 letters, digits, - or _", field=f"{where}.mid")
    if not parameters.codecs:
        raise InvalidInput("codecs must not be empty", field=f"{where}.codecs")
    payload_types: set[int] = set()
    for index, codec in enumerate(parameters.codecs):
        field = f"{where}.codecs[{index}]"
        if kind_of(codec.mime_type) != kind:
            raise InvalidInput(f"{codec.mime_type} is not {kind}", field=f"{field}.mimeType")
        if not 0 <= codec.payload_type <= 127:
            raise InvalidInput("payloadType must be 0-127", field=f"{field}.payloadType")
        if codec.payload_type in payload_types:
            raise InvalidInput(f"payloadType {codec.payload_type} appears twice", field=f"{field}.payloadType")
        payload_types.add(codec.payload_type)
        if codec.clock_rate <= 0:
            raise InvalidInput("clockRate must be positive", field=f"{field}.clockRate")
    if is_rtx(parameters.codecs[0]):
        raise InvalidInput("the first codec must be a media codec, not RTX", field=f"{where}.codecs[0]")
    for index, codec in enumerate(parameters.codecs):
        if is_rtx(codec):
            apt = _int_parameter(codec.parameters, "apt", -1)
            target = next((c for c in parameters.codecs if c.payload_type == apt and not is_rtx(c)), None)
            if target is None:
                raise InvalidInput(
                    "an RTX codec's apt must name a media codec", field=f"{where}.codecs[{index}].parameters.apt"
                )
    ids: set[int] = set()
    for index, ext in enumerate(parameters.header_extensions):
        if not 1 <= ext.id <= 255 or ext.id in ids:
            raise InvalidInput(
                "header extension ids must be 1-255 and unique", field=f"{where}.headerExtensions[{index}].id"
            )
        ids.add(ext.id)
    if not parameters.encodings:
        raise InvalidInput("encodings must not be empty", field=f"{where}.encodings")
    with_rid = [e for e in parameters.encodings if not isinstance(e.rid, UnsetType)]
    if with_rid and len(with_rid) != len(parameters.encodings):
        raise InvalidInput("either every encoding has a rid or none has", field=f"{where}.encodings")
    rids: set[str] = set()
    ssrcs: set[int] = set()
    for index, encoding in enumerate(parameters.encodings):
        field = f"{where}.encodings[{index}]"
        if isinstance(encoding.ssrc, UnsetType) and isinstance(encoding.rid, UnsetType):
            raise InvalidInput("an encoding needs an ssrc or a rid", field=field)
        if not isinstance(encoding.rid, UnsetType):
            if not _RID_SHAPE.match(encoding.rid) or encoding.rid in rids:
                raise InvalidInput("rids must be 1-16 letters, digits, - or _ and unique", field=f"{field}.rid")
            rids.add(encoding.rid)
        for ssrc in _encoding_ssrcs(encoding):
            if not 0 < ssrc < 2**32 or ssrc in ssrcs:
                raise InvalidInput("ssrcs must be 32-bit, non-zero and unique", field=f"{field}.ssrc")
            ssrcs.add(ssrc)
    if with_rid and isinstance(parameters.mid, UnsetType):
        raise InvalidInput("a simulcast producer needs a mid to route its layers", field=f"{where}.mid")
    if with_rid and not any(ext.uri == RTP_STREAM_ID for ext in parameters.header_extensions):
        raise InvalidInput(
            "encodings with rid need the rtp-stream-id header extension", field=f"{where}.headerExtensions"
        )


def _encoding_ssrcs(encoding: RtpEncodingParameters) -> list[int]:
    found = []
    if not isinstance(encoding.ssrc, UnsetType):
        found.append(encoding.ssrc)
    if not isinstance(encoding.rtx, UnsetType):
        found.append(encoding.rtx.ssrc)
    return found


@dataclass(frozen=True, kw_only=True)
class CodecMapping:
    payload_type: int
    mapped_payload_type: int


@dataclass(frozen=True, kw_only=True)
class EncodingMapping:
    """One producer encoding and the SSRC it is known by inside the router."""

    ssrc: int | None
    rid: str | None
    scalability_mode: str | None
    mapped_ssrc: int


@dataclass(frozen=True, kw_only=True)
class RtpMapping:
    """How a producer's stream maps onto the router: its payload types to the router's
    and each of its encodings to a router SSRC."""

    codecs: tuple[CodecMapping, ...]
    encodings: tuple[EncodingMapping, ...]

    def router_payload_type(self, payload_type: int) -> int | None:
        for codec in self.codecs:
            if codec.payload_type == payload_type:
                return codec.mapped_payload_type
        return None


def producer_rtp_mapping(
    parameters: RtpParameters, router_capabilities: RtpCapabilities, *, new_ssrc: Callable[[], int]
) -> RtpMapping:
    """Map a (validated) producer's codecs onto the router's payload types. A codec the
    router does not accept is refused, naming it."""
    codecs: list[CodecMapping] = []
    media_by_pt: dict[int, RtpCodecCapability] = {}
    for index, codec in enumerate(parameters.codecs):
        if is_rtx(codec):
            continue
        matched = next(
            (c for c in router_capabilities.codecs if not is_rtx(c) and codecs_match(codec, c, strict=True)), None
        )
        if matched is None:
            raise InvalidInput(f"the router does not accept {_describe(codec)}", field=f"rtpParameters.codecs[{index}]")
        media_by_pt[codec.payload_type] = matched
        codecs.append(CodecMapping(payload_type=codec.payload_type, mapped_payload_type=_pt(matched)))
    for index, codec in enumerate(parameters.codecs):
        if not is_rtx(codec):
            continue
        media = media_by_pt[_int_parameter(codec.parameters, "apt", -1)]
        rtx = next((c for c in router_capabilities.codecs if is_rtx(c) and c.parameters.get("apt") == _pt(media)), None)
        if rtx is None:
            raise InvalidInput(f"the router has no RTX for {media.mime_type}", field=f"rtpParameters.codecs[{index}]")
        codecs.append(CodecMapping(payload_type=codec.payload_type, mapped_payload_type=_pt(rtx)))
    encodings = tuple(
        EncodingMapping(
            ssrc=None if isinstance(e.ssrc, UnsetType) else e.ssrc,
            rid=None if isinstance(e.rid, UnsetType) else e.rid,
            scalability_mode=None if isinstance(e.scalability_mode, UnsetType) else e.scalability_mode,
            mapped_ssrc=new_ssrc(),
        )
        for e in parameters.encodings
    )
    return RtpMapping(codecs=tuple(codecs), encodings=encodings)


def _pt(codec: RtpCodecCapability) -> int:
    if isinstance(codec.preferred_payload_type, UnsetType):
        raise InvalidInput(f"router codec {codec.mime_type} has no payload type", field="preferredPayloadType")
    return codec.preferred_payload_type


def _describe(codec: _Codec) -> str:
    described = f"{codec.mime_type}/{codec.clock_rate}"
    if codec.mime_type.lower() == "video/h264":
        mode = _int_parameter(codec.parameters, "packetization-mode", 0)
        profile = _h264_profile_of(codec.parameters) or "an unknown profile"
        described += f" ({profile}, packetization-mode {mode})"
    return described


def consumable_rtp_parameters(
    kind: MediaKind,
    parameters: RtpParameters,
    router_capabilities: RtpCapabilities,
    mapping: RtpMapping,
    *,
    cname: str,
) -> RtpParameters:
    """What any consumer of this producer could be sent: the router's payload types and
    feedback, its header extensions that flow towards consumers, one router SSRC per
    encoding. `cname` replaces a producer's empty one (Chrome sends `""` with simulcast,
    and a viewer's SDP with an empty cname is refused)."""
    codecs: list[RtpCodecParameters] = []
    for codec in parameters.codecs:
        if is_rtx(codec):
            continue
        mapped_pt = mapping.router_payload_type(codec.payload_type)
        router_codec = next(c for c in router_capabilities.codecs if c.preferred_payload_type == mapped_pt)
        codecs.append(
            RtpCodecParameters(
                mime_type=router_codec.mime_type,
                payload_type=_pt(router_codec),
                clock_rate=router_codec.clock_rate,
                channels=router_codec.channels,
                parameters=dict(codec.parameters),
                rtcp_feedback=list(router_codec.rtcp_feedback),
            )
        )
        rtx = next((c for c in router_capabilities.codecs if is_rtx(c) and c.parameters.get("apt") == mapped_pt), None)
        if rtx is not None:
            codecs.append(
                RtpCodecParameters(
                    mime_type=rtx.mime_type,
                    payload_type=_pt(rtx),
                    clock_rate=rtx.clock_rate,
                    parameters=dict(rtx.parameters),
                )
            )
    header_extensions = [
        RtpHeaderExtensionParameters(uri=ext.uri, id=ext.preferred_id)
        for ext in router_capabilities.header_extensions
        if ext.kind == kind and ext.direction in ("sendrecv", "sendonly")
    ]
    encodings = [
        msgspec.structs.replace(
            encoding,
            ssrc=mapped.mapped_ssrc,
            rid=UNSET,
            rtx=UNSET,
            codec_payload_type=UNSET,
        )
        for encoding, mapped in zip(parameters.encodings, mapping.encodings, strict=True)
    ]
    producer_cname = parameters.rtcp.cname
    return RtpParameters(
        codecs=codecs,
        header_extensions=header_extensions,
        encodings=encodings,
        rtcp=RtcpParameters(
            cname=producer_cname if isinstance(producer_cname, str) and producer_cname else cname,
            reduced_size=True,
            mux=True,
        ),
    )


# --- consumers ---


def can_consume(consumable: RtpParameters, capabilities: RtpCapabilities) -> bool:
    """Whether a device with `capabilities` can receive at least one of the codecs."""
    return any(
        codecs_match(codec, cap, strict=True)
        for codec in consumable.codecs
        if not is_rtx(codec)
        for cap in capabilities.codecs
    )


ConsumerType = Literal["simple", "simulcast"]


def consumer_type(consumable: RtpParameters) -> ConsumerType:
    return "simulcast" if len(consumable.encodings) > 1 else "simple"


def consumer_rtp_parameters(
    consumable: RtpParameters,
    capabilities: RtpCapabilities,
    *,
    mid: str,
    new_ssrc: Callable[[], int],
    enable_rtx: bool = True,
) -> RtpParameters:
    """The parameters a consumer sends with: the first codec the device can receive (and
    its RTX), the feedback and header extensions both sides know, one encoding whatever
    the producer's layer count. Raises InvalidInput when the device can receive none of
    the producer's codecs."""
    chosen: RtpCodecParameters | None = None
    for codec in consumable.codecs:
        if is_rtx(codec):
            continue
        cap = next((c for c in capabilities.codecs if codecs_match(codec, c, strict=True)), None)
        if cap is not None:
            chosen = msgspec.structs.replace(
                codec, rtcp_feedback=[fb for fb in codec.rtcp_feedback if fb in cap.rtcp_feedback]
            )
            break
    if chosen is None:
        offered = ", ".join(_describe(c) for c in consumable.codecs if not is_rtx(c))
        raise InvalidInput(f"this device cannot receive {offered}", field="rtpCapabilities")

    codecs = [chosen]
    rtx: RtpCodecParameters | None = None
    if enable_rtx:
        rtx = next(
            (
                c
                for c in consumable.codecs
                if is_rtx(c)
                and c.parameters.get("apt") == chosen.payload_type
                and any(is_rtx(cap) and cap.parameters.get("apt") == chosen.payload_type for cap in capabilities.codecs)
            ),
            None,
        )
        if rtx is not None:
            codecs.append(rtx)

    header_extensions = [
        ext
        for ext in consumable.header_extensions
        if any(cap.uri == ext.uri and cap.preferred_id == ext.id for cap in capabilities.header_extensions)
    ]
    uris = {ext.uri for ext in header_extensions}
    # One congestion controller per stream: transport-cc if both know it, else REMB.
    if TRANSPORT_WIDE_CC in uris:
        drop = {"goog-remb"}
    elif ABS_SEND_TIME in uris:
        drop = {"transport-cc"}
    else:
        drop = {"goog-remb", "transport-cc"}
    codecs[0] = msgspec.structs.replace(
        chosen, rtcp_feedback=[fb for fb in chosen.rtcp_feedback if fb.type not in drop]
    )

    ssrc = new_ssrc()
    scalability_mode = next(
        (e.scalability_mode for e in consumable.encodings if not isinstance(e.scalability_mode, UnsetType)), None
    )
    if len(consumable.encodings) > 1:
        temporal_layers = _temporal_layers(scalability_mode)
        scalability_mode = f"L{len(consumable.encodings)}T{temporal_layers}"
    max_bitrates = [e.max_bitrate for e in consumable.encodings if not isinstance(e.max_bitrate, UnsetType)]
    encoding = RtpEncodingParameters(
        ssrc=ssrc,
        rtx=RtxParameters((ssrc + 1) % 2**32 or 1) if rtx is not None else UNSET,
        scalability_mode=scalability_mode if scalability_mode is not None else UNSET,
        max_bitrate=max(max_bitrates) if max_bitrates else UNSET,
    )
    return RtpParameters(
        mid=mid,
        codecs=codecs,
        header_extensions=header_extensions,
        encodings=[encoding],
        rtcp=consumable.rtcp,
    )


_SCALABILITY_MODE = re.compile(r"^[LS](?P<spatial>[1-9]\d?)T(?P<temporal>[1-9]\d?)(?P<suffix>_KEY)?")


def _temporal_layers(scalability_mode: str | None) -> int:
    match = _SCALABILITY_MODE.match(scalability_mode or "")
    return int(match["temporal"]) if match else 1


def header_extension_id(parameters: RtpParameters, uri: str) -> int | None:
    """The id `parameters` give a header extension, or None when it is not negotiated."""
    return next((ext.id for ext in parameters.header_extensions if ext.uri == uri), None)
