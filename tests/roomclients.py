"""Helpers of the room-collaboration socket tests (chat, co-hosts, room controls): SFU
clients that record every event a room sends, users with tokens and rooms made over
REST, and producing without media (the server needs a transport, not packets, to make a
producer, so these tests skip ICE and DTLS)."""

import contextlib
import itertools
import json
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
from sfuclient import SfuClient

from restclient import call, new_user

Clients = Callable[..., Awaitable[SfuClient]]

ROOM_EVENTS = (
    "newMessage",
    "messageDeleted",
    "cohost:request",
    "cohost:respond",
    "roleChanged",
    "participant:muted",
    "participant:removed",
    "screen:shared",
    "screen:stopped",
    "videoPaused",
    "videoResumed",
    "room:ended",
)
_ssrcs = itertools.count(10_000)


def listen(client: SfuClient) -> SfuClient:
    """Queue every room event the client receives in `client.pushes[event]`."""
    for event in ROOM_EVENTS:
        queue = client.pushes[event]

        async def put(data: Any, queue: Any = queue) -> None:
            await queue.put(data)

        client.socket.on(event, put)
    return client


@contextlib.asynccontextmanager
async def room_clients(suite: Any) -> AsyncIterator[Clients]:
    """Connect SFU clients (key: the suite's Professional tenant; `token=` a user's) that
    record the room's events; all are closed at the end."""
    made: list[SfuClient] = []

    async def connect(**kwargs: Any) -> SfuClient:
        client = listen(SfuClient(suite.url, api_key=kwargs.pop("api_key", suite.api_key), timeout=5, **kwargs))
        made.append(await client.connect())
        return client

    try:
        yield connect
    finally:
        for client in made:
            await client.close()


def room_name() -> str:
    return f"room-{secrets.token_hex(4)}"


async def enter(client: SfuClient, room_id: str, name: str) -> Any:
    """createRoom (the first caller opens the room and is its host) and join."""
    assert await client.request("createRoom", {"room_id": room_id}) in (room_id, "already exists")
    joined = await client.request("join", {"room_id": room_id, "name": name})
    assert "error" not in joined, joined
    return joined


def peers_of(room: Any) -> dict[str, tuple[str, str]]:
    """A room's `peers` (a JSON string of [socket id, peer] pairs) as {socket id: (name, role)}."""
    return {peer_id: (peer["name"], peer["role"]) for peer_id, peer in json.loads(room["peers"])}


# --- producing without media ---


def rtp_parameters(kind: str, mid: str) -> dict[str, Any]:
    """What a browser sends to produce Opus audio or VP8 video, with a fresh SSRC."""
    codec = (
        {"mimeType": "audio/opus", "payloadType": 111, "clockRate": 48000, "channels": 2}
        if kind == "audio"
        else {"mimeType": "video/VP8", "payloadType": 96, "clockRate": 90000}
    )
    return {"mid": mid, "codecs": [codec], "encodings": [{"ssrc": next(_ssrcs)}], "rtcp": {"cname": "test"}}


async def send_transport(client: SfuClient) -> str:
    created = await client.request("createWebRtcTransport", {"forceTcp": False})
    assert "id" in created, created
    return str(created["id"])


async def produce(client: SfuClient, transport_id: str, kind: str, app_type: str, *, mid: str) -> Any:
    """The `produce` acknowledgement: `{producer_id}` or `{error}`."""
    return await client.request(
        "produce",
        {
            "producerTransportId": transport_id,
            "kind": kind,
            "rtpParameters": rtp_parameters(kind, mid),
            "appData": {"type": app_type},
        },
    )


async def consume(client: SfuClient, producer_id: str) -> Any:
    """`consume` on a new transport of the client, with the router's capabilities as the device's."""
    transport_id = await send_transport(client)
    capabilities = await client.request("getRouterRtpCapabilities")
    return await client.request(
        "consume", {"consumerTransportId": transport_id, "producerId": producer_id, "rtpCapabilities": capabilities}
    )


# --- REST ---


async def user_with_token(suite: Any, http: aiohttp.ClientSession) -> tuple[str, str]:
    """A new user of the suite's tenant: (user id, access token)."""
    body = new_user()
    status, answer, _ = await call(http, "POST", suite.url + "/auth/register", key=suite.api_key, json=body)
    assert status == 201, answer
    status, login, _ = await call(
        http, "POST", suite.url + "/auth/login", key=suite.api_key,
        json={"userName": body["email"], "password": body["password"]},
    )  # fmt: skip
    assert status == 200, login
    return answer["data"]["user"]["_id"], login["data"]["accessToken"]


async def rest_room(suite: Any, http: aiohttp.ClientSession, room_type: str) -> str:
    """A room made with POST /room/create (no meeting names it: whoever opens it hosts it)."""
    status, answer, _ = await call(
        http, "POST", suite.url + "/room/create", key=suite.api_key, json={"name": "Stand-up", "type": room_type}
    )
    assert status == 201, answer
    return str(answer["data"]["id"])


async def viewer_ticket(suite: Any, http: aiohttp.ClientSession, room_id: str, token: str) -> str:
    """A viewer link's room ticket for the room (POST /room/:roomId/viewer-link, as the user of `token`)."""
    status, answer, _ = await call(
        http, "POST", f"{suite.url}/room/{room_id}/viewer-link", key=suite.api_key, token=token
    )
    assert status == 201, answer
    return str(answer["data"]["ticket"])
