"""Viewer links against the running suite: a logged-in user asks for a room's link (a
room ticket, never the API key); a socket with the ticket alone connects as a guest of
the tenant, enters that room only (as a viewer, until a host approves it), and reaches
that room's whiteboard only; a ticket is no bearer token and a token no ticket."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from urllib.parse import quote

import aiohttp
import pytest
import socketio
from roomclients import (
    Clients,
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

from restclient import call


@pytest.fixture
async def clients(suite) -> AsyncIterator[Clients]:
    async with room_clients(suite) as connect:
        yield connect


async def refusal(url: str, auth: dict[str, str], *, path: str = "socket.io") -> dict[str, object]:
    """The `connect_error` a socket with these credentials gets."""
    client = socketio.AsyncClient(reconnection=False)
    refusals: list[dict[str, object]] = []
    client.on("connect_error", refusals.append)
    with pytest.raises(socketio.exceptions.ConnectionError):
        await client.connect(url, socketio_path=path, auth=auth, wait_timeout=10)
    return refusals[0]


def seconds_from_now(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp() - datetime.now(UTC).timestamp()


async def test_a_logged_in_user_gets_a_viewer_link_that_carries_a_ticket_and_no_api_key(suite, http):
    _, token = await user_with_token(suite, http)
    room_id = await rest_room(suite, http, "webinar")
    url = f"{suite.url}/room/{room_id}/viewer-link"
    status, answer, _ = await call(http, "POST", url, key=suite.api_key, token=token)
    assert status == 201, answer
    link = answer["data"]
    assert answer["success"] is True
    assert link["path"] == f"/app/watch.html?room={quote(room_id, safe='')}#ticket={link['ticket']}"
    assert suite.api_key not in link["path"]
    assert 86_400 - 60 < seconds_from_now(link["expiresAt"]) <= 86_400
    status, answer, _ = await call(http, "POST", url, key=suite.api_key, token=token, json={"expiresInSeconds": 600})
    assert status == 201, answer
    assert 540 < seconds_from_now(answer["data"]["expiresAt"]) <= 600


async def test_a_viewer_link_needs_a_user_a_room_of_the_tenant_and_a_lifetime_of_a_minute_to_a_week(
    suite, http, essential_key
):
    _, token = await user_with_token(suite, http)
    room_id = await rest_room(suite, http, "webinar")
    url = f"{suite.url}/room/{room_id}/viewer-link"
    status, _, _ = await call(http, "POST", url, key=suite.api_key)
    assert status == 401
    for missing in (f"{suite.url}/room/000000000000000000000000/viewer-link", f"{suite.url}/room/nope/viewer-link"):
        status, answer, _ = await call(http, "POST", missing, key=suite.api_key, token=token)
        assert (status, answer["message"]) == (404, "room not found")
    # Another tenant's room is no room of this one.
    other_room = await call(
        http, "POST", suite.url + "/room/create", key=essential_key, json={"name": "Theirs", "type": "webinar"}
    )
    status, _, _ = await call(
        http, "POST", f"{suite.url}/room/{other_room[1]['data']['id']}/viewer-link", key=suite.api_key, token=token
    )
    assert status == 404
    for body in ({"expiresInSeconds": 59}, {"expiresInSeconds": 604_801}, {"expiresInSeconds": "an hour"}):
        status, answer, _ = await call(http, "POST", url, key=suite.api_key, token=token, json=body)
        assert (status, answer["field"]) == (400, "expiresInSeconds"), answer


async def test_a_ticket_is_no_bearer_token_and_a_token_is_no_ticket(suite, http):
    _, token = await user_with_token(suite, http)
    ticket = await viewer_ticket(suite, http, await rest_room(suite, http, "webinar"), token)
    status, answer, _ = await call(http, "GET", suite.url + "/auth/me", key=suite.api_key, token=ticket)
    assert (status, answer["message"]) == (401, "invalid access token")
    assert await refusal(suite.url, {"ticket": token}) == {
        "message": "invalid room ticket",
        "data": {"code": "unauthorized"},
    }


async def test_a_forged_ticket_or_one_of_another_tenant_than_the_key_is_refused_at_connect(suite, http, essential_key):
    _, token = await user_with_token(suite, http)
    ticket = await viewer_ticket(suite, http, await rest_room(suite, http, "webinar"), token)
    forged = ticket[:-4] + ("AAAA" if not ticket.endswith("AAAA") else "BBBB")
    assert await refusal(suite.url, {"ticket": forged}) == {
        "message": "invalid room ticket",
        "data": {"code": "unauthorized"},
    }
    assert (await refusal(suite.url, {"ticket": ticket, "apiKey": essential_key}))["message"] == (
        "the room ticket belongs to another tenant than the API key"
    )


async def test_a_guest_enters_its_tickets_room_only_and_views_it(suite, http, clients):
    room_id = await rest_room(suite, http, "meeting")  # everyone else may produce here
    _, token = await user_with_token(suite, http)
    ticket = await viewer_ticket(suite, http, room_id, token)
    host = await clients(token=token)
    await enter(host, room_id, "Avery")
    guest = await clients(api_key=None, ticket=ticket)

    elsewhere = room_name()
    only_here = {"error": f"this link is for room {room_id} only"}
    assert await guest.request("createRoom", {"room_id": elsewhere}) == only_here
    assert await guest.request("join", {"room_id": elsewhere, "name": "Blake"}) == only_here
    assert await guest.request("room.join", {"roomId": elsewhere, "name": "Blake"}) == only_here

    joined = await enter(guest, room_id, "Blake")
    assert peers_of(joined["room"]) == {host.sid: ("Avery", "host"), guest.sid: ("Blake", "viewer")}
    transport = await send_transport(guest)
    assert await produce(guest, transport, "video", "camera", mid="0") == {
        "error": "only the host and approved co-hosts may produce in a meeting room"
    }
    assert await guest.request("cohost:request") == "success"
    assert (await host.pushed("cohost:request"))["peer_id"] == guest.sid
    assert await host.request("cohost:respond", {"peer_id": guest.sid, "approved": True}) == "success"
    assert (await guest.pushed("roleChanged"))["role"] == "co-host"
    assert "producer_id" in await produce(guest, transport, "video", "camera", mid="0")
    # Its chat messages are counted per socket (it has no user) and carry its name.
    assert (await guest.request("sendMessage", {"message": "hello"}))["name"] == "Blake"


async def test_a_guest_arriving_first_opens_the_room_but_the_presenter_hosts_it(suite, http, clients):
    room_id = await rest_room(suite, http, "webinar")  # no meeting names a host: whoever opens it would
    _, token = await user_with_token(suite, http)
    guest = await clients(api_key=None, ticket=await viewer_ticket(suite, http, room_id, token))
    joined = await enter(guest, room_id, "Early")
    assert peers_of(joined["room"]) == {guest.sid: ("Early", "viewer")}
    presenter = await clients(token=token)
    assert await presenter.request("createRoom", {"room_id": room_id}) == "already exists"
    joined = await presenter.request("join", {"room_id": room_id, "name": "Avery"})
    assert peers_of(joined["room"])[presenter.sid] == ("Avery", "host")


async def test_a_guests_whiteboard_is_its_rooms_only(suite, http):
    room_id = await rest_room(suite, http, "webinar")
    _, token = await user_with_token(suite, http)
    board = socketio.AsyncClient(reconnection=False)
    await board.connect(
        suite.url,
        socketio_path="erizocontroller/socket.io",
        auth={"ticket": await viewer_ticket(suite, http, room_id, token)},
        wait_timeout=10,
    )
    try:
        ask = {"type": "whiteBoardStateRequest"}
        elsewhere = await board.call("whiteBoardStateRequest", {**ask, "msg": {"room_id": "another"}}, timeout=5)
        assert elsewhere == {"error": f"this link is for room {room_id} only"}
        state = await board.call("whiteBoardStateRequest", {**ask, "msg": {"room_id": room_id}}, timeout=5)
        assert (state["room_id"], state["enabled"]) == (room_id, False)
    finally:
        await board.disconnect()


async def test_a_guest_downloads_its_rooms_chat_files_with_the_ticket_and_no_others(suite, http):
    _, token = await user_with_token(suite, http)
    room_id = await rest_room(suite, http, "webinar")
    other_room = await rest_room(suite, http, "webinar")
    form = aiohttp.FormData()
    form.add_field("file", b"agenda: demo day", filename="agenda.txt", content_type="text/plain")
    async with http.post(f"{suite.url}/room/{room_id}/upload", data=form, headers={"x-api-key": suite.api_key}) as up:
        assert up.status == 200, await up.text()
        filename = (await up.json())["data"]["filename"]
    ticket = await viewer_ticket(suite, http, room_id, token)
    download = f"{suite.url}/room/{room_id}/files/{filename}/download"

    async with http.get(download, params={"ticket": ticket}) as answer:
        assert answer.status == 200
        assert await answer.read() == b"agenda: demo day"
    async with http.get(
        f"{suite.url}/room/{other_room}/files/{filename}/download", params={"ticket": ticket}
    ) as answer:
        assert answer.status == 403
        assert (await answer.json())["message"] == f"this link is for room {room_id} only"
    async with http.get(download, params={"ticket": "not-a-ticket"}) as answer:
        assert answer.status == 401
    # Only the routes that say so take a ticket: the room's other routes still need the key.
    async with http.get(f"{suite.url}/room/{room_id}/files/{filename}", params={"ticket": ticket}) as answer:
        assert answer.status == 401
