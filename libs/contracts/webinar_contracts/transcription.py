"""The transcription service's subjects, messages and events: transcript lines,
summaries and Azure Speech tokens. Wire names keep the seed's camelCase."""

from datetime import datetime

import msgspec

from webinar_contracts.bus import Empty, Endpoint, EventType


class SendTranscript(msgspec.Struct, kw_only=True):
    """POST /send-transcript: one spoken line of a meeting."""

    meeting_id: str = msgspec.field(name="meetingId")
    user_name: str = msgspec.field(name="userName")
    message: str


class TranscriptLine(msgspec.Struct, kw_only=True):
    """A stored line, as GET /view-transcript shows it (seed shape)."""

    id: str = msgspec.field(name="_id")
    meeting_id: str = msgspec.field(name="meetingId")
    user_name: str = msgspec.field(name="userName")
    message: str
    created_at: datetime = msgspec.field(name="createdAt")


class TranscriptSent(msgspec.Struct, kw_only=True):
    """201 of POST /send-transcript."""

    success: bool = True
    data: TranscriptLine


class TranscriptQuery(msgspec.Struct, kw_only=True, forbid_unknown_fields=False):
    """The query of GET /view-transcript/:meetingId: `limit` lines (1-500) after `cursor`
    (a previous page's `nextCursor`)."""

    limit: int = 500
    cursor: str | None = None


class ViewTranscript(msgspec.Struct, kw_only=True):
    """A page of a meeting's transcript, in spoken order."""

    meeting_id: str = msgspec.field(name="meetingId")
    limit: int = 500
    cursor: str | None = None


class Transcript(msgspec.Struct, kw_only=True, omit_defaults=True):
    """`{data: [...]}` in spoken order; `nextCursor` when more lines follow."""

    data: list[TranscriptLine]
    next_cursor: str | None = msgspec.field(name="nextCursor", default=None)


class MeetingRef(msgspec.Struct, kw_only=True):
    """A request naming one meeting (the path's `:meetingId`)."""

    meeting_id: str = msgspec.field(name="meetingId")


class GeneratedSummary(msgspec.Struct, kw_only=True):
    """200 of POST /transcription/generate-summary/:meetingId. `source` says what wrote
    it: `offline` (the built-in extractive summariser) or `openai:<model>`."""

    meeting_id: str = msgspec.field(name="meetingId")
    summary: str
    source: str
    generated_at: datetime = msgspec.field(name="generatedAt")


class Summary(msgspec.Struct, kw_only=True):
    """GET /meeting/:meetingId/summary (seed shape)."""

    summary: str


class SpeechToken(msgspec.Struct, kw_only=True):
    """GET /api/get-speech-token: a short-lived Azure Speech token and its region (seed shape)."""

    token: str
    region: str


class SummaryGenerated(msgspec.Struct, kw_only=True):
    """A meeting's summary exists now; the meetings service sets `summaryGenerated`.
    The tenant travels in the event's context."""

    meeting_id: str


SEND_TRANSCRIPT = Endpoint("transcription.transcripts.add", SendTranscript, TranscriptLine)
VIEW_TRANSCRIPT = Endpoint("transcription.transcripts.view", ViewTranscript, Transcript)
GENERATE_SUMMARY = Endpoint("transcription.summaries.generate", MeetingRef, GeneratedSummary)
GET_SUMMARY = Endpoint("transcription.summaries.get", MeetingRef, Summary)
SPEECH_TOKEN = Endpoint("transcription.speech-tokens.issue", Empty, SpeechToken)

SUMMARY_GENERATED = EventType("events.transcription.summary.generated", SummaryGenerated)
