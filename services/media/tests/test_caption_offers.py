"""The node's side of captions: each audio producer is offered to the caption workers until
one takes it, and again when its tap ends before the producer (its worker went away)."""

import asyncio
import itertools
from typing import Any

import msgspec

from media import ortc
from media.captions import CaptionOffers
from media.peers import Peer
from media.producer import Producer
from media.rooms import RoomKey
from media.taps import TapSet
from media.tasks import TaskSet
from webinar_contracts import Unavailable
from webinar_contracts.media import RtpParameters
from webinar_contracts.plans import Plan
from webinar_contracts.transcription import CaptionDecision, CaptionOffer

KEY = RoomKey("t1", "room-1")


class Upstream:
    rtcp_ssrc = 1

    async def send_rtcp(self, packets: list[Any]) -> None:
        return None


def microphone(fixture_json: Any) -> Producer:
    parameters = msgspec.convert(fixture_json("chrome_produce_audio.json"), RtpParameters)
    caps = ortc.router_rtp_capabilities()
    ssrcs = itertools.count(7000)
    mapping = ortc.producer_rtp_mapping(parameters, caps, new_ssrc=lambda: next(ssrcs))
    return Producer(
        id="mic",
        kind="audio",
        rtp_parameters=parameters,
        consumable_rtp_parameters=ortc.consumable_rtp_parameters("audio", parameters, caps, mapping, cname="c"),
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
