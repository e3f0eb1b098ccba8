"""The node's side of captions: each audio producer is offered to the caption workers until
one takes it, and again when its tap ends before the producer (its worker went away), or
when the room's meetings change (a host turns transcriptEnabled on or off)."""

import asyncio
import itertools
from typing import Any

import msgspec
import pytest

from media import ortc
from media.captions import CaptionOffers
from media.node import MediaNode
from media.peers import Peer
from media.producer import Producer
from media.rooms import RoomKey
from media.taps import TapEnd, TapSet
from media.tasks import TaskSet
from webinar_contracts import NotFound, Unavailable
from webinar_contracts.media import RtpParameters
from webinar_contracts.plans import Plan
from webinar_contracts.transcription import CaptionCheck, CaptionDecision, CaptionOffer

KEY = RoomKey("t1", "room-1")


class Upstream:
    rtcp_ssrc = 1

    async def send_rtcp(self, packets: list[Any]) -> None:
        return None


def microphone(fixture_json: Any, producer_id: str = "mic", kind: str = "audio") -> Producer:
    fixture = "chrome_produce_audio.json" if kind == "audio" else "chrome_produce_camera_simulcast.json"
    parameters = msgspec.convert(fixture_json(fixture), RtpParameters)
    caps = ortc.router_rtp_capabilities()
    ssrcs = itertools.count(7000)
    mapping = ortc.producer_rtp_mapping(parameters, caps, new_ssrc=lambda: next(ssrcs))
    return Producer(
        id=producer_id,
        kind=kind,  # type: ignore[arg-type]
        rtp_parameters=parameters,
        consumable_rtp_parameters=ortc.consumable_rtp_parameters(kind, parameters, caps, mapping, cname="c"),  # type: ignore[arg-type]
        mapping=mapping,
        transport=Upstream(),
    )


def peer() -> Peer:
    return Peer(
        id="sock-1",
        name="Avery",
        user_id="u1",
        role="host",
        on_transport_lost=lambda peer, reason: None,
        on_consumer_lost=lambda peer, consumer: None,
    )


class Workers:
    """Caption workers as the node sees them: busy first, then taking the producer (tapping
    it with a short lease nobody renews, as a worker that died), then declining it."""

    def __init__(self, taps: TapSet, producer: Producer, port: int) -> None:
        self.taps = taps
        self.producer = producer
        self.port = port
        self.offers: list[tuple[CaptionOffer, Plan | None]] = []
        self.answers = ["busy", "take", "take", "decline"]
        self.declined = asyncio.Event()

    async def offer(self, key: RoomKey, offer: CaptionOffer, plan: Plan | None) -> CaptionDecision:
        self.offers.append((offer, plan))
        answer = self.answers.pop(0)
        if answer == "busy":
            raise Unavailable("caption worker is full")
        if answer == "decline":
            self.declined.set()
            return CaptionDecision(captioned=False, reason="no meeting with transcriptEnabled names this room")
        tap = await self.taps.start(self.producer, host="127.0.0.1", port=self.port, owner="x", lease_seconds=0.2)
        return CaptionDecision(captioned=True, tap_id=tap.id, meeting_id="m1", worker="w")


async def test_an_audio_producer_is_offered_until_taken_and_again_when_its_worker_goes(fixture_json: Any) -> None:
    producer = microphone(fixture_json)
    taps, tasks = TapSet(), TaskSet("test")
    workers = Workers(taps, producer, port=9)
    offers = CaptionOffers(node_id="n1", desk=workers, taps=taps, tasks=tasks, retry_after=0.05)
    try:
        offers.audio_produced(KEY, peer(), producer, Plan.PROFESSIONAL)
        await asyncio.wait_for(workers.declined.wait(), 5)
    finally:
        await tasks.close()
    assert len(workers.offers) == 4
    offer, plan = workers.offers[0]
    assert (offer.room_id, offer.node_id, offer.producer_id) == ("room-1", "n1", "mic")
    assert (offer.peer_id, offer.name, offer.user_id, plan) == ("sock-1", "Avery", "u1", Plan.PROFESSIONAL)


async def test_a_closed_producer_is_not_offered_again(fixture_json: Any) -> None:
    producer = microphone(fixture_json)
    taps, tasks = TapSet(), TaskSet("test")
    workers = Workers(taps, producer, port=9)
    workers.answers = ["take"]
    offers = CaptionOffers(node_id="n1", desk=workers, taps=taps, tasks=tasks, retry_after=0.05)
    try:
        offers.audio_produced(KEY, peer(), producer, Plan.PROFESSIONAL)
        async with asyncio.timeout(5):
            while not producer.taps:  # noqa: ASYNC110 - the tap has no event of its own
                await asyncio.sleep(0.01)
        producer.close()
        await asyncio.sleep(0.3)  # past the tap's lease: nothing is offered any more
    finally:
        await tasks.close()
    assert len(workers.offers) == 1


# --- the room's meetings change while it is live ---


class Desk:
    """The caption workers as a node sees them, deciding by the meeting each room's captions
    go to now (`meetings`, by room id; None: transcripts are off): an offer is tapped (with
    no lease) or declined, a check says whether the captions of that meeting may go on."""

    def __init__(self) -> None:
        self.node: MediaNode | None = None
        self.meetings: dict[str, str | None] = {}
        self.calls: list[tuple[str, str]] = []
        self.before_answer: Any = None  # called while an offer is being decided

    async def offer(self, key: RoomKey, offer: CaptionOffer, plan: Plan | None) -> CaptionDecision:
        self.calls.append(("offer", offer.producer_id))
        meeting_id = self.meetings.get(key.room_id)
        if self.before_answer is not None:
            self.before_answer()
        if meeting_id is None or self.node is None:
            return CaptionDecision(captioned=False, reason="no meeting with transcriptEnabled names this room")
        tap = await self.node.start_tap(key, producer_id=offer.producer_id, host="127.0.0.1", port=9)
        return CaptionDecision(captioned=True, tap_id=tap.id, meeting_id=meeting_id, worker="w1")

    async def check(self, key: RoomKey, check: CaptionCheck, plan: Plan | None) -> CaptionDecision:
        self.calls.append(("check", check.producer_id))
        return CaptionDecision(captioned=self.meetings.get(key.room_id) == check.meeting_id)

    def of(self, producer_id: str) -> list[str]:
        return [call for call, producer in self.calls if producer == producer_id]


ROOM_A, ROOM_B = RoomKey("t1", "room-a"), RoomKey("t1", "room-b")


@pytest.fixture
async def desk() -> Desk:
    return Desk()


@pytest.fixture
async def node(desk: Desk, make_node: Any) -> MediaNode:
    made: MediaNode = make_node(empty_room_grace=60, captions=desk)
    desk.node = made
    return made


async def add_producers(node: MediaNode, key: RoomKey, fixture_json: Any, *producer_ids: str) -> list[Producer]:
    """A peer of the room with these producers (ids starting with `cam` are cameras), made
    while nobody offered them (as when transcripts were off)."""
    await node.create_room(key, peer_id=f"sock-{key.room_id}", user_id="u1")
    room = node.room(key)
    peer = await room.join(peer_id=f"sock-{key.room_id}", name="Avery", user_id="u1")
    made = []
    for producer_id in producer_ids:
        producer = microphone(fixture_json, producer_id, "video" if producer_id.startswith("cam") else "audio")
        room.router.add_producer(producer)
        peer.add_producer(producer)
        made.append(producer)
    return made


def tap_of(producer: Producer) -> Any:
    (tap,) = producer.taps.values()
    return tap


async def test_turned_on_the_node_offers_only_the_live_audio_producers_of_that_room(
    node: MediaNode, desk: Desk, fixture_json: Any, wait_until: Any
) -> None:
    mic_a, _, gone = await add_producers(node, ROOM_A, fixture_json, "mic-a", "cam-a", "mic-gone")
    (mic_b,) = await add_producers(node, ROOM_B, fixture_json, "mic-b")
    gone.close()
    desk.meetings = {"room-a": "m1", "room-b": "m2"}

    node.offer_captions(ROOM_A, plan=Plan.PROFESSIONAL)
    await wait_until(lambda: bool(mic_a.taps))
    assert desk.calls == [("offer", "mic-a")]
    assert not mic_b.taps

    # Told again (the event came twice): the captioned microphone is checked, and keeps its tap.
    tap = tap_of(mic_a)
    node.offer_captions(ROOM_A, plan=Plan.PROFESSIONAL)
    await wait_until(lambda: len(desk.calls) == 2)
    await asyncio.sleep(0.1)
    assert desk.calls == [("offer", "mic-a"), ("check", "mic-a")]
    assert (tap.ended, tap_of(mic_a)) == (None, tap)
    with pytest.raises(NotFound):
        node.offer_captions(RoomKey("t1", "nowhere"))


async def test_turned_off_only_the_taps_of_that_rooms_meeting_stop_and_their_producers_are_declined(
    node: MediaNode, desk: Desk, fixture_json: Any, wait_until: Any
) -> None:
    (mic_a,) = await add_producers(node, ROOM_A, fixture_json, "mic-a")
    (mic_b,) = await add_producers(node, ROOM_B, fixture_json, "mic-b")
    desk.meetings = {"room-a": "m1", "room-b": "m2"}
    node.offer_captions(ROOM_A)
    node.offer_captions(ROOM_B)
    await wait_until(lambda: bool(mic_a.taps and mic_b.taps))
    tap_a, tap_b = tap_of(mic_a), tap_of(mic_b)

    desk.meetings["room-a"] = None
    node.offer_captions(ROOM_A)
    await wait_until(lambda: desk.of("mic-a") == ["offer", "check", "offer"])
    await asyncio.sleep(0.1)  # declined: offered no more
    assert desk.of("mic-a") == ["offer", "check", "offer"]
    assert (tap_a.ended, mic_a.taps) == (TapEnd.STOPPED, {})
    assert (desk.of("mic-b"), tap_b.ended, tap_of(mic_b)) == (["offer"], None, tap_b)

    # On again: offered as a new producer, and tapped.
    desk.meetings["room-a"] = "m1"
    node.offer_captions(ROOM_A)
    await wait_until(lambda: bool(mic_a.taps))
    assert desk.of("mic-a") == ["offer", "check", "offer", "offer"]


async def test_a_decline_that_crossed_the_change_is_asked_again(
    node: MediaNode, desk: Desk, fixture_json: Any, wait_until: Any
) -> None:
    (mic_a,) = await add_producers(node, ROOM_A, fixture_json, "mic-a")

    def turned_on_meanwhile() -> None:
        desk.before_answer = None
        desk.meetings["room-a"] = "m1"
        node.offer_captions(ROOM_A)  # the event arrives while the first offer is being decided

    desk.before_answer = turned_on_meanwhile
    node.offer_captions(ROOM_A)
    await wait_until(lambda: bool(mic_a.taps))
    assert desk.of("mic-a") == ["offer", "offer"]
