"""Room controls and presence over the SFU socket, against the running suite: joins and
leaves are broadcast; `getMyRoomInfo` lists the peers with their roles, the screen sharer,
paused cameras and muted microphones; the host mutes and removes participants; one screen
share at a time; `videoPaused` / `videoResumed`; and the Meet socket's `room.join` joins
the same room. Every refusal is an `{error}` acknowledgement."""

from collections.abc import AsyncIterator

import pytest
from roomclients import (
    Clients,
    consume,
    enter,
    peers_of,
    produce,
    rest_room,
    room_clients,
    room_name,
    send_transport,
    user_with_token,
)


@pytest.fixture
async def clients(suite) -> AsyncIterator[Clients]:
    async with room_clients(suite) as connect:
        yield connect


async def test_joins_and_leaves_are_broadcast_and_room_info_lists_the_peers_with_roles(clients):
    room = room_name()
    host, viewer = await clients(), await clients()
    await enter(host, room, "Avery")
    joined = await enter(viewer, room, "Blake")
    assert await host.pushed("peerJoined") == {"peer_id": viewer.sid, "name": "Blake", "role": "viewer"}
    assert peers_of(joined["room"]) == {host.sid: ("Avery", "host"), viewer.sid: ("Blake", "viewer")}
    info = await viewer.request("getMyRoomInfo")
    assert {k: info[k] for k in ("id", "screenShare", "videoPaused", "audioMuted", "cohostRequests")} == {
        "id": room,
        "screenShare": None,
        "videoPaused": [],
        "audioMuted": [],
        "cohostRequests": [],
    }
    assert await viewer.request("exitRoom") == "successfully exited room"
    assert await host.pushed("peerLeft") == {"peer_id": viewer.sid, "name": "Blake", "role": "viewer"}
    assert peers_of(await host.request("getMyRoomInfo")) == {host.sid: ("Avery", "host")}


async def test_the_host_mutes_a_participant_who_is_told_and_whose_microphone_pauses(suite, http, clients):
    room_id = await rest_room(suite, http, "meeting")  # everyone produces; the opener hosts
    host, speaker, listener = await clients(), await clients(), await clients()
    await enter(host, room_id, "Casey")
    await enter(speaker, room_id, "Dana")
    await enter(listener, room_id, "Emery")
    assert await host.request("participant:mute", {"peer_id": speaker.sid}) == {
        "error": "Dana has no unmuted microphone"
    }
    transport = await send_transport(speaker)
    microphone = (await produce(speaker, transport, "audio", "mic", mid="0"))["producer_id"]

    assert await speaker.request("participant:mute", {"peer_id": host.sid}) == {
        "error": "only the host may mute a participant"
    }
    assert await host.request("participant:mute", {"peer_id": "nobody"}) == {"error": "no peer nobody in this room"}
    assert await host.request("participant:mute", {}) == {"error": "peer_id is required"}
    assert await host.request("participant:mute", {"peer_id": speaker.sid}) == {"producer_ids": [microphone]}
    muted = {"peer_id": speaker.sid, "name": "Dana", "role": "participant", "producer_ids": [microphone], "by": "Casey"}
    assert await speaker.pushed("participant:muted") == muted
    assert await listener.pushed("participant:muted") == muted
    assert (await listener.request("getMyRoomInfo"))["audioMuted"] == [speaker.sid]
    assert (await consume(listener, microphone))["producerPaused"] is True
    assert await host.request("participant:mute", {"peer_id": speaker.sid}) == {
        "error": "Dana has no unmuted microphone"
    }


async def test_the_host_removes_a_participant_whose_transports_close_and_who_cannot_rejoin(suite, http, clients):
    room_id = await rest_room(suite, http, "meeting")
    (_, host_token), (_, guest_token) = await user_with_token(suite, http), await user_with_token(suite, http)
    host, guest, viewer = await clients(token=host_token), await clients(token=guest_token), await clients()
    await enter(host, room_id, "Finley")
    await enter(guest, room_id, "Gray")
    await enter(viewer, room_id, "Harper")
    camera = await produce(guest, await send_transport(guest), "video", "camera", mid="0")
    consumer = await consume(viewer, camera["producer_id"])

    assert await viewer.request("participant:remove", {"peer_id": guest.sid}) == {
        "error": "only the host may remove a participant"
    }
    assert await host.request("participant:remove", {"peer_id": host.sid}) == {
        "error": "you cannot remove yourself: use exitRoom"
    }
    assert await host.request("participant:remove", {"peer_id": guest.sid}) == "success"
    removed = {"peer_id": guest.sid, "name": "Gray", "role": "participant", "by": "Finley"}
    assert await guest.pushed("participant:removed") == removed
    assert await viewer.pushed("participant:removed") == removed
    assert await viewer.pushed("consumerClosed") == {"consumer_id": consumer["id"]}
    assert await viewer.pushed("peerLeft") == {"peer_id": guest.sid, "name": "Gray", "role": "participant"}
    assert peers_of(await host.request("getMyRoomInfo")).keys() == {host.sid, viewer.sid}

    # The removed socket is out: it neither acts in the room nor joins it again.
    out = {"error": "not currently in a room: join one first"}
    assert await guest.request("getMyRoomInfo") == out
    assert await guest.request("sendMessage", {"message": "let me back"}) == out
    assert await guest.request("exitRoom") == {"error": "not currently in a room"}
    refused = {"error": "you were removed from this room by its host"}
    assert await guest.request("join", {"room_id": room_id, "name": "Gray"}) == refused
    # Nor does the same user on a new socket (the same token); another room is open to them.
    again = await clients(token=guest_token)
    assert await again.request("join", {"room_id": room_id, "name": "Gray"}) == refused
    assert await again.request("room.join", {"roomId": room_id, "name": "Gray"}) == refused
    await enter(again, room_name(), "Gray")


async def test_a_second_screen_share_is_refused_naming_the_sharer_until_it_stops(clients):
    room = room_name()
    host, helper, viewer = await clients(), await clients(), await clients()
    await enter(host, room, "Indigo")
    await enter(helper, room, "Jules")
    await enter(viewer, room, "Kai")
    await helper.request("cohost:request")
    await host.request("cohost:respond", {"peer_id": helper.sid, "approved": True})
    host_transport, helper_transport = await send_transport(host), await send_transport(helper)
    assert await host.request("screen:shared") == {
        "error": 'you are not sharing your screen: produce with appData.type "screen" first'
    }

    screen = (await produce(host, host_transport, "video", "screen", mid="0"))["producer_id"]
    share = {"peer_id": host.sid, "name": "Indigo", "producer_id": screen}
    for client in (host, helper, viewer):
        assert await client.pushed("screen:shared") == share
    assert (await viewer.request("getMyRoomInfo"))["screenShare"] == share
    assert await host.request("screen:shared") == share
    assert await produce(helper, helper_transport, "video", "screen", mid="0") == {
        "error": "Indigo is sharing their screen: one screen share at a time"
    }
    assert await produce(host, host_transport, "video", "screen", mid="1") == {
        "error": "you are sharing your screen already: close that producer first"
    }
    assert "producer_id" in await produce(helper, helper_transport, "video", "camera", mid="1")
    assert await helper.request("screen:stopped") == {
        "error": 'you are not sharing your screen: produce with appData.type "screen" first'
    }

    assert await host.request("screen:stopped") == share
    for client in (host, helper, viewer):
        assert await client.pushed("screen:stopped") == share
    assert (await viewer.request("getMyRoomInfo"))["screenShare"] is None
    second = (await produce(helper, helper_transport, "video", "screen", mid="2"))["producer_id"]
    assert (await viewer.pushed("screen:shared"))["peer_id"] == helper.sid
    # Closing the screen producer stops the share as well.
    await helper.socket.emit("producerClosed", {"producer_id": second})
    assert await viewer.pushed("screen:stopped") == {"peer_id": helper.sid, "name": "Jules", "producer_id": second}


async def test_video_paused_and_resumed_are_broadcast_and_reflected_in_room_info(clients):
    room = room_name()
    host, viewer = await clients(), await clients()
    await enter(host, room, "Logan")
    await enter(viewer, room, "Morgan")
    assert await host.request("videoPaused") == {"error": "you are not producing a camera"}
    transport = await send_transport(host)
    camera = (await produce(host, transport, "video", "camera", mid="0"))["producer_id"]
    microphone = (await produce(host, transport, "audio", "mic", mid="1"))["producer_id"]
    assert await host.request("videoPaused", {"producer_id": microphone}) == {
        "error": f"producer {microphone} carries audio: only video pauses"
    }
    assert await viewer.request("videoPaused", {"producer_id": camera}) == {
        "error": f"no producer {camera} of yours in this room"
    }

    assert await host.request("videoPaused") == {"producer_ids": [camera]}
    paused = {"peer_id": host.sid, "name": "Logan", "role": "host", "producer_ids": [camera]}
    assert await viewer.pushed("videoPaused") == paused
    assert (await viewer.request("getMyRoomInfo"))["videoPaused"] == [host.sid]
    assert (await consume(viewer, camera))["producerPaused"] is True
    assert await host.request("videoResumed", {"producer_id": camera}) == {"producer_ids": [camera]}
    assert await viewer.pushed("videoResumed") == paused
    assert (await viewer.request("getMyRoomInfo"))["videoPaused"] == []


async def test_room_join_on_the_meet_socket_shares_the_sfu_rooms_presence(clients):
    room = room_name()
    sfu, meet = await clients(), await clients()
    assert await meet.request("room.join", {"name": "Noel"}) == {"error": "room_id is required"}
    # room.join opens a session room nobody has opened yet: its joiner hosts it.
    joined = await meet.request("room.join", {"roomId": room, "name": "Noel"})
    assert joined["chatHistory"] == []
    assert peers_of(joined["room"]) == {meet.sid: ("Noel", "host")}
    await enter(sfu, room, "Oakley")
    assert await meet.pushed("peerJoined") == {"peer_id": sfu.sid, "name": "Oakley", "role": "viewer"}
    assert peers_of(await sfu.request("getMyRoomInfo")) == {meet.sid: ("Noel", "host"), sfu.sid: ("Oakley", "viewer")}
    assert (await meet.request("sendMessage", {"message": "welcome"}))["name"] == "Noel"
    assert (await sfu.pushed("newMessage"))["message"] == "welcome"
    assert await meet.request("exitRoom") == "successfully exited room"
    assert (await sfu.pushed("peerLeft"))["peer_id"] == meet.sid
