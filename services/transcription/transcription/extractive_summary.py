"""The offline summariser: the meeting's most central sentences, in its own words.

Sentences are split by nupunkt (it ships its model; sumy's own tokenizer would need
NLTK data downloaded at run time), ranked by sumy's LexRank, and picked best first,
skipping a near-duplicate of one already picked (mostly the same words in the same
order, or nearly the same content words in any order), until a sentence count or a
character budget is reached. The picks are shown in spoken order
as `Speaker: sentence` lines. Long transcripts are ranked window by window and the
windows' picks ranked again, so the work stays bounded whatever the meeting's length.
CPU-bound: call `summarise` (which runs in a thread), not `summarise_now`, from the loop.
"""

import asyncio
import difflib
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy
import nupunkt
from sumy.models.dom import ObjectDocumentModel, Paragraph, Sentence
from sumy.nlp.stemmers import Stemmer
from sumy.summarizers.lex_rank import LexRankSummarizer
from sumy.utils import get_stop_words

from transcription.domain import SpokenLine

LANGUAGE = "english"
WORD = re.compile(r"[^\W_]+(?:['\u2019][^\W_]+)*")  # words, with inner apostrophes (don't, I'll)
ELLIPSIS = "…"


@dataclass(frozen=True)
class Candidate:
    """One sentence of the transcript that may be picked."""

    order: int
    speaker: str
    text: str
    words: tuple[str, ...]  # lower-cased, in order
    terms: frozenset[str]  # stemmed content words

    def rendered(self) -> str:
        return f"{self.speaker}: {self.text}"


class _SentenceWords:
    """The tokenizer interface sumy asks for; sentences are already split by nupunkt."""

    language = LANGUAGE

    def to_sentences(self, paragraph: str) -> list[str]:
        return split_sentences(paragraph)

    def to_words(self, sentence: str) -> list[str]:
        return WORD.findall(sentence)


def split_sentences(text: str) -> list[str]:
    sentences: list[str] = nupunkt.sent_tokenize(text)  # type: ignore[assignment]
    return [sentence.strip() for sentence in sentences if sentence.strip()]


def jaccard(first: frozenset[str], second: frozenset[str]) -> float:
    if not first and not second:
        return 1.0
    return len(first & second) / len(first | second)


def word_order_similarity(first: Sequence[str], second: Sequence[str]) -> float:
    """How much of two word sequences matches in order: 1.0 for the same words."""
    return difflib.SequenceMatcher(None, first, second, autojunk=False).ratio()


class ExtractiveSummariser:
    """Summaries made here, with no network: `source` is `offline`."""

    source = "offline"

    def __init__(
        self,
        *,
        max_sentences: int = 6,
        max_chars: int = 1200,
        window: int = 150,
        duplicate_similarity: float = 0.75,
        min_terms: int = 3,
        share: float = 1 / 3,
    ) -> None:
        if max_sentences < 1 or max_chars < 20:
            raise ValueError("a summary needs at least one sentence and 20 characters")
        if window <= max_sentences:
            raise ValueError("the ranking window must hold more sentences than a summary")
        self.max_sentences = max_sentences
        self.max_chars = max_chars
        self.window = window
        self.duplicate_similarity = duplicate_similarity
        self.min_terms = min_terms
        self.share = share
        self._words = _SentenceWords()
        self._stemmer = Stemmer(LANGUAGE)
        self._stop_words = frozenset(word.lower() for word in get_stop_words(LANGUAGE))

    def warm_up(self) -> None:
        """Load the sentence model now rather than on the first summary."""
        split_sentences("Loaded. Ready.")

    async def summarise(self, lines: Sequence[SpokenLine]) -> str:
        return await asyncio.to_thread(self.summarise_now, [(line.user_name, line.message) for line in lines])

    def summarise_now(self, lines: Sequence[tuple[str, str]]) -> str:
        """The summary of `(speaker, words)` lines in spoken order; empty for no words."""
        candidates = self.candidates(lines)
        if not candidates:
            return ""
        # A summary as long as the meeting is no summary: at most a share of what was said.
        limit = min(self.max_sentences, max(1, math.ceil(len(candidates) * self.share)))
        picked = self._pick(candidates, limit)
        if not picked:
            # Every sentence is longer than the whole budget: cut the most central one.
            [best] = self._rank_and_pick(candidates[: self.window], limit=1, budget=None)
            return _cut(best.rendered(), self.max_chars)
        return "\n".join(candidate.rendered() for candidate in picked)

    def candidates(self, lines: Sequence[tuple[str, str]]) -> list[Candidate]:
        """The sentences worth ranking: fillers ("Okay.", "Yes, thanks.") are left out
        unless nothing else was said."""
        every: list[Candidate] = []
        for speaker, words in lines:
            for text in split_sentences(words):
                lowered = tuple(word.lower() for word in WORD.findall(text))
                every.append(
                    Candidate(order=len(every), speaker=speaker, text=text, words=lowered, terms=self._terms(lowered))
                )
        worth = [candidate for candidate in every if len(candidate.terms) >= self.min_terms]
        if not worth:
            worth = [candidate for candidate in every if candidate.terms] or every
        return _renumbered(worth)

    def _terms(self, words: Sequence[str]) -> frozenset[str]:
        return frozenset(self._stemmer(word) for word in words if word not in self._stop_words)

    def near_duplicates(self, first: Candidate, second: Candidate) -> bool:
        return word_order_similarity(first.words, second.words) >= self.duplicate_similarity or jaccard(
            first.terms, second.terms
        ) >= max(self.duplicate_similarity, 0.85)

    def _pick(self, candidates: list[Candidate], limit: int) -> list[Candidate]:
        while len(candidates) > self.window:
            winners: list[Candidate] = []
            for start in range(0, len(candidates), self.window):
                winners.extend(
                    self._rank_and_pick(
                        candidates[start : start + self.window], limit=self.max_sentences, budget=self.max_chars
                    )
                )
            candidates = _renumbered(winners)
        return self._rank_and_pick(candidates, limit=limit, budget=self.max_chars)

    def _rank_and_pick(self, candidates: list[Candidate], *, limit: int, budget: int | None) -> list[Candidate]:
        """The best `limit` candidates by LexRank, no two near-duplicates, within `budget`
        characters (None: any length), in spoken order."""
        if not candidates:
            return []
        if sum(1 for candidate in candidates if candidate.terms) < 2:
            # LexRank has nothing to compare: keep the spoken order.
            ranked_orders: list[int] = list(range(len(candidates)))
            return [candidates[order] for order in self._select(candidates, ranked_orders, limit, budget)]
        document = ObjectDocumentModel([Paragraph([Sentence(candidate.text, self._words) for candidate in candidates])])
        ranker = LexRankSummarizer(self._stemmer)
        ranker.stop_words = self._stop_words
        chosen: list[int] = []

        def select(infos: list[Any]) -> list[Any]:
            # sumy takes a count or, as here, a callable given the sentences best first;
            # what it returns sumy puts back in document order.
            ranked = [info.order for info in infos]
            if any(math.isnan(info.rating) for info in infos):
                # Too few distinct words for LexRank to tell sentences apart: keep the spoken order.
                ranked = sorted(ranked)
            chosen.extend(self._select(candidates, ranked, limit, budget))
            return [info for info in infos if info.order in chosen]

        with numpy.errstate(invalid="ignore", divide="ignore"):  # a degenerate graph ranks as NaN, handled above
            ranker(document, select)
        return [candidates[order] for order in sorted(chosen)]

    def _select(self, candidates: list[Candidate], ranked: list[int], limit: int, budget: int | None) -> list[int]:
        picked: list[int] = []
        used = 0
        for order in ranked:
            if len(picked) == limit:
                break
            candidate = candidates[order]
            if any(self.near_duplicates(candidate, candidates[other]) for other in picked):
                continue
            cost = len(candidate.rendered()) + (1 if picked else 0)
            if budget is not None and used + cost > budget:
                continue
            picked.append(order)
            used += cost
        return picked


def _renumbered(candidates: Sequence[Candidate]) -> list[Candidate]:
    return [
        Candidate(order=number, speaker=c.speaker, text=c.text, words=c.words, terms=c.terms)
        for number, c in enumerate(candidates)
    ]


def _cut(text: str, max_chars: int) -> str:
    if len(text) <= max_chars:
        return text
    cut = text.rfind(" ", 0, max_chars)
    return text[: cut if cut > 0 else max_chars - 1].rstrip() + ELLIPSIS
