"""REST routes of the recording service (seed: "Recording Controls")."""

from aiohttp import web

from gateway.rest import Call, Route, json_response
from webinar_contracts import recording
from webinar_contracts.recording import ListRecordings, Recording, RecordingStartedReply, StartRecording, StopRecording
from webinar_contracts.validation import convert

NEXT_CURSOR_HEADER = "X-Next-Cursor"


async def start_recording(call: Call) -> web.Response:
    started = await call.ask(recording.START, await call.body(StartRecording))
    return json_response(RecordingStartedReply(data=started), 201)


async def stop_recording(call: Call) -> web.Response:
    await call.ask(recording.STOP, await call.body(StopRecording))
    return web.Response(status=204)


async def list_recordings(call: Call) -> web.Response:
    page = await call.ask(recording.LIST, convert(dict(call.request.query), ListRecordings))
    # The seed answers a bare array, so the next page's cursor travels in a header.
    headers = {NEXT_CURSOR_HEADER: page.next_cursor} if page.next_cursor else None
    return json_response(page.data, headers=headers)


ROUTES = [
    Route("POST", "/recording/start", start_recording, "recording",
          "Start a recording of a room's stream; streamId may be a number (kept digit for digit) or a string, "
          "startTime epoch milliseconds or ISO 8601",
          body=StartRecording, responses={201: RecordingStartedReply}, errors=(400, 409, 413)),
    Route("POST", "/recording/stop", stop_recording, "recording",
          "Stop a recording (stopping it again changes nothing); publishes recording stopped",
          body=StopRecording, responses={204: None}, errors=(400, 404, 413)),
    Route("GET", "/recordings/list", list_recordings, "recording",
          "Recordings newest first; `roomId` filters, `limit` (1-100, default 50) and `cursor` page them; "
          "the next page's cursor comes in the X-Next-Cursor header (the seed answers a bare array)",
          query=ListRecordings, responses={200: list[Recording]}, errors=(400,)),
]  # fmt: skip
