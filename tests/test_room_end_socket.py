"""The host ends a webinar (`room:end`) against the running suite: everyone hears
`room:ended` and is out of the room (their transports close, the gateway forgets them),
and a room made over REST stays ended: every way back in says so. A room opened on the
socket just closes and may be opened again."""

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
    viewer_ticket,
)

ENDED = {"error": "this webinar has ended"}
OUT = {"error": "not currently in a room"}


@pytest.fixture
async def clients(suite) -> AsyncIterator[Clients]:
    async with room_clients(suite) as connect:
        yield connect


async def test_the_host_ends_the_webinar_everyone_is_told_and_out_and_it_stays_ended(suite, http, clients):
    room_id = await rest_room(suite, http, "webinar")
    _, token = await user_with_token(suite, http)
    host, viewer = await clients(token=token), await clients()
    guest = await clients(api_key=None, ticket=await viewer_ticket(suite, http, room_id, token))
    await enter(host, room_id, "Avery")
    await enter(viewer, room_id, "Blake")
    await enter(guest, room_id, "Casey")
    camera = await produce(host, await send_transport(host), "video", "camera", mid="0")
    assert "id" in await consume(viewer, camera["producer_id"])

    assert await viewer.request("room:end") == {"error": "only the host may end the webinar"}
    assert await host.request("room:end") == "success"
    for client in (host, viewer, guest):
        assert await client.pushed("room:ended") == {"room_id": room_id, "by": "Avery"}
    # Everyone is out, the host too: nothing more is heard of the room.
    assert await host.request("exitRoom") == OUT
    assert await viewer.request("exitRoom") == OUT
    assert await guest.request("getMyRoomInfo") == {"error": "not currently in a room: join one first"}
    assert await guest.request("exitRoom") == OUT
    assert await viewer.request("sendMessage", {"message": "still there?"}) == {
        "error": "not currently in a room: join one first"
    }
    for client in (host, viewer, guest):
        assert client.pushes["peerLeft"].empty()
        assert client.pushes["consumerClosed"].empty()  # the room closed: nobody is told piecemeal

    # It stays ended, whoever asks and however.
    assert await host.request("createRoom", {"room_id": room_id}) == ENDED
    assert await host.request("join", {"room_id": room_id, "name": "Avery"}) == ENDED
    assert await guest.request("join", {"room_id": room_id, "name": "Casey"}) == ENDED
    late = await clients()
    assert await late.request("room.join", {"roomId": room_id, "name": "Dana"}) == ENDED
    assert await late.request("join", {"room_id": room_id, "name": "Dana"}) == ENDED


async def test_room_end_needs_a_room(clients):
    lonely = await clients()
    assert await lonely.request("room:end") == {"error": "not currently in a room: join one first"}


async def test_a_room_opened_on_the_socket_closes_when_ended_and_may_be_opened_again(clients):
    room = room_name()
    host, viewer = await clients(), await clients()
    await enter(host, room, "Avery")
    await enter(viewer, room, "Blake")
    assert await host.request("room:end") == "success"
    assert await viewer.pushed("room:ended") == {"room_id": room, "by": "Avery"}
    assert await viewer.request("exitRoom") == OUT
    assert await host.request("createRoom", {"room_id": room}) == room  # opened anew
    joined = await enter(viewer, room, "Blake")
    assert peers_of(joined["room"]) == {viewer.sid: ("Blake", "viewer")}
