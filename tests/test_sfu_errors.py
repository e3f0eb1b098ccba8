"""Every refusal of the SFU socket is an acknowledgement `{error: "..."}` saying what is
wrong, never an empty or missing one; and who may produce depends on the room's type."""

import json
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from sfuclient import SfuClient

from media.peer_client import EncodedTrack, encode_vp8
from restclient import call, new_user

Clients = Callable[..., Awaitable[SfuClient]]
FINGERPRINT = {"algorithm": "sha-256", "value": ":".join(["AB"] * 32)}


@pytest.fixture(scope="module")
def vp8_packets() -> list[Any]:
    return encode_vp8(6, keyframe_interval=3)


@pytest.fixture
async def clients(suite) -> AsyncIterator[Clients]:
    made: list[SfuClient] = []

    async def connect(**kwargs: Any) -> SfuClient:
        client = await SfuClient(suite.url, api_key=suite.api_key, **kwargs).connect()
        made.append(client)
        return client

    yield connect
    for client in made:
        await client.close()


def room_name() -> str:
    return f"room-{secrets.token_hex(4)}"


async def user_with_token(suite, http) -> tuple[str, str]:
    body = new_user()
    status, answer, _ = await call(http, "POST", suite.url + "/auth/register", key=suite.api_key, json=body)
    assert status == 201
    _, login, _ = await call(
        http, "POST", suite.url + "/auth/login", key=suite.api_key,
        json={"userName": body["email"], "password": body["password"]},
    )  # fmt: skip
    return answer["data"]["user"]["_id"], login["data"]["accessToken"]


async def rest_room(suite, http, room_type: str, host: tuple[str, str] | None = None) -> str:
    """A room made with POST /room/create; with `host`, a meeting of theirs held in it."""
    status, answer, _ = await call(
        http, "POST", suite.url + "/room/create", key=suite.api_key, json={"name": "Town hall", "type": room_type}
    )
    assert status == 201, answer
    room_id = str(answer["data"]["id"])
    if host is not None:
        host_id, token = host
        status, meeting, _ = await call(
            http, "POST", suite.url + "/meetings/create", key=suite.api_key, token=token,
            json={"title": "Quarterly", "hostId": host_id, "transcriptEnabled": False},
        )  # fmt: skip
        assert status == 201, meeting
        status, _, _ = await call(
            http, "POST", f"{suite.url}/meetings/update/{meeting['data']['_id']}", key=suite.api_key, token=token,
            json={"userId": host_id, "roomId": room_id},
        )  # fmt: skip
        assert status == 204
    return room_id


async def produce_camera(client: SfuClient, packets: list[Any]) -> Any:
    transport_id, peer = await client.transport()
    return await client.produce(
        transport_id, peer, EncodedTrack("video", packets, interval=0.05), mid="0", app_type="camera"
    )


async def test_joining_a_room_that_was_never_created_is_refused(clients):
    client = await clients()
    assert await client.request("join", {"room_id": room_name(), "name": "Casey"}) == {"error": "room does not exist"}
    assert await client.request("join", {"name": "Casey"}) == {"error": "room_id is required"}


async def test_calls_before_joining_say_so(clients):
    client = await clients()
    for event in ("getRouterRtpCapabilities", "createWebRtcTransport", "getMyRoomInfo"):
        assert await client.request(event) == {"error": "not currently in a room: join one first"}
    assert await client.request("exitRoom") == {"error": "not currently in a room"}


async def test_a_missing_payload_is_an_empty_one_and_a_wrong_one_is_refused(clients):
    client = await clients()
    await client.enter(room_name(), "Dana")
    # The seed's clients emit some events with no payload at all.
    capabilities = await client.socket.call("getRouterRtpCapabilities", timeout=10)
    assert capabilities["codecs"]
    assert await client.socket.call("createRoom", "a string", timeout=10) == {"error": "createRoom takes an object"}
    assert await client.request("createWebRtcTransport", {"forceTcp": True}) == {
        "error": "this media server offers UDP transports only: send forceTcp false"
    }


async def test_an_unknown_transport_is_named_in_the_refusal(clients):
    client = await clients()
    await client.enter(room_name(), "Emery")
    answer = await client.request(
        "connectTransport",
        {"transport_id": "nope", "dtlsParameters": {"fingerprints": [FINGERPRINT], "role": "client"}},
    )
    assert answer == {"error": "no transport nope of yours in this room"}
    answer = await client.request(
        "produce", {"producerTransportId": "nope", "kind": "audio", "rtpParameters": {"codecs": []}}
    )
    assert "error" in answer


async def test_bad_dtls_parameters_are_refused(clients):
    client = await clients()
    await client.enter(room_name(), "Finley")
    created = await client.request("createWebRtcTransport", {"forceTcp": False})
    transport_id = created["id"]

    async def connect(dtls: Any) -> Any:
        return await client.request("connectTransport", {"transport_id": transport_id, "dtlsParameters": dtls})

    assert await connect(None) == {"error": "dtlsParameters must be an object, not null"}
    assert await connect({"role": "client"}) == {"error": "dtlsParameters.fingerprints is required"}
    assert await connect({"fingerprints": [{"algorithm": "md5", "value": "00:11"}], "role": "client"}) == {
        "error": "dtlsParameters.fingerprints needs a sha-256, sha-384 or sha-512 fingerprint"
    }
    assert await connect({"fingerprints": [FINGERPRINT], "role": "server"}) == {
        "error": "dtlsParameters.role must be client: the media server is the DTLS server"
    }
    assert await connect({"fingerprints": [FINGERPRINT], "role": "client"}) == "success"
    assert await connect({"fingerprints": [FINGERPRINT], "role": "client"}) == {
        "error": "transport is already connected"
    }


async def test_consuming_before_the_device_is_loaded_or_with_a_device_that_cannot_receive_is_refused(
    clients, vp8_packets
):
    room = room_name()
    host, viewer = await clients(), await clients()
    await host.enter(room, "Gray")
    produced = await produce_camera(host, vp8_packets)
    assert await viewer.request("createRoom", {"room_id": room}) == "already exists"
    await viewer.request("join", {"room_id": room, "name": "Harper"})
    created = await viewer.request("createWebRtcTransport")

    async def consume(**extra: Any) -> Any:
        body = {"consumerTransportId": created["id"], "producerId": produced["producer_id"], **extra}
        return await viewer.request("consume", body)

    load_first = {"error": "rtpCapabilities are required: load the device with getRouterRtpCapabilities first"}
    assert await consume() == load_first
    assert await consume(rtpCapabilities={"codecs": [], "headerExtensions": []}) == load_first
    audio_only = {
        "codecs": [
            {"kind": "audio", "mimeType": "audio/opus", "clockRate": 48000, "channels": 2, "preferredPayloadType": 100}
        ]
    }
    assert await consume(rtpCapabilities=audio_only) == {"error": "this device cannot receive video/VP8/90000"}
    capabilities = await viewer.request("getRouterRtpCapabilities")
    answer = await viewer.request(
        "consume", {"consumerTransportId": created["id"], "producerId": "nope", "rtpCapabilities": capabilities}
    )
    assert answer == {"error": "no producer nope in this room"}
    assert (await consume(rtpCapabilities=capabilities))["kind"] == "video"


async def test_in_a_room_created_on_the_socket_only_its_creator_produces(clients, vp8_packets):
    room = room_name()
    creator, other = await clients(), await clients()
    await creator.enter(room, "Indigo")
    await other.enter(room, "Jules")
    assert await produce_camera(other, vp8_packets) == {
        "error": "only the host and approved co-hosts may produce in a room created on the socket"
    }
    assert "producer_id" in await produce_camera(creator, vp8_packets)


async def test_in_a_webinar_room_only_the_meetings_host_produces(suite, http, clients, vp8_packets):
    host_user, viewer_user = await user_with_token(suite, http), await user_with_token(suite, http)
    room_id = await rest_room(suite, http, "webinar", host=host_user)
    # The viewer reaches the room first: being first does not make them its host.
    viewer = await clients(token=viewer_user[1])
    host = await clients(token=host_user[1])
    await viewer.enter(room_id, "Kai")
    joined = await host.enter(room_id, "Logan")
    assert [peer["role"] for _, peer in json.loads(joined["room"]["peers"])] == ["viewer", "host"]
    assert await produce_camera(viewer, vp8_packets) == {
        "error": "only the host and approved co-hosts may produce in a webinar room"
    }
    assert "producer_id" in await produce_camera(host, vp8_packets)


async def test_in_a_meeting_room_everyone_produces(suite, http, clients, vp8_packets):
    room_id = await rest_room(suite, http, "meeting")
    first, second = await clients(), await clients()
    await first.enter(room_id, "Morgan")
    await second.enter(room_id, "Noel")
    assert "producer_id" in await produce_camera(second, vp8_packets)
    assert "producer_id" in await produce_camera(first, vp8_packets)
