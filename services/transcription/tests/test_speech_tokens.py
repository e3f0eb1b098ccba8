"""Azure Speech tokens against a local stand-in for Azure's token service that checks
each request as Azure does: POST to /sts/v1.0/issueToken with Ocp-Apim-Subscription-Key."""

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from transcription.speech_tokens import SpeechTokenIssuer, default_sts_url
from webinar_contracts import Unavailable

KEY = "0123456789abcdef0123456789abcdef"


@dataclass
class StandIn:
    url: str = ""
    asked: list[str] = field(default_factory=list)
    answer_status: int = 200
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)


@pytest.fixture
async def azure() -> AsyncIterator[StandIn]:
    state = StandIn()
    state.release.set()

    async def issue_token(request: web.Request) -> web.Response:
        state.asked.append(request.method)
        state.arrived.set()
        if request.method != "POST":
            return web.Response(status=405)
        if request.headers.get("Ocp-Apim-Subscription-Key") != KEY:
            return web.json_response(
                {"error": {"code": "401", "message": "Access denied due to invalid subscription key"}}, status=401
            )
        await state.release.wait()
        if state.answer_status != 200:
            return web.Response(status=state.answer_status, text="busy")
        return web.Response(text=f"eyJ0eXAi.token-{len(state.asked)}.sig", content_type="application/jwt")

    app = web.Application()
    app.router.add_route("*", "/sts/v1.0/issueToken", issue_token)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    state.url = str(server.make_url("")).rstrip("/")
    yield state
    await server.close()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_the_key_is_exchanged_with_a_post_and_the_token_comes_back_with_its_region(azure, session):
    issuer = SpeechTokenIssuer(session, key=KEY, region="westeurope", sts_url=azure.url)
    token = await issuer.issue()
    assert (token.token, token.region) == ("eyJ0eXAi.token-1.sig", "westeurope")
    assert azure.asked == ["POST"]


async def test_a_token_is_reused_under_its_life_then_renewed(azure, session):
    clock = Clock()
    issuer = SpeechTokenIssuer(session, key=KEY, region="westeurope", sts_url=azure.url, reuse_seconds=540, clock=clock)
    first = await issuer.issue()
    clock.now += 539
    assert await issuer.issue() == first
    assert len(azure.asked) == 1
    clock.now += 1
    renewed = await issuer.issue()
    assert renewed.token == "eyJ0eXAi.token-2.sig"
    assert len(azure.asked) == 2


async def test_callers_at_the_same_moment_share_one_exchange(azure, session):
    azure.release.clear()
    issuer = SpeechTokenIssuer(session, key=KEY, region="westeurope", sts_url=azure.url)
    callers = [asyncio.create_task(issuer.issue()) for _ in range(5)]
    await asyncio.wait_for(azure.arrived.wait(), timeout=10)
    azure.release.set()
    tokens = await asyncio.gather(*callers)
    assert {token.token for token in tokens} == {"eyJ0eXAi.token-1.sig"}
    assert len(azure.asked) == 1


async def test_a_key_azure_refuses_is_unavailable_and_nothing_is_cached(azure, session):
    issuer = SpeechTokenIssuer(session, key="wrong-key", region="westeurope", sts_url=azure.url)
    with pytest.raises(Unavailable, match="refused AZURE_SPEECH_KEY"):
        await issuer.issue()
    with pytest.raises(Unavailable):
        await issuer.issue()
    assert len(azure.asked) == 2


async def test_an_azure_failure_is_unavailable_naming_its_status(azure, session):
    azure.answer_status = 500
    issuer = SpeechTokenIssuer(session, key=KEY, region="westeurope", sts_url=azure.url)
    with pytest.raises(Unavailable, match="HTTP 500"):
        await issuer.issue()


async def test_an_unreachable_token_service_is_unavailable(session):
    issuer = SpeechTokenIssuer(session, key=KEY, region="westeurope", sts_url="http://127.0.0.1:9", timeout=5)
    with pytest.raises(Unavailable, match="did not answer"):
        await issuer.issue()


@pytest.mark.parametrize(
    ("key", "region", "named"),
    [
        ("", "", "AZURE_SPEECH_KEY and AZURE_SPEECH_REGION not set"),
        (KEY, "", "AZURE_SPEECH_REGION not set"),
        ("", "westeurope", "AZURE_SPEECH_KEY not set"),
    ],
)
async def test_without_its_settings_the_issuer_is_unavailable_naming_what_is_missing(session, key, region, named):
    issuer = SpeechTokenIssuer(session, key=key, region=region)
    with pytest.raises(Unavailable, match=named):
        await issuer.issue()


def test_the_token_service_is_the_regions_by_default():
    assert default_sts_url("eastus2") == "https://eastus2.api.cognitive.microsoft.com"
