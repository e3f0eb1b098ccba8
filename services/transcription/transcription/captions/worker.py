"""A caption worker: takes audio producers offered by the media nodes (queue group of the
transcription service, so workers share them), taps each one (a UDP socket of its own,
the tap leased and renewed), and turns what it hears into `caption` events for the room
and final lines of the meeting's transcript.

Which meeting: the newest one held in the room with `transcriptEnabled` on, as the
meetings service says. Who speaks: the producer's peer (its name and user id), since one
producer is one person's microphone. A tenant on the Essential plan is refused: the room
hears `captions:refused` and the producer is not tapped. When the room's meetings change
(`transcriptEnabled` turned while it runs), the node asks any worker whether a producer's
captions may go on (`check`): the same rules, nothing tapped.

What reaches the outside goes through three small ports, so that a test can stand in
for them: NodeTaps (the media node's tap endpoints), RoomMeetings (which meeting names a
room) and CaptionSink (pushes to the room and stored lines).
"""

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from datetime import UTC, datetime
from typing import Any, Protocol

import msgspec

from transcription.captions import metrics
from transcription.captions.audio import PacketError, TappedOpus, parse_rtp
from transcription.captions.recognition import OnCaption, Recognition
from transcription.domain import require_professional
from webinar_contracts import Forbidden, NotFound, RequestContext, ServiceError, Unavailable
from webinar_contracts.media import CAPTION, CAPTIONS_REFUSED, StartTap, TapRef, TapStarted
from webinar_contracts.plans import Plan
from webinar_contracts.transcription import Caption, CaptionCheck, CaptionDecision, CaptionOffer, CaptionsRefused

log = logging.getLogger("transcription.captions")

MAX_EARLY_PACKETS = 100  # packets that arrive before the tap's answer, kept until it comes
NO_TRANSCRIPT_MEETING = "no meeting with transcriptEnabled names this room"


class NodeTaps(Protocol):
    async def start(self, tenant_id: str, node_id: str, request: StartTap) -> TapStarted: ...

    async def renew(self, tenant_id: str, node_id: str, request: TapRef) -> None: ...

    async def stop(self, tenant_id: str, node_id: str, request: TapRef) -> None: ...


class RoomMeetings(Protocol):
    async def transcript_meeting(self, tenant_id: str, room_id: str) -> str | None:
        """The meeting whose transcript the room's captions go to, or None (captions are off)."""
        ...


class CaptionSink(Protocol):
    def push(self, tenant_id: str, room_id: str, event: str, data: msgspec.Struct) -> None:
        """Send an event to the room's sockets; must neither block nor raise."""
        ...

    async def store_line(self, caption: Caption, *, tenant_id: str, started_at: datetime) -> None:
        """Store a final line in the meeting's transcript (raises when it could not)."""
        ...


RecognitionFactory = Callable[[str, tuple[str, str], OnCaption], Recognition]


class _Receiver(asyncio.DatagramProtocol):
    """The stream's UDP socket: packets go to the stream once it knows its tap."""

    def __init__(self) -> None:
        self.stream: CaptionStream | None = None
        self.early: list[bytes] = []

    def datagram_received(self, data: bytes, addr: Any) -> None:
        if self.stream is not None:
            self.stream.packet_received(data)
        elif len(self.early) < MAX_EARLY_PACKETS:
            self.early.append(data)


class CaptionStream:
    """One tapped producer being captioned."""

    def __init__(
        self,
        *,
        worker: "CaptionWorker",
        tenant_id: str,
        offer: CaptionOffer,
        meeting_id: str,
        tap: TapStarted,
        transport: asyncio.DatagramTransport,
    ) -> None:
        self.worker = worker
        self.tenant_id = tenant_id
        self.offer = offer
        self.meeting_id = meeting_id
        self.tap = tap
        self._transport = transport
        self._audio = TappedOpus(clock_rate=tap.clock_rate, channels=tap.channels)
        self.recognition = worker.new_recognition(offer.producer_id, (tenant_id, meeting_id), self._caption)
        self.closed = False
        self.packets = 0
        self.captions_pushed = 0

    @property
    def key(self) -> tuple[str, str]:
        return (self.tenant_id, self.offer.producer_id)

    def packet_received(self, data: bytes) -> None:
        if self.closed:
            return
        try:
            packet = parse_rtp(data)
        except PacketError:
            return
        if packet.ssrc != self.tap.ssrc or packet.payload_type != self.tap.payload_type:
            return
        self.packets += 1
        pcm = self._audio.push(packet)
        if pcm:
            self.recognition.feed(pcm, time.time())

    def _caption(self, number: int, text: str, final: bool, started_at: float) -> None:
        caption = Caption(
            peer_id=self.offer.peer_id,
            user_id=self.offer.user_id,
            name=self.offer.name,
            text=" ".join(text.split()),
            final=final,
            timestamp=round(started_at * 1000),
            utterance_id=f"{self.offer.producer_id}:{number}",
            meeting_id=self.meeting_id,
            producer_id=self.offer.producer_id,
        )
        self.worker.caption_ready(self, caption, started_at)

    async def close(self, *, hand_back: bool) -> None:
        """Stop: what is being said becomes a final line; with `hand_back` the tap is stopped
        too, so that the node offers the producer to another worker."""
        if self.closed:
            return
        self.closed = True
        self._transport.close()
        pcm = self._audio.flush()  # the last packets, which waited for a missing one
        if pcm:
            self.recognition.feed(pcm, time.time())
        await self.recognition.close()
        if hand_back:
            with contextlib.suppress(ServiceError):
                await self.worker.taps.stop(
                    self.tenant_id, self.offer.node_id, TapRef(room_id=self.offer.room_id, tap_id=self.tap.tap_id)
                )


class CaptionWorker:
    def __init__(
        self,
        *,
        worker_id: str,
        taps: NodeTaps,
        rooms: RoomMeetings,
        sink: CaptionSink,
        new_recognition: RecognitionFactory,
        listen_ip: str = "127.0.0.1",
        announced_ip: str = "",
        max_streams: int = 8,
        lease_seconds: float = 3.0,
    ) -> None:
        self.worker_id = worker_id
        self.taps = taps
        self.rooms = rooms
        self.sink = sink
        self.new_recognition = new_recognition
        self.listen_ip = listen_ip
        self.announced_ip = announced_ip or listen_ip
        self.max_streams = max_streams
        self.lease_seconds = lease_seconds
        self.streams: dict[tuple[str, str], CaptionStream] = {}
        self._starting = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._draining = False

    # --- the rules ---

    async def _rule(self, tenant_id: str, room_id: str, plan: Plan | None) -> tuple[str | None, str]:
        """Which meeting a producer of the room is captioned for, and why it is not when
        that is refused: (meeting, "") to caption; (None, reason) when no meeting with
        transcripts names the room; (meeting, reason) when the plan refuses it."""
        meeting_id = await self.rooms.transcript_meeting(tenant_id, room_id)
        if meeting_id is None:
            return None, NO_TRANSCRIPT_MEETING
        try:
            require_professional(plan, "live captions")
        except Forbidden as refusal:
            return meeting_id, refusal.message
        return meeting_id, ""

    # --- offers ---

    async def offer(self, request: CaptionOffer, context: RequestContext) -> CaptionDecision:
        """A media node offers an audio producer (the bus handler of CAPTION_PRODUCER)."""
        tenant_id = context.require_tenant()
        key = (tenant_id, request.producer_id)
        existing = self.streams.get(key)
        if existing is not None and not existing.closed:
            return self._taken(existing)
        if self._draining or len(self.streams) + self._starting >= self.max_streams:
            raise Unavailable(f"caption worker {self.worker_id} is full; another one may take it")
        self._starting += 1
        try:
            meeting_id, refusal = await self._rule(tenant_id, request.room_id, context.plan)
            if meeting_id is None:
                return CaptionDecision(captioned=False, reason=refusal)
            if refusal:
                self.sink.push(
                    tenant_id,
                    request.room_id,
                    CAPTIONS_REFUSED,
                    CaptionsRefused(meeting_id=meeting_id, peer_id=request.peer_id, reason=refusal),
                )
                log.info("captions refused", extra={"tenant_id": tenant_id, "room_id": request.room_id})
                return CaptionDecision(captioned=False, meeting_id=meeting_id, reason=refusal)
            stream = await self._start(tenant_id, request, meeting_id)
        finally:
            self._starting -= 1
        if stream is None:
            return CaptionDecision(captioned=False, meeting_id=meeting_id, reason="this codec cannot be captioned")
        return self._taken(stream)

    async def check(self, request: CaptionCheck, context: RequestContext) -> CaptionDecision:
        """May a producer captioned for `request.meeting_id` go on (the bus handler of
        CAPTION_CHECK)? The room's node asks when the room's meetings changed, whichever
        worker holds the stream; nothing is tapped or pushed. When not, the node stops the
        tap: the worker holding it ends the stream at its next renewal (what is being said
        becomes a final line), and the node offers the producer afresh."""
        tenant_id = context.require_tenant()
        meeting_id, refusal = await self._rule(tenant_id, request.room_id, context.plan)
        if refusal:
            return CaptionDecision(captioned=False, meeting_id=meeting_id or "", reason=refusal)
        if meeting_id != request.meeting_id:
            reason = f"the room's captions go to meeting {meeting_id} now"
            return CaptionDecision(captioned=False, meeting_id=meeting_id or "", reason=reason)
        return CaptionDecision(captioned=True, meeting_id=request.meeting_id, worker=self.worker_id)

    def _taken(self, stream: CaptionStream) -> CaptionDecision:
        return CaptionDecision(
            captioned=True, tap_id=stream.tap.tap_id, meeting_id=stream.meeting_id, worker=self.worker_id
        )

    async def _start(self, tenant_id: str, offer: CaptionOffer, meeting_id: str) -> CaptionStream | None:
        loop = asyncio.get_running_loop()
        transport, receiver = await loop.create_datagram_endpoint(_Receiver, local_addr=(self.listen_ip, 0))
        try:
            port = int(transport.get_extra_info("sockname")[1])
            tap = await self.taps.start(
                tenant_id,
                offer.node_id,
                StartTap(
                    room_id=offer.room_id,
                    producer_id=offer.producer_id,
                    host=self.announced_ip,
                    port=port,
                    lease_seconds=self.lease_seconds,
                ),
            )
        except BaseException:
            transport.close()
            raise
        if tap.kind != "audio" or tap.mime_type.lower() != "audio/opus":
            transport.close()
            with contextlib.suppress(ServiceError):
                await self.taps.stop(tenant_id, offer.node_id, TapRef(room_id=offer.room_id, tap_id=tap.tap_id))
            return None
        stream = CaptionStream(
            worker=self, tenant_id=tenant_id, offer=offer, meeting_id=meeting_id, tap=tap, transport=transport
        )
        self.streams[stream.key] = stream
        metrics.CAPTION_STREAMS.set(len(self.streams))
        receiver.stream = stream
        for data in receiver.early:
            stream.packet_received(data)
        receiver.early.clear()
        self.spawn(self._keep_tap(stream), name=f"caption-tap:{offer.producer_id}")
        log.info(
            "captioning",
            extra={"producer_id": offer.producer_id, "meeting_id": meeting_id, "peer": offer.name, "port": port},
        )
        return stream

    async def _keep_tap(self, stream: CaptionStream) -> None:
        """Renew the tap's lease until it ends; a tap the node no longer has (the producer
        closed, the room went) ends the stream."""
        loop = asyncio.get_running_loop()
        last_renewed = loop.time()
        ref = TapRef(room_id=stream.offer.room_id, tap_id=stream.tap.tap_id)
        while not stream.closed:
            await asyncio.sleep(self.lease_seconds / 3)
            if stream.closed:
                return
            try:
                await self.taps.renew(stream.tenant_id, stream.offer.node_id, ref)
                last_renewed = loop.time()
            except NotFound:
                break
            except ServiceError as error:
                if loop.time() - last_renewed > self.lease_seconds:
                    log.warning("caption tap lost: %s", error, extra={"producer_id": stream.offer.producer_id})
                    break
        await self.end_stream(stream, hand_back=False)

    async def end_stream(self, stream: CaptionStream, *, hand_back: bool) -> None:
        await stream.close(hand_back=hand_back)
        if self.streams.get(stream.key) is stream:
            del self.streams[stream.key]
        metrics.CAPTION_STREAMS.set(len(self.streams))
        log.info("caption stream ended", extra={"producer_id": stream.offer.producer_id, "packets": stream.packets})

    # --- captions out ---

    def caption_ready(self, stream: CaptionStream, caption: Caption, started_at: float) -> None:
        if not caption.final and not caption.text:
            return
        self.sink.push(stream.tenant_id, stream.offer.room_id, CAPTION, caption)
        stream.captions_pushed += 1
        metrics.CAPTION_LINES.labels("final" if caption.final else "partial").inc()
        if caption.final and caption.text:
            moment = datetime.fromtimestamp(started_at, UTC)
            self.spawn(self._store(stream.tenant_id, caption, moment), name=f"caption-store:{caption.utterance_id}")

    async def _store(self, tenant_id: str, caption: Caption, started_at: datetime) -> None:
        """Store a final line; a failure is retried (a final line is never dropped while the worker lives)."""
        delay = 0.5
        while True:
            try:
                await self.sink.store_line(caption, tenant_id=tenant_id, started_at=started_at)
                return
            except asyncio.CancelledError:
                raise
            except Exception:
                metrics.CAPTION_STORE_FAILURES.inc()
                log.exception("storing a caption line failed; retrying in %.1fs", delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)

    # --- life ---

    def spawn(self, coroutine: Coroutine[Any, Any, None], *, name: str) -> None:
        task = asyncio.create_task(coroutine, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("caption task %s failed", task.get_name(), exc_info=task.exception())

    async def drain(self, *, finish: Callable[[], Awaitable[None]] | None = None, timeout: float = 10.0) -> None:
        """Take no more producers; hand back every stream (what is being said becomes a final
        line, transcribed by `finish` and stored first), so the nodes offer them to other workers."""
        self._draining = True
        for stream in list(self.streams.values()):
            await self.end_stream(stream, hand_back=True)
        if finish is not None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await finish()
        stores = [task for task in self._tasks if task.get_name().startswith("caption-store:")]
        if stores:
            await asyncio.wait(stores, timeout=timeout)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
