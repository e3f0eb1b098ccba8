"""The transcription service's subjects, messages and events."""

import msgspec

from webinar_contracts.bus import EventType


class SummaryGenerated(msgspec.Struct, kw_only=True):
    """A meeting's summary exists now; the meetings service sets `summaryGenerated`.
    The tenant travels in the event's context."""

    meeting_id: str


SUMMARY_GENERATED = EventType("events.transcription.summary.generated", SummaryGenerated)
