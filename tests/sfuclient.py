"""A Python client of the seed's SFU socket, driven as mediasoup-client drives a browser:
python-socketio for the events, and the media service's aiortc peer (media.peer_client)
for ICE, DTLS and RTP."""

import asyncio
from collections import defaultdict
from typing import Any

import msgspec
import socketio

from media import ortc
from media.peer_client import EncodedTrack, PeerTransport
from webinar_contracts.media import DtlsParameters as DtlsParams
from webinar_contracts.media import (
    IceCandidate,
    IceParameters,
    RtpCapabilities,
    RtpCodecParameters,
    RtpParameters,
)

VP8 = RtpCodecParameters(mime_type="video/VP8", payload_type=96, clock_rate=90000)
OPUS = RtpCodecParameters(
    mime_type="audio/opus", payload_type=111, clock_rate=48000, channels=2, parameters={"useinbandfec": 1}
)
VIDEO_FEEDBACK = [ortc.NACK, ortc.NACK_PLI, ortc.CCM_FIR, ortc.GOOG_REMB]
PUSHED_EVENTS = ("newProducers", "consumerClosed", "peerJoined", "peerLeft")


class SfuClient:
    """One socket and its WebRTC transports; `pushes[event]` is a queue of what the server sent."""

    def __init__(
        self,
        url: str,
        *,
        api_key: str | None,
        token: str | None = None,
        ticket: str | None = None,
        timeout: float = 10,
    ) -> None:
        """`api_key` (with a user's `token`), or a viewer link's `ticket` (api_key None)."""
        self.url = url
        credentials = {"apiKey": api_key, "token": token, "ticket": ticket}
        self.auth = {name: value for name, value in credentials.items() if value}
        self.timeout = timeout
        self.socket = socketio.AsyncClient(reconnection=False)
        self.pushes: dict[str, asyncio.Queue[Any]] = defaultdict(asyncio.Queue)
        self.transports: list[PeerTransport] = []
        self.capabilities: RtpCapabilities | None = None
        for event in PUSHED_EVENTS:
            self.socket.on(event, self._recorder(event))

    def _recorder(self, event: str) -> Any:
        async def record(data: Any) -> None:
            await self.pushes[event].put(data)

        return record

    async def connect(self) -> "SfuClient":
        await self.socket.connect(self.url, socketio_path="socket.io", auth=self.auth, wait_timeout=self.timeout)
        return self

    @property
    def sid(self) -> str:
        return str(self.socket.get_sid())

    async def request(self, event: str, data: Any = None) -> Any:
        """Emit with an acknowledgement, as the seed's `socket.request` does."""
        return await self.socket.call(event, {} if data is None else data, timeout=self.timeout)

    async def pushed(self, event: str, timeout: float | None = None) -> Any:
        return await asyncio.wait_for(self.pushes[event].get(), timeout or self.timeout)

    # --- the seed's flow ---

    async def enter(self, room_id: str, name: str) -> Any:
        """createRoom, join, getRouterRtpCapabilities (the device is then 'loaded')."""
        await self.request("createRoom", {"room_id": room_id})
        joined = await self.request("join", {"room_id": room_id, "name": name})
        if "error" in joined:
            raise AssertionError(joined["error"])
        self.capabilities = msgspec.convert(await self.request("getRouterRtpCapabilities"), RtpCapabilities)
        return joined

    async def transport(self) -> tuple[str, PeerTransport]:
        """createWebRtcTransport + connectTransport, then ICE and DTLS from this side."""
        created = await self.request("createWebRtcTransport", {"forceTcp": False})
        if "error" in created:
            raise AssertionError(created["error"])
        peer = await PeerTransport.create()
        self.transports.append(peer)
        answer = await self.request(
            "connectTransport",
            {"transport_id": created["id"], "dtlsParameters": msgspec.to_builtins(peer.dtls_parameters)},
        )
        if answer != "success":
            raise AssertionError(answer)
        await asyncio.wait_for(
            peer.connect(
                ice_parameters=msgspec.convert(created["iceParameters"], IceParameters),
                ice_candidates=msgspec.convert(created["iceCandidates"], list[IceCandidate]),
                dtls_parameters=msgspec.convert(created["dtlsParameters"], DtlsParams),
            ),
            timeout=self.timeout,
        )
        return created["id"], peer

    async def produce(
        self, transport_id: str, peer: PeerTransport, track: EncodedTrack, *, mid: str, app_type: str
    ) -> Any:
        codec, feedback = (VP8, VIDEO_FEEDBACK) if track.kind == "video" else (OPUS, [])
        parameters = await peer.publish(track, codec=codec, mid=mid, rtcp_feedback=feedback)
        return await self.request(
            "produce",
            {
                "producerTransportId": transport_id,
                "kind": track.kind,
                "rtpParameters": msgspec.to_builtins(parameters),
                "appData": {"type": app_type},
            },
        )

    async def consume(self, transport_id: str, peer: PeerTransport, producer_id: str) -> tuple[Any, Any]:
        """consume, then receive (and decode) what the consumer sends."""
        answer = await self.request(
            "consume",
            {
                "consumerTransportId": transport_id,
                "producerId": producer_id,
                "rtpCapabilities": msgspec.to_builtins(self.capabilities),
            },
        )
        if "error" in answer:
            raise AssertionError(answer["error"])
        receiver = await peer.receive(answer["kind"], msgspec.convert(answer["rtpParameters"], RtpParameters))
        return answer, receiver

    async def close(self) -> None:
        if self.socket.connected:
            await self.socket.disconnect()
        for peer in self.transports:
            await peer.close()
        self.transports.clear()
