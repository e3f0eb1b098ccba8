"""A process of cheap subscribers for the fan-out benchmark (started by run.py).

Each subscriber joins the room through the gateway's SFU socket as the seed's clients do,
opens one receive transport (aiortc's ICE and DTLS, from media.peer_client) and consumes
the publisher's video and audio. It decodes nothing and does not even decrypt: the RTP
header (sequence number, SSRC) travels in the clear under SRTP, so each datagram is
counted as it arrives, before the SRTP layer, and dropped. Loss is counted from the
sequence numbers each consumer rewrites into one continuous run.

Control: one JSON object per line on stdin, one answer per line on stdout.
  {"cmd": "add", "count": K, "url": ..., "api_key": ..., "room": ..., "producers": [...]}
  {"cmd": "report"}   cumulative packet counts
  {"cmd": "quit"}
"""

import asyncio
import contextlib
import json
import logging
import sys
import time
from typing import Any

import msgspec
import socketio
from aioice import Connection
from aiortc import RTCCertificate

from media import aiortc_hooks
from media.peer_client import PeerTransport
from webinar_contracts.media import DtlsParameters, IceCandidate, IceParameters

SIGNALLING_TIMEOUT = 30.0
CONCURRENT_JOINS = 5


class StreamCount:
    """Packets of one SSRC: how many arrived, and how many the sequence numbers say were sent."""

    __slots__ = ("cycles", "first", "highest", "last_seq", "received")

    def __init__(self, seq: int) -> None:
        self.cycles = 0
        self.first = seq
        self.highest = seq
        self.last_seq = seq
        self.received = 0

    def add(self, seq: int) -> None:
        self.received += 1
        if seq < 0x4000 and self.last_seq > 0xC000:  # wrapped
            self.cycles += 0x10000
        self.last_seq = seq
        extended = self.cycles + seq
        if extended > self.highest:
            self.highest = extended

    @property
    def expected(self) -> int:
        return self.highest - self.first + 1


class RtpCounter:
    def __init__(self) -> None:
        self.streams: dict[int, StreamCount] = {}

    def count(self, data: bytes) -> None:
        seq = (data[2] << 8) | data[3]
        ssrc = int.from_bytes(data[8:12], "big")
        stream = self.streams.get(ssrc)
        if stream is None:
            stream = self.streams[ssrc] = StreamCount(seq)
        stream.add(seq)


class CountingProtocol(aiortc_hooks.DemuxProtocol):
    """The transport's UDP socket: STUN and DTLS go on to aioice and aiortc as usual;
    SRTP (RTP, not RTCP) is counted from its clear header and dropped."""

    counter: RtpCounter

    def datagram_received(self, data: bytes | str, addr: tuple[Any, ...]) -> None:
        if isinstance(data, bytes) and len(data) >= 12 and 128 <= data[0] < 192:
            if not 192 <= data[1] <= 223:  # RTCP (the consumers' sender reports) is not needed either
                self.counter.count(data)
            return
        super().datagram_received(data, addr)


async def counting_peer() -> tuple[PeerTransport, RtpCounter]:
    connection = Connection(ice_controlling=True)
    await aiortc_hooks.bind_host_candidate(connection, listen_ip="127.0.0.1")
    # aioice keeps the socket's protocol in a private list (aiortc_hooks uses it too).
    protocol = connection._protocols[-1]
    protocol.__class__ = CountingProtocol
    counter = RtpCounter()
    protocol.counter = counter
    return PeerTransport(connection, RTCCertificate.generateCertificate()), counter


class Subscriber:
    def __init__(self, name: str) -> None:
        self.name = name
        self.socket = socketio.AsyncClient(reconnection=False)
        self.peer: PeerTransport | None = None
        self.counter = RtpCounter()
        self.ssrcs: list[int] = []

    async def call(self, event: str, data: Any) -> Any:
        answer = await self.socket.call(event, data, timeout=SIGNALLING_TIMEOUT)
        if isinstance(answer, dict) and "error" in answer:
            raise RuntimeError(f"{event}: {answer['error']}")
        return answer

    async def start(self, *, url: str, api_key: str, room: str, producers: list[str]) -> None:
        await self.socket.connect(
            url, socketio_path="socket.io", auth={"apiKey": api_key}, wait_timeout=SIGNALLING_TIMEOUT
        )
        await self.call("join", {"room_id": room, "name": self.name})
        capabilities = await self.call("getRouterRtpCapabilities", {})
        created = await self.call("createWebRtcTransport", {"forceTcp": False})
        self.peer, self.counter = await counting_peer()
        answer = await self.call(
            "connectTransport",
            {"transport_id": created["id"], "dtlsParameters": msgspec.to_builtins(self.peer.dtls_parameters)},
        )
        if answer != "success":
            raise RuntimeError(f"connectTransport: {answer}")
        await asyncio.wait_for(
            self.peer.connect(
                ice_parameters=msgspec.convert(created["iceParameters"], IceParameters),
                ice_candidates=msgspec.convert(created["iceCandidates"], list[IceCandidate]),
                dtls_parameters=msgspec.convert(created["dtlsParameters"], DtlsParameters),
            ),
            SIGNALLING_TIMEOUT,
        )
        for producer_id in producers:
            consumed = await self.call(
                "consume",
                {"consumerTransportId": created["id"], "producerId": producer_id, "rtpCapabilities": capabilities},
            )
            self.ssrcs.append(int(consumed["rtpParameters"]["encodings"][0]["ssrc"]))

    @property
    def flowing(self) -> bool:
        """Every consumed stream has delivered packets."""
        return bool(self.ssrcs) and all(ssrc in self.counter.streams for ssrc in self.ssrcs)

    def totals(self) -> tuple[int, int]:
        streams = [self.counter.streams[ssrc] for ssrc in self.ssrcs if ssrc in self.counter.streams]
        return sum(s.received for s in streams), sum(s.expected for s in streams)

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            if self.socket.connected:
                await self.socket.disconnect()
        if self.peer is not None:
            with contextlib.suppress(Exception):
                await self.peer.close()


class Process:
    def __init__(self, index: int) -> None:
        self.index = index
        self.subscribers: list[Subscriber] = []
        self._joins = asyncio.Semaphore(CONCURRENT_JOINS)

    async def _add_one(self, number: int, request: dict[str, Any]) -> str | None:
        subscriber = Subscriber(f"Viewer {self.index}.{number}")
        async with self._joins:
            try:
                await subscriber.start(
                    url=request["url"], api_key=request["api_key"], room=request["room"], producers=request["producers"]
                )
            except Exception as error:
                await subscriber.close()
                return f"{type(error).__name__}: {error}"
        self.subscribers.append(subscriber)
        return None

    async def add(self, request: dict[str, Any]) -> dict[str, Any]:
        first = len(self.subscribers)
        errors = await asyncio.gather(*(self._add_one(first + n, request) for n in range(request["count"])))
        failed = [error for error in errors if error]
        return {"added": request["count"] - len(failed), "failed": len(failed), "errors": failed[:3]}

    def report(self) -> dict[str, Any]:
        received = expected = 0
        worst = 0.0
        for subscriber in self.subscribers:
            got, sent = subscriber.totals()
            received += got
            expected += sent
            if sent:
                worst = max(worst, 1 - got / sent)
        return {
            "at": time.monotonic(),
            "subscribers": len(self.subscribers),
            "flowing": sum(subscriber.flowing for subscriber in self.subscribers),
            "received": received,
            "expected": expected,
            "worst_loss": worst,
        }

    async def close(self) -> None:
        await asyncio.gather(*(subscriber.close() for subscriber in self.subscribers))


async def serve(index: int) -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    process = Process(index)
    try:
        while line := await reader.readline():
            request = json.loads(line)
            if request["cmd"] == "add":
                answer = await process.add(request)
            elif request["cmd"] == "report":
                answer = process.report()
            else:
                break
            sys.stdout.write(json.dumps(answer) + "\n")
            sys.stdout.flush()
    finally:
        await process.close()


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s subscribers %(levelname)s %(name)s: %(message)s")
    index = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    try:
        import uvloop
    except ImportError:
        asyncio.run(serve(index))
    else:
        uvloop.run(serve(index))


if __name__ == "__main__":
    main()
