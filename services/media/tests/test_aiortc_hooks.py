"""Fails when an aiortc or aioice upgrade moves a private API that media.aiortc_hooks uses.

If one of these fails after a version bump, read the new aiortc/aioice source, adapt
media/aiortc_hooks.py (the only module that touches these), then update the pins.
"""

import inspect
from importlib.metadata import version
from pathlib import Path

import aioice
import pytest
from aioice import Connection
from aioice.ice import CandidatePair, StunProtocol
from aiortc import RTCCertificate, RTCDtlsTransport, RTCIceGatherer, RTCIceTransport, RTCRtpReceiver, RTCRtpSender
from aiortc.rtcdtlstransport import State as DtlsState
from aiortc.rtcrtpreceiver import RemoteStreamTrack

from media import aiortc_hooks

CONSTRAINTS = Path(__file__).resolve().parents[3] / "deploy" / "constraints.txt"


def pinned(package: str) -> str:
    for line in CONSTRAINTS.read_text().splitlines():
        name, _, pin = line.partition("==")
        if name.strip().lower() == package.lower():
            return pin.strip()
    raise AssertionError(f"{package} is not pinned in deploy/constraints.txt")


def parameters(function: object) -> list[str]:
    return list(inspect.signature(function).parameters)  # type: ignore[arg-type]


@pytest.mark.parametrize("package", ["aiortc", "aioice"])
def test_the_installed_versions_are_the_pinned_ones(package: str) -> None:
    assert version(package) == pinned(package)


async def test_aioice_connection_internals_are_where_the_ice_lite_agent_expects_them() -> None:
    connection = Connection(ice_controlling=False)
    for attribute, kind in [
        ("_early_checks_done", bool),
        ("_nominated", dict),
        ("_protocols", list),
        ("_local_candidates", list),
        ("_local_candidates_start", bool),
        ("_local_candidates_end", bool),
    ]:
        assert isinstance(getattr(connection, attribute), kind), attribute
    assert parameters(Connection.check_incoming) == ["self", "message", "addr", "protocol"]
    assert parameters(Connection.data_received) == ["self", "data", "component"]
    assert parameters(Connection.request_received) == ["self", "message", "addr", "protocol"]
    await connection.close()


def test_aioice_protocol_and_pair_internals() -> None:
    assert parameters(StunProtocol.__init__) == ["self", "receiver"]
    assert parameters(StunProtocol.datagram_received) == ["self", "data", "addr"]
    assert parameters(CandidatePair.__init__) == ["self", "protocol", "remote_candidate"]
    assert {"SUCCEEDED"} <= set(CandidatePair.State.__members__)
    assert isinstance(inspect.getattr_static(CandidatePair, "remote_addr"), property)
    assert aioice.turn.UDP_SOCKET_BUFFER_SIZE > 0


async def test_aiortc_transport_internals() -> None:
    gatherer = RTCIceGatherer(iceServers=[])
    assert isinstance(gatherer._connection, Connection)
    ice = RTCIceTransport(gatherer)
    assert ice._connection is gatherer._connection
    dtls = RTCDtlsTransport(ice, [RTCCertificate.generateCertificate()])
    assert dtls._state is DtlsState.NEW
    assert {"CONNECTED", "FAILED", "CLOSED"} <= set(DtlsState.__members__)
    assert parameters(RTCDtlsTransport._set_role) == ["self", "role"]
    assert parameters(RTCDtlsTransport._handle_rtp_data) == ["self", "data", "arrival_time_ms"]
    assert parameters(RTCDtlsTransport._handle_rtcp_data) == ["self", "data"]
    assert parameters(RTCDtlsTransport._send_rtp) == ["self", "data"]
    assert inspect.iscoroutinefunction(RTCDtlsTransport._handle_rtp_data)
    assert inspect.iscoroutinefunction(RTCDtlsTransport._send_rtp)
    await gatherer._connection.close()


async def test_aiortc_sender_and_receiver_internals() -> None:
    ice = RTCIceTransport(RTCIceGatherer(iceServers=[]))
    dtls = RTCDtlsTransport(ice, [RTCCertificate.generateCertificate()])
    sender = RTCRtpSender("video", dtls)
    assert 0 < aiortc_hooks.rtp_sender_ssrc(sender) < 2**32
    assert 0 < aiortc_hooks.rtp_sender_rtx_ssrc(sender) < 2**32
    receiver = RTCRtpReceiver("video", dtls)
    assert receiver._track is None
    aiortc_hooks.attach_remote_track(receiver, "video")
    assert isinstance(receiver.track, RemoteStreamTrack)
    assert parameters(RTCRtpReceiver._set_rtcp_ssrc) == ["self", "ssrc"]
    aiortc_hooks.enable_receiver_feedback(receiver, 1234)
    await ice._connection.close()


async def test_the_ice_lite_agent_binds_its_own_candidate_on_loopback() -> None:
    connection = aiortc_hooks.LiteIceConnection()
    candidate = await aiortc_hooks.bind_host_candidate(connection, listen_ip="127.0.0.1", announced_ip="192.0.2.7")
    assert candidate.host == "192.0.2.7"
    assert connection.local_candidates == [candidate]
    assert connection._protocols[0].transport.get_extra_info("sockname")[0] == "127.0.0.1"
    assert connection.selected_address is None
    await connection.close()
