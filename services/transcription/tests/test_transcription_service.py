"""The transcription service's subjects on a real NATS (JetStream) and the MongoDB-compatible
server, wired as `python -m transcription` wires them (offline summariser), with a small
stand-in answering the meetings service's `meetings.meetings.get`."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import aiohttp
import pytest

from transcription.domain import PAGE_TEXT_BUDGET
from transcription.extractive_summary import ExtractiveSummariser
from transcription.handlers import TranscriptionHandlers
from transcription.meeting_directory import MeetingDirectory
from transcription.speech_tokens import SpeechTokenIssuer
from transcription.store import TranscriptStore
from webinar_contracts import Empty, Forbidden, InvalidInput, NotFound, RequestContext, Unavailable
from webinar_contracts import meetings as meetings_contract
from webinar_contracts import transcription as contract
from webinar_contracts.meetings import GetMeeting, MeetingInfo
from webinar_contracts.plans import Plan
from webinar_contracts.transcription import MeetingRef, SendTranscript, ViewTranscript
from webinar_runtime.bus import EVENT_STREAM, Bus, Event
from webinar_runtime.stores import connect_mongo


@dataclass
class MeetingsStandIn:
    """Answers GET_MEETING for the meetings it was told of, per tenant, and counts the asks."""

    known: set[tuple[str, str]] = field(default_factory=set)
    asked: list[str] = field(default_factory=list)

    def add(self, context: RequestContext) -> str:
        meeting_id = uuid.uuid4().hex[:24]
        self.known.add((context.tenant_id or "", meeting_id))
        return meeting_id

    async def get(self, request: GetMeeting, context: RequestContext) -> MeetingInfo:
        self.asked.append(request.meeting_id)
        if (context.tenant_id or "", request.meeting_id) not in self.known:
            raise NotFound("no such meeting", field="meetingId")
        return MeetingInfo(id=request.meeting_id, title="Release planning", host_id="h1")


async def close_bus(bus: Bus) -> None:
    await bus.stop_taking_work()
    await bus.finish_in_flight(2)
    await bus.close()


@pytest.fixture
async def meetings(private_nats_url) -> AsyncIterator[MeetingsStandIn]:
    stand_in = MeetingsStandIn()
    bus = await Bus.connect(private_nats_url, service="meetings", instance="stand-in", request_timeout=5)
    await bus.serve(meetings_contract.GET_MEETING, stand_in.get)
    yield stand_in
    await close_bus(bus)


@pytest.fixture
async def service(private_nats_url, mongo_url) -> AsyncIterator[Bus]:
    client = await connect_mongo(mongo_url, attempts=5)
    database = client[f"transcription_test_{uuid.uuid4().hex[:8]}"]
    store = TranscriptStore(database)
    await store.create_indexes()
    bus = await Bus.connect(private_nats_url, service="transcription", instance="test", request_timeout=5)
    await bus.ensure_event_stream()
    async with aiohttp.ClientSession() as http:
        handlers = TranscriptionHandlers(
            store=store,
            meetings=MeetingDirectory(bus, ttl=300),
            summariser=ExtractiveSummariser(),
            speech=SpeechTokenIssuer(http, key="", region=""),
            bus=bus,
        )
        await bus.serve(contract.SEND_TRANSCRIPT, handlers.send_transcript)
        await bus.serve(contract.VIEW_TRANSCRIPT, handlers.view_transcript)
        await bus.serve(contract.GENERATE_SUMMARY, handlers.generate_summary)
        await bus.serve(contract.GET_SUMMARY, handlers.get_summary)
        await bus.serve(contract.SPEECH_TOKEN, handlers.speech_token)
        yield bus
        await close_bus(bus)
    await client.drop_database(database.name)
    await client.close()


@pytest.fixture
def professional() -> RequestContext:
    return RequestContext(tenant_id=f"tenant-{uuid.uuid4().hex[:8]}", plan=Plan.PROFESSIONAL)


async def send_meeting(service: Bus, context: RequestContext, meeting_id: str, lines: list[tuple[str, str]]) -> None:
    for speaker, words in lines:
        line = SendTranscript(meeting_id=meeting_id, user_name=speaker, message=words)
        await service.request(contract.SEND_TRANSCRIPT, line, context=context)


async def stored_summary_events(bus: Bus) -> int:
    info = await bus.js.stream_info(EVENT_STREAM, subjects_filter=contract.SUMMARY_GENERATED.subject)
    return (info.state.subjects or {}).get(contract.SUMMARY_GENERATED.subject, 0)


async def test_a_line_for_a_known_meeting_is_stored_and_the_meeting_asked_about_once(service, meetings, professional):
    meeting_id = meetings.add(professional)
    first = await service.request(
        contract.SEND_TRANSCRIPT,
        SendTranscript(meeting_id=meeting_id, user_name="Priya", message=" Hello everyone. "),
        context=professional,
    )
    assert (first.meeting_id, first.user_name, first.message) == (meeting_id, "Priya", "Hello everyone.")
    assert len(first.id) == 24
    await send_meeting(service, professional, meeting_id, [("Marco", "Hi."), ("Lena", "Hello.")])
    assert meetings.asked == [meeting_id]


async def test_a_line_for_an_unknown_meeting_is_not_found_and_asked_again_next_time(service, meetings, professional):
    unknown = SendTranscript(meeting_id="f" * 24, user_name="Priya", message="Hello.")
    for _ in range(2):
        with pytest.raises(NotFound) as refused:
            await service.request(contract.SEND_TRANSCRIPT, unknown, context=professional)
        assert refused.value.field == "meetingId"
    assert meetings.asked == ["f" * 24, "f" * 24]


async def test_another_tenants_meeting_is_unknown(service, meetings, professional):
    meeting_id = meetings.add(professional)
    other = RequestContext(tenant_id="someone-else", plan=Plan.PROFESSIONAL)
    with pytest.raises(NotFound):
        await send_meeting(service, other, meeting_id, [("Eve", "Let me in.")])


async def test_an_empty_message_is_refused_before_asking_meetings(service, meetings, professional):
    with pytest.raises(InvalidInput) as refused:
        await send_meeting(service, professional, meetings.add(professional), [("Priya", "   ")])
    assert refused.value.field == "message"
    assert meetings.asked == []


async def test_without_the_meetings_service_a_line_is_unavailable_not_lost_silently(service, professional):
    with pytest.raises(Unavailable, match="meetings"):
        await send_meeting(service, professional, "a" * 24, [("Priya", "Hello.")])


async def test_the_transcript_comes_back_in_spoken_order_page_by_page(service, meetings, professional, release_meeting):
    meeting_id = meetings.add(professional)
    await send_meeting(service, professional, meeting_id, release_meeting)
    whole = await service.request(contract.VIEW_TRANSCRIPT, ViewTranscript(meeting_id=meeting_id), context=professional)
    assert [(line.user_name, line.message) for line in whole.data] == release_meeting
    assert whole.next_cursor is None
    paged: list[tuple[str, str]] = []
    cursor = None
    while True:
        query = ViewTranscript(meeting_id=meeting_id, limit=7, cursor=cursor)
        page = await service.request(contract.VIEW_TRANSCRIPT, query, context=professional)
        paged.extend((line.user_name, line.message) for line in page.data)
        cursor = page.next_cursor
        if cursor is None:
            break
    assert paged == release_meeting


async def test_viewing_a_meeting_without_lines_is_empty_and_an_unknown_one_not_found(service, meetings, professional):
    empty = await service.request(
        contract.VIEW_TRANSCRIPT, ViewTranscript(meeting_id=meetings.add(professional)), context=professional
    )
    assert empty.data == []
    with pytest.raises(NotFound):
        await service.request(contract.VIEW_TRANSCRIPT, ViewTranscript(meeting_id="0" * 24), context=professional)


async def test_a_summary_is_generated_in_the_meetings_words_stored_and_announced_once(
    service, meetings, professional, release_meeting, private_nats_url
):
    meeting_id = meetings.add(professional)
    await send_meeting(service, professional, meeting_id, release_meeting)
    announced: asyncio.Queue[Event[contract.SummaryGenerated]] = asyncio.Queue()

    async def on_summary(event: Event[contract.SummaryGenerated]) -> None:
        if event.payload.meeting_id == meeting_id:
            await announced.put(event)

    listener = await Bus.connect(private_nats_url, service="meetings", instance="listener", request_timeout=5)
    await listener.consume(f"test-summary-{uuid.uuid4().hex[:8]}", {contract.SUMMARY_GENERATED: on_summary})
    try:
        before = await stored_summary_events(service)
        meeting = MeetingRef(meeting_id=meeting_id)
        generated = await service.request(contract.GENERATE_SUMMARY, meeting, context=professional)
        again = await service.request(contract.GENERATE_SUMMARY, meeting, context=professional)
        event = await asyncio.wait_for(announced.get(), timeout=10)
        assert await stored_summary_events(service) == before + 1
    finally:
        await close_bus(listener)
    assert again.summary == generated.summary
    assert generated.source == "offline"
    assert generated.meeting_id == meeting_id
    assert "To sum up: Lena fixes the login timeout bug" in generated.summary
    spoken = "\n".join(f"{who}: {words}" for who, words in release_meeting)
    for line in generated.summary.splitlines():
        speaker, sentence = line.split(": ", 1)
        assert f"{speaker}: " in spoken
        assert sentence in spoken
    assert event.context.tenant_id == professional.tenant_id
    stored = await service.request(contract.GET_SUMMARY, MeetingRef(meeting_id=meeting_id), context=professional)
    assert stored.summary == generated.summary


async def test_an_essential_tenant_may_not_generate_a_summary(service, meetings):
    essential = RequestContext(tenant_id=f"tenant-{uuid.uuid4().hex[:8]}", plan=Plan.ESSENTIAL)
    meeting_id = meetings.add(essential)
    await send_meeting(service, essential, meeting_id, [("Ana", "We agreed to ship the new billing page on Monday.")])
    meetings.asked.clear()
    with pytest.raises(Forbidden, match="Professional plan"):
        await service.request(contract.GENERATE_SUMMARY, MeetingRef(meeting_id=meeting_id), context=essential)
    assert meetings.asked == []


async def test_a_summary_of_a_meeting_without_transcript_or_unknown_is_not_found(service, meetings, professional):
    with pytest.raises(NotFound, match="no transcript"):
        await service.request(
            contract.GENERATE_SUMMARY, MeetingRef(meeting_id=meetings.add(professional)), context=professional
        )
    with pytest.raises(NotFound, match="no meeting"):
        await service.request(contract.GENERATE_SUMMARY, MeetingRef(meeting_id="0" * 24), context=professional)


async def test_a_meeting_without_a_summary_has_none_to_show(service, meetings, professional):
    with pytest.raises(NotFound, match="no summary"):
        await service.request(
            contract.GET_SUMMARY, MeetingRef(meeting_id=meetings.add(professional)), context=professional
        )


async def test_a_speech_token_without_azure_settings_is_unavailable_naming_them(service, professional):
    with pytest.raises(Unavailable, match="AZURE_SPEECH_KEY and AZURE_SPEECH_REGION"):
        await service.request(contract.SPEECH_TOKEN, Empty(), context=professional)


async def test_a_page_of_long_lines_stops_at_its_size_budget_and_the_rest_follows(service, meetings, professional):
    meeting_id = meetings.add(professional)
    # 60 lines of 5000 characters, 2 bytes each in UTF-8: 600 kB, more than one page may carry.
    lines = [("Priya", f"{number:03d} " + "é" * 4995) for number in range(60)]
    await send_meeting(service, professional, meeting_id, lines)
    first = await service.request(contract.VIEW_TRANSCRIPT, ViewTranscript(meeting_id=meeting_id), context=professional)
    assert 0 < len(first.data) < 60
    assert sum(len(line.message.encode()) for line in first.data) <= PAGE_TEXT_BUDGET
    assert first.next_cursor is not None
    rest: list[str] = []
    cursor: str | None = first.next_cursor
    while cursor is not None:
        page = await service.request(
            contract.VIEW_TRANSCRIPT, ViewTranscript(meeting_id=meeting_id, cursor=cursor), context=professional
        )
        rest.extend(line.message for line in page.data)
        cursor = page.next_cursor
    assert [line.message for line in first.data] + rest == [words for _, words in lines]
