"""Cutting one speaker's audio into utterances with voice activity detection
(webrtcvad-wheels, 30 ms frames): an utterance starts when most of the last few frames
are speech (with a little audio from before, so the first word is whole), and ends after
enough silence, or when it grows too long to wait for (then the next one starts at once).
While it is spoken, a partial is due every `partial_every` seconds of audio. No I/O and
no clock: time is counted in samples of the 16 kHz stream."""

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import webrtcvad

from transcription.captions.audio import BYTES_PER_SAMPLE, SAMPLE_RATE

FRAME_SAMPLES = SAMPLE_RATE * 30 // 1000
FRAME_BYTES = FRAME_SAMPLES * BYTES_PER_SAMPLE


@dataclass(frozen=True, slots=True)
class UtteranceStarted:
    number: int
    start_sample: int


@dataclass(frozen=True, slots=True)
class PartialDue:
    number: int
    audio: bytes  # the utterance so far


@dataclass(frozen=True, slots=True)
class UtteranceEnded:
    number: int
    start_sample: int
    audio: bytes
    cut: bool  # ended by its length, not by silence: the speaker goes on


Cut = UtteranceStarted | PartialDue | UtteranceEnded


def webrtc_vad(mode: int = 2) -> Callable[[bytes], bool]:
    """webrtcvad's speech test of one 30 ms frame (mode 0-3: higher drops more non-speech)."""
    vad = webrtcvad.Vad(mode)
    return lambda frame: bool(vad.is_speech(frame, SAMPLE_RATE))


class UtteranceCutter:
    def __init__(
        self,
        *,
        is_speech: Callable[[bytes], bool] | None = None,
        start_window: int = 8,
        start_voiced: int = 5,
        end_silence: float = 0.6,
        preroll: float = 0.3,
        max_seconds: float = 15.0,
        min_speech: float = 0.25,
        partial_every: float = 1.0,
    ) -> None:
        self._is_speech = is_speech or webrtc_vad()
        self._start_voiced = start_voiced
        self._recent: deque[bool] = deque(maxlen=start_window)
        self._preroll: deque[bytes] = deque(maxlen=max(1, round(preroll * 1000 / 30)))
        self._end_frames = max(1, round(end_silence * 1000 / 30))
        self._max_frames = max(1, round(max_seconds * 1000 / 30))
        self._min_voiced = max(1, round(min_speech * 1000 / 30))
        self._partial_frames = max(1, round(partial_every * 1000 / 30))
        self._pending = b""
        self._frames_seen = 0
        self._number = 0
        # The utterance being spoken, if any.
        self._audio: list[bytes] | None = None
        self._start_sample = 0
        self._voiced = 0
        self._silent_run = 0
        self._since_partial = 0

    @property
    def speaking(self) -> bool:
        return self._audio is not None

    @property
    def samples_seen(self) -> int:
        return self._frames_seen * FRAME_SAMPLES

    def feed(self, pcm: bytes) -> list[Cut]:
        """Take more of the stream (16 kHz mono 16-bit); what it started, made due or ended."""
        data = self._pending + pcm
        whole = len(data) - len(data) % FRAME_BYTES
        self._pending = data[whole:]
        cuts: list[Cut] = []
        for offset in range(0, whole, FRAME_BYTES):
            self._frame(data[offset : offset + FRAME_BYTES], cuts)
        return cuts

    def flush(self) -> list[Cut]:
        """The stream ended: the utterance being spoken ends now."""
        cuts: list[Cut] = []
        if self._audio is not None:
            self._end(cuts, cut=False)
        return cuts

    def _frame(self, frame: bytes, cuts: list[Cut]) -> None:
        speech = self._is_speech(frame)
        self._frames_seen += 1
        if self._audio is None:
            self._recent.append(speech)
            self._preroll.append(frame)
            if sum(self._recent) >= self._start_voiced:
                self._begin(cuts, list(self._preroll))
            return
        self._audio.append(frame)
        self._voiced += speech
        self._silent_run = 0 if speech else self._silent_run + 1
        self._since_partial += 1
        if self._silent_run >= self._end_frames:
            # Keep a little of the silence: Whisper hears the last word end.
            keep = len(self._audio) - self._silent_run + min(self._silent_run, 7)
            del self._audio[keep:]
            self._end(cuts, cut=False)
        elif len(self._audio) >= self._max_frames:
            self._end(cuts, cut=True)
            self._begin(cuts, [])
        elif self._since_partial >= self._partial_frames:
            self._since_partial = 0
            cuts.append(PartialDue(self._number, b"".join(self._audio)))

    def _begin(self, cuts: list[Cut], frames: list[bytes]) -> None:
        self._number += 1
        self._audio = frames
        self._start_sample = (self._frames_seen - len(frames)) * FRAME_SAMPLES
        self._voiced = len(frames)
        self._silent_run = 0
        self._since_partial = len(frames)
        self._recent.clear()
        self._preroll.clear()
        cuts.append(UtteranceStarted(self._number, self._start_sample))

    def _end(self, cuts: list[Cut], *, cut: bool) -> None:
        audio, self._audio = self._audio or [], None
        # Too little speech (a cough, a click): it ends with no words.
        spoken = b"".join(audio) if self._voiced >= self._min_voiced else b""
        cuts.append(UtteranceEnded(self._number, self._start_sample, spoken, cut))
