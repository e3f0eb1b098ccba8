"""REST routes of the transcription service (seed: "Transcription")."""

from aiohttp import web

from gateway.rest import Call, Route, json_response
from webinar_contracts import Empty, transcription
from webinar_contracts.transcription import (
    GeneratedSummary,
    MeetingRef,
    SendTranscript,
    SpeechToken,
    Summary,
    Transcript,
    TranscriptQuery,
    TranscriptSent,
    ViewTranscript,
)
from webinar_contracts.validation import convert

SUMMARY_WAIT_SECONDS = 180.0
"""A summary from a chat model can take minutes for a long meeting; the transcription
service gives up first (SUMMARY_DEADLINE_SECONDS, 150 s by default) and says so."""


async def send_transcript(call: Call) -> web.Response:
    line = await call.ask(transcription.SEND_TRANSCRIPT, await call.body(SendTranscript))
    return json_response(TranscriptSent(data=line), 201)


async def view_transcript(call: Call) -> web.Response:
    query = convert(dict(call.request.query), TranscriptQuery)
    page = ViewTranscript(meeting_id=call.param("meetingId"), limit=query.limit, cursor=query.cursor)
    return json_response(await call.ask(transcription.VIEW_TRANSCRIPT, page))


async def generate_summary(call: Call) -> web.Response:
    summary = await call.gate.bus.request(
        transcription.GENERATE_SUMMARY,
        MeetingRef(meeting_id=call.param("meetingId")),
        context=call.context,
        timeout=SUMMARY_WAIT_SECONDS,
    )
    return json_response(summary)


async def get_summary(call: Call) -> web.Response:
    summary = await call.ask(transcription.GET_SUMMARY, MeetingRef(meeting_id=call.param("meetingId")))
    return json_response(summary)


async def get_speech_token(call: Call) -> web.Response:
    return json_response(await call.ask(transcription.SPEECH_TOKEN, Empty()))


ROUTES = [
    Route("GET", "/api/get-speech-token", get_speech_token, "transcription",
          "A short-lived Azure Speech token and its region for the browser's speech SDK "
          "(503 when AZURE_SPEECH_KEY / AZURE_SPEECH_REGION are not set)",
          responses={200: SpeechToken}),
    Route("POST", "/send-transcript", send_transcript, "transcription",
          "Store one spoken line of a meeting",
          body=SendTranscript, responses={201: TranscriptSent}, errors=(400, 404, 413)),
    Route("GET", "/view-transcript/{meetingId}", view_transcript, "transcription",
          "A meeting's transcript in spoken order; `limit` (1-500) and `cursor` (the answer's `nextCursor`) "
          "page a long one",
          query=TranscriptQuery, responses={200: Transcript}, errors=(400, 404)),
    Route("POST", "/transcription/generate-summary/{meetingId}", generate_summary, "transcription",
          "Summarise a meeting's transcript (Professional plan): an OpenAI-compatible model when configured, "
          "the offline extractive summariser otherwise",
          responses={200: GeneratedSummary}, errors=(403, 404)),
    Route("GET", "/meeting/{meetingId}/summary", get_summary, "transcription",
          "A meeting's generated summary",
          responses={200: Summary}, errors=(404,)),
]  # fmt: skip
