"""One engine, many speakers: which utterance a caption worker transcribes next.

Finished utterances (final lines) come first and are never dropped; meetings take turns,
so one meeting's burst of lines does not hold up another's. Partials (the current
speaker's utterance so far, about once a second) are transcribed only when no final line
waits, one per meeting, meetings again in turn. A worker that falls behind therefore
drops partials: a partial still waiting when a newer one of the same speaker, or that
utterance's final line, arrives is dropped and counted (`partials_dropped`, and the
`webinar_caption_partials_dropped_total` metric).

The engine runs on one thread of its own (CTranslate2 releases the GIL), so the event
loop keeps receiving audio while it works.
"""

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from transcription.captions import metrics
from transcription.captions.audio import BYTES_PER_SAMPLE, SAMPLE_RATE

log = logging.getLogger("transcription.captions")

MeetingKey = tuple[str, str]  # (tenant id, meeting id)
Deliver = Callable[[str], None]


@dataclass(slots=True)
class Job:
    stream: str
    meeting: MeetingKey
    number: int  # the utterance's number in its stream
    audio: bytes
    deliver: Deliver  # called on the loop with the text
    final: bool
    queued_at: float = 0.0

    @property
    def seconds(self) -> float:
        return len(self.audio) / (SAMPLE_RATE * BYTES_PER_SAMPLE)


@dataclass(slots=True)
class Counts:
    finals: int = 0
    partials: int = 0
    partials_dropped: int = 0
    final_delays: list[float] = field(default_factory=list)


class CaptionScheduler:
    def __init__(self, transcribe: Callable[[bytes], str], *, clock: Callable[[], float] = time.monotonic) -> None:
        self._transcribe = transcribe
        self._clock = clock
        self._finals: dict[MeetingKey, deque[Job]] = {}
        self._final_turns: deque[MeetingKey] = deque()
        self._partials: dict[str, Job] = {}  # stream -> its waiting partial
        self._speaker: dict[MeetingKey, str] = {}  # meeting -> the stream that spoke last
        self._partial_turns: deque[MeetingKey] = deque()
        self._wake = asyncio.Event()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="caption-engine")
        self.counts = Counts()
        self.busy = False

    # --- what the streams hand in ---

    def speaker_started(self, stream: str, meeting: MeetingKey) -> None:
        """`stream` began an utterance: it is its meeting's current speaker (whose partials show)."""
        self._speaker[meeting] = stream
        if meeting not in self._partial_turns:
            self._partial_turns.append(meeting)

    def want_partial(self, stream: str, meeting: MeetingKey, number: int, audio: bytes, deliver: Deliver) -> None:
        if self._speaker.get(meeting) != stream:
            return  # another speaker of the meeting is the current one: this one gets its final lines
        if self._partials.pop(stream, None) is not None:
            self._dropped()
        self._partials[stream] = Job(stream, meeting, number, audio, deliver, final=False, queued_at=self._clock())
        self._wake.set()

    def add_final(self, stream: str, meeting: MeetingKey, number: int, audio: bytes, deliver: Deliver) -> None:
        waiting = self._partials.get(stream)
        if waiting is not None and waiting.number <= number:
            del self._partials[stream]
            self._dropped()
        queue = self._finals.setdefault(meeting, deque())
        queue.append(Job(stream, meeting, number, audio, deliver, final=True, queued_at=self._clock()))
        if meeting not in self._final_turns:
            self._final_turns.append(meeting)
        self._update_backlog()
        self._wake.set()

    def forget_stream(self, stream: str) -> None:
        """The stream ended: its waiting partial goes (its final lines stay queued)."""
        self._partials.pop(stream, None)
        for meeting, speaker in list(self._speaker.items()):
            if speaker == stream:
                del self._speaker[meeting]

    @property
    def backlog_seconds(self) -> float:
        return sum(job.seconds for queue in self._finals.values() for job in queue)

    @property
    def waiting_finals(self) -> int:
        return sum(len(queue) for queue in self._finals.values())

    def _dropped(self) -> None:
        self.counts.partials_dropped += 1
        metrics.CAPTION_PARTIALS_DROPPED.inc()

    def _update_backlog(self) -> None:
        metrics.CAPTION_BACKLOG_SECONDS.set(self.backlog_seconds)

    # --- what runs next ---

    def next_job(self) -> Job | None:
        """The next final line, meetings in turn; else the next current speaker's partial."""
        while self._final_turns:
            meeting = self._final_turns.popleft()
            queue = self._finals.get(meeting)
            if not queue:
                self._finals.pop(meeting, None)
                continue
            job = queue.popleft()
            if queue:
                self._final_turns.append(meeting)
            else:
                del self._finals[meeting]
            self._update_backlog()
            return job
        for _ in range(len(self._partial_turns)):
            meeting = self._partial_turns.popleft()
            speaker = self._speaker.get(meeting)
            if speaker is None:
                continue  # nobody speaks there any more
            self._partial_turns.append(meeting)
            partial = self._partials.pop(speaker, None)
            if partial is not None:
                return partial
        return None

    async def run(self) -> None:
        """Transcribe jobs as they come, until cancelled."""
        loop = asyncio.get_running_loop()
        while True:
            job = self.next_job()
            if job is None:
                self._wake.clear()
                await self._wake.wait()
                continue
            kind = "final" if job.final else "partial"
            started = self._clock()
            self.busy = True
            try:
                text = await loop.run_in_executor(self._executor, self._transcribe, job.audio)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("transcribing a %s caption failed", kind, extra={"stream": job.stream})
                text = ""
            finally:
                self.busy = False
            metrics.CAPTION_TRANSCRIBE_SECONDS.labels(kind).observe(self._clock() - started)
            if job.final:
                self.counts.finals += 1
                delay = self._clock() - job.queued_at
                self.counts.final_delays.append(delay)
                metrics.CAPTION_FINAL_DELAY_SECONDS.observe(delay)
            else:
                self.counts.partials += 1
            try:
                job.deliver(text)
            except Exception:
                log.exception("delivering a %s caption failed", kind, extra={"stream": job.stream})

    async def finish(self) -> None:
        """Return once every final line handed in so far is transcribed and delivered."""
        while self.waiting_finals or self.busy:  # noqa: ASYNC110 - polled only at shutdown
            await asyncio.sleep(0.05)

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
