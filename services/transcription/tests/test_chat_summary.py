"""Summaries through the real `openai` client against a local stand-in for an
OpenAI-compatible server (a small aiohttp app answering /v1/chat/completions)."""

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import openai
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from transcription.chat_summary import ChatSummariser
from transcription.domain import SpokenLine
from webinar_contracts import Unavailable

API_KEY = "sk-test-not-a-real-key"


@dataclass
class StandIn:
    """What the stand-in server was asked, and how it should answer."""

    url: str = ""
    requests: list[dict[str, Any]] = field(default_factory=list)
    fail_with: int | None = None


def completion(model: str, text: str) -> dict[str, Any]:
    return {
        "id": f"chatcmpl-{time.time_ns()}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
    }


@pytest.fixture
async def stand_in() -> AsyncIterator[StandIn]:
    state = StandIn()

    async def completions(request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {API_KEY}":
            return web.json_response(
                {"error": {"message": "Incorrect API key provided", "type": "invalid_request_error"}}, status=401
            )
        if state.fail_with is not None:
            return web.json_response(
                {"error": {"message": "overloaded", "type": "server_error"}}, status=state.fail_with
            )
        body = await request.json()
        state.requests.append(body)
        instructions = body["messages"][0]["content"]
        if instructions.startswith("You summarise part"):
            answer = f"notes on part {instructions.split()[3]}"
        elif instructions.startswith("These are notes"):
            answer = "the combined summary"
        else:
            answer = "the whole summary"
        return web.json_response(completion(body["model"], answer))

    app = web.Application()
    app.router.add_post("/v1/chat/completions", completions)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    state.url = str(server.make_url("/v1"))
    yield state
    await server.close()


@pytest.fixture
async def client(stand_in: StandIn) -> AsyncIterator[openai.AsyncOpenAI]:
    client = openai.AsyncOpenAI(api_key=API_KEY, base_url=stand_in.url, timeout=10, max_retries=0)
    yield client
    await client.close()


def stored(transcript: list[tuple[str, str]]) -> list[SpokenLine]:
    now = datetime.now(UTC)
    return [
        SpokenLine(id=str(number), meeting_id="m1", user_name=who, message=words, created_at=now)
        for number, (who, words) in enumerate(transcript)
    ]


async def test_a_short_transcript_is_summarised_in_one_request_with_every_line(client, stand_in, release_meeting):
    summariser = ChatSummariser(client, model="test-model", context_tokens=16000, summary_tokens=300)
    assert await summariser.summarise(stored(release_meeting)) == "the whole summary"
    assert summariser.source == "openai:test-model"
    [request] = stand_in.requests
    assert request["model"] == "test-model"
    assert request["max_tokens"] == 300
    system, user = request["messages"]
    assert system["role"] == "system"
    assert "do not invent" in system["content"]
    assert user == {"role": "user", "content": "\n".join(f"{who}: {words}" for who, words in release_meeting)}


async def test_a_transcript_longer_than_the_context_is_summarised_in_parts_then_combined(
    client, stand_in, release_meeting
):
    transcript = release_meeting * 4
    summariser = ChatSummariser(client, model="small-model", context_tokens=1100, summary_tokens=60)
    assert await summariser.summarise(stored(transcript)) == "the combined summary"
    *parts, combine = stand_in.requests
    assert len(parts) > 1
    sent = []
    for number, request in enumerate(parts, start=1):
        system, user = request["messages"]
        assert system["content"].startswith(f"You summarise part {number} of {len(parts)} ")
        assert len(user["content"]) <= summariser.chunk_chars
        sent.extend(user["content"].split("\n"))
    assert sent == [f"{who}: {words}" for who, words in transcript]
    assert combine["messages"][0]["content"].startswith("These are notes")
    assert combine["messages"][1]["content"] == "\n".join(f"notes on part {n}" for n in range(1, len(parts) + 1))


async def test_a_refusing_server_is_unavailable_naming_its_status(client, stand_in, release_meeting):
    stand_in.fail_with = 503
    summariser = ChatSummariser(client, model="test-model", context_tokens=16000, summary_tokens=300)
    with pytest.raises(Unavailable, match="HTTP 503"):
        await summariser.summarise(stored(release_meeting))


async def test_a_wrong_key_is_unavailable_naming_401(stand_in, release_meeting):
    client = openai.AsyncOpenAI(api_key="sk-wrong", base_url=stand_in.url, timeout=10, max_retries=0)
    try:
        summariser = ChatSummariser(client, model="test-model", context_tokens=16000, summary_tokens=300)
        with pytest.raises(Unavailable, match="HTTP 401"):
            await summariser.summarise(stored(release_meeting))
    finally:
        await client.close()
    assert stand_in.requests == []


async def test_an_unreachable_server_is_unavailable(release_meeting):
    client = openai.AsyncOpenAI(api_key=API_KEY, base_url="http://127.0.0.1:9/v1", timeout=5, max_retries=0)
    try:
        summariser = ChatSummariser(client, model="test-model", context_tokens=16000, summary_tokens=300)
        with pytest.raises(Unavailable, match="did not answer"):
            await summariser.summarise(stored(release_meeting))
    finally:
        await client.close()


def test_a_context_too_small_for_the_summary_length_is_refused_at_start():
    client = openai.AsyncOpenAI(api_key=API_KEY, base_url="http://127.0.0.1:9/v1")
    with pytest.raises(ValueError, match="context is too small"):
        ChatSummariser(client, model="m", context_tokens=1000, summary_tokens=300)
