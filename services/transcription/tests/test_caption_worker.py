"""A caption worker with stand-ins for the media node's taps, the meetings service and the
gateways (the engine too: what it hears is scripted), over real UDP sockets: who is
refused, who is captioned, what the room hears and what is stored."""

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import msgspec
import pytest

from transcription.captions import speech_set
from transcription.captions.recognition import OnCaption, Recognition
from transcription.captions.worker import NO_TRANSCRIPT_MEETING, CaptionWorker
from webinar_contracts import NotFound, RequestContext, Unavailable
from webinar_contracts.media import StartTap, TapRef, TapStarted
from webinar_contracts.plans import Plan
from webinar_contracts.transcription import Caption, CaptionCheck, CaptionOffer

PROFESSIONAL = RequestContext(tenant_id="t1", plan=Plan.PROFESSIONAL)
ESSENTIAL = RequestContext(tenant_id="t1", plan=Plan.ESSENTIAL)
OFFER = CaptionOffer(room_id="r1", node_id="n1", producer_id="mic-1", peer_id="sock-1", name="Avery", user_id="u1")


@dataclass
class Node:
    started: list[StartTap] = field(default_factory=list)
    renewed: list[str] = field(default_factory=list)
    stopped: list[str] = field(default_factory=list)
    gone: bool = False
    stopped_by_node: set[str] = field(default_factory=set)  # taps the node stopped itself

    async def start(self, tenant_id: str, node_id: str, request: StartTap) -> TapStarted:
        self.started.append(request)
        return TapStarted(
            tap_id=f"tap-{len(self.started)}",
            producer_id=request.producer_id,
            kind="audio",
            mime_type="audio/opus",
            payload_type=100,
            clock_rate=48000,
            channels=2,
            ssrc=0x1234,
            lease_seconds=request.lease_seconds,
        )

    async def renew(self, tenant_id: str, node_id: str, request: TapRef) -> None:
        if self.gone or request.tap_id in self.stopped_by_node:
            raise NotFound("no such tap", field="tap_id")
        self.renewed.append(request.tap_id)

    async def stop(self, tenant_id: str, node_id: str, request: TapRef) -> None:
        self.stopped.append(request.tap_id)


class Rooms:
    def __init__(self, meeting_id: str | None) -> None:
        self.meeting_id = meeting_id

    async def transcript_meeting(self, tenant_id: str, room_id: str) -> str | None:
        return self.meeting_id


@dataclass
class Sink:
    pushes: list[tuple[str, str, str, Any]] = field(default_factory=list)
    lines: list[tuple[Caption, str, datetime]] = field(default_factory=list)
    stored: asyncio.Event = field(default_factory=asyncio.Event)

    def push(self, tenant_id: str, room_id: str, event: str, data: msgspec.Struct) -> None:
        self.pushes.append((tenant_id, room_id, event, msgspec.to_builtins(data)))

    async def store_line(self, caption: Caption, *, tenant_id: str, started_at: datetime) -> None:
        self.lines.append((caption, tenant_id, started_at))
        self.stored.set()


class Scripted:
    """An engine that hears a partial after 0.5 s of audio and a final line after 1 s."""

    def __init__(self, on_caption: OnCaption) -> None:
        self.on_caption = on_caption
        self.bytes = 0
        self.closed = False

    def feed(self, pcm: bytes, now: float) -> None:
        before, self.bytes = self.bytes, self.bytes + len(pcm)
        if before < 16000 <= self.bytes:
            self.on_caption(1, "we agreed", False, now - 0.5)
        if before < 32000 <= self.bytes:
            self.on_caption(1, "we agreed to ship", True, now - 1.0)

    async def close(self) -> None:
        self.closed = True  # an engine makes what is being said a final line now


@pytest.fixture
async def node() -> Node:
    return Node()


def worker_with(node: Node, sink: Sink, *, meeting_id: str | None = "m1", max_streams: int = 4) -> CaptionWorker:
    def scripted(stream: str, meeting: tuple[str, str], on_caption: OnCaption) -> Recognition:
        return Scripted(on_caption)

    return CaptionWorker(
        worker_id="w1",
        taps=node,
        rooms=Rooms(meeting_id),
        sink=sink,
        new_recognition=scripted,
        max_streams=max_streams,
        lease_seconds=0.6,
    )


@pytest.fixture
async def sink() -> Sink:
    return Sink()


@pytest.fixture
async def worker(node: Node, sink: Sink) -> AsyncIterator[CaptionWorker]:
    made = worker_with(node, sink)
    yield made
    await made.drain()


async def send_speech(port: int, seconds: float) -> None:
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(asyncio.DatagramProtocol, remote_addr=("127.0.0.1", port))
    try:
        frames = speech_set.opus_frames(speech_set.synthesize("we agreed to ship", "en-us")[: int(seconds * 32000)])
        for packet in speech_set.rtp_packets(frames, ssrc=0x1234):
            transport.sendto(packet)
            await asyncio.sleep(0.001)
    finally:
        transport.close()


async def test_an_essential_tenant_is_refused_and_the_room_is_told_why(node: Node, sink: Sink) -> None:
    worker = worker_with(node, sink)
    decision = await worker.offer(OFFER, ESSENTIAL)
    reason = "live captions are part of the Professional plan; this tenant is on Essential"
    assert (decision.captioned, decision.reason, decision.meeting_id) == (False, reason, "m1")
    assert sink.pushes == [
        ("t1", "r1", "captions:refused", {"meeting_id": "m1", "peer_id": "sock-1", "reason": reason})
    ]
    assert node.started == []


async def test_a_room_no_meeting_with_transcripts_names_is_not_captioned(node: Node, sink: Sink) -> None:
    decision = await worker_with(node, sink, meeting_id=None).offer(OFFER, PROFESSIONAL)
    assert (decision.captioned, decision.reason) == (False, "no meeting with transcriptEnabled names this room")
    assert (node.started, sink.pushes) == ([], [])


async def test_a_full_worker_leaves_the_offer_to_another(node: Node, sink: Sink) -> None:
    worker = worker_with(node, sink, max_streams=1)
    try:
        assert (await worker.offer(OFFER, PROFESSIONAL)).captioned
        again = await worker.offer(OFFER, PROFESSIONAL)  # the same producer offered twice: the same tap
        assert again.tap_id == "tap-1"
        with pytest.raises(Unavailable):
            await worker.offer(msgspec.structs.replace(OFFER, producer_id="mic-2"), PROFESSIONAL)
    finally:
        await worker.drain()


async def test_a_tapped_producer_is_captioned_with_its_speaker_and_its_final_line_stored(
    worker: CaptionWorker, node: Node, sink: Sink
) -> None:
    decision = await worker.offer(OFFER, PROFESSIONAL)
    assert (decision.captioned, decision.tap_id, decision.meeting_id, decision.worker) == (True, "tap-1", "m1", "w1")
    (request,) = node.started
    assert (request.room_id, request.producer_id, request.host, request.lease_seconds) == (
        "r1",
        "mic-1",
        "127.0.0.1",
        0.6,
    )

    await send_speech(request.port, seconds=1.2)
    await asyncio.wait_for(sink.stored.wait(), 5)
    captions = [data for _, _, event, data in sink.pushes if event == "caption"]
    assert [(c["text"], c["final"]) for c in captions] == [("we agreed", False), ("we agreed to ship", True)]
    assert {(c["peer_id"], c["user_id"], c["name"], c["meeting_id"]) for c in captions} == {
        ("sock-1", "u1", "Avery", "m1")
    }
    assert len({c["utterance_id"] for c in captions}) == 1
    (line, tenant_id, started_at) = sink.lines[0]
    assert (line.text, tenant_id) == ("we agreed to ship", "t1")
    assert round(started_at.timestamp() * 1000) == captions[1]["timestamp"]


async def test_the_lease_is_renewed_and_a_tap_the_node_lost_ends_the_stream(worker: CaptionWorker, node: Node) -> None:
    await worker.offer(OFFER, PROFESSIONAL)
    async with asyncio.timeout(3):
        while not node.renewed:  # noqa: ASYNC110 - renewals are timed, not signalled
            await asyncio.sleep(0.05)
    node.gone = True
    async with asyncio.timeout(3):
        while worker.streams:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
    assert node.stopped == []  # the node has no tap to stop


async def test_a_draining_worker_hands_its_taps_back_and_takes_no_more(worker: CaptionWorker, node: Node) -> None:
    await worker.offer(OFFER, PROFESSIONAL)
    await worker.drain()
    assert node.stopped == ["tap-1"]
    with pytest.raises(Unavailable):
        await worker.offer(OFFER, PROFESSIONAL)


async def test_a_check_says_whether_the_captions_of_a_meeting_may_go_on_and_taps_nothing(
    node: Node, sink: Sink
) -> None:
    rooms = Rooms("m1")
    worker = worker_with(node, sink)
    worker.rooms = rooms
    check = CaptionCheck(room_id="r1", producer_id="mic-1", meeting_id="m1")

    still_on = await worker.check(check, PROFESSIONAL)
    assert (still_on.captioned, still_on.meeting_id) == (True, "m1")
    rooms.meeting_id = None  # the host turned transcriptEnabled off
    turned_off = await worker.check(check, PROFESSIONAL)
    assert (turned_off.captioned, turned_off.reason) == (False, NO_TRANSCRIPT_MEETING)
    rooms.meeting_id = "m2"  # another meeting of the room has transcripts on
    moved = await worker.check(check, PROFESSIONAL)
    assert (moved.captioned, moved.meeting_id) == (False, "m2")
    rooms.meeting_id = "m1"
    assert not (await worker.check(check, ESSENTIAL)).captioned
    assert (node.started, node.stopped, sink.pushes) == ([], [], [])


async def test_only_the_stream_whose_tap_the_node_stopped_ends_and_its_speech_is_finished(
    worker: CaptionWorker, node: Node
) -> None:
    await worker.offer(OFFER, PROFESSIONAL)
    await worker.offer(msgspec.structs.replace(OFFER, producer_id="mic-2", room_id="r2"), PROFESSIONAL)
    turned_off, going_on = worker.streams[("t1", "mic-1")], worker.streams[("t1", "mic-2")]
    node.stopped_by_node.add(turned_off.tap.tap_id)
    async with asyncio.timeout(3):
        while ("t1", "mic-1") in worker.streams:  # noqa: ASYNC110 - renewals are timed, not signalled
            await asyncio.sleep(0.05)
    assert turned_off.closed
    assert turned_off.recognition.closed  # type: ignore[attr-defined]
    assert list(worker.streams.values()) == [going_on]
    assert not going_on.closed
    assert node.stopped == []  # the node stopped it already: nothing to hand back
