"""A local stand-in for the two Azure Speech endpoints the browser path uses, on one
loopback port (aiohttp), for tests where no Azure key exists:

- the token service, as the transcription service asks it (`POST /sts/v1.0/issueToken`
  with `Ocp-Apim-Subscription-Key`): a JWT whose `exp` is ten minutes on, as Azure's;
- speech recognition over WebSocket, as Microsoft's JavaScript Speech SDK speaks it
  (`SpeechConfig.fromHost(ws://...)`: the path `/speech/recognition/conversation/
  cognitiveservices/v1`; a browser cannot set WebSocket headers, so the SDK sends them as
  query parameters: `language`, `format`, `Authorization=Bearer <token>`,
  `X-ConnectionId`). The socket carries USP messages: text ones (`speech.config`,
  `speech.context`, ...) and binary audio ones (two bytes of header length, the headers,
  then the audio: a RIFF header, then 16 kHz 16-bit mono PCM; an empty body ends the
  audio). It answers `turn.start`, `speech.startDetected`, two `speech.hypothesis`, the
  `speech.phrase` and `turn.end` once a connection has sent `answer_after_bytes` of audio.

It recognises no words: it checks the browser's side of the protocol (the token and
language sent, audio arriving, partial and final results read), not Azure's recognition.
It records what it was sent."""

import base64
import json
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

ISSUE_TOKEN_PATH = "/sts/v1.0/issueToken"
RECOGNITION_PATH = "/speech/recognition/conversation/cognitiveservices/v1"
TICKS_PER_SECOND = 10_000_000  # the service counts audio offsets in 100 ns ticks


def speech_token(region: str, number: int, lifetime: float = 600.0) -> str:
    """A token shaped as Azure's (an ES256 JWT: only its `exp` is read by clients)."""

    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    claims = {"region": region, "aud": "urn:ms.speech", "exp": int(time.time() + lifetime), "n": number}
    return f"{part({'alg': 'ES256', 'typ': 'JWT'})}.{part(claims)}.stand-in-signature"


def _headers(head: str) -> dict[str, str]:
    headers = {}
    for line in head.split("\r\n"):
        name, _, value = line.partition(":")
        if name:
            headers[name.strip().lower()] = value.strip()
    return headers


def usp_text(path: str, request_id: str, body: dict[str, Any]) -> str:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
    return (
        f"Path: {path}\r\nX-RequestId: {request_id}\r\nX-Timestamp: {stamp}\r\n"
        f"Content-Type: application/json; charset=utf-8\r\n\r\n{json.dumps(body)}"
    )


@dataclass
class SpeechConnection:
    """One recognition WebSocket: its query (the SDK's headers) and what came over it."""

    query: dict[str, str]
    paths: list[str] = field(default_factory=list)
    audio_bytes: int = 0
    answered: bool = False

    @property
    def token(self) -> str:
        return self.query.get("Authorization", "").removeprefix("Bearer ")

    @property
    def language(self) -> str:
        return self.query.get("language", "")


@dataclass
class AzureStandIn:
    key: str
    region: str
    hypotheses: tuple[str, ...] = ("we agreed", "we agreed to ship")
    phrase: str = "We agreed to ship."
    answer_after_bytes: int = 32_000  # one second of 16 kHz 16-bit audio
    issued: list[str] = field(default_factory=list)
    refused_keys: list[str] = field(default_factory=list)
    connections: list[SpeechConnection] = field(default_factory=list)
    url: str = ""
    _runner: web.AppRunner | None = None
    _sockets: set[web.WebSocketResponse] = field(default_factory=set)

    @property
    def host(self) -> str:
        """What `SpeechConfig.fromHost` takes: the WebSocket origin."""
        return "ws" + self.url.removeprefix("http")

    async def start(self) -> "AzureStandIn":
        app = web.Application()
        app.router.add_post(ISSUE_TOKEN_PATH, self._issue_token)
        app.router.add_get(RECOGNITION_PATH, self._recognize)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        return self

    async def stop(self) -> None:
        for socket in list(self._sockets):
            await socket.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _issue_token(self, request: web.Request) -> web.Response:
        key = request.headers.get("Ocp-Apim-Subscription-Key", "")
        if key != self.key:
            self.refused_keys.append(key)
            return web.json_response({"error": {"code": "401", "message": "Access denied"}}, status=401)
        token = speech_token(self.region, len(self.issued) + 1)
        self.issued.append(token)
        return web.Response(text=token, content_type="application/jwt")

    async def _recognize(self, request: web.Request) -> web.StreamResponse:
        connection = SpeechConnection(query=dict(request.query))
        self.connections.append(connection)
        if connection.token not in self.issued:
            return web.json_response({"error": "unknown token"}, status=401)
        socket = web.WebSocketResponse(heartbeat=None)
        await socket.prepare(request)
        self._sockets.add(socket)
        ended: set[str] = set()
        try:
            async for message in socket:
                if message.type == WSMsgType.TEXT:
                    head, _, _ = message.data.partition("\r\n\r\n")
                    connection.paths.append(_headers(head).get("path", ""))
                elif message.type == WSMsgType.BINARY:
                    size = int.from_bytes(message.data[:2], "big")
                    headers = _headers(message.data[2 : 2 + size].decode())
                    request_id = headers.get("x-requestid", "")
                    audio = len(message.data) - 2 - size
                    connection.audio_bytes += audio
                    if audio == 0 and request_id not in ended:  # the audio ended: so does the turn
                        ended.add(request_id)
                        await socket.send_str(usp_text("turn.start", request_id, {"context": {"serviceTag": "x"}}))
                        await socket.send_str(usp_text("turn.end", request_id, {}))
                    elif connection.audio_bytes >= self.answer_after_bytes and not connection.answered:
                        connection.answered = True
                        ended.add(request_id)
                        for path, body in self._utterance():
                            await socket.send_str(usp_text(path, request_id, body))
        finally:
            self._sockets.discard(socket)
        return socket

    def _utterance(self) -> list[tuple[str, dict[str, Any]]]:
        """What the service says of one utterance begun half a second into the audio."""
        offset = TICKS_PER_SECOND // 2
        said: list[tuple[str, dict[str, Any]]] = [
            ("turn.start", {"context": {"serviceTag": "stand-in"}}),
            ("speech.startDetected", {"Offset": offset}),
        ]
        for number, text in enumerate(self.hypotheses, start=1):
            said.append(("speech.hypothesis", {"Text": text, "Offset": offset, "Duration": number * TICKS_PER_SECOND}))
        phrase = {
            "RecognitionStatus": "Success",
            "DisplayText": self.phrase,
            "Offset": offset,
            "Duration": 2 * TICKS_PER_SECOND,
        }
        return [
            *said,
            ("speech.phrase", phrase),
            ("speech.endDetected", {"Offset": 3 * TICKS_PER_SECOND}),
            ("turn.end", {}),
        ]
