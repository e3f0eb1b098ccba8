"""The seed's SFU socket end to end: gateway, media node and auth as processes, a host and
a viewer made of python-socketio and aiortc, media flowing and being decoded."""

import asyncio
import json
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from sfuclient import SfuClient

from media.peer_client import EncodedTrack, encode_opus, encode_vp8

Clients = Callable[..., Awaitable[SfuClient]]


@pytest.fixture(scope="module")
def vp8_packets() -> list[Any]:
    return encode_vp8(20, keyframe_interval=5)


@pytest.fixture(scope="module")
def opus_packets() -> list[Any]:
    return encode_opus(10)


@pytest.fixture
async def clients(suite) -> AsyncIterator[Clients]:
    made: list[SfuClient] = []

    async def connect(**kwargs: Any) -> SfuClient:
        client = await SfuClient(suite.url, api_key=kwargs.pop("api_key", suite.api_key), **kwargs).connect()
        made.append(client)
        return client

    yield connect
    for client in made:
        await client.close()


def room_name() -> str:
    return f"room-{secrets.token_hex(4)}"


async def test_host_publishes_and_a_viewer_receives_and_decodes_audio_and_video(clients, vp8_packets, opus_packets):
    room = room_name()
    host, viewer = await clients(), await clients()

    assert await host.request("createRoom", {"room_id": room}) == room
    joined = await host.request("join", {"room_id": room, "name": "Avery"})
    assert joined["chatHistory"] == []
    assert joined["room"]["id"] == room
    assert json.loads(joined["room"]["peers"]) == [[host.sid, {"id": host.sid, "name": "Avery", "role": "host"}]]
    capabilities = await host.request("getRouterRtpCapabilities")
    assert {c["mimeType"] for c in capabilities["codecs"]} >= {"audio/opus", "video/VP8"}
    assert all("preferredPayloadType" in c for c in capabilities["codecs"])
    host.capabilities = None
    await host.enter(room, "Avery")  # joining again from the same socket is harmless
    send_id, send = await host.transport()
    camera = EncodedTrack("video", vp8_packets, interval=1 / 30)
    video = await host.produce(send_id, send, camera, mid="0", app_type="camera")
    assert set(video) == {"producer_id"}

    # Viewers call createRoom too: for them it already exists.
    assert await viewer.request("createRoom", {"room_id": room}) == "already exists"
    await viewer.enter(room, "Blake")
    assert (await host.pushed("peerJoined"))["peer_id"] == viewer.sid
    await viewer.socket.emit("getProducers")
    assert await viewer.pushed("newProducers") == [
        {"producer_id": video["producer_id"], "producer_socket_id": host.sid, "appData": {"type": "camera"}}
    ]

    # A producer made after the viewer joined is announced to it.
    microphone = EncodedTrack("audio", opus_packets, interval=0.02)
    audio = await host.produce(send_id, send, microphone, mid="1", app_type="mic")
    assert await viewer.pushed("newProducers") == [
        {"producer_id": audio["producer_id"], "producer_socket_id": host.sid, "appData": {"type": "mic"}}
    ]

    await viewer.transport()  # mediasoup-client makes a send transport, viewers too
    recv_id, recv = await viewer.transport()
    video_consumer, video_receiver = await viewer.consume(recv_id, recv, video["producer_id"])
    audio_consumer, audio_receiver = await viewer.consume(recv_id, recv, audio["producer_id"])
    assert {k: video_consumer[k] for k in ("producerId", "kind", "type", "producerPaused", "appData", "peerId")} == {
        "producerId": video["producer_id"],
        "kind": "video",
        "type": "simple",
        "producerPaused": False,
        "appData": {"type": "camera"},
        "peerId": host.sid,
    }
    assert (audio_consumer["appData"], audio_consumer["peerId"]) == ({"type": "mic"}, host.sid)
    assert video_consumer["rtpParameters"]["codecs"][0]["payloadType"] in {
        c["preferredPayloadType"] for c in capabilities["codecs"] if c["mimeType"] == "video/VP8"
    }
    # Flowing without `resume`; `resume` is accepted and harmless.
    frame = await asyncio.wait_for(video_receiver.track.recv(), 10)
    assert (frame.width, frame.height) == (160, 120)
    assert await viewer.request("resume", {"consumer_id": video_consumer["id"]}) == "success"
    assert await viewer.request("resume", {"consumerId": audio_consumer["id"]}) == "success"
    assert (await asyncio.wait_for(audio_receiver.track.recv(), 10)).sample_rate == 48000
    assert (await asyncio.wait_for(video_receiver.track.recv(), 10)).width == 160

    info = await viewer.request("getMyRoomInfo")
    assert {name for _, peer in json.loads(info["peers"]) for name in [peer["name"]]} == {"Avery", "Blake"}

    # The host closes the camera: the viewer's consumer of it closes.
    await host.socket.emit("producerClosed", {"producer_id": video["producer_id"]})
    assert await viewer.pushed("consumerClosed") == {"consumer_id": video_consumer["id"]}

    # The host's socket goes: its microphone's consumer closes, and the room hears it left.
    host_sid = host.sid
    await host.socket.disconnect()
    assert await viewer.pushed("consumerClosed") == {"consumer_id": audio_consumer["id"]}
    assert await viewer.pushed("peerLeft") == {"peer_id": host_sid, "name": "Avery", "role": "host"}
    assert await viewer.request("exitRoom") == "successfully exited room"
    assert await viewer.request("exitRoom") == {"error": "not currently in a room"}


async def test_sockets_of_other_rooms_and_other_tenants_hear_nothing_of_a_room(suite, clients, vp8_packets):
    room = room_name()
    host, viewer, bystander = await clients(), await clients(), await clients()
    other_tenant = await clients(api_key=suite.create_tenant("essential"))
    await host.enter(room, "Host")
    await viewer.enter(room, "Viewer")
    await bystander.enter(room_name(), "Elsewhere")
    # The same room id names another room for another tenant: not created there yet.
    assert await other_tenant.request("join", {"room_id": room, "name": "Eve"}) == {"error": "room does not exist"}
    await other_tenant.enter(room, "Eve")

    send_id, send = await host.transport()
    produced = await host.produce(
        send_id, send, EncodedTrack("video", vp8_packets, interval=0.05), mid="0", app_type="camera"
    )
    assert await viewer.pushed("newProducers") == [
        {"producer_id": produced["producer_id"], "producer_socket_id": host.sid, "appData": {"type": "camera"}}
    ]
    assert bystander.pushes["newProducers"].empty()
    assert other_tenant.pushes["newProducers"].empty()
    await other_tenant.socket.emit("getProducers")
    assert await other_tenant.pushed("newProducers") == []
