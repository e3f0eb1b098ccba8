"""Bus subjects of the transcription service -> domain rules, the store, the summariser,
the meeting directory and the speech token issuer."""

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from transcription.domain import (
    SpokenLine,
    Summariser,
    meeting_id_of,
    page_limit,
    require_professional,
    summary_event_id,
    validate_line,
)
from transcription.meeting_directory import MeetingDirectory
from transcription.speech_tokens import SpeechTokenIssuer
from transcription.store import TranscriptStore
from webinar_contracts import Empty, NotFound, RequestContext, Unavailable
from webinar_contracts.paging import PagePosition, decode_cursor, encode_cursor
from webinar_contracts.transcription import (
    SUMMARY_GENERATED,
    GeneratedSummary,
    MeetingRef,
    SendTranscript,
    SpeechToken,
    Summary,
    SummaryGenerated,
    Transcript,
    TranscriptLine,
    ViewTranscript,
)
from webinar_runtime.bus import Bus

log = logging.getLogger("transcription")


def _utc_now() -> datetime:
    return datetime.now(UTC)


def line_view(line: SpokenLine) -> TranscriptLine:
    return TranscriptLine(
        id=line.id,
        meeting_id=line.meeting_id,
        user_name=line.user_name,
        message=line.message,
        created_at=line.created_at,
    )


@dataclass
class TranscriptionHandlers:
    store: TranscriptStore
    meetings: MeetingDirectory
    summariser: Summariser
    speech: SpeechTokenIssuer
    bus: Bus
    summary_deadline: float = 150.0
    clock: Callable[[], datetime] = field(default=_utc_now)

    async def send_transcript(self, request: SendTranscript, context: RequestContext) -> TranscriptLine:
        tenant_id = context.require_tenant()
        new = validate_line(request, tenant_id)
        await self.meetings.require(new.meeting_id, context)
        return line_view(await self.store.add_line(new, self.clock()))

    async def view_transcript(self, request: ViewTranscript, context: RequestContext) -> Transcript:
        tenant_id = context.require_tenant()
        meeting_id = meeting_id_of(request.meeting_id)
        limit = page_limit(request.limit)
        after = decode_cursor(request.cursor) if request.cursor else None
        lines, more = await self.store.page(tenant_id, meeting_id, limit=limit, after=after)
        if not lines and after is None:
            # Lines are only stored for a meeting that exists; with none, ask whether it does.
            await self.meetings.require(meeting_id, context)
        next_cursor = encode_cursor(PagePosition(lines[-1].created_at, lines[-1].id)) if more and lines else None
        return Transcript(data=[line_view(line) for line in lines], next_cursor=next_cursor)

    async def generate_summary(self, request: MeetingRef, context: RequestContext) -> GeneratedSummary:
        tenant_id = context.require_tenant()
        require_professional(context.plan, "transcript summaries")
        meeting_id = meeting_id_of(request.meeting_id)
        await self.meetings.require(meeting_id, context)
        lines = await self.store.transcript(tenant_id, meeting_id)
        if not lines:
            raise NotFound("this meeting has no transcript to summarise", field="meetingId")
        try:
            async with asyncio.timeout(self.summary_deadline):
                text = await self.summariser.summarise(lines)
        except TimeoutError:
            raise Unavailable(f"the summary took longer than {self.summary_deadline:g}s") from None
        if not text:
            raise NotFound("this meeting's transcript has nothing to summarise", field="meetingId")
        stored = await self.store.save_summary(
            tenant_id, meeting_id, summary=text, source=self.summariser.source, now=self.clock()
        )
        await self.bus.publish(
            SUMMARY_GENERATED,
            SummaryGenerated(meeting_id=meeting_id),
            context=context,
            event_id=summary_event_id(tenant_id, meeting_id, text),
        )
        log.info(
            "summary generated",
            extra={"tenant_id": tenant_id, "meeting_id": meeting_id, "source": stored.source, "lines": len(lines)},
        )
        return GeneratedSummary(
            meeting_id=meeting_id, summary=stored.summary, source=stored.source, generated_at=stored.generated_at
        )

    async def get_summary(self, request: MeetingRef, context: RequestContext) -> Summary:
        tenant_id = context.require_tenant()
        stored = await self.store.summary(tenant_id, meeting_id_of(request.meeting_id))
        if stored is None:
            raise NotFound("this meeting has no summary yet", field="meetingId")
        return Summary(summary=stored.summary)

    async def speech_token(self, request: Empty, context: RequestContext) -> SpeechToken:
        context.require_tenant()
        return await self.speech.issue()
