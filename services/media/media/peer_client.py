"""A peer built on aiortc that plays a browser's part towards the SFU, for tests and benchmarks.

It does what mediasoup-client does in Chromium, without SDP: an ICE agent that is
controlling towards the server's ICE-lite one, the DTLS client, aiortc's own RTP senders
(publishing pre-encoded frames, so what was sent is known byte for byte) and receivers
(decoding what a consumer sends), and a simulcast camera sending as Chrome does. Every
packet it receives is also kept as bytes, and its link can be made to lose packets.
"""

import asyncio
import random
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING, Any

import av
import msgspec
from aioice import Connection
from aiortc import (
    RTCCertificate,
    RTCDtlsFingerprint,
    RTCDtlsParameters,
    RTCIceCandidate,
    RTCIceParameters,
    RTCRtcpParameters,
    RTCRtpCodecParameters,
    RTCRtpHeaderExtensionParameters,
    RTCRtpReceiver,
    RTCRtpSender,
)
from aiortc.mediastreams import MediaStreamTrack
from aiortc.rtcrtpparameters import (
    RTCRtcpFeedback,
    RTCRtpDecodingParameters,
    RTCRtpReceiveParameters,
    RTCRtpRtxParameters,
    RTCRtpSendParameters,
)
from msgspec import UNSET, UnsetType

from media import aiortc_hooks, ortc, rtp
from media.reports import ntp_timestamp
from media.rtp import PSFB_FIR, PacketError, RtcpSenderReport, build_rtp, fir_media_ssrcs, parse_rtcp

if TYPE_CHECKING:
    EncodedPacket = av.Packet[Any]
from webinar_contracts.media import (
    DtlsFingerprint,
    DtlsParameters,
    IceCandidate,
    IceParameters,
    MediaKind,
    RtcpFeedback,
    RtcpParameters,
    RtpCodecParameters,
    RtpEncodingParameters,
    RtpHeaderExtensionParameters,
    RtpParameters,
    RtxParameters,
)

# The header extension ids Chrome uses when it sends (they are not the router's).
CHROME_SEND_EXTENSION_IDS: dict[str, int] = {
    ortc.MID: 9,
    ortc.ABS_SEND_TIME: 2,
    ortc.AUDIO_LEVEL: 1,
}


class EncodedTrack(MediaStreamTrack):
    """A track that yields pre-encoded packets (VP8, Opus) in a loop at their own pace;
    aiortc's sender packetises them without encoding."""

    def __init__(self, kind: MediaKind, packets: list["EncodedPacket"], *, interval: float) -> None:
        super().__init__()
        self.kind = kind
        self._packets = packets
        self._interval = interval
        self._index = 0
        self._step = (packets[1].pts or 0) - (packets[0].pts or 0) if len(packets) > 1 else 1
        self.sent: list[bytes] = []

    async def recv(self) -> "EncodedPacket":
        await asyncio.sleep(self._interval)  # the source's frame clock
        packet = self._packets[self._index % len(self._packets)]
        packet.pts = self._index * self._step
        self._index += 1
        self.sent.append(bytes(packet))
        return packet


@dataclass
class Received:
    """What a peer's receive side got, as decrypted bytes."""

    rtp: list[bytes] = field(default_factory=list)
    rtcp: list[bytes] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)


class PeerTransport:
    """The client end of one WebRtcTransport."""

    def __init__(self, connection: Connection, certificate: RTCCertificate) -> None:
        self._connection = connection
        self.received = Received()
        self._ice = aiortc_hooks.ice_transport_over(connection)
        self._dtls = aiortc_hooks.ClientDtlsTransport(
            self._ice, certificate, role="client", on_rtp=self._record_rtp, on_rtcp=self._record_rtcp, tap=True
        )
        self.cname = secrets.token_urlsafe(12)
        self.rtcp_listeners: list[Callable[[bytes], None]] = []
        self._senders: list[RTCRtpSender] = []
        self._receivers: list[RTCRtpReceiver] = []

    @classmethod
    async def create(cls, *, listen_ip: str = "127.0.0.1") -> "PeerTransport":
        connection = Connection(ice_controlling=True)
        await aiortc_hooks.bind_host_candidate(connection, listen_ip=listen_ip)
        return cls(connection, RTCCertificate.generateCertificate())

    @property
    def dtls_parameters(self) -> DtlsParameters:
        """What `connectTransport` carries: this peer's fingerprint, and the client role."""
        fingerprint = next(f for f in self._dtls.getLocalParameters().fingerprints if f.algorithm == "sha-256")
        return DtlsParameters(fingerprints=[DtlsFingerprint(fingerprint.algorithm, fingerprint.value)], role="client")

    @property
    def dtls_state(self) -> str:
        return str(self._dtls.state)

    def lose_packets(
        self, *, incoming: aiortc_hooks.PacketFilter | None = None, outgoing: aiortc_hooks.PacketFilter | None = None
    ) -> None:
        """Make the link lose the RTP packets these predicates pick (None: lose none)."""
        self._dtls.drop_incoming = incoming
        self._dtls.drop_outgoing = outgoing

    async def connect(
        self, *, ice_parameters: IceParameters, ice_candidates: list[IceCandidate], dtls_parameters: DtlsParameters
    ) -> None:
        """Run ICE and the DTLS handshake against the server's parameters; returns when DTLS is up."""
        for candidate in ice_candidates:
            await self._ice.addRemoteCandidate(
                RTCIceCandidate(
                    component=1,
                    foundation=candidate.foundation,
                    ip=candidate.ip,
                    port=candidate.port,
                    priority=candidate.priority,
                    protocol=candidate.protocol,
                    type=candidate.type,
                )
            )
        await self._ice.addRemoteCandidate(None)
        await self._ice.start(
            RTCIceParameters(
                usernameFragment=ice_parameters.username_fragment, password=ice_parameters.password, iceLite=True
            )
        )
        remote = RTCDtlsParameters(
            fingerprints=[RTCDtlsFingerprint(f.algorithm, f.value) for f in dtls_parameters.fingerprints], role="server"
        )
        await self._dtls.start(remote)
        if self._dtls.state != "connected":
            raise ConnectionError(f"DTLS {self._dtls.state}")

    async def publish(
        self,
        track: MediaStreamTrack,
        *,
        codec: RtpCodecParameters,
        mid: str,
        rtcp_feedback: list[RtcpFeedback],
        rtx_payload_type: int | None = None,
    ) -> RtpParameters:
        """Start sending `track` and return the rtpParameters a `produce` request carries.
        With `rtx_payload_type` the sender answers NACKs with RTX."""
        extensions = [ortc.MID, ortc.ABS_SEND_TIME] + ([ortc.AUDIO_LEVEL] if track.kind == "audio" else [])
        codecs = [codec]
        if rtx_payload_type is not None:
            codecs.append(
                RtpCodecParameters(
                    mime_type=f"{track.kind}/rtx",
                    payload_type=rtx_payload_type,
                    clock_rate=codec.clock_rate,
                    parameters={"apt": codec.payload_type},
                )
            )
        sender = RTCRtpSender(track, self._dtls)
        await sender.send(
            RTCRtpSendParameters(
                codecs=[_aiortc_codec(c) for c in codecs],
                headerExtensions=[
                    RTCRtpHeaderExtensionParameters(id=CHROME_SEND_EXTENSION_IDS[uri], uri=uri) for uri in extensions
                ],
                muxId=mid,
                rtcp=RTCRtcpParameters(cname=self.cname, mux=True),
            )
        )
        self._senders.append(sender)
        rtx = RtxParameters(aiortc_hooks.rtp_sender_rtx_ssrc(sender)) if rtx_payload_type is not None else UNSET
        return RtpParameters(
            mid=mid,
            codecs=[msgspec.structs.replace(codec, rtcp_feedback=rtcp_feedback), *codecs[1:]],
            header_extensions=[
                RtpHeaderExtensionParameters(uri=uri, id=CHROME_SEND_EXTENSION_IDS[uri]) for uri in extensions
            ],
            encodings=[RtpEncodingParameters(ssrc=aiortc_hooks.rtp_sender_ssrc(sender), rtx=rtx)],
            rtcp=RtcpParameters(cname=self.cname, reduced_size=True),
        )

    async def receive(
        self, kind: MediaKind, rtp_parameters: RtpParameters, *, feedback: bool = False
    ) -> RTCRtpReceiver:
        """Start receiving (and decoding) what a consumer with these parameters sends. With
        `feedback` the receiver sends RTCP as a browser would: receiver reports, NACK, PLI
        and REMB."""
        receiver = RTCRtpReceiver(kind, self._dtls)
        aiortc_hooks.attach_remote_track(receiver, kind)
        if feedback:
            aiortc_hooks.enable_receiver_feedback(receiver, random.randint(1, 0xFFFFFFFE))
        encoding = rtp_parameters.encodings[0]
        if isinstance(encoding.ssrc, UnsetType):
            raise ValueError("consumer parameters without an SSRC")
        rtx = None if isinstance(encoding.rtx, UnsetType) else RTCRtpRtxParameters(ssrc=encoding.rtx.ssrc)
        codec = rtp_parameters.codecs[0]
        cname = rtp_parameters.rtcp.cname
        await receiver.receive(
            RTCRtpReceiveParameters(
                codecs=[_aiortc_codec(c) for c in rtp_parameters.codecs],
                headerExtensions=[
                    RTCRtpHeaderExtensionParameters(id=ext.id, uri=ext.uri) for ext in rtp_parameters.header_extensions
                ],
                muxId="" if isinstance(rtp_parameters.mid, UnsetType) else rtp_parameters.mid,
                rtcp=RTCRtcpParameters(cname=None if isinstance(cname, UnsetType) else cname, mux=True),
                encodings=[RTCRtpDecodingParameters(ssrc=encoding.ssrc, payloadType=codec.payload_type, rtx=rtx)],
            )
        )
        self._receivers.append(receiver)
        return receiver

    async def send_raw(self, data: bytes) -> None:
        """Protect and send one RTP or RTCP packet as given."""
        await self._dtls.send_rtp(data)

    async def _record_rtp(self, data: bytes) -> None:
        self.received.rtp.append(data)
        self.received.arrived.set()

    async def _record_rtcp(self, data: bytes) -> None:
        self.received.rtcp.append(data)
        for listener in list(self.rtcp_listeners):
            listener(data)

    async def close(self) -> None:
        for sender in self._senders:
            await sender.stop()
        for receiver in self._receivers:
            await receiver.stop()
        await self._dtls.stop()
        await self._ice.stop()


def _aiortc_codec(codec: RtpCodecParameters) -> RTCRtpCodecParameters:
    return RTCRtpCodecParameters(
        mimeType=codec.mime_type,
        clockRate=codec.clock_rate,
        channels=None if isinstance(codec.channels, UnsetType) else codec.channels,
        payloadType=codec.payload_type,
        rtcpFeedback=[RTCRtcpFeedback(type=fb.type, parameter=fb.parameter or None) for fb in codec.rtcp_feedback],
        parameters={k: v if isinstance(v, int | str) else str(v) for k, v in codec.parameters.items()},
    )


# --- a simulcast camera, sent as Chrome sends one ---


def packetize_vp8(frame: bytes, *, picture_id: int, tl0_pic_idx: int, max_payload: int = 1100) -> list[bytes]:
    """RTP payloads for one VP8 frame (RFC 7741), each with a payload descriptor carrying a
    15-bit PictureID, TL0PICIDX and temporal layer 0, as Chrome writes them."""
    descriptor_tail = bytes((0xE0, 0x80 | (picture_id >> 8) & 0x7F, picture_id & 0xFF, tl0_pic_idx & 0xFF, 0x00))
    room = max_payload - 1 - len(descriptor_tail)
    parts = [frame[start : start + room] for start in range(0, len(frame), room)] or [b""]
    return [bytes((0x90 if index == 0 else 0x80,)) + descriptor_tail + part for index, part in enumerate(parts)]


@dataclass
class _CameraLayer:
    rid: str
    ssrc: int
    frames: list[bytes]  # pre-encoded, starting with a keyframe
    timestamp_base: int
    sequence_number: int
    index: int = 0
    picture_id: int = 0
    tl0_pic_idx: int = 0
    keyframe_requests: int = 0


class SimulcastCamera:
    """Sends pre-encoded VP8 layers as Chrome sends a simulcast camera: one SSRC per layer,
    announced by the mid and rid header extensions rather than in `produce`, a sender
    report per layer (each layer with its own timestamp base). Each layer starts with a
    keyframe and sends another only when asked (PLI or FIR): it restarts at its first
    frame, and otherwise loops over the frames after it."""

    MID_ID = 9
    RID_ID = 10
    RRID_ID = 11

    def __init__(self, peer: "PeerTransport", layers: list[list[bytes]], *, mid: str = "0", fps: int = 30) -> None:
        self._peer = peer
        self._mid = mid
        self._interval = 1 / fps
        self.layers = [
            _CameraLayer(
                rid=f"r{index}",
                ssrc=random.randint(1, 0xFFFFFFFE),
                frames=frames,
                timestamp_base=random.randint(0, 0xFFFFFFFF),
                sequence_number=random.randint(0, 0xFFFF),
                picture_id=random.randint(0, 0x7FFF),
                tl0_pic_idx=random.randint(0, 0xFF),
            )
            for index, frames in enumerate(layers)
        ]
        self._task: asyncio.Task[None] | None = None
        self._pending_rtcp: list[bytes] = []
        peer.rtcp_listeners.append(self._pending_rtcp.append)

    def rtp_parameters(self, *, payload_type: int = 96, rtcp_feedback: list[RtcpFeedback]) -> RtpParameters:
        """What Chrome's `produce` carries for this camera: rids, no SSRCs, an empty cname."""
        return RtpParameters(
            mid=self._mid,
            codecs=[
                RtpCodecParameters(
                    mime_type="video/VP8", payload_type=payload_type, clock_rate=90000, rtcp_feedback=rtcp_feedback
                )
            ],
            header_extensions=[
                RtpHeaderExtensionParameters(uri=ortc.MID, id=self.MID_ID),
                RtpHeaderExtensionParameters(uri=ortc.RTP_STREAM_ID, id=self.RID_ID),
                RtpHeaderExtensionParameters(uri=ortc.REPAIRED_RTP_STREAM_ID, id=self.RRID_ID),
            ],
            encodings=[RtpEncodingParameters(rid=layer.rid, scalability_mode="L1T1") for layer in self.layers],
            rtcp=RtcpParameters(cname="", reduced_size=True),
        )

    def start(self, *, payload_type: int = 96) -> None:
        self._task = asyncio.ensure_future(self._run(payload_type))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self, payload_type: int) -> None:
        loop = asyncio.get_running_loop()
        started = loop.time()
        wall_started = time.time()
        tick = 0
        last_report = -1.0
        while True:
            self._honour_keyframe_requests()
            elapsed = loop.time() - started
            for layer in self.layers:
                timestamp = (layer.timestamp_base + round(elapsed * 90000)) & 0xFFFFFFFF
                frame = layer.frames[layer.index]
                layer.index = layer.index + 1 if layer.index + 1 < len(layer.frames) else min(1, len(layer.frames) - 1)
                payloads = packetize_vp8(frame, picture_id=layer.picture_id, tl0_pic_idx=layer.tl0_pic_idx)
                layer.picture_id = (layer.picture_id + 1) & 0x7FFF
                layer.tl0_pic_idx = (layer.tl0_pic_idx + 1) & 0xFF
                for number, payload in enumerate(payloads):
                    await self._peer.send_raw(
                        build_rtp(
                            payload_type=payload_type,
                            sequence_number=layer.sequence_number,
                            timestamp=timestamp,
                            ssrc=layer.ssrc,
                            marker=number == len(payloads) - 1,
                            extensions=((self.MID_ID, self._mid.encode()), (self.RID_ID, layer.rid.encode())),
                            payload=payload,
                        )
                    )
                    layer.sequence_number = (layer.sequence_number + 1) & 0xFFFF
            if elapsed - last_report >= 0.5:
                last_report = elapsed
                reports = [
                    RtcpSenderReport(
                        ssrc=layer.ssrc,
                        ntp_timestamp=ntp_timestamp(wall_started + elapsed),
                        rtp_timestamp=(layer.timestamp_base + round(elapsed * 90000)) & 0xFFFFFFFF,
                        packet_count=layer.sequence_number,
                        octet_count=0,
                    )
                    for layer in self.layers
                ]
                await self._peer.send_raw(b"".join(r.to_bytes() for r in reports))
            tick += 1
            await asyncio.sleep(max(0.0, started + tick * self._interval - loop.time()))

    def _honour_keyframe_requests(self) -> None:
        pending, self._pending_rtcp[:] = list(self._pending_rtcp), []
        for data in pending:
            try:
                packets = parse_rtcp(data)
            except PacketError:
                continue
            for packet in packets:
                if isinstance(packet, rtp.RtcpFeedback) and packet.is_keyframe_request:
                    for layer in self.layers:
                        if layer.ssrc == packet.media_ssrc or (
                            packet.fmt == PSFB_FIR and layer.ssrc in fir_media_ssrcs(packet.fci)
                        ):
                            layer.index = 0
                            layer.keyframe_requests += 1


# --- pre-encoded test media, made with PyAV (no numpy) ---


def encode_vp8(
    frames: int,
    *,
    width: int = 160,
    height: int = 120,
    keyframe_interval: int = 10,
    bit_rate: int = 300_000,
    noisy: bool = False,
) -> list["EncodedPacket"]:
    """`frames` VP8 frames of a moving pattern at 30 fps, a keyframe every `keyframe_interval`.
    `noisy` frames are random, so that the encoder spends its whole bitrate."""
    codec = av.CodecContext.create("libvpx", "w")
    codec.width = width
    codec.height = height
    codec.pix_fmt = "yuv420p"
    codec.time_base = Fraction(1, 30)
    codec.framerate = Fraction(30, 1)
    codec.bit_rate = bit_rate
    codec.gop_size = keyframe_interval
    codec.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}
    packets: list[EncodedPacket] = []
    for index in range(frames):
        frame = av.VideoFrame(width, height, "yuv420p")
        for number, plane in enumerate(frame.planes):
            size = plane.line_size * plane.height
            if noisy:
                plane.update(random.Random(index * 3 + number).randbytes(size))
            else:
                plane.update(bytes((index * 5 + number * 40 + i // 7) % 256 for i in range(size)))
        frame.pts = index
        frame.time_base = codec.time_base
        packets.extend(codec.encode(frame))
    packets.extend(codec.encode(None))
    return packets


def encode_opus(frames: int) -> list["EncodedPacket"]:
    """`frames` Opus frames of 20 ms (stereo, 48 kHz) of a changing tone."""
    codec = av.CodecContext.create("libopus", "w")
    codec.sample_rate = 48000
    codec.layout = "stereo"
    codec.format = "s16"
    codec.time_base = Fraction(1, 48000)
    packets: list[EncodedPacket] = []
    for index in range(frames):
        frame = av.AudioFrame(format="s16", layout="stereo", samples=960)
        frame.sample_rate = 48000
        frame.pts = index * 960
        frame.time_base = codec.time_base
        frame.planes[0].update(bytes((i * (index + 3)) % 97 for i in range(960 * 4)))
        packets.extend(codec.encode(frame))
    return packets


def encode_h264(
    frames: int, *, width: int = 160, height: int = 120, keyframe_interval: int = 10
) -> list["EncodedPacket"]:
    """`frames` H.264 frames (Annex B, constrained baseline, no B-frames) of a moving pattern
    at 30 fps, a keyframe (SPS, PPS, IDR) every `keyframe_interval`."""
    codec = av.CodecContext.create("libx264", "w")
    codec.width = width
    codec.height = height
    codec.pix_fmt = "yuv420p"
    codec.time_base = Fraction(1, 30)
    codec.framerate = Fraction(30, 1)
    codec.bit_rate = 300_000
    codec.gop_size = keyframe_interval
    codec.profile = "Baseline"
    codec.options = {"tune": "zerolatency", "preset": "ultrafast", "level": "31"}
    packets: list[EncodedPacket] = []
    for index in range(frames):
        frame = av.VideoFrame(width, height, "yuv420p")
        for number, plane in enumerate(frame.planes):
            size = plane.line_size * plane.height
            plane.update(bytes((index * 5 + number * 40 + i // 7) % 256 for i in range(size)))
        frame.pts = index
        frame.time_base = codec.time_base
        packets.extend(codec.encode(frame))
    packets.extend(codec.encode(None))
    return packets
