"""Transcripts, summaries and speech tokens over HTTP through the gateway, with the
transcription service behind it (and meetings, which it asks whether a meeting exists)."""

import asyncio
import json
import secrets
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from restclient import call, new_user
from webinar_devstack.servers import start_nats
from webinar_devstack.suite import Suite

UNKNOWN_MEETING = "0123456789abcdef01234567"
STAND_UP = [
    ("Ana", "Good morning, can you all hear me?"),
    ("Ben", "Yes, loud and clear."),
    ("Ana", "The payment service migration finished last night without errors."),
    ("Chen", "Great. I will switch the remaining customers to the new payment service on Monday."),
    ("Ben", "I still see slow database queries on the reporting page, I will profile them today."),
    ("Ana", "Chen switches the customers on Monday and Ben profiles the reporting queries today."),
    ("Chen", "Okay, thanks, bye."),
]


async def new_meeting(suite, http, key: str | None = None) -> tuple[str, str]:
    """A meeting hosted by a new user of the key's tenant: (meeting id, host id)."""
    key = key or suite.api_key
    status, registered, _ = await call(http, "POST", suite.url + "/auth/register", key=key, json=new_user())
    assert status == 201
    host_id = registered["data"]["user"]["_id"]
    status, created, _ = await call(
        http,
        "POST",
        suite.url + "/meetings/create",
        key=key,
        json={"title": "Daily stand-up", "hostId": host_id, "transcriptEnabled": True},
    )
    assert status == 201
    return created["data"]["_id"], host_id


async def send(suite, http, meeting_id: str, speaker: str, message: Any, key: str | None = None) -> tuple[int, Any]:
    body = {"meetingId": meeting_id, "userName": speaker, "message": message}
    status, answer, _ = await call(http, "POST", suite.url + "/send-transcript", key=key or suite.api_key, json=body)
    return status, answer


async def meeting_with_transcript(suite, http, key: str | None = None) -> tuple[str, str]:
    meeting_id, host_id = await new_meeting(suite, http, key)
    for speaker, words in STAND_UP:
        assert (await send(suite, http, meeting_id, speaker, words, key))[0] == 201
    return meeting_id, host_id


async def test_send_transcript_answers_201_with_the_stored_line(suite, http):
    meeting_id, _ = await new_meeting(suite, http)
    status, answer = await send(suite, http, meeting_id, "Ana", "  Hello everyone.  ")
    assert status == 201
    line = answer["data"]
    assert set(line) == {"_id", "meetingId", "userName", "message", "createdAt"}
    assert (line["meetingId"], line["userName"], line["message"]) == (meeting_id, "Ana", "Hello everyone.")


async def test_send_transcript_for_an_unknown_meeting_is_404(suite, http):
    status, answer = await send(suite, http, UNKNOWN_MEETING, "Ana", "Hello?")
    assert (status, answer["field"]) == (404, "meetingId")


async def test_another_tenants_meeting_is_unknown(suite, http, essential_key):
    meeting_id, _ = await new_meeting(suite, http)
    status, answer = await send(suite, http, meeting_id, "Eve", "Let me in.", key=essential_key)
    assert (status, answer["field"]) == (404, "meetingId")


@pytest.mark.parametrize("message", ["", "   ", None, 42])
async def test_an_empty_or_missing_message_is_400(suite, http, message):
    meeting_id, _ = await new_meeting(suite, http)
    status, answer = await send(suite, http, meeting_id, "Ana", message)
    assert (status, answer["field"]) == (400, "message")


async def test_a_transcript_line_missing_a_field_is_400_naming_it(suite, http):
    body = {"meetingId": UNKNOWN_MEETING, "message": "Hello."}
    status, answer, _ = await call(http, "POST", suite.url + "/send-transcript", key=suite.api_key, json=body)
    assert (status, answer["field"], answer["message"]) == (400, "userName", "userName is required")


async def test_view_transcript_gives_the_lines_in_spoken_order_with_the_seeds_fields(suite, http):
    meeting_id, _ = await meeting_with_transcript(suite, http)
    status, answer, _ = await call(http, "GET", f"{suite.url}/view-transcript/{meeting_id}", key=suite.api_key)
    assert status == 200
    assert set(answer) == {"data"}
    assert [(line["userName"], line["message"]) for line in answer["data"]] == STAND_UP
    assert all(set(line) == {"_id", "meetingId", "userName", "message", "createdAt"} for line in answer["data"])


async def test_a_long_transcript_is_paged_by_next_cursor(suite, http):
    meeting_id, _ = await meeting_with_transcript(suite, http)
    url = f"{suite.url}/view-transcript/{meeting_id}?limit=3"
    seen: list[tuple[str, str]] = []
    for _ in range(5):
        status, answer, _ = await call(http, "GET", url, key=suite.api_key)
        assert status == 200
        seen.extend((line["userName"], line["message"]) for line in answer["data"])
        if "nextCursor" not in answer:
            break
        url = f"{suite.url}/view-transcript/{meeting_id}?limit=3&cursor={answer['nextCursor']}"
    assert seen == STAND_UP


async def test_view_transcript_of_an_unknown_meeting_is_404_and_of_a_silent_one_empty(suite, http):
    status, answer, _ = await call(http, "GET", f"{suite.url}/view-transcript/{UNKNOWN_MEETING}", key=suite.api_key)
    assert (status, answer["field"]) == (404, "meetingId")
    meeting_id, _ = await new_meeting(suite, http)
    status, answer, _ = await call(http, "GET", f"{suite.url}/view-transcript/{meeting_id}", key=suite.api_key)
    assert (status, answer) == (200, {"data": []})


@pytest.mark.parametrize("query", ["?limit=0", "?limit=501", "?cursor=not-one"])
async def test_a_bad_transcript_query_is_400(suite, http, query):
    meeting_id, _ = await new_meeting(suite, http)
    status, answer, _ = await call(http, "GET", f"{suite.url}/view-transcript/{meeting_id}{query}", key=suite.api_key)
    assert status == 400
    assert answer["field"] in {"limit", "cursor"}


async def test_generate_summary_answers_200_in_the_meetings_own_words_and_marks_the_meeting(suite, http):
    meeting_id, host_id = await meeting_with_transcript(suite, http)
    status, answer, _ = await call(
        http, "POST", f"{suite.url}/transcription/generate-summary/{meeting_id}", key=suite.api_key
    )
    assert status == 200
    assert (answer["meetingId"], answer["source"]) == (meeting_id, "offline")
    summary = answer["summary"]
    assert "Chen switches the customers on Monday" in summary
    for line in summary.splitlines():
        speaker, sentence = line.split(": ", 1)
        assert any(who == speaker and sentence in words for who, words in STAND_UP), line
    assert "hear me" not in summary
    status, stored, _ = await call(http, "GET", f"{suite.url}/meeting/{meeting_id}/summary", key=suite.api_key)
    assert (status, stored) == (200, {"summary": summary})

    async def summary_generated() -> bool:
        status, answer, _ = await call(http, "GET", f"{suite.url}/meetings/list/{host_id}", key=suite.api_key)
        assert status == 200
        return bool(answer["data"][0]["summaryGenerated"])

    # The meetings service consumes the event in its own process: wait for its effect.
    deadline = time.monotonic() + 10
    while not await summary_generated():
        assert time.monotonic() < deadline, "the meeting never learnt of its summary"
        await asyncio.sleep(0.05)


async def test_generate_summary_is_403_for_an_essential_tenant(suite, http, essential_key):
    meeting_id, _ = await meeting_with_transcript(suite, http, key=essential_key)
    status, answer, _ = await call(
        http, "POST", f"{suite.url}/transcription/generate-summary/{meeting_id}", key=essential_key
    )
    assert status == 403
    assert "Professional plan" in answer["message"]


async def test_generate_summary_without_a_transcript_or_meeting_is_404(suite, http):
    meeting_id, _ = await new_meeting(suite, http)
    for target in (meeting_id, UNKNOWN_MEETING):
        status, answer, _ = await call(
            http, "POST", f"{suite.url}/transcription/generate-summary/{target}", key=suite.api_key
        )
        assert (status, answer["field"]) == (404, "meetingId")


async def test_a_meeting_without_a_summary_is_404(suite, http):
    meeting_id, _ = await new_meeting(suite, http)
    status, answer, _ = await call(http, "GET", f"{suite.url}/meeting/{meeting_id}/summary", key=suite.api_key)
    assert (status, answer["field"]) == (404, "meetingId")


async def test_transcription_routes_need_an_api_key(suite, http):
    for method, path in (
        ("POST", "/send-transcript"),
        ("GET", f"/view-transcript/{UNKNOWN_MEETING}"),
        ("POST", f"/transcription/generate-summary/{UNKNOWN_MEETING}"),
        ("GET", f"/meeting/{UNKNOWN_MEETING}/summary"),
        ("GET", "/api/get-speech-token"),
    ):
        status, answer, _ = await call(http, method, suite.url + path)
        assert (status, answer["message"]) == (401, "missing x-api-key header")


async def test_speech_token_without_azure_settings_is_503_naming_them(suite, http):
    status, answer, _ = await call(http, "GET", suite.url + "/api/get-speech-token", key=suite.api_key)
    assert status == 503
    assert "AZURE_SPEECH_KEY and AZURE_SPEECH_REGION not set" in answer["message"]


# -- Azure Speech and a chat model configured, end to end ------------------------

AZURE_KEY = "a1b2c3d4e5f60718293a4b5c6d7e8f90"
CHAT_KEY = "sk-stand-in-key"


class StandInServices(BaseHTTPRequestHandler):
    """Answers as Azure's token service does (only POST /sts/v1.0/issueToken with the
    right key) and as an OpenAI-compatible chat API does (POST /v1/chat/completions)."""

    issued: list[str] = []
    chats: list[dict[str, Any]] = []

    def do_POST(self) -> None:
        if self.path == "/sts/v1.0/issueToken":
            self._issue_token()
        elif self.path == "/v1/chat/completions":
            self._complete()
        else:
            self._answer(404, b"")

    def do_GET(self) -> None:
        self._answer(405, b"")

    def _issue_token(self) -> None:
        if self.headers.get("Ocp-Apim-Subscription-Key") != AZURE_KEY:
            self._answer(401, b'{"error":{"code":"401","message":"Access denied due to invalid subscription key"}}')
            return
        token = f"eyJhbGciOiJFUzI1NiJ9.speech-{len(self.issued) + 1}.sig"
        self.issued.append(token)
        self._answer(200, token.encode())

    def _complete(self) -> None:
        if self.headers.get("Authorization") != f"Bearer {CHAT_KEY}":
            self._answer(401, b'{"error":{"message":"Incorrect API key provided"}}')
            return
        request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.chats.append(request)
        answer = {
            "id": "chatcmpl-stand-in",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": request["model"],
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "The team planned the payment switch for Monday."},
                    "finish_reason": "stop",
                }
            ],
        }
        self._answer(200, json.dumps(answer).encode())

    def _answer(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def configured_suite(tmp_path_factory, redis_url, mongo_url) -> Iterator[Suite]:
    """Auth, meetings, transcription and a gateway of their own (own NATS, own databases),
    transcription configured with Azure Speech and a chat model, both local stand-ins."""
    stand_in = ThreadingHTTPServer(("127.0.0.1", 0), StandInServices)
    threading.Thread(target=stand_in.serve_forever, daemon=True).start()
    stand_in_url = f"http://127.0.0.1:{stand_in.server_address[1]}"
    workdir: Path = tmp_path_factory.mktemp("configured-suite")
    nats = start_nats(workdir / "nats")
    suffix = secrets.token_hex(4)
    running = Suite(
        workdir=workdir,
        nats_url=f"nats://127.0.0.1:{nats.port}",
        redis_url=redis_url,
        mongo_url=mongo_url,
        services=["auth", "meetings", "transcription", "gateway"],
        env={
            "AUTH_DATABASE": f"auth_configured_{suffix}",
            "MEETINGS_DATABASE": f"meetings_configured_{suffix}",
            "TRANSCRIPTION_DATABASE": f"transcription_configured_{suffix}",
            "AZURE_SPEECH_KEY": AZURE_KEY,
            "AZURE_SPEECH_REGION": "westeurope",
            "AZURE_SPEECH_STS_URL": stand_in_url,
            "OPENAI_API_KEY": CHAT_KEY,
            "OPENAI_BASE_URL": stand_in_url + "/v1",
            "OPENAI_MODEL": "stand-in-model",
        },
    )
    try:
        yield running.start()
    finally:
        running.stop()
        nats.stop()
        stand_in.shutdown()
        stand_in.server_close()


@pytest.mark.slow
async def test_speech_token_comes_from_azures_token_service_and_is_reused(configured_suite, http):
    url = configured_suite.url + "/api/get-speech-token"
    status, first, _ = await call(http, "GET", url, key=configured_suite.api_key)
    assert status == 200
    assert first == {"token": StandInServices.issued[0], "region": "westeurope"}
    status, second, _ = await call(http, "GET", url, key=configured_suite.api_key)
    assert (status, second) == (200, first)
    assert len(StandInServices.issued) == 1


@pytest.mark.slow
async def test_with_a_chat_model_configured_the_summary_is_the_models(configured_suite, http):
    meeting_id, _ = await meeting_with_transcript(configured_suite, http)
    status, answer, _ = await call(
        http,
        "POST",
        f"{configured_suite.url}/transcription/generate-summary/{meeting_id}",
        key=configured_suite.api_key,
    )
    assert status == 200
    assert (answer["summary"], answer["source"]) == (
        "The team planned the payment switch for Monday.",
        "openai:stand-in-model",
    )
    [chat] = StandInServices.chats
    assert chat["model"] == "stand-in-model"
    assert chat["messages"][1]["content"] == "\n".join(f"{who}: {words}" for who, words in STAND_UP)
