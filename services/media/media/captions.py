"""Captions, as the media node sees them: every audio producer of its rooms is offered to
the transcription service's caption workers, which decide (is there a meeting with
transcripts on for this room? is the tenant on the Professional plan?) and, when they
take it, tap it (media.taps). When such a tap ends while the producer lives, its worker
went away (its lease lapsed) or handed it back: the producer is offered again, and
another worker (or the same one, restarted) carries on.

When the room's meetings change (a host turns `transcriptEnabled` on or off while the room
is live), the room's live audio producers are offered again: one not captioned is offered
as a new one; of one captioned, a worker is asked whether that may go on, and when not its
tap is stopped and the producer offered afresh (declined, or taken for another meeting).
The node knows nothing else of captions: who says what, and when, is the workers' business
(docs/captions.md)."""

import asyncio
import contextlib
import logging
from collections.abc import Iterable
from typing import Protocol

from media.peers import Peer
from media.producer import Producer, ProducerState
from media.rooms import RoomKey
from media.taps import RtpTap, TapEnd, TapSet
from media.tasks import TaskSet
from webinar_contracts import ServiceError
from webinar_contracts.plans import Plan
from webinar_contracts.transcription import CaptionCheck, CaptionDecision, CaptionOffer

logger = logging.getLogger(__name__)


class CaptionDesk(Protocol):
    """Where audio producers are offered (the caption workers, over the bus)."""

    async def offer(self, key: RoomKey, offer: CaptionOffer, plan: Plan | None) -> CaptionDecision: ...

    async def check(self, key: RoomKey, check: CaptionCheck, plan: Plan | None) -> CaptionDecision: ...


class CaptionOffers:
    """Offers audio producers until a worker takes each (retrying, with back-off, while no
    worker is free or running), and again whenever its tap ends before the producer, or the
    room's meetings change."""

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
        # The producers being offered or captioned now, each with its flag: the room's
        # meetings changed since its offer (or its check) was last asked.
        self._changed: dict[str, asyncio.Event] = {}
        self.offers_made = 0

    def audio_produced(self, key: RoomKey, peer: Peer, producer: Producer, plan: Plan | None) -> None:
        """Offer a new audio producer (nothing happens for one being offered already)."""
        if producer.kind != "audio" or producer.closed or producer.id in self._changed:
            return
        offer = CaptionOffer(
            room_id=key.room_id,
            node_id=self._node_id,
            producer_id=producer.id,
            peer_id=peer.id,
            name=peer.name,
            user_id=peer.user_id,
        )
        changed = asyncio.Event()
        task = self._tasks.spawn(self._caption(key, offer, producer, plan, changed), name=f"captions:{producer.id}")
        if task is None:  # the node is closing
            return
        self._changed[producer.id] = changed

        def forget(_: object) -> None:
            if self._changed.get(producer.id) is changed:
                del self._changed[producer.id]

        task.add_done_callback(forget)

    def meetings_changed(self, key: RoomKey, producers: Iterable[tuple[Peer, Producer]], plan: Plan | None) -> None:
        """The room's meetings changed (`transcriptEnabled` turned, a meeting moved in or out):
        offer its live audio producers again. One being offered or captioned asks again (its
        own plan kept); the others are offered as new ones, with `plan`. Idempotent: asking
        twice asks the workers once more, nothing else."""
        for peer, producer in producers:
            if producer.kind != "audio" or producer.closed:
                continue
            changed = self._changed.get(producer.id)
            if changed is not None:
                changed.set()
            else:
                self.audio_produced(key, peer, producer, plan)

    async def _caption(
        self, key: RoomKey, offer: CaptionOffer, producer: Producer, plan: Plan | None, changed: asyncio.Event
    ) -> None:
        closed = asyncio.Event()
        producer.on_state(lambda state, _reason: closed.set() if state is ProducerState.CLOSED else None)

        async def pause(seconds: float) -> None:
            # A pause ends early when the producer closes: nothing is left to caption.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(closed.wait(), seconds)

        delay = self._retry_after
        while not producer.closed:
            changed.clear()  # the answer to this offer sees every change made until now
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
                if changed.is_set():
                    continue  # the room's meetings changed while it was asked: the answer may be stale
                logger.info("producer %s is not captioned: %s", producer.id, decision.reason or "declined")
                return
            delay = self._retry_after
            tap = self._taps.find(decision.tap_id)
            if tap is not None:
                logger.info("producer %s captioned by %s (tap %s)", producer.id, decision.worker, tap.id)
                end = await self._follow(key, offer, plan, tap, decision.meeting_id, changed)
                if end in (TapEnd.PRODUCER_CLOSED, TapEnd.NODE_CLOSED):
                    return
                # Stopped: its worker handed it back, or its captions may not go on; lapsed: its worker went.
                log = logger.warning if end is TapEnd.LEASE_EXPIRED else logger.info
                log("producer %s: its caption tap ended (%s); offering it again", producer.id, end)
            # A tap that is gone already ended between its start and the answer: offer again, after a breath.
            await pause(self._retry_after)

    async def _follow(
        self,
        key: RoomKey,
        offer: CaptionOffer,
        plan: Plan | None,
        tap: RtpTap,
        meeting_id: str,
        changed: asyncio.Event,
    ) -> TapEnd:
        """Wait for the caption tap to end. Whenever the room's meetings change meanwhile, ask
        a worker whether the captions may go on; when not, stop the tap (its worker ends the
        stream, its last words a final line), and the caller offers the producer afresh."""
        check = CaptionCheck(room_id=offer.room_id, producer_id=offer.producer_id, meeting_id=meeting_id)
        ended = asyncio.ensure_future(tap.wait_ended())
        delay = self._retry_after
        try:
            while not ended.done():
                change = asyncio.ensure_future(changed.wait())
                try:
                    await asyncio.wait((ended, change), return_when=asyncio.FIRST_COMPLETED)
                finally:
                    change.cancel()
                if ended.done():
                    break
                changed.clear()
                try:
                    decision = await self._desk.check(key, check, plan)
                except ServiceError as error:
                    # No worker answers now: the captions go on as they are until one does.
                    logger.info("producer %s: its captions could not be checked (%s)", offer.producer_id, error)
                    await asyncio.wait((ended,), timeout=delay)
                    delay = min(delay * 2, self._max_retry_after)
                    changed.set()
                    continue
                delay = self._retry_after
                if not decision.captioned:
                    logger.info("producer %s: its captions stop (%s)", offer.producer_id, decision.reason)
                    tap.stop()
            return ended.result()
        finally:
            ended.cancel()
