"""Every use of aiortc's and aioice's private APIs, in one module.

The SFU builds on aiortc's ICE, DTLS and SRTP layers but not on its senders and
receivers (they decode and encode), which takes a few private hooks. Versions are
pinned in deploy/constraints.txt, and tests/test_aiortc_hooks.py fails if an upgrade
moves anything used here.

Hooks used:
- aioice `Connection`: `_early_checks_done`, `check_incoming`, `_nominated`,
  `_protocols`, `_local_candidates`, `_local_candidates_start/_end`,
  `data_received`; `ice.StunProtocol`, `ice.CandidatePair`, `turn.UDP_SOCKET_BUFFER_SIZE`.
- aiortc `RTCIceGatherer._connection`, `RTCIceTransport._connection`,
  `RTCDtlsTransport._set_role`, `_state`, `_handle_rtp_data`, `_handle_rtcp_data`,
  `_send_rtp`; `RTCRtpSender._ssrc`, `RTCRtpSender._rtx_ssrc`, `RTCRtpReceiver._track`,
  `RTCRtpReceiver._set_rtcp_ssrc` (test clients only).
"""

import asyncio
import logging
import random
import secrets
import socket
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aioice import Candidate, Connection
from aioice.ice import CandidatePair, StunProtocol
from aioice.turn import UDP_SOCKET_BUFFER_SIZE
from aiortc import (
    RTCCertificate,
    RTCDtlsFingerprint,
    RTCDtlsParameters,
    RTCDtlsTransport,
    RTCIceGatherer,
    RTCIceTransport,
    RTCRtpReceiver,
    RTCRtpSender,
)
from aiortc.rtcdtlstransport import State as DtlsState
from aiortc.rtcrtpreceiver import RemoteStreamTrack

logger = logging.getLogger(__name__)

RtpHandler = Callable[[bytes], Awaitable[None]]

# UDP socket buffers: bursts of video are dropped by a default-sized receive buffer.
SOCKET_BUFFER_SIZE = UDP_SOCKET_BUFFER_SIZE * 4


class LiteIceConnection(Connection):
    """An ICE-lite agent (RFC 8445 2.5): it answers connectivity checks and sends none.
    The controlling peer (the browser) nominates a pair with USE-CANDIDATE; the browser's
    own ICE credentials never reach the server, so `connect()` is never called."""

    def __init__(self, *, local_username: str | None = None, local_password: str | None = None) -> None:
        super().__init__(ice_controlling=False, local_username=local_username, local_password=local_password)
        # Hand each authenticated check straight to check_incoming, as connect() would.
        self._early_checks_done = True
        self.nominated = asyncio.Event()
        self.last_check_at = time.monotonic()
        self.checked_addresses: set[tuple[str, int]] = set()

    def check_incoming(self, message: Any, addr: tuple[str, int], protocol: StunProtocol) -> None:
        # Called by aioice only for authenticated Binding requests, after it answered them.
        self.last_check_at = time.monotonic()
        self.checked_addresses.add(addr)
        if "USE-CANDIDATE" not in message.attributes:
            return
        current = self._nominated.get(1)
        if current is not None and current.remote_addr == addr and current.protocol is protocol:
            return
        remote = Candidate(
            foundation=secrets.token_hex(5),
            component=1,
            transport="udp",
            priority=message.attributes.get("PRIORITY", 0),
            host=addr[0],
            port=addr[1],
            type="prflx",
        )
        pair = CandidatePair(protocol, remote)
        pair.nominated = True
        pair.state = CandidatePair.State.SUCCEEDED
        self._nominated[1] = pair
        logger.debug("ICE-lite: pair %s nominated", pair)
        self.nominated.set()

    @property
    def selected_address(self) -> tuple[str, int] | None:
        pair = self._nominated.get(1)
        return None if pair is None else pair.remote_addr


class DemuxProtocol(StunProtocol):
    """One UDP socket carrying STUN, DTLS and SRTP (RFC 7983): classify by the first byte
    before aioice tries to read a datagram as STUN, and take media only from addresses
    that passed a connectivity check."""

    receiver: Connection

    def datagram_received(self, data: bytes | str, addr: tuple[Any, ...]) -> None:
        if not isinstance(data, bytes) or not data:
            return
        first = data[0]
        if first < 4:
            super().datagram_received(data, addr)
            return
        if 20 <= first < 64 or 128 <= first < 192:
            checked = getattr(self.receiver, "checked_addresses", None)
            if checked is not None and (addr[0], addr[1]) not in checked:
                return
            self.receiver.data_received(data, self.local_candidate.component)


def _bind_udp(host: str, port_range: tuple[int, int] | None) -> socket.socket:
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SOCKET_BUFFER_SIZE)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SOCKET_BUFFER_SIZE)
        if port_range is None:
            sock.bind((host, 0))
        else:
            low, high = port_range
            ports = list(range(low, high + 1))
            random.shuffle(ports)
            for port in ports:
                try:
                    sock.bind((host, port))
                    break
                except OSError:
                    continue
            else:
                raise OSError(f"no free UDP port in {low}-{high} on {host}")
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


async def bind_host_candidate(
    connection: Connection,
    *,
    listen_ip: str,
    announced_ip: str | None = None,
    port_range: tuple[int, int] | None = None,
) -> Candidate:
    """Bind one UDP socket for `connection` and make it its only host candidate (aioice's
    own gathering skips loopback and has no port range)."""
    sock = _bind_udp(listen_ip, port_range)
    loop = asyncio.get_running_loop()
    try:
        _, protocol = await loop.create_datagram_endpoint(lambda: DemuxProtocol(connection), sock=sock)
    except BaseException:
        sock.close()
        raise
    port = sock.getsockname()[1]
    host = announced_ip or listen_ip
    candidate = Candidate(
        foundation=secrets.token_hex(4),
        component=1,
        transport="udp",
        priority=(126 << 24) | (65535 << 8) | 255,  # host candidate, component 1
        host=host,
        port=port,
        type="host",
    )
    protocol.local_candidate = candidate
    connection._protocols.append(protocol)
    connection._local_candidates.append(candidate)
    connection._local_candidates_start = True
    connection._local_candidates_end = True
    return candidate


def ice_transport_over(connection: Connection) -> RTCIceTransport:
    """An aiortc ICE transport running on `connection` instead of the one its gatherer made
    (the transport copies the gatherer's connection when built)."""
    gatherer = RTCIceGatherer(iceServers=[])
    gatherer._connection = connection
    return RTCIceTransport(gatherer)


def sha256_fingerprint(certificate: RTCCertificate) -> RTCDtlsFingerprint:
    return next(f for f in certificate.getFingerprints() if f.algorithm == "sha-256")


class RawRtpDtlsTransport(RTCDtlsTransport):
    """aiortc's DTLS transport with its SRTP-decrypted packets handed over as bytes, before
    aiortc would parse and route them to a receiver, and bytes sent as they are.

    `tap=True` hands the bytes over and then lets aiortc route them as usual (test clients
    use it to record what their receivers decode)."""

    def __init__(
        self,
        ice_transport: RTCIceTransport,
        certificate: RTCCertificate,
        *,
        role: str,
        on_rtp: RtpHandler,
        on_rtcp: RtpHandler,
        tap: bool = False,
    ) -> None:
        super().__init__(ice_transport, [certificate])
        self._set_role(role)
        self._on_rtp = on_rtp
        self._on_rtcp = on_rtcp
        self._tap = tap

    @property
    def connected(self) -> bool:
        return bool(self._state == DtlsState.CONNECTED)

    async def _handle_rtp_data(self, data: bytes, arrival_time_ms: int) -> None:
        # An exception escaping here would end aiortc's receive loop for the whole transport.
        try:
            await self._on_rtp(data)
        except Exception:
            logger.exception("RTP handler failed")
        if self._tap:
            await super()._handle_rtp_data(data, arrival_time_ms)

    async def _handle_rtcp_data(self, data: bytes) -> None:
        try:
            await self._on_rtcp(data)
        except Exception:
            logger.exception("RTCP handler failed")
        if self._tap:
            await super()._handle_rtcp_data(data)

    async def send_rtp(self, data: bytes) -> None:
        """Protect (SRTP or SRTCP, by packet type) and send; ConnectionError before DTLS is up."""
        await self._send_rtp(data)


def dtls_parameters(fingerprints: list[tuple[str, str]], role: str) -> RTCDtlsParameters:
    return RTCDtlsParameters(
        fingerprints=[RTCDtlsFingerprint(algorithm=a, value=v) for a, v in fingerprints], role=role
    )


# --- for clients that play the browser's part (tests, benchmarks) ---

PacketFilter = Callable[[bytes], bool]


class ClientDtlsTransport(RawRtpDtlsTransport):
    """A test client's DTLS transport whose link can lose packets: `drop_incoming` and
    `drop_outgoing` see each decrypted (or not yet encrypted) RTP packet and say whether
    the network loses it."""

    drop_incoming: PacketFilter | None = None
    drop_outgoing: PacketFilter | None = None

    async def _handle_rtp_data(self, data: bytes, arrival_time_ms: int) -> None:
        if self.drop_incoming is not None and self.drop_incoming(data):
            return
        await super()._handle_rtp_data(data, arrival_time_ms)

    async def _send_rtp(self, data: bytes) -> None:
        is_rtcp = 192 <= data[1] <= 223
        if self.drop_outgoing is not None and not is_rtcp and self.drop_outgoing(data):
            return
        await super()._send_rtp(data)


def make_ice_controlling(ice_transport: RTCIceTransport) -> None:
    """Make an aiortc ICE transport the controlling agent, as a browser is towards an
    ICE-lite server (aiortc's ORTC API leaves it controlled)."""
    ice_transport._connection.ice_controlling = True


def attach_remote_track(receiver: RTCRtpReceiver, kind: str) -> None:
    """Give an ORTC receiver the track its decoded frames go to (RTCPeerConnection does
    this when it applies a remote description)."""
    receiver._track = RemoteStreamTrack(kind=kind)


def rtp_sender_ssrc(sender: RTCRtpSender) -> int:
    """The SSRC an aiortc sender picked for itself (its ORTC API does not take one)."""
    return int(sender._ssrc)


def rtp_sender_rtx_ssrc(sender: RTCRtpSender) -> int:
    """The SSRC an aiortc sender sends its RTX repairs on."""
    return int(sender._rtx_ssrc)


def enable_receiver_feedback(receiver: RTCRtpReceiver, ssrc: int) -> None:
    """Let an ORTC receiver send RTCP (receiver reports, NACK, PLI, REMB) as `ssrc`;
    RTCPeerConnection gives it one, the ORTC API does not."""
    receiver._set_rtcp_ssrc(ssrc)
