"""Summaries from an OpenAI-compatible chat API (OpenAI, or a local server speaking its
protocol) through the `openai` package.

A transcript longer than the model's context is cut into parts at line boundaries;
each part is summarised, then the parts' summaries are combined (in rounds, if even
they do not fit together), so any length fits any context.
"""

import asyncio
import logging
from collections.abc import Sequence

import openai

from transcription.domain import SpokenLine, speaker_lines, split_for_context
from webinar_contracts import Unavailable

log = logging.getLogger("transcription.summary")

CHARS_PER_TOKEN = 3  # English runs near 4; 3 leaves room for names, numbers and other scripts
PROMPT_TOKENS = 400  # the instructions and the chat framing around the transcript
MAX_ROUNDS = 8

WHOLE = (
    "You summarise meeting transcripts. Each line is `Speaker: words`. Write a short summary in plain "
    "prose (at most {words} words): what was discussed, what was decided, who will do what and by when, "
    "and open questions. Use only what the transcript says; do not invent names, dates or numbers."
)
PART = (
    "You summarise part {part} of {parts} of a meeting transcript. Each line is `Speaker: words`. "
    "Write the decisions, action items (who, what, by when), facts and open questions of this part as "
    "short notes (at most {words} words). Use only what this part says."
)
COMBINE = (
    "These are notes on consecutive parts of one meeting, in order. Merge them into one short summary in "
    "plain prose (at most {words} words): what was discussed, decided, who will do what and by when, and "
    "open questions. Drop repetitions; use only what the notes say."
)


class ChatSummariser:
    """Summaries written by `model`; `source` is `openai:<model>`."""

    def __init__(
        self,
        client: openai.AsyncOpenAI,
        *,
        model: str,
        context_tokens: int,
        summary_tokens: int,
        parallel_requests: int = 3,
    ) -> None:
        self.client = client
        self.model = model
        self.summary_tokens = summary_tokens
        self.source = f"openai:{model}"
        self.chunk_chars = (context_tokens - summary_tokens - PROMPT_TOKENS) * CHARS_PER_TOKEN
        # Combining must make progress: a chunk has to hold at least two answers.
        if self.chunk_chars < 2 * summary_tokens * 4 + 2:
            raise ValueError("the context is too small for the summary length: raise the context or lower the summary")
        self._slots = asyncio.Semaphore(parallel_requests)

    async def summarise(self, lines: Sequence[SpokenLine]) -> str:
        chunks = split_for_context(speaker_lines(lines), self.chunk_chars)
        if len(chunks) == 1:
            return await self._ask(WHOLE.format(words=self._words()), chunks[0])
        log.info("summarising a long transcript in parts", extra={"parts": len(chunks)})
        notes = await asyncio.gather(
            *(
                self._ask(PART.format(part=number, parts=len(chunks), words=self._words()), chunk)
                for number, chunk in enumerate(chunks, start=1)
            )
        )
        return await self._combine(list(notes))

    async def _combine(self, notes: list[str]) -> str:
        for _ in range(MAX_ROUNDS):
            groups = split_for_context(notes, self.chunk_chars)
            merged = await asyncio.gather(*(self._ask(COMBINE.format(words=self._words()), group) for group in groups))
            if len(groups) == 1:
                return merged[0]
            notes = list(merged)
        raise Unavailable("the summary model's answers did not shrink enough to be combined")

    def _words(self) -> int:
        return max(50, self.summary_tokens * 3 // 4)

    async def _ask(self, instructions: str, lines: Sequence[str]) -> str:
        async with self._slots:
            try:
                completion = await self.client.chat.completions.create(
                    model=self.model,
                    messages=[
                        {"role": "system", "content": instructions},
                        {"role": "user", "content": "\n".join(lines)},
                    ],
                    max_tokens=self.summary_tokens,
                )
            except openai.APIStatusError as error:
                log.warning("summary model refused", extra={"status": error.status_code})
                raise Unavailable(f"the summary model answered HTTP {error.status_code}") from None
            except openai.APIError as error:
                log.warning("summary model unreachable: %s", error)
                raise Unavailable(f"the summary model did not answer: {type(error).__name__}") from None
        text = (completion.choices[0].message.content or "").strip() if completion.choices else ""
        if not text:
            raise Unavailable("the summary model answered with no text")
        return text
