"""The transcription service's subjects, messages and events: transcript lines, live
captions, summaries and Azure Speech tokens. Wire names keep the seed's camelCase."""

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


# -- live captions ------------------------------------------------------------------
#
# The media node offers each audio producer of its rooms to the caption workers (queue
# group of the transcription service). A worker that takes it finds the meeting that names
# the room with `transcriptEnabled` on, taps the producer (webinar_contracts.media
# NODE_START_TAP, leased), pushes `caption` events to the room and stores final lines as
# the meeting's transcript. When the tap ends while the producer lives (its worker went
# away), the node offers the producer again. When the room's meetings change
# (meetings' MEETING_UPDATED: `transcriptEnabled` turned, a meeting moved), the node offers
# its live audio producers again, and asks of each one captioned whether that may go on
# (CAPTION_CHECK). docs/captions.md tells the whole story.


class CaptionOffer(msgspec.Struct, kw_only=True):
    """One audio producer to caption: its room (the tenant and its plan are in the
    context), the node that holds the room, and the peer whose voice it is."""

    room_id: str
    node_id: str
    producer_id: str
    peer_id: str
    name: str
    user_id: str | None = None


class CaptionDecision(msgspec.Struct, kw_only=True, omit_defaults=True):
    """`captioned`: a worker taps the producer now (`tap_id`), for `meeting_id`. Otherwise
    `reason` says why not (no meeting with transcripts names the room, Essential plan);
    the node does not offer that producer again until the room's meetings change. As the
    answer of CAPTION_CHECK, `captioned` says whether the producer's captions may go on."""

    captioned: bool
    tap_id: str = ""
    meeting_id: str = ""
    worker: str = ""
    reason: str = ""


class CaptionCheck(msgspec.Struct, kw_only=True):
    """A producer captioned for `meeting_id` whose room's meetings changed: may its captions
    go on? Any caption worker answers (the tenant and its plan are in the context); nothing
    is tapped. When not, the node stops the producer's tap and offers it afresh."""

    room_id: str
    producer_id: str
    meeting_id: str


class Caption(msgspec.Struct, kw_only=True):
    """The `caption` event pushed to a room: what one peer said. Partial lines (`final`
    false) of an utterance come about once a second while it is spoken, each replacing the
    one before (same `utterance_id`); the final line ends it and is stored in the
    meeting's transcript. `timestamp`: when the utterance began, in ms since the epoch."""

    peer_id: str
    user_id: str | None
    name: str
    text: str
    final: bool
    timestamp: int
    utterance_id: str
    meeting_id: str
    producer_id: str


class CaptionsRefused(msgspec.Struct, kw_only=True):
    """The `captions:refused` event: the meeting has transcripts on, but no captions are
    given (`reason` says why, e.g. the tenant's plan)."""

    meeting_id: str
    peer_id: str
    reason: str


SEND_TRANSCRIPT = Endpoint("transcription.transcripts.add", SendTranscript, TranscriptLine)
VIEW_TRANSCRIPT = Endpoint("transcription.transcripts.view", ViewTranscript, Transcript)
GENERATE_SUMMARY = Endpoint("transcription.summaries.generate", MeetingRef, GeneratedSummary)
GET_SUMMARY = Endpoint("transcription.summaries.get", MeetingRef, Summary)
SPEECH_TOKEN = Endpoint("transcription.speech-tokens.issue", Empty, SpeechToken)
CAPTION_PRODUCER = Endpoint("transcription.captions.offer", CaptionOffer, CaptionDecision)
CAPTION_CHECK = Endpoint("transcription.captions.check", CaptionCheck, CaptionDecision)

SUMMARY_GENERATED = EventType("events.transcription.summary.generated", SummaryGenerated)
