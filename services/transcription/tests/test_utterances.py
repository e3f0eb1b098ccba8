"""Cutting a speaker's audio into utterances (no model: the speech test is an energy
threshold on synthetic frames, so each rule is seen exactly)."""

import numpy as np

from transcription.captions.utterances import (
    FRAME_BYTES,
    FRAME_SAMPLES,
    PartialDue,
    UtteranceCutter,
    UtteranceEnded,
    UtteranceStarted,
)


def loud(frames: int) -> bytes:
    return (np.ones(FRAME_SAMPLES * frames, dtype=np.int16) * 3000).tobytes()


def quiet(frames: int) -> bytes:
    return bytes(FRAME_BYTES * frames)


def cutter(**options: float) -> UtteranceCutter:
    return UtteranceCutter(is_speech=lambda frame: max(frame) > 0, **options)  # type: ignore[arg-type]


def test_speech_between_silences_is_one_utterance_starting_a_little_before_it() -> None:
    cuts = cutter(partial_every=10).feed(quiet(20) + loud(40) + quiet(30))
    started, ended = cuts
    assert isinstance(started, UtteranceStarted)
    assert isinstance(ended, UtteranceEnded)
    # It starts once 5 of 8 frames were speech, keeping 10 frames (300 ms) before that.
    assert started.start_sample == (20 + 5 - 10) * FRAME_SAMPLES
    assert ended.start_sample == started.start_sample
    assert not ended.cut
    # Its audio holds all the speech and a little of the silence after it.
    assert len(ended.audio) == (10 + 35 + 7) * FRAME_BYTES


def test_a_partial_is_due_each_second_while_speaking_with_the_utterance_so_far() -> None:
    cuts = cutter(partial_every=0.3).feed(quiet(10) + loud(40))
    partials = [cut for cut in cuts if isinstance(cut, PartialDue)]
    assert len(partials) >= 3
    assert [len(p.audio) for p in partials] == sorted(len(p.audio) for p in partials)


def test_a_short_pause_does_not_end_an_utterance_but_a_long_one_does() -> None:
    short = cutter(end_silence=0.6).feed(loud(20) + quiet(10) + loud(20))
    assert not any(isinstance(cut, UtteranceEnded) for cut in short)
    long = cutter(end_silence=0.6).feed(loud(20) + quiet(25))
    assert [type(cut) for cut in long if not isinstance(cut, PartialDue)] == [UtteranceStarted, UtteranceEnded]


def test_an_utterance_too_long_to_wait_for_is_cut_and_the_next_starts_at_once() -> None:
    cuts = [cut for cut in cutter(max_seconds=1.5).feed(loud(120)) if not isinstance(cut, PartialDue)]
    kinds = [type(cut).__name__ for cut in cuts]
    assert kinds[:4] == ["UtteranceStarted", "UtteranceEnded", "UtteranceStarted", "UtteranceEnded"]
    assert all(cut.cut for cut in cuts if isinstance(cut, UtteranceEnded))


def test_a_click_ends_with_no_audio_and_the_stream_end_flushes_what_is_spoken() -> None:
    click = cutter(min_speech=0.5).feed(loud(6) + quiet(30))
    assert [cut.audio for cut in click if isinstance(cut, UtteranceEnded)] == [b""]
    speaking = cutter()
    speaking.feed(loud(30))
    (ended,) = speaking.flush()
    assert isinstance(ended, UtteranceEnded)
    assert ended.audio
