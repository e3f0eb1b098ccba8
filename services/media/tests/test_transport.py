"""WebRtcTransport: ICE-lite, DTLS server role and SRTP, against an aiortc client on loopback."""

import asyncio
import socket
from typing import Any

import msgspec
import pytest

from media import ortc
from media.lifecycle import CloseReason
from media.peer_client import PeerTransport
from media.router import Router
from media.rtp import RTPFB_TRANSPORT_CC, RtcpFeedback, build_rtp, parse_rtcp, parse_rtp
from media.transport import TransportOptions, TransportState, WebRtcTransport
from media.transport_cc import TransportFeedback, parse_transport_cc_fci
from webinar_contracts import Conflict, InvalidInput
from webinar_contracts.media import DtlsFingerprint, DtlsParameters, RtpParameters


def closed_reason(transport: WebRtcTransport) -> "asyncio.Future[CloseReason | None]":
    future: asyncio.Future[CloseReason | None] = asyncio.get_running_loop().create_future()

    def changed(state: TransportState, reason: CloseReason | None) -> None:
        if state is TransportState.CLOSED and not future.done():
            future.set_result(reason)

    transport.on_state(changed)
    return future


async def test_transport_answers_as_ice_lite_with_one_host_candidate(router: Router) -> None:
    transport = await router.create_webrtc_transport()
    wire = msgspec.to_builtins(
        {
            "iceParameters": transport.ice_parameters,
            "iceCandidates": transport.ice_candidates,
            "dtlsParameters": transport.dtls_parameters,
        }
    )
    assert wire["iceParameters"]["iceLite"] is True
    assert len(wire["iceParameters"]["password"]) >= 22
    (candidate,) = wire["iceCandidates"]
    assert (candidate["ip"], candidate["protocol"], candidate["type"]) == ("127.0.0.1", "udp", "host")
    assert candidate["port"] > 0
    (fingerprint,) = wire["dtlsParameters"]["fingerprints"]
    assert fingerprint["algorithm"] == "sha-256"
    assert wire["dtlsParameters"]["role"] == "auto"
    assert transport.state is TransportState.NEW


async def test_client_connects_and_srtp_flows_both_ways(
    router: Router, connect_peer: Any, wait_until: Any, fixture_json: Any
) -> None:
    transport = await router.create_webrtc_transport()
    peer: PeerTransport = await connect_peer(transport)
    assert transport.state is TransportState.CONNECTED
    assert peer.dtls_state == "connected"
    assert transport.selected_address is not None

    # Client -> server: an SRTP packet on a produced SSRC reaches the producer.
    producer = transport.produce(
        kind="video", rtp_parameters=msgspec.convert(fixture_json("chrome_produce_screen.json"), RtpParameters)
    )
    await peer.send_raw(
        build_rtp(payload_type=96, sequence_number=1, timestamp=1, ssrc=1711563410, payload=b"\x10\x00\x01")
    )
    await wait_until(lambda: producer.packets_received == 1)

    # Server -> client: the very bytes sent arrive decrypted.
    sent = build_rtp(payload_type=101, sequence_number=9, timestamp=90, ssrc=4242, payload=b"hello")
    await transport.send_rtp(sent)
    await wait_until(lambda: sent in peer.received.rtp)
    assert parse_rtp(peer.received.rtp[-1]).ssrc == 4242


async def test_a_wrong_client_fingerprint_fails_dtls_and_closes_the_transport(router: Router) -> None:
    transport = await router.create_webrtc_transport()
    closed = closed_reason(transport)
    impostor = await PeerTransport.create()
    peer = await PeerTransport.create()
    try:
        transport.connect(impostor.dtls_parameters)  # not the certificate `peer` will present
        # The client finds the server's certificate as announced; the server refuses the client's.
        connecting = asyncio.ensure_future(
            peer.connect(
                ice_parameters=transport.ice_parameters,
                ice_candidates=transport.ice_candidates,
                dtls_parameters=transport.dtls_parameters,
            )
        )
        assert await asyncio.wait_for(closed, 5) is CloseReason.DTLS_FAILED
        await asyncio.wait_for(asyncio.gather(connecting, return_exceptions=True), 5)
    finally:
        await peer.close()
        await impostor.close()
    assert transport.id not in router.transports


@pytest.mark.parametrize(
    ("parameters", "error", "field"),
    [
        (
            DtlsParameters(fingerprints=[DtlsFingerprint("sha-256", "AB:CD")], role="server"),
            InvalidInput,
            "dtlsParameters.role",
        ),
        (
            DtlsParameters(fingerprints=[DtlsFingerprint("md5", "AB:CD")], role="client"),
            InvalidInput,
            "dtlsParameters.fingerprints",
        ),
        (
            DtlsParameters(fingerprints=[DtlsFingerprint("sha-256", "not hex")], role="client"),
            InvalidInput,
            "dtlsParameters.fingerprints",
        ),
    ],
)
async def test_bad_dtls_parameters_are_refused(
    router: Router, parameters: DtlsParameters, error: type[Exception], field: str
) -> None:
    transport = await router.create_webrtc_transport()
    with pytest.raises(error) as caught:
        transport.connect(parameters)
    assert getattr(caught.value, "field", None) == field
    assert transport.state is TransportState.NEW


async def test_a_transport_connects_once(router: Router) -> None:
    transport = await router.create_webrtc_transport()
    good = DtlsParameters(fingerprints=[DtlsFingerprint("sha-256", "AB:CD:EF")], role="client")
    transport.connect(good)
    with pytest.raises(Conflict):
        transport.connect(good)


async def test_a_peer_that_stops_sending_checks_is_dropped(router: Router, connect_peer: Any) -> None:
    # aioice checks consent every ~5 s, so a 0.3 s timeout sees it fall silent.
    transport = await router.create_webrtc_transport(options=TransportOptions(consent_timeout=0.3))
    closed = closed_reason(transport)
    await connect_peer(transport)
    assert await asyncio.wait_for(closed, 3) is CloseReason.ICE_CONSENT_EXPIRED


async def test_closing_a_transport_frees_its_port(router: Router) -> None:
    transport = await router.create_webrtc_transport()
    port = transport.ice_candidates[0].port
    await transport.close()
    await transport.close()  # idempotent
    assert transport.state is TransportState.CLOSED
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", port))


async def test_ports_come_from_the_configured_range(router: Router) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        low = probe.getsockname()[1]
    options = TransportOptions(port_range=(low, low + 1))
    first = await router.create_webrtc_transport(options=options)
    second = await router.create_webrtc_transport(options=options)
    assert {first.ice_candidates[0].port, second.ice_candidates[0].port} == {low, low + 1}
    with pytest.raises(OSError, match="no free UDP port"):
        await router.create_webrtc_transport(options=options)


async def test_a_publisher_numbering_its_packets_hears_when_each_arrived(
    router: Router, connect_peer: Any, wait_until: Any, fixture_json: Any
) -> None:
    transport = await router.create_webrtc_transport(options=TransportOptions(transport_cc_interval=0.05))
    peer: PeerTransport = await connect_peer(transport)
    raw = fixture_json("chrome_produce_audio.json")
    raw["headerExtensions"].append({"uri": ortc.TRANSPORT_WIDE_CC, "id": 3})  # Chrome's id
    transport.produce(kind="audio", rtp_parameters=msgspec.convert(raw, RtpParameters))
    for number in (10, 11, 13, 14):  # 12 is lost on the way
        await peer.send_raw(
            build_rtp(
                payload_type=111,
                sequence_number=number,
                timestamp=960 * number,
                ssrc=2316457025,
                extensions=((9, b"0"), (3, number.to_bytes(2, "big"))),
                payload=b"\xfc\xff\xfe",
            )
        )

    def feedback() -> list[TransportFeedback]:
        found = []
        for data in list(peer.received.rtcp):
            for packet in parse_rtcp(data):
                if isinstance(packet, RtcpFeedback) and packet.fmt == RTPFB_TRANSPORT_CC:
                    assert packet.media_ssrc == 2316457025
                    found.append(parse_transport_cc_fci(packet.fci))
        return found

    await wait_until(lambda: sum(len(f.arrivals) for f in feedback()) >= 5)
    reported = {}
    for message in feedback():
        for index, arrival in enumerate(message.arrivals):
            reported[(message.base_sequence_number + index) & 0xFFFF] = arrival
    assert sorted(reported) == [10, 11, 12, 13, 14]
    assert reported[12] is None
    assert all(reported[n] is not None for n in (10, 11, 13, 14))
