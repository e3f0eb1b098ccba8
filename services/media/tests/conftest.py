"""Fixtures for the media service's tests: a worker, a router, loopback peers."""

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, NamedTuple

import msgspec
import pytest

from media.node import MediaNode
from media.peer_client import PeerTransport
from media.router import Router, Worker
from media.transport import TransportOptions, WebRtcTransport
from webinar_contracts.media import RtpCapabilities

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
async def worker() -> AsyncIterator[Worker]:
    worker = Worker(transport_options=TransportOptions(listen_ip="127.0.0.1"))
    yield worker
    await worker.close()


@pytest.fixture
def router(worker: Worker) -> Router:
    return worker.create_router()


@pytest.fixture
def chrome_device() -> RtpCapabilities:
    caps: RtpCapabilities = msgspec.json.decode(
        (FIXTURES / "chrome_device_rtp_capabilities.json").read_bytes(), type=RtpCapabilities
    )
    return caps


@pytest.fixture
def fixture_json() -> Callable[[str], object]:
    def load(name: str) -> object:
        return json.loads((FIXTURES / name).read_text())

    return load


@pytest.fixture
async def peers() -> AsyncIterator[list[PeerTransport]]:
    """Client transports made in a test; closed after it."""
    made: list[PeerTransport] = []
    yield made
    for peer in made:
        await peer.close()


WaitUntil = Callable[[Callable[[], bool]], Awaitable[None]]
ConnectPeer = Callable[[WebRtcTransport], Awaitable[PeerTransport]]


async def _wait_until(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    # Polls a condition the code under test offers no event for (packet counters).
    async with asyncio.timeout(timeout):
        while not predicate():  # noqa: ASYNC110 - a counter, not an event
            await asyncio.sleep(0.01)


@pytest.fixture
def wait_until() -> WaitUntil:
    return _wait_until


@pytest.fixture
def connect_peer(peers: list[PeerTransport]) -> ConnectPeer:
    """Connect a client transport to a server one as mediasoup-client does: connectTransport
    with the client's DTLS parameters, then ICE and DTLS from the client side."""

    async def connect(transport: WebRtcTransport) -> PeerTransport:
        peer = await PeerTransport.create()
        peers.append(peer)
        transport.connect(peer.dtls_parameters)
        await asyncio.wait_for(
            peer.connect(
                ice_parameters=transport.ice_parameters,
                ice_candidates=transport.ice_candidates,
                dtls_parameters=transport.dtls_parameters,
            ),
            timeout=5,
        )
        await _wait_until(lambda: transport.connected)
        return peer

    return connect


class Pair(NamedTuple):
    """A publisher and a viewer, each connected to a server transport of one router."""

    send_transport: WebRtcTransport
    publisher: PeerTransport
    recv_transport: WebRtcTransport
    viewer: PeerTransport


ConnectPair = Callable[[], Awaitable[Pair]]


@pytest.fixture
def connect_pair(router: Router, connect_peer: ConnectPeer) -> ConnectPair:
    async def connect() -> Pair:
        send_transport = await router.create_webrtc_transport()
        recv_transport = await router.create_webrtc_transport()
        return Pair(
            send_transport, await connect_peer(send_transport), recv_transport, await connect_peer(recv_transport)
        )

    return connect


class NoRooms:
    """A node's room directory that knows no room made over REST (every room is a socket room)."""

    async def describe(self, key: Any) -> None:
        return None

    async def record_end(self, key: Any) -> None:
        return None


class NoClaims:
    """Placement as a node alone on its bus sees it: every claim is granted."""

    async def claim(self, key: Any) -> None:
        return None

    async def release(self, key: Any) -> None:
        return None

    def load_changed(self) -> None:
        return None


class NoPushes:
    def push(self, room: Any, push: Any) -> None:
        return None


MakeNode = Callable[..., MediaNode]


@pytest.fixture
async def make_node() -> AsyncIterator[MakeNode]:
    """Media nodes with no bus around them (no REST rooms, placement granted, pushes dropped);
    keyword arguments go to MediaNode. Closed at the end."""
    made: list[MediaNode] = []

    def make(**options: Any) -> MediaNode:
        node = MediaNode(
            **{"node_id": "n1", "directory": NoRooms(), "claims": NoClaims(), "pushes": NoPushes(), **options},
            worker=Worker(),
        )
        made.append(node)
        return node

    yield make
    for node in made:
        await node.close()
