"""The media plane's wire shapes: mediasoup's RTP capabilities and parameters, ICE and DTLS parameters.

These are what mediasoup-client sends and expects at the signalling boundary, so the
field names are mediasoup's camelCase (`preferredPayloadType`, `rtcpFeedback`, ...).
Optional fields are `UNSET` rather than `None` so that an absent field stays absent on
the wire, as mediasoup-client writes them; `parameters` and `rtcpFeedback` are always
written, even empty.
"""

import hashlib
import re
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar

import msgspec
from msgspec import UNSET, UnsetType

from webinar_contracts.bus import Empty, Endpoint

MediaKind = Literal["audio", "video"]
HeaderExtensionDirection = Literal["sendrecv", "sendonly", "recvonly", "inactive"]
CodecParameterValue = str | int | float
DtlsRole = Literal["auto", "client", "server"]


class RtcpFeedback(msgspec.Struct, frozen=True, rename="camel"):
    """One `a=rtcp-fb` line: `nack`, `nack pli`, `ccm fir`, `goog-remb`, `transport-cc`."""

    type: str
    parameter: str = ""


class RtpCodecCapability(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """A codec an endpoint (or the router) can receive."""

    kind: MediaKind
    mime_type: str
    clock_rate: int
    preferred_payload_type: int | UnsetType = UNSET
    channels: int | UnsetType = UNSET
    parameters: dict[str, CodecParameterValue] = msgspec.field(default_factory=dict)
    rtcp_feedback: list[RtcpFeedback] = msgspec.field(default_factory=list)


class RtpHeaderExtension(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """A header extension an endpoint (or the router) supports, with its preferred id."""

    kind: MediaKind
    uri: str
    preferred_id: int
    preferred_encrypt: bool = False
    direction: HeaderExtensionDirection | UnsetType = UNSET


class RtpCapabilities(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """What an endpoint can receive: the answer to `getRouterRtpCapabilities`, and the
    `rtpCapabilities` a device sends with `consume`."""

    codecs: list[RtpCodecCapability] = msgspec.field(default_factory=list)
    header_extensions: list[RtpHeaderExtension] = msgspec.field(default_factory=list)


class RtpCodecParameters(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """A codec as negotiated for one stream, with the payload type it travels under."""

    mime_type: str
    payload_type: int
    clock_rate: int
    channels: int | UnsetType = UNSET
    parameters: dict[str, CodecParameterValue] = msgspec.field(default_factory=dict)
    rtcp_feedback: list[RtcpFeedback] = msgspec.field(default_factory=list)


class RtpHeaderExtensionParameters(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    uri: str
    id: int
    encrypt: bool = False
    parameters: dict[str, CodecParameterValue] = msgspec.field(default_factory=dict)


class RtxParameters(msgspec.Struct, frozen=True):
    ssrc: int


class RtpEncodingParameters(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """One encoding of a stream: an SSRC, or (simulcast) a `rid` whose SSRC the media
    server learns from the RTP header extensions."""

    ssrc: int | UnsetType = UNSET
    rid: str | UnsetType = UNSET
    codec_payload_type: int | UnsetType = UNSET
    rtx: RtxParameters | UnsetType = UNSET
    dtx: bool | UnsetType = UNSET
    scalability_mode: str | UnsetType = UNSET
    scale_resolution_down_by: float | UnsetType = UNSET
    max_bitrate: int | UnsetType = UNSET
    max_framerate: float | UnsetType = UNSET
    active: bool | UnsetType = UNSET
    adaptive_ptime: bool | UnsetType = UNSET
    priority: str | UnsetType = UNSET
    network_priority: str | UnsetType = UNSET


class RtcpParameters(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    cname: str | UnsetType = UNSET
    reduced_size: bool = True
    mux: bool | UnsetType = UNSET


class RtpParameters(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """How one stream is sent: what `produce` carries and what `consume` answers."""

    mid: str | UnsetType = UNSET
    codecs: list[RtpCodecParameters]
    header_extensions: list[RtpHeaderExtensionParameters] = msgspec.field(default_factory=list)
    encodings: list[RtpEncodingParameters] = msgspec.field(default_factory=list)
    rtcp: RtcpParameters = msgspec.field(default_factory=RtcpParameters)


class IceParameters(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    username_fragment: str
    password: str
    ice_lite: bool = True


class IceCandidate(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    foundation: str
    priority: int
    ip: str
    address: str
    protocol: Literal["udp", "tcp"]
    port: int
    type: Literal["host", "srflx", "prflx", "relay"] = "host"
    tcp_type: Literal["passive"] | UnsetType = UNSET


class DtlsFingerprint(msgspec.Struct, frozen=True):
    algorithm: str
    value: str


class DtlsParameters(msgspec.Struct, frozen=True, kw_only=True):
    fingerprints: list[DtlsFingerprint]
    role: DtlsRole = "auto"


# -- signalling: the seed's SFU socket, relayed by the gateway to the node holding the room --
#
# A room lives on one media node. Any node answers PLACE_ROOM (queue group "media"): it
# finds the room's node in the ROOMS_BUCKET key-value bucket, or places the room on the
# least-loaded live node (NODES_BUCKET holds each node's heartbeat and load) with an
# atomic create. Every later call for the room goes to that node's own subjects,
# `media.node.<node_id>.<verb>` (NODE_* below, `.at(node_id)`). Who calls is in the
# request context (tenant, user); the peer is the caller's socket id.

Req = TypeVar("Req", bound=msgspec.Struct)
Rep = TypeVar("Rep", bound=msgspec.Struct)

NODES_BUCKET = "media_nodes"
ROOMS_BUCKET = "media_rooms"
PUSH_SUBJECT = "media.pushes"
NODE_ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")

RoomType = Literal["meeting", "conference", "webinar", "live"]
PeerRole = Literal["host", "co-host", "participant", "viewer"]
ConsumerType = Literal["simple", "simulcast", "svc", "pipe"]


@dataclass(frozen=True)
class NodeEndpoint(Generic[Req, Rep]):
    """A request every media node serves on its own subject, for the rooms it holds."""

    verb: str
    request: type[Req]
    reply: type[Rep]

    def at(self, node_id: str) -> Endpoint[Req, Rep]:
        if not NODE_ID_PATTERN.match(node_id):
            raise ValueError(f"not a media node id: {node_id!r}")
        return Endpoint(f"media.node.{node_id}.{self.verb}", self.request, self.reply)


class NodeRecord(msgspec.Struct, kw_only=True):
    """A node's heartbeat in NODES_BUCKET (key: its id); gone when the node stops beating."""

    node_id: str
    rooms: int = 0
    peers: int = 0
    transports: int = 0
    started_at: float = 0.0
    beat_at: float = 0.0
    # Shutting down: it keeps the rooms it holds (they may still be joined) until they
    # end, but no new room is placed on it.
    draining: bool = False

    @property
    def load(self) -> int:
        # A transport is a port, a socket and packets to forward; an empty room weighs one.
        return self.transports + self.rooms


class RoomRecord(msgspec.Struct, kw_only=True):
    """Where a room lives, in ROOMS_BUCKET (key: `room_key(tenant, room)`)."""

    tenant_id: str
    room_id: str
    node_id: str


class PlaceRoom(msgspec.Struct, kw_only=True):
    """Find the room's node; with `create`, place the room when it is nowhere yet."""

    room_id: str
    create: bool = False


class RoomPlacement(msgspec.Struct, kw_only=True):
    node_id: str


class PeerCall(msgspec.Struct, kw_only=True):
    """A call about the caller's own peer in a room (`peer_id` is its socket id)."""

    room_id: str
    peer_id: str


class CreateRoom(msgspec.Struct, kw_only=True):
    room_id: str
    peer_id: str
    # A viewer link's guest (a socket holding a room ticket): opening the room does not make it the host.
    guest: bool = False


class RoomCreated(msgspec.Struct, kw_only=True):
    created: bool  # False: it existed already


class JoinRoom(msgspec.Struct, kw_only=True):
    room_id: str
    peer_id: str
    name: str
    # Where the socket came from, as the gateway saw it at connect (for the session events):
    # the host of the page's origin (its `Origin` header, else its `Referer`; "" without),
    # and the client's address (the socket's remote address, or the first X-Forwarded-For
    # hop behind a trusted proxy).
    origin_host: str = ""
    client_ip: str | None = None
    # A viewer link's guest: a viewer in every type of room until approved as a co-host.
    guest: bool = False


class PeerProof(msgspec.Struct, kw_only=True):
    """A peer of a room named by another socket of the same browser: its id and the key its
    join answered (`peerKey`). The node answers the peer's role when the key is the peer's."""

    room_id: str
    peer_id: str
    peer_key: str


class PeerInfo(msgspec.Struct, kw_only=True):
    id: str
    name: str
    role: PeerRole


class ScreenShare(msgspec.Struct, kw_only=True):
    """The room's live screen share (one at a time): who shares, and its producer."""

    peer_id: str
    name: str
    producer_id: str


class RoomState(msgspec.Struct, kw_only=True):
    """`join` and `getMyRoomInfo`: the room, who is in it with their roles, who shares the
    screen, whose camera or microphone is paused, and who waits to become a co-host."""

    id: str
    type: RoomType | None  # None: a room created on the socket, not by POST /room/create
    peers: list[PeerInfo]
    screen_share: ScreenShare | None = None
    video_paused: list[str] = msgspec.field(default_factory=list)  # peer ids
    audio_muted: list[str] = msgspec.field(default_factory=list)  # peer ids
    cohost_requests: list[PeerInfo] = msgspec.field(default_factory=list)
    # In the answer to a peer's own join only: its key, which another socket of the same
    # browser (the whiteboard's) presents with the peer id to act in the peer's role.
    peer_key: str | None = None


class ProducerInfo(msgspec.Struct, kw_only=True):
    """One item of `newProducers`: the producer, its peer's socket, and the `appData` it
    was produced with (`{"type": "camera" | "mic" | "screen"}` from the seed's clients)."""

    producer_id: str
    producer_socket_id: str
    app_data: dict[str, Any] = msgspec.field(name="appData", default_factory=dict)


class ProducerList(msgspec.Struct, kw_only=True):
    producers: list[ProducerInfo]


class CreateTransport(msgspec.Struct, kw_only=True):
    room_id: str
    peer_id: str
    force_tcp: bool = False


class TransportCreated(msgspec.Struct, kw_only=True, rename="camel"):
    """The `createWebRtcTransport` acknowledgement."""

    id: str
    ice_parameters: IceParameters
    ice_candidates: list[IceCandidate]
    dtls_parameters: DtlsParameters


class ConnectTransport(msgspec.Struct, kw_only=True):
    room_id: str
    peer_id: str
    transport_id: str
    dtls_parameters: DtlsParameters


class Produce(msgspec.Struct, kw_only=True):
    room_id: str
    peer_id: str
    transport_id: str
    kind: MediaKind
    rtp_parameters: RtpParameters
    app_data: dict[str, Any] = msgspec.field(default_factory=dict)


class Produced(msgspec.Struct, kw_only=True):
    producer_id: str


class Consume(msgspec.Struct, kw_only=True):
    room_id: str
    peer_id: str
    transport_id: str
    producer_id: str
    rtp_capabilities: RtpCapabilities | None = None  # None: the device was not loaded


class Consumed(msgspec.Struct, kw_only=True, rename="camel"):
    """The `consume` acknowledgement (`producerId, id, kind, rtpParameters, type, producerPaused`),
    with the producer's `appData` and its peer's socket id (`peerId`)."""

    producer_id: str
    id: str
    kind: MediaKind
    rtp_parameters: RtpParameters
    type: ConsumerType
    producer_paused: bool
    app_data: dict[str, Any] = msgspec.field(default_factory=dict)
    peer_id: str = ""


class ResumeConsumer(msgspec.Struct, kw_only=True):
    room_id: str
    peer_id: str
    consumer_id: str


class CloseProducer(msgspec.Struct, kw_only=True):
    room_id: str
    peer_id: str
    producer_id: str


class PeerAction(msgspec.Struct, kw_only=True):
    """A call of one peer (`peer_id`, the caller) about another of the room (`target_peer_id`)."""

    room_id: str
    peer_id: str
    target_peer_id: str


class CohostAnswer(msgspec.Struct, kw_only=True):
    """`cohost:respond`: a host or co-host approves or denies a viewer's request."""

    room_id: str
    peer_id: str
    target_peer_id: str
    approved: bool


class PauseVideo(msgspec.Struct, kw_only=True):
    """`videoPaused` / `videoResumed` of the caller: one of its video producers, or (None)
    every camera it produces."""

    room_id: str
    peer_id: str
    paused: bool
    producer_id: str | None = None


class ProducersChanged(msgspec.Struct, kw_only=True):
    """The producers a call paused or resumed."""

    producer_ids: list[str]


class NodeStats(msgspec.Struct, kw_only=True):
    """What a node holds now; the leak test compares two of these."""

    node_id: str
    rooms: int
    peers: int
    transports: int
    producers: int
    consumers: int
    tasks: int
    open_files: int
    room_ids: list[str] = msgspec.field(default_factory=list)
    draining: bool = False


class MediaPush(msgspec.Struct, kw_only=True, omit_defaults=True):
    """An event a node sends to sockets of a room (core NATS on PUSH_SUBJECT, relayed
    once by one gateway process): to one peer (`to_peer`), or to the whole room but
    `skip_peer`. `event` is the Socket.IO event name; `data` its payload as JSON."""

    tenant_id: str
    room_id: str
    event: str
    data: msgspec.Raw
    to_peer: str | None = None
    skip_peer: str | None = None
    leave_peer: str | None = None  # this peer was dropped from the room: its socket leaves it
    room_closed: bool = False  # the room closed with this event: every socket leaves it once told


class StartTap(msgspec.Struct, kw_only=True):
    """Send one producer's RTP, as received, as plain RTP over UDP to `host:port` (a caption
    worker's or a recorder's socket), until NODE_STOP_TAP, the producer closing, or (with
    `lease_seconds`) no NODE_RENEW_TAP for that long. Services ask this, never a browser."""

    room_id: str
    producer_id: str
    host: str
    port: int
    lease_seconds: float = 0.0  # 0: no lease, the tap runs until stopped


class TapStarted(msgspec.Struct, kw_only=True):
    """What a tap's receiver needs: the codec as the router names it, the payload type and
    SSRC every packet carries, and the tap's id (to renew or stop it)."""

    tap_id: str
    producer_id: str
    kind: MediaKind
    mime_type: str
    payload_type: int
    clock_rate: int
    channels: int
    ssrc: int
    parameters: dict[str, CodecParameterValue] = msgspec.field(default_factory=dict)
    lease_seconds: float = 0.0


class TapRef(msgspec.Struct, kw_only=True):
    room_id: str
    tap_id: str
    # With NODE_RENEW_TAP: also ask the publisher for a keyframe (the receiver lost part of
    # a picture, or has not had a whole one yet); ignored for audio and by NODE_STOP_TAP.
    keyframe: bool = False


class RoomRef(msgspec.Struct, kw_only=True):
    """A room of the request's tenant, asked about by a service (no peer of it)."""

    room_id: str


class RoomProducer(msgspec.Struct, kw_only=True):
    """One producer of a room as a service sees it: whose it is, its kind and `appData`."""

    producer_id: str
    peer_id: str
    name: str
    kind: MediaKind
    app_data: dict[str, Any] = msgspec.field(default_factory=dict)
    paused: bool = False


class RoomProducers(msgspec.Struct, kw_only=True):
    producers: list[RoomProducer]


PLACE_ROOM = Endpoint("media.rooms.place", PlaceRoom, RoomPlacement)

NODE_CREATE_ROOM = NodeEndpoint("create-room", CreateRoom, RoomCreated)
NODE_JOIN = NodeEndpoint("join", JoinRoom, RoomState)
NODE_ROOM_INFO = NodeEndpoint("room-info", PeerCall, RoomState)
NODE_GET_PRODUCERS = NodeEndpoint("get-producers", PeerCall, ProducerList)
NODE_RTP_CAPABILITIES = NodeEndpoint("rtp-capabilities", PeerCall, RtpCapabilities)
NODE_CREATE_TRANSPORT = NodeEndpoint("create-transport", CreateTransport, TransportCreated)
NODE_CONNECT_TRANSPORT = NodeEndpoint("connect-transport", ConnectTransport, Empty)
NODE_PRODUCE = NodeEndpoint("produce", Produce, Produced)
NODE_CONSUME = NodeEndpoint("consume", Consume, Consumed)
NODE_RESUME_CONSUMER = NodeEndpoint("resume-consumer", ResumeConsumer, Empty)
NODE_CLOSE_PRODUCER = NodeEndpoint("close-producer", CloseProducer, Empty)
NODE_EXIT = NodeEndpoint("exit", PeerCall, Empty)
NODE_STATS = NodeEndpoint("stats", Empty, NodeStats)
# Room controls (docs/realtime-events.md): roles, co-host requests, mute, remove, pause, screen.
NODE_PEER_INFO = NodeEndpoint("peer-info", PeerCall, PeerInfo)
NODE_VOUCH_PEER = NodeEndpoint("vouch-peer", PeerProof, PeerInfo)
NODE_REQUEST_COHOST = NodeEndpoint("cohost-request", PeerCall, Empty)
NODE_ANSWER_COHOST = NodeEndpoint("cohost-answer", CohostAnswer, PeerInfo)
NODE_DEMOTE_COHOST = NodeEndpoint("cohost-demote", PeerAction, PeerInfo)
NODE_MUTE_PEER = NodeEndpoint("mute-peer", PeerAction, ProducersChanged)
NODE_REMOVE_PEER = NodeEndpoint("remove-peer", PeerAction, Empty)
NODE_PAUSE_VIDEO = NodeEndpoint("pause-video", PauseVideo, ProducersChanged)
NODE_SCREEN_SHARE = NodeEndpoint("screen-share", PeerCall, ScreenShare)
NODE_STOP_SCREEN = NodeEndpoint("stop-screen", PeerCall, ScreenShare)
NODE_END_ROOM = NodeEndpoint("end-room", PeerCall, Empty)
# Taps (media.taps): a producer's RTP to a service's UDP socket, for captions and recording.
NODE_START_TAP = NodeEndpoint("start-tap", StartTap, TapStarted)
NODE_RENEW_TAP = NodeEndpoint("renew-tap", TapRef, Empty)
NODE_STOP_TAP = NodeEndpoint("stop-tap", TapRef, Empty)
# Every producer of a room, for a service that taps them all (server-side recording).
NODE_ROOM_PRODUCERS = NodeEndpoint("room-producers", RoomRef, RoomProducers)
# The room's meetings changed (transcriptEnabled turned, a meeting moved in or out): offer
# its live audio producers to the caption workers again (docs/captions.md).
NODE_OFFER_CAPTIONS = NodeEndpoint("offer-captions", RoomRef, Empty)

# Pushed to sockets (event names of the seed's socket, and the events this suite adds in
# the seed's style; payloads in docs/realtime-events.md).
NEW_PRODUCERS = "newProducers"
CONSUMER_CLOSED = "consumerClosed"
PEER_JOINED = "peerJoined"
PEER_LEFT = "peerLeft"
COHOST_REQUEST = "cohost:request"  # to the hosts and co-hosts
COHOST_RESPOND = "cohost:respond"  # to the viewer who asked
ROLE_CHANGED = "roleChanged"
PARTICIPANT_MUTED = "participant:muted"
PARTICIPANT_REMOVED = "participant:removed"
SCREEN_SHARED = "screen:shared"
SCREEN_STOPPED = "screen:stopped"
VIDEO_PAUSED = "videoPaused"
VIDEO_RESUMED = "videoResumed"
ROOM_ENDED = "room:ended"  # the host ended the webinar; then everyone is out
# Pushed by the transcription service's caption workers through the same path.
CAPTION = "caption"  # a live caption line: partial text, then the final line
CAPTIONS_REFUSED = "captions:refused"  # captions are on for the meeting, but cannot be given

# The refusal of every way into a room whose webinar the host ended.
WEBINAR_ENDED = "this webinar has ended"


def room_key(tenant_id: str, room_id: str) -> str:
    """The ROOMS_BUCKET key of a tenant's room (any room id fits: it is hashed)."""
    digest = hashlib.sha256(f"{tenant_id}\x00{room_id}".encode()).hexdigest()
    return f"room-{digest[:40]}"
