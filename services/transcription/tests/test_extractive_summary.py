"""The offline summariser on a real multi-speaker transcript: it quotes the meeting, keeps
to its bounds, and does not say the same thing twice. No network."""

import time

import pytest

from transcription.domain import SpokenLine
from transcription.extractive_summary import ExtractiveSummariser, split_sentences


def summary_lines(summary: str) -> list[tuple[str, str]]:
    return [tuple(line.split(": ", 1)) for line in summary.splitlines()]  # type: ignore[misc]


def said_by(transcript: list[tuple[str, str]], speaker: str, sentence: str) -> bool:
    return any(who == speaker and sentence in split_sentences(words) for who, words in transcript)


def test_every_summary_line_is_a_sentence_its_speaker_said(release_meeting):
    summary = ExtractiveSummariser().summarise_now(release_meeting)
    picked = summary_lines(summary)
    assert len(picked) == 6
    for speaker, sentence in picked:
        assert said_by(release_meeting, speaker, sentence), (speaker, sentence)


def test_summary_lines_keep_the_spoken_order(release_meeting):
    spoken = [(who, sentence) for who, words in release_meeting for sentence in split_sentences(words)]
    picked = summary_lines(ExtractiveSummariser(max_sentences=5).summarise_now(release_meeting))
    positions = [spoken.index(line) for line in picked]
    assert positions == sorted(positions)


def test_the_summary_keeps_the_decisions_and_leaves_out_fillers_and_chatter(release_meeting):
    summary = ExtractiveSummariser().summarise_now(release_meeting)
    assert "To sum up: Lena fixes the login timeout bug" in summary
    assert "ship version two to all customers next Friday" in summary
    for filler in ("Okay, can everyone hear me?", "Loud and clear.", "Bye", "coffee machine", "train was delayed"):
        assert filler not in summary


@pytest.mark.parametrize(("max_sentences", "max_chars"), [(1, 1200), (3, 1200), (6, 300), (8, 150), (20, 5000)])
def test_the_summary_respects_its_sentence_and_character_bounds(release_meeting, max_sentences, max_chars):
    summary = ExtractiveSummariser(max_sentences=max_sentences, max_chars=max_chars).summarise_now(release_meeting)
    assert summary
    assert len(summary) <= max_chars
    assert len(summary.splitlines()) <= max_sentences


def test_a_near_duplicate_of_a_picked_sentence_is_dropped(release_meeting, near_duplicates):
    without_dedup = ExtractiveSummariser(max_sentences=8, max_chars=5000, share=1, duplicate_similarity=1.01)
    assert all(sentence in without_dedup.summarise_now(release_meeting) for sentence in near_duplicates)
    summary = ExtractiveSummariser(max_sentences=8, max_chars=5000, share=1).summarise_now(release_meeting)
    assert [sentence in summary for sentence in near_duplicates].count(True) == 1
    assert len(summary.splitlines()) == 8  # the freed place went to another sentence


def test_a_caption_repeated_word_for_word_appears_once(release_meeting):
    repeated = "I will run the migration tests on the staging database on Thursday morning."
    transcript = [*release_meeting[:5], *[("Marco", repeated)] * 3, *release_meeting[5:]]
    summary = ExtractiveSummariser(max_sentences=10, max_chars=5000, share=1).summarise_now(transcript)
    assert summary.count("run the migration tests on the staging database") == 1


def test_a_short_meeting_gets_a_short_summary():
    transcript = [
        ("Ana", "The payment service migration finished last night without errors."),
        ("Chen", "I will switch the remaining customers to the new payment service on Monday."),
        ("Ben", "I still see slow database queries on the reporting page."),
    ]
    assert len(ExtractiveSummariser(max_sentences=6).summarise_now(transcript).splitlines()) == 1


def test_a_transcript_of_only_fillers_still_gets_a_summary_in_its_words():
    transcript = [("Ana", "Hello."), ("Ben", "Hi, can you hear me?"), ("Ana", "Yes."), ("Ben", "Okay, bye.")]
    picked = summary_lines(ExtractiveSummariser().summarise_now(transcript))
    assert picked
    assert all(said_by(transcript, speaker, sentence) for speaker, sentence in picked)


def test_one_sentence_longer_than_the_budget_is_cut_at_a_word_with_an_ellipsis():
    words = " ".join(f"item{number}" for number in range(200)) + "."
    summary = ExtractiveSummariser(max_chars=100).summarise_now([("Ana", words)])
    assert len(summary) <= 100
    assert summary.startswith("Ana: item0 item1")
    assert summary.endswith("…")
    assert summary[:-1].split()[-1].startswith("item")


def test_a_long_meeting_is_ranked_window_by_window_within_the_same_bounds(release_meeting):
    # Twelve rounds of the meeting, each with its own names, so no two rounds are duplicates.
    transcript = [
        (f"{speaker} {number}", words.replace("Thursday", f"day {number}"))
        for number in range(12)
        for speaker, words in release_meeting
    ]
    summariser = ExtractiveSummariser(max_sentences=6, max_chars=1200, window=60)
    started = time.perf_counter()
    summary = summariser.summarise_now(transcript)
    assert time.perf_counter() - started < 20
    picked = summary_lines(summary)
    assert 1 <= len(picked) <= 6
    assert len(summary) <= 1200
    assert all(said_by(transcript, speaker, sentence) for speaker, sentence in picked)


async def test_summarise_takes_stored_lines_and_runs_off_the_event_loop(release_meeting):
    from datetime import UTC, datetime

    lines = [
        SpokenLine(id=str(n), meeting_id="m", user_name=who, message=words, created_at=datetime.now(UTC))
        for n, (who, words) in enumerate(release_meeting)
    ]
    summariser = ExtractiveSummariser()
    assert await summariser.summarise(lines) == summariser.summarise_now(release_meeting)
