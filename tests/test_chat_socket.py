"""Room chat over the SFU socket, against the running suite: `sendMessage` is kept by the
meetings service and broadcast, `join` returns the history in order, a message may carry
a room file with a download link, messages are cleaned, bounded and rate-limited, and a
host or co-host deletes one for everyone. Every refusal is an `{error}` acknowledgement."""

from collections.abc import AsyncIterator

import aiohttp
import pytest
from roomclients import Clients, enter, rest_room, room_clients, room_name


@pytest.fixture
async def clients(suite) -> AsyncIterator[Clients]:
    async with room_clients(suite) as connect:
        yield connect


async def test_a_message_reaches_the_room_and_a_late_joiner_gets_the_history_in_order(clients):
    room = room_name()
    host, viewer = await clients(), await clients()
    await enter(host, room, "Avery")
    await enter(viewer, room, "Blake")

    # The name is the one the socket joined with, not one the payload claims.
    first = await host.request("sendMessage", {"room_id": room, "name": "Someone else", "message": "Hello all"})
    assert {k: first[k] for k in ("room_id", "name", "message", "peer_id")} == {
        "room_id": room,
        "name": "Avery",
        "message": "Hello all",
        "peer_id": host.sid,
    }
    assert isinstance(first["timestamp"], int)
    assert await viewer.pushed("newMessage") == first
    second = await viewer.request("sendMessage", {"message": "Hi Avery"})
    assert await host.pushed("newMessage") == second

    late = await clients()
    joined = await enter(late, room, "Casey")
    history = joined["chatHistory"]
    assert [(m["room_id"], m["name"], m["message"]) for m in history] == [
        (room, "Avery", "Hello all"),
        (room, "Blake", "Hi Avery"),
    ]
    assert history == [first, second]
    assert history[0]["timestamp"] <= history[1]["timestamp"]
    # The Meet socket's room.join gets the same history.
    meet = await clients()
    assert (await meet.request("room.join", {"roomId": room, "name": "Drew"}))["chatHistory"] == history


async def test_messages_are_cleaned_and_bad_ones_refused(clients):
    client = await clients()
    assert await client.request("sendMessage", {"message": "hi"}) == {
        "error": "not currently in a room: join one first"
    }
    room = room_name()
    await enter(client, room, "Emery\x1b[1m")
    sent = await client.request("sendMessage", {"message": " tab\there\x00\u202e!\r\nnext line \x07"})
    assert sent["message"] == "tab here!\nnext line"
    assert sent["name"] == "Emery[1m"
    assert await client.request("sendMessage", {"message": "x" * 2001}) == {
        "error": "message is longer than 2000 characters"
    }
    assert await client.request("sendMessage", {"message": " \x07 "}) == {"error": "message is empty"}
    assert await client.request("sendMessage", {"message": 5}) == {"error": "message must be a string, not an integer"}
    assert await client.request("sendMessage", {"room_id": "elsewhere", "message": "hi"}) == {
        "error": f"you are in room {room}, not elsewhere"
    }


async def test_a_sender_past_the_rate_limit_is_refused_and_others_are_not(clients):
    room = room_name()
    chatty, other = await clients(), await clients()
    await enter(chatty, room, "Finley")
    await enter(other, room, "Gray")
    for i in range(10):
        assert "id" in await chatty.request("sendMessage", {"message": f"message {i}"})
    refused = await chatty.request("sendMessage", {"message": "one too many"})
    assert refused["error"].startswith("too many messages: at most 10 every 10 seconds; wait ")
    assert 1 <= refused["retryAfter"] <= 10
    assert "id" in await other.request("sendMessage", {"message": "my turn"})
    history = (await enter(await clients(), room, "Harper"))["chatHistory"]
    assert [m["message"] for m in history][-2:] == ["message 9", "my turn"]


async def test_a_file_message_carries_a_link_that_downloads_the_file(suite, http, clients):
    room_id = await rest_room(suite, http, "meeting")
    form = aiohttp.FormData()
    form.add_field("file", b"slide one\nslide two\n", filename="Slides-v2.txt", content_type="text/plain")
    async with http.post(f"{suite.url}/room/{room_id}/upload", data=form, headers={"x-api-key": suite.api_key}) as r:
        assert r.status == 200
        stored = (await r.json())["data"]
    host, viewer = await clients(), await clients()
    await enter(host, room_id, "Indigo")
    await enter(viewer, room_id, "Jules")

    sent = await host.request("sendMessage", {"message": "the slides", "file": {"filename": stored["filename"]}})
    shared = await viewer.pushed("newMessage")
    assert shared == sent
    assert shared["file"] == {
        "filename": stored["filename"],
        "originalName": "Slides-v2.txt",
        "size": 20,
        "contentType": "text/plain",
        "url": f"/room/{room_id}/files/{stored['filename']}/download",
    }
    async with http.get(suite.url + shared["file"]["url"], headers={"x-api-key": suite.api_key}) as response:
        assert response.status == 200
        assert await response.read() == b"slide one\nslide two\n"
    # The stored name alone is accepted too, and a file message needs no text.
    assert (await host.request("sendMessage", {"file": stored["filename"]}))["file"]["size"] == 20
    assert await host.request("sendMessage", {"message": "?", "file": "0123456789abcdef_other.txt"}) == {
        "error": "no such file in this room: upload it with POST /room/:roomId/upload first"
    }


async def test_the_host_deletes_a_message_for_everyone_and_a_viewer_may_not(clients):
    room = room_name()
    host, viewer = await clients(), await clients()
    await enter(host, room, "Kai")
    await enter(viewer, room, "Logan")
    kept = await viewer.request("sendMessage", {"message": "kept"})
    unwanted = await viewer.request("sendMessage", {"message": "spam"})

    assert await viewer.request("deleteMessage", {"id": unwanted["id"]}) == {
        "error": "only the host and co-hosts may delete a chat message"
    }
    assert await host.request("deleteMessage", {"id": unwanted["id"]}) == "success"
    deleted = {"room_id": room, "id": unwanted["id"]}
    assert await viewer.pushed("messageDeleted") == deleted
    assert await host.pushed("messageDeleted") == deleted
    assert await host.request("deleteMessage", {"id": unwanted["id"]}) == {
        "error": "no such message in this room's chat"
    }
    assert await host.request("deleteMessage", {}) == {"error": "id is required"}
    assert (await enter(await clients(), room, "Morgan"))["chatHistory"] == [kept]
