"""A fixed spoken test set for captions, made on the spot with espeak-ng (Debian's
`espeak-ng`; `make install` installs it when missing): meeting sentences in several
voices, the word error rate to score a transcript, and the audio as a browser would send
it (Opus in RTP, 20 ms packets). The tests and bench/captions use it; nothing here runs
in a caption worker."""

import re
import shutil
import struct
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction

import av
import numpy as np

from transcription.captions.audio import SAMPLE_RATE

# Made-up meeting sentences: plain words a meeting says, a few names and numbers spelt out.
SENTENCES: tuple[str, ...] = (
    "The quarterly budget review is scheduled for next Tuesday afternoon.",
    "Please send the updated slides to the whole team before the meeting.",
    "We agreed to ship the new release after the migration tests pass.",
    "Can everyone hear me clearly or should I move closer to the microphone?",
    "Our customers asked for better search and faster page loads.",
    "Let us move the design workshop to the second week of March.",
    "The support team answered most tickets within two hours last month.",
    "I will share the meeting notes and the action items this evening.",
)
# espeak-ng voices: an American and a British man, a British and an American woman. (Its
# Scottish and Caribbean voices come out at 20-40 % WER with tiny.en: too far from speech.)
VOICES: tuple[str, ...] = ("en-us", "en-gb+f3", "en-us+f2", "en-gb+m2")
WORDS_PER_MINUTE = 150


class SpeechSetUnavailable(RuntimeError):
    """espeak-ng is not installed."""


@dataclass(frozen=True)
class Talk:
    """One voice saying some sentences with pauses between them: 16 kHz mono 16-bit PCM."""

    voice: str
    sentences: tuple[str, ...]
    pcm: bytes

    @property
    def seconds(self) -> float:
        return len(self.pcm) / (2 * SAMPLE_RATE)

    @property
    def reference(self) -> str:
        return " ".join(self.sentences)


def espeak() -> str:
    found = shutil.which("espeak-ng")
    if found is None:
        raise SpeechSetUnavailable("espeak-ng is not installed (Debian: apt-get install espeak-ng; make install does)")
    return found


def synthesize(text: str, voice: str, *, words_per_minute: int = WORDS_PER_MINUTE) -> bytes:
    """`text` spoken by espeak-ng `voice`, as 16 kHz mono 16-bit PCM."""
    wav = subprocess.run(
        [espeak(), "-v", voice, "-s", str(words_per_minute), "--stdout", text],
        capture_output=True,
        check=True,
        timeout=30,
    ).stdout
    return _resample_wav(wav)


def _resample_wav(wav: bytes) -> bytes:
    # espeak-ng writes a WAV header whose sizes say "unknown" when it writes to a pipe: read it by hand.
    if wav[:4] != b"RIFF" or wav[8:12] != b"WAVE":
        raise ValueError("espeak-ng did not write a WAV file")
    offset, rate, data = 12, 22050, b""
    while offset + 8 <= len(wav):
        chunk, size = wav[offset : offset + 4], struct.unpack_from("<I", wav, offset + 4)[0]
        if chunk == b"fmt ":
            rate = struct.unpack_from("<I", wav, offset + 12)[0]
        if chunk == b"data":
            data = wav[offset + 8 :]
            break
        offset += 8 + size
    samples = np.frombuffer(data[: len(data) - len(data) % 2], dtype=np.int16)
    return resample(samples, rate, SAMPLE_RATE).tobytes()


def resample(
    samples: "np.ndarray[tuple[int], np.dtype[np.int16]]", rate: int, to_rate: int
) -> "np.ndarray[tuple[int], np.dtype[np.int16]]":
    """Mono 16-bit samples from `rate` to `to_rate` (linear interpolation: good enough for speech)."""
    if rate == to_rate or len(samples) == 0:
        return samples
    count = round(len(samples) * to_rate / rate)
    positions = np.linspace(0, len(samples) - 1, count)
    return np.interp(positions, np.arange(len(samples)), samples.astype(np.float64)).astype(np.int16)


def silence(seconds: float) -> bytes:
    return bytes(int(seconds * SAMPLE_RATE) * 2)


def talk(voice: str, sentences: Sequence[str], *, pause: float = 1.0) -> Talk:
    """`voice` saying `sentences`, each followed by `pause` seconds of silence (one before the first)."""
    parts = [silence(0.5)]
    for sentence in sentences:
        parts += [synthesize(sentence, voice), silence(pause)]
    return Talk(voice=voice, sentences=tuple(sentences), pcm=b"".join(parts))


def spoken_set(sentences_per_voice: int = 2) -> list[Talk]:
    """The fixed set: each voice says its own share of SENTENCES (the voices take turns at them)."""
    talks = []
    for index, voice in enumerate(VOICES):
        chosen = [SENTENCES[(index * sentences_per_voice + k) % len(SENTENCES)] for k in range(sentences_per_voice)]
        talks.append(talk(voice, chosen))
    return talks


# --- scoring ---

_WORD = re.compile(r"[a-z0-9']+")


def words(text: str) -> list[str]:
    """Lower-case words, punctuation dropped (how captions are scored)."""
    return _WORD.findall(text.lower().replace("-", " "))


def word_error_rate(reference: str, hypothesis: str) -> float:
    """(substitutions + deletions + insertions) / reference words, by edit distance over words."""
    ref, hyp = words(reference), words(hypothesis)
    if not ref:
        return 0.0 if not hyp else 1.0
    previous = list(range(len(hyp) + 1))
    for i, ref_word in enumerate(ref, start=1):
        current = [i] + [0] * len(hyp)
        for j, hyp_word in enumerate(hyp, start=1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ref_word != hyp_word))
        previous = current
    return previous[-1] / len(ref)


# --- as a browser sends it ---


def opus_frames(pcm: bytes) -> list[bytes]:
    """16 kHz mono PCM as 20 ms Opus frames (48 kHz stereo, as a browser's microphone)."""
    codec = av.CodecContext.create("libopus", "w")
    codec.sample_rate = 48000  # type: ignore[attr-defined]
    codec.layout = "stereo"  # type: ignore[attr-defined]
    codec.format = "s16"  # type: ignore[attr-defined]
    codec.time_base = Fraction(1, 48000)
    codec.bit_rate = 32000
    samples = resample(np.frombuffer(pcm, dtype=np.int16), SAMPLE_RATE, 48000)
    samples = np.concatenate([samples, np.zeros((-len(samples)) % 960, dtype=np.int16)])
    frames: list[bytes] = []
    for index in range(len(samples) // 960):
        frame = av.AudioFrame(format="s16", layout="stereo", samples=960)
        frame.sample_rate = 48000
        frame.pts = index * 960
        frame.time_base = codec.time_base
        chunk = samples[index * 960 : (index + 1) * 960]
        frame.planes[0].update(np.repeat(chunk, 2).tobytes())
        frames.extend(bytes(packet) for packet in codec.encode(frame))  # type: ignore[attr-defined]
    frames.extend(bytes(packet) for packet in codec.encode(None))  # type: ignore[attr-defined]
    return frames


def rtp_packets(
    frames: Sequence[bytes], *, payload_type: int = 100, ssrc: int = 0x1234, first: int = 1
) -> Iterator[bytes]:
    """Opus frames as RTP packets, 20 ms (960 ticks of 48 kHz) apart."""
    for index, frame in enumerate(frames):
        header = struct.pack("!BBHII", 0x80, payload_type, (first + index) & 0xFFFF, (index * 960) & 0xFFFFFFFF, ssrc)
        yield header + frame
