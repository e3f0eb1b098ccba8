"""Captions, as the media node sees them: every audio producer of its rooms is offered to
the transcription service's caption workers, which decide (is there a meeting with
transcripts on for this room? is the tenant on the Professional plan?) and, when they
take it, tap it (media.taps). When such a tap ends while the producer lives, its worker
went away (its lease lapsed) or handed it back: the producer is offered again, and
another worker (or the same one, restarted) carries on. The node knows nothing else of
captions: who says what is the workers' business (docs/captions.md)."""

import asyncio
import contextlib
import logging
from typing import Protocol

from media.peers import Peer
from media.producer import Producer, ProducerState
from media.rooms import RoomKey
from media.taps import TapEnd, TapSet
from media.tasks import TaskSet
from webinar_contracts import ServiceError
from webinar_contracts.plans import Plan
from webinar_contracts.transcription import CaptionDecision, CaptionOffer

logger = logging.getLogger(__name__)


class CaptionDesk(Protocol):
    """Where audio producers are offered (the caption workers, over the bus)."""

    async def offer(self, key: RoomKey, offer: CaptionOffer, plan: Plan | None) -> CaptionDecision: ...


class CaptionOffers:
    """Offers audio producers until a worker takes each (retrying, with back-off, while no
    worker is free or running), and again whenever its tap ends before the producer."""

    def __init__(
        self,
        *,
        node_id: str,
        desk: CaptionDesk,
        taps: TapSet,
        tasks: TaskSet,
        retry_after: float = 0.5,
        max_retry_after: float = 10.0,
    ) -> None:
        self._node_id = node_id
        self._desk = desk
        self._taps = taps
        self._tasks = tasks
        self._retry_after = retry_after
        self._max_retry_after = max_retry_after
        self.offers_made = 0

    def audio_produced(self, key: RoomKey, peer: Peer, producer: Producer, plan: Plan | None) -> None:
        if producer.kind != "audio" or producer.closed:
            return
        offer = CaptionOffer(
            room_id=key.room_id,
            node_id=self._node_id,
            producer_id=producer.id,
            peer_id=peer.id,
            name=peer.name,
            user_id=peer.user_id,
        )
        self._tasks.spawn(self._caption(key, offer, producer, plan), name=f"captions:{producer.id}")

    async def _caption(self, key: RoomKey, offer: CaptionOffer, producer: Producer, plan: Plan | None) -> None:
        closed = asyncio.Event()
        producer.on_state(lambda state, _reason: closed.set() if state is ProducerState.CLOSED else None)

        async def pause(seconds: float) -> None:
            # A pause ends early when the producer closes: nothing is left to caption.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(closed.wait(), seconds)

        delay = self._retry_after
        while not producer.closed:
            self.offers_made += 1
            try:
                decision = await self._desk.offer(key, offer, plan)
            except ServiceError as error:  # no caption worker is running, or none is free
                if producer.closed:
                    return
                logger.debug("producer %s: not captioned yet (%s); offering again in %.1fs", producer.id, error, delay)
                await pause(delay)
                delay = min(delay * 2, self._max_retry_after)
                continue
            if not decision.captioned:
                logger.info("producer %s is not captioned: %s", producer.id, decision.reason or "declined")
                return
            delay = self._retry_after
            tap = self._taps.find(decision.tap_id)
            if tap is not None:
                logger.info("producer %s captioned by %s (tap %s)", producer.id, decision.worker, tap.id)
                end = await tap.wait_ended()
                if end in (TapEnd.PRODUCER_CLOSED, TapEnd.NODE_CLOSED):
                    return
                logger.warning("producer %s: its caption tap ended (%s); offering it again", producer.id, end)
            # A tap that is gone already ended between its start and the answer: offer again, after a breath.
            await pause(self._retry_after)
