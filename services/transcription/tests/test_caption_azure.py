"""The Azure path of captions, with no Azure key: which engine one setting chooses, and
the real Speech SDK (azure-cognitiveservices-speech, push stream, continuous recognition)
against a local stand-in of the Speech service's WebSocket protocol (USP: `speech.config`
and audio messages in; `turn.start`, `speech.hypothesis`, `speech.phrase`, `turn.end`
out). The stand-in answers what it is told to, so this checks our side of the protocol
(the key and language sent, partial and final lines, offsets to times), not Azure's
recognition."""

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import WSMsgType, web

from transcription.captions.recognition import AzureRecognition
from transcription.config import TranscriptionConfig
from webinar_runtime.config import ConfigError, load_config

BASE = {"MONGO_URL": "mongodb://127.0.0.1:1/"}
AZURE = {"AZURE_SPEECH_KEY": "a-key", "AZURE_SPEECH_REGION": "westeurope"}
TICKS = 10_000_000  # the service counts audio offsets in 100 ns ticks


@pytest.mark.parametrize(
    ("settings", "engine"),
    [
        ({}, "whisper"),
        (AZURE, "azure"),
        ({**AZURE, "CAPTION_ENGINE": "whisper"}, "whisper"),
        ({"AZURE_SPEECH_KEY": "a-key"}, "whisper"),  # a key with no region is not enough
        ({**AZURE, "CAPTION_ENGINE": "azure"}, "azure"),
    ],
)
def test_one_setting_chooses_the_caption_engine(settings: dict[str, str], engine: str) -> None:
    assert load_config(TranscriptionConfig, {**BASE, **settings}).caption_engine_in_use == engine


def test_azure_captions_without_a_key_are_refused_at_start() -> None:
    with pytest.raises(ConfigError) as refused:
        load_config(TranscriptionConfig, {**BASE, "CAPTION_ENGINE": "azure"})
    assert refused.value.variable == "CAPTION_ENGINE"


def _parse(text: str) -> tuple[dict[str, str], str]:
    head, _, body = text.partition("\r\n\r\n")
    headers = {}
    for line in head.split("\r\n"):
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return headers, body


def _message(path: str, request_id: str, body: dict[str, Any]) -> str:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
    return (
        f"Path: {path}\r\nX-RequestId: {request_id}\r\nX-Timestamp: {stamp}\r\n"
        f"Content-Type: application/json; charset=utf-8\r\n\r\n{json.dumps(body)}"
    )


@dataclass
class SpeechStandIn:
    """Hears one utterance once a second of audio has come: a hypothesis, then its phrase."""

    connections: list[dict[str, str]] = field(default_factory=list)
    config_paths: list[str] = field(default_factory=list)
    audio_bytes: int = 0

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        self.connections.append(
            {"query": request.query_string, "key": request.headers.get("Ocp-Apim-Subscription-Key", "")}
        )
        socket = web.WebSocketResponse(protocols=("USP",))
        await socket.prepare(request)
        request_id, answered = "", False
        started: set[str] = set()
        ended: set[str] = set()
        async for message in socket:
            if message.type == WSMsgType.TEXT:
                headers, _ = _parse(message.data)
                self.config_paths.append(headers.get("path", ""))
                request_id = headers.get("x-requestid", request_id)
            elif message.type == WSMsgType.BINARY:
                size = int.from_bytes(message.data[:2], "big")
                headers, _ = _parse(message.data[2 : 2 + size].decode() + "\r\n\r\n")
                request_id = headers.get("x-requestid", request_id)
                audio = len(message.data) - 2 - size
                self.audio_bytes += audio
                if audio == 0 and request_id not in ended:  # the end of the audio: the turn ends
                    ended.add(request_id)
                    if request_id not in started:
                        await socket.send_str(_message("turn.start", request_id, {"context": {"serviceTag": "x"}}))
                    await socket.send_str(_message("turn.end", request_id, {}))
                elif self.audio_bytes >= 32000 and not answered:
                    answered = True
                    started.add(request_id)
                    ended.add(request_id)
                    for path, body in (
                        ("turn.start", {"context": {"serviceTag": "stand-in"}}),
                        ("speech.startDetected", {"Offset": TICKS // 2}),
                        ("speech.hypothesis", {"Text": "we agreed", "Offset": TICKS // 2, "Duration": TICKS}),
                        (
                            "speech.phrase",
                            {
                                "RecognitionStatus": "Success",
                                "DisplayText": "We agreed to ship.",
                                "Offset": TICKS // 2,
                                "Duration": 2 * TICKS,
                            },
                        ),
                        ("speech.endDetected", {"Offset": 3 * TICKS}),
                        ("turn.end", {}),
                    ):
                        await socket.send_str(_message(path, request_id, body))
        return socket


@pytest.fixture
async def stand_in() -> AsyncIterator[tuple[SpeechStandIn, str]]:
    service = SpeechStandIn()
    app = web.Application()
    app.router.add_get("/{tail:.*}", service.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield service, f"ws://127.0.0.1:{port}/speech/recognition/conversation/cognitiveservices/v1"
    await runner.cleanup()


async def test_the_speech_sdk_streams_a_speakers_audio_and_brings_back_partial_and_final_lines(
    stand_in: tuple[SpeechStandIn, str],
) -> None:
    service, endpoint = stand_in
    loop = asyncio.get_running_loop()
    heard: list[tuple[int, str, bool, float]] = []
    final = asyncio.Event()

    def on_caption(number: int, text: str, is_final: bool, started_at: float) -> None:
        heard.append((number, text, is_final, started_at))
        if is_final:
            final.set()

    recognition = await asyncio.to_thread(
        AzureRecognition,
        key="a-key",
        region="westeurope",
        endpoint=endpoint,
        language="en-GB",
        on_caption=on_caption,
        post=lambda call: loop.call_soon_threadsafe(call),
        partial_every=0.0,
    )
    first_audio = time.time()
    try:
        for _ in range(60):  # 1.2 s of 16 kHz audio, in 20 ms pieces
            recognition.feed(bytes(640), time.time())
            await asyncio.sleep(0.02)
        await asyncio.wait_for(final.wait(), 10)
    finally:
        await recognition.close()
    assert service.connections[0]["key"] == "a-key"
    assert "language=en-GB" in service.connections[0]["query"]
    assert "speech.config" in service.config_paths
    assert service.audio_bytes >= 32000
    assert [(number, text, is_final) for number, text, is_final, _ in heard] == [
        (1, "we agreed", False),
        (1, "We agreed to ship.", True),
    ]
    # The utterance began half a second into the audio.
    assert abs(heard[-1][3] - (first_audio + 0.5)) < 0.3
