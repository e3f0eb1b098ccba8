"""The transcription rules: what a valid transcript line is, who may have a summary,
how a long transcript is cut to fit a model's context, how transcript pages are cut.

No I/O here: the store persists, the handlers translate, the summarisers summarise.
"""

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from webinar_contracts import Forbidden, InvalidInput
from webinar_contracts.paging import check_limit
from webinar_contracts.plans import Plan
from webinar_contracts.transcription import SendTranscript
from webinar_contracts.validation import required_text

MAX_ID = 128
MAX_NAME = 100
MAX_MESSAGE = 5000
MAX_PAGE_LINES = 500
PAGE_TEXT_BUDGET = 256 * 1024
"""A transcript page stops before its names and messages pass this many bytes (UTF-8),
so a reply stays well under the bus's message size limit (1 MB by default)."""

# Control characters other than tab and newline have no place in spoken text.
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


@dataclass(frozen=True, kw_only=True)
class NewLine:
    tenant_id: str
    meeting_id: str
    user_name: str
    message: str
    # Live captions know who spoke (the producing peer's user and socket); a line sent over REST does not.
    user_id: str | None = None
    peer_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class SpokenLine:
    """A stored transcript line."""

    id: str
    meeting_id: str
    user_name: str
    message: str
    created_at: datetime


@dataclass(frozen=True, kw_only=True)
class StoredSummary:
    meeting_id: str
    summary: str
    source: str
    generated_at: datetime


class Summariser(Protocol):
    """Writes a meeting's summary from its lines in spoken order; `source` names the writer."""

    @property
    def source(self) -> str: ...

    async def summarise(self, lines: Sequence[SpokenLine]) -> str: ...


def to_millis(moment: datetime) -> datetime:
    """`moment` in UTC, cut to the millisecond, which is what MongoDB keeps."""
    moment = moment.astimezone(UTC)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def meeting_id_of(value: str) -> str:
    return required_text(value, "meetingId", MAX_ID)


def validate_line(request: SendTranscript, tenant_id: str) -> NewLine:
    """The line to store, or InvalidInput naming the first field at fault (seed order)."""
    meeting_id = meeting_id_of(request.meeting_id)
    user_name = required_text(request.user_name, "userName", MAX_NAME)
    message = request.message.strip()
    if not message:
        raise InvalidInput("message must not be empty", field="message")
    if len(message) > MAX_MESSAGE:
        raise InvalidInput(f"message must be at most {MAX_MESSAGE} characters", field="message")
    if CONTROL.search(message):
        raise InvalidInput("message must not contain control characters", field="message")
    return NewLine(tenant_id=tenant_id, meeting_id=meeting_id, user_name=user_name, message=message)


def require_professional(plan: Plan | None, feature: str) -> None:
    """Summaries are an AI feature of the Professional plan (seed, "Product Packages")."""
    if plan is not Plan.PROFESSIONAL:
        raise Forbidden(f"{feature} are part of the Professional plan; this tenant is on Essential")


def summary_event_id(tenant_id: str, meeting_id: str, summary: str) -> str:
    """The same summary of the same meeting is one fact, however often it is published."""
    digest = hashlib.sha256(summary.encode("utf-8")).hexdigest()[:16]
    return f"summary-generated:{tenant_id}:{meeting_id}:{digest}"


def page_limit(limit: int) -> int:
    return check_limit(limit, MAX_PAGE_LINES)


def speaker_lines(lines: Sequence[SpokenLine]) -> list[str]:
    """The transcript as `Speaker: words` lines, in spoken order: what a model reads."""
    return [f"{line.user_name}: {line.message}" for line in lines]


def split_for_context(lines: Sequence[str], max_chars: int) -> list[list[str]]:
    """Cut lines into consecutive chunks of at most `max_chars` characters (newlines
    counted), in order, none lost. A line longer than a whole chunk is cut at spaces
    (or anywhere, if it has none) into pieces that fit."""
    if max_chars < 1:
        raise ValueError("max_chars must be positive")
    chunks: list[list[str]] = []
    current: list[str] = []
    used = 0
    for line in lines:
        for piece in _pieces(line, max_chars):
            cost = len(piece) + (1 if current else 0)
            if current and used + cost > max_chars:
                chunks.append(current)
                current, used, cost = [], 0, len(piece)
            current.append(piece)
            used += cost
    if current:
        chunks.append(current)
    return chunks


def _pieces(line: str, max_chars: int) -> list[str]:
    pieces = []
    while len(line) > max_chars:
        cut = line.rfind(" ", 0, max_chars + 1)
        if cut <= 0:
            cut = max_chars
        pieces.append(line[:cut].rstrip())
        line = line[cut:].lstrip()
    if line:
        pieces.append(line)
    return pieces


def caption_line(
    *, tenant_id: str, meeting_id: str, name: str, text: str, user_id: str | None = None, peer_id: str | None = None
) -> NewLine | None:
    """The transcript line of a final caption, or None when nothing was said. A caption is
    what an engine heard, not what a client sent: it is cleaned rather than refused (control
    characters dropped, cut to the longest line), and an unnamed peer is "Speaker"."""
    message = " ".join(CONTROL.sub(" ", text).split())[:MAX_MESSAGE]
    if not message:
        return None
    user_name = " ".join(CONTROL.sub(" ", name).split())[:MAX_NAME] or "Speaker"
    return NewLine(
        tenant_id=tenant_id,
        meeting_id=meeting_id,
        user_name=user_name,
        message=message,
        user_id=user_id,
        peer_id=peer_id,
    )
