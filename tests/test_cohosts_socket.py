"""Co-hosts over the SFU socket, against the running suite: a viewer's `cohost:request`
reaches the host and co-hosts, `cohost:respond` reaches the viewer, an approved viewer
produces while a pending or denied one may not, co-hosts moderate the chat, and the host
demotes a co-host (whose producers close). Every refusal is an `{error}` acknowledgement."""

from collections.abc import AsyncIterator

import pytest
from roomclients import Clients, consume, enter, peers_of, produce, room_clients, room_name, send_transport

VIEWERS_MAY_NOT_PRODUCE = {"error": "only the host and approved co-hosts may produce in a room created on the socket"}


@pytest.fixture
async def clients(suite) -> AsyncIterator[Clients]:
    async with room_clients(suite) as connect:
        yield connect


async def test_a_viewer_asks_the_host_approves_and_the_viewer_then_produces(clients):
    room = room_name()
    host, viewer = await clients(), await clients()
    await enter(host, room, "Avery")  # opened the room: its host
    await enter(viewer, room, "Blake")
    transport = await send_transport(viewer)
    assert await produce(viewer, transport, "video", "camera", mid="0") == VIEWERS_MAY_NOT_PRODUCE

    assert await viewer.request("cohost:request", {"room_id": room, "name": "Blake"}) == "success"
    request = {"peer_id": viewer.sid, "name": "Blake", "role": "viewer", "room_id": room}
    assert await host.pushed("cohost:request") == request
    info = await host.request("getMyRoomInfo")
    assert info["cohostRequests"] == [{"peer_id": viewer.sid, "name": "Blake"}]
    # Waiting is not approved.
    assert await produce(viewer, transport, "video", "camera", mid="0") == VIEWERS_MAY_NOT_PRODUCE

    assert await host.request("cohost:respond", {"peer_id": viewer.sid, "approved": True}) == "success"
    answer = {"room_id": room, "peer_id": viewer.sid, "approved": True, "role": "co-host", "by": "Avery"}
    assert await viewer.pushed("cohost:respond") == answer
    promoted = {"peer_id": viewer.sid, "name": "Blake", "role": "co-host"}
    assert await viewer.pushed("roleChanged") == promoted
    assert await host.pushed("roleChanged") == promoted
    produced = await produce(viewer, transport, "video", "camera", mid="0")
    assert "producer_id" in produced
    assert await host.pushed("newProducers") == [
        {"producer_id": produced["producer_id"], "producer_socket_id": viewer.sid, "appData": {"type": "camera"}}
    ]
    info = await host.request("getMyRoomInfo")
    assert peers_of(info) == {host.sid: ("Avery", "host"), viewer.sid: ("Blake", "co-host")}
    assert info["cohostRequests"] == []


async def test_a_denied_viewer_is_told_and_still_may_not_produce(clients):
    room = room_name()
    host, viewer = await clients(), await clients()
    await enter(host, room, "Casey")
    await enter(viewer, room, "Dana")
    assert await viewer.request("cohost:request") == "success"
    await host.pushed("cohost:request")
    assert await host.request("cohost:respond", {"peer_id": viewer.sid, "approved": False}) == "success"
    assert await viewer.pushed("cohost:respond") == {
        "room_id": room,
        "peer_id": viewer.sid,
        "approved": False,
        "role": "viewer",
        "by": "Casey",
    }
    transport = await send_transport(viewer)
    assert await produce(viewer, transport, "audio", "mic", mid="0") == VIEWERS_MAY_NOT_PRODUCE
    assert peers_of(await viewer.request("getMyRoomInfo"))[viewer.sid] == ("Dana", "viewer")


async def test_cohost_requests_and_answers_that_make_no_sense_are_refused(clients):
    room = room_name()
    host, viewer, other = await clients(), await clients(), await clients()
    assert await viewer.request("cohost:request") == {"error": "not currently in a room: join one first"}
    await enter(host, room, "Emery")
    await enter(viewer, room, "Finley")
    await enter(other, room, "Gray")

    assert await host.request("cohost:request") == {"error": "you are the host already"}
    assert await viewer.request("cohost:request") == "success"
    assert await viewer.request("cohost:request") == {"error": "your co-host request is waiting for an answer already"}
    assert await other.request("cohost:respond", {"peer_id": viewer.sid, "approved": True}) == {
        "error": "only the host and co-hosts may answer co-host requests"
    }
    assert await host.request("cohost:respond", {"peer_id": other.sid, "approved": True}) == {
        "error": "Gray has no co-host request waiting for an answer"
    }
    assert await host.request("cohost:respond", {"peer_id": "nobody", "approved": True}) == {
        "error": "no peer nobody in this room"
    }
    assert await host.request("cohost:respond", {"peer_id": viewer.sid}) == {"error": "approved is required"}
    # With the host gone, nobody could answer.
    assert await host.request("exitRoom") == "successfully exited room"
    assert await other.request("cohost:request") == {
        "error": "no host or co-host is in the room to answer a co-host request"
    }


async def test_a_cohost_hears_requests_answers_them_and_moderates_the_chat(clients):
    room = room_name()
    host, helper, viewer = await clients(), await clients(), await clients()
    await enter(host, room, "Harper")
    await enter(helper, room, "Indigo")
    await enter(viewer, room, "Jules")
    await helper.request("cohost:request")
    assert (await host.pushed("cohost:request"))["peer_id"] == helper.sid
    await host.request("cohost:respond", {"peer_id": helper.sid, "approved": True})
    await helper.pushed("cohost:respond")

    assert await viewer.request("cohost:request") == "success"
    request = {"peer_id": viewer.sid, "name": "Jules", "role": "viewer", "room_id": room}
    assert await host.pushed("cohost:request") == request
    assert await helper.pushed("cohost:request") == request
    assert await helper.request("cohost:respond", {"peer_id": viewer.sid, "approved": False}) == "success"
    assert (await viewer.pushed("cohost:respond"))["by"] == "Indigo"

    message = await viewer.request("sendMessage", {"message": "off topic"})
    assert await helper.request("deleteMessage", {"id": message["id"]}) == "success"
    assert await viewer.pushed("messageDeleted") == {"room_id": room, "id": message["id"]}


async def test_the_host_demotes_a_cohost_whose_producers_close(clients):
    room = room_name()
    host, helper, viewer = await clients(), await clients(), await clients()
    await enter(host, room, "Kai")
    await enter(helper, room, "Logan")
    await enter(viewer, room, "Morgan")
    await helper.request("cohost:request")
    await host.request("cohost:respond", {"peer_id": helper.sid, "approved": True})
    transport = await send_transport(helper)
    camera = await produce(helper, transport, "video", "camera", mid="0")
    consumer = await consume(viewer, camera["producer_id"])
    assert consumer["producerId"] == camera["producer_id"]

    assert await helper.request("cohost:demote", {"peer_id": helper.sid}) == {
        "error": "only the host may demote a co-host"
    }
    assert await host.request("cohost:demote", {"peer_id": viewer.sid}) == {"error": "Morgan is not a co-host"}
    assert await host.request("cohost:demote", {}) == {"error": "peer_id is required"}
    for client in (host, helper, viewer):  # the approval's roleChanged
        assert (await client.pushed("roleChanged"))["role"] == "co-host"

    assert await host.request("cohost:demote", {"peer_id": helper.sid}) == "success"
    demoted = {"peer_id": helper.sid, "name": "Logan", "role": "viewer"}
    for client in (host, helper, viewer):
        assert await client.pushed("roleChanged") == demoted
    assert await viewer.pushed("consumerClosed") == {"consumer_id": consumer["id"]}
    assert await produce(helper, transport, "audio", "mic", mid="1") == VIEWERS_MAY_NOT_PRODUCE
