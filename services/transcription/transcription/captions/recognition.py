"""One speaker's audio to caption lines: the offline path (utterances cut by VAD, each
transcribed by the worker's shared Whisper scheduler) and the Azure path (the audio pushed
to Azure Speech, which cuts and transcribes by itself). Either hands each line to
`on_caption(number, text, final, started_at)`; `number` names the utterance within the
stream, `started_at` is when it began (seconds since the epoch)."""

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Protocol

from transcription.captions.audio import BYTES_PER_SAMPLE, SAMPLE_RATE
from transcription.captions.scheduler import CaptionScheduler, MeetingKey
from transcription.captions.utterances import PartialDue, UtteranceCutter, UtteranceEnded, UtteranceStarted

log = logging.getLogger("transcription.captions")

OnCaption = Callable[[int, str, bool, float], None]


class Recognition(Protocol):
    def feed(self, pcm: bytes, now: float) -> None:
        """More of the stream (16 kHz mono 16-bit PCM), received at wall time `now`."""
        ...

    async def close(self) -> None:
        """The stream ends: what is being said becomes a final line."""
        ...


class WhisperRecognition:
    def __init__(
        self,
        *,
        stream: str,
        meeting: MeetingKey,
        scheduler: CaptionScheduler,
        on_caption: OnCaption,
        partial_every: float = 1.0,
        cutter: UtteranceCutter | None = None,
    ) -> None:
        self._stream = stream
        self._meeting = meeting
        self._scheduler = scheduler
        self._on_caption = on_caption
        self._cutter = cutter or UtteranceCutter(partial_every=partial_every)
        self._samples = 0
        self._now = time.time()
        self._started_at: dict[int, float] = {}
        self._finished: set[int] = set()

    def _wall_time(self, sample: int) -> float:
        return self._now - (self._samples - sample) / SAMPLE_RATE

    def feed(self, pcm: bytes, now: float) -> None:
        self._samples += len(pcm) // BYTES_PER_SAMPLE
        self._now = now
        self._handle(self._cutter.feed(pcm))

    async def close(self) -> None:
        self._handle(self._cutter.flush())
        self._scheduler.forget_stream(self._stream)

    def _handle(self, cuts: list[UtteranceStarted | PartialDue | UtteranceEnded]) -> None:
        for cut in cuts:
            if isinstance(cut, UtteranceStarted):
                self._started_at[cut.number] = self._wall_time(cut.start_sample)
                self._scheduler.speaker_started(self._stream, self._meeting)
            elif isinstance(cut, PartialDue):
                self._scheduler.want_partial(
                    self._stream, self._meeting, cut.number, cut.audio, self._deliver(cut.number, final=False)
                )
            elif cut.audio:
                self._scheduler.add_final(
                    self._stream, self._meeting, cut.number, cut.audio, self._deliver(cut.number, final=True)
                )
            else:
                self._deliver(cut.number, final=True)("")  # no words: a partial shown is taken back

    def _deliver(self, number: int, *, final: bool) -> Callable[[str], None]:
        def deliver(text: str) -> None:
            if number in self._finished:
                return  # a partial that came back after its final line
            if final:
                self._finished.add(number)
                started_at = self._started_at.pop(number, self._now)
            else:
                started_at = self._started_at.get(number, self._now)
            self._on_caption(number, text, final, started_at)

        return deliver


class AzureRecognition:
    """Azure Speech continuous recognition over a push stream: its `recognizing` events are
    the partials (at most one per `partial_every`), its `recognized` events the final lines.
    The SDK calls back on its own threads; `post` brings each call onto the event loop."""

    def __init__(
        self,
        *,
        key: str,
        region: str,
        endpoint: str = "",
        language: str = "en-US",
        on_caption: OnCaption,
        post: Callable[[Callable[[], None]], object],
        partial_every: float = 1.0,
    ) -> None:
        import azure.cognitiveservices.speech as speechsdk

        if endpoint:
            config = speechsdk.SpeechConfig(subscription=key, endpoint=endpoint)
        else:
            config = speechsdk.SpeechConfig(subscription=key, region=region)
        config.speech_recognition_language = language
        audio_format = speechsdk.audio.AudioStreamFormat(
            samples_per_second=SAMPLE_RATE, bits_per_sample=8 * BYTES_PER_SAMPLE, channels=1
        )
        self._push = speechsdk.audio.PushAudioInputStream(stream_format=audio_format)
        self._recognizer = speechsdk.SpeechRecognizer(
            speech_config=config, audio_config=speechsdk.audio.AudioConfig(stream=self._push)
        )
        self._reason_recognized = speechsdk.ResultReason.RecognizedSpeech
        self._on_caption = on_caption
        self._post = post
        self._partial_every = partial_every
        self._first_audio_at: float | None = None
        self._number = 1
        self._last_partial = 0.0
        self._recognizer.recognizing.connect(self._recognizing)
        self._recognizer.recognized.connect(self._recognized)
        self._recognizer.canceled.connect(self._canceled)
        self._recognizer.start_continuous_recognition_async()
        self._closed = False

    def _started_at(self, offset_ticks: int) -> float:
        # Offsets count 100 ns ticks of audio from the first byte pushed.
        return (self._first_audio_at or time.time()) + offset_ticks / 10_000_000

    def feed(self, pcm: bytes, now: float) -> None:
        if self._closed or not pcm:
            return
        if self._first_audio_at is None:
            self._first_audio_at = now - len(pcm) / (SAMPLE_RATE * BYTES_PER_SAMPLE)
        self._push.write(pcm)

    def _recognizing(self, event: object) -> None:
        result = event.result  # type: ignore[attr-defined]
        now = time.monotonic()
        if now - self._last_partial < self._partial_every or not result.text:
            return
        self._last_partial = now
        number, text, started_at = self._number, result.text, self._started_at(result.offset)
        self._post(lambda: self._on_caption(number, text, False, started_at))

    def _recognized(self, event: object) -> None:
        result = event.result  # type: ignore[attr-defined]
        if result.reason != self._reason_recognized:
            return
        number, text, started_at = self._number, result.text, self._started_at(result.offset)
        self._number += 1
        self._last_partial = 0.0
        self._post(lambda: self._on_caption(number, text, True, started_at))

    def _canceled(self, event: object) -> None:
        details = getattr(event, "cancellation_details", None) or getattr(event, "result", None)
        log.warning("Azure Speech cancelled a caption stream: %s", details)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._push.close()
        try:  # the SDK waits for the last result: off the loop
            await asyncio.to_thread(lambda: self._recognizer.stop_continuous_recognition_async().get())
        except Exception:
            log.exception("stopping Azure Speech recognition failed")
        # Its native threads call back into these until they are disconnected.
        for signal in (self._recognizer.recognizing, self._recognizer.recognized, self._recognizer.canceled):
            signal.disconnect_all()
