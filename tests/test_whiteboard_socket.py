"""The seed's ART socket (/erizocontroller/socket.io) end to end: several python-socketio
clients against the suite's gateway and whiteboard service."""

import asyncio
import collections
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest
import socketio
from roomclients import enter, rest_room, room_clients, room_name, user_with_token, viewer_ticket

from restclient import call

EVENTS = ("whiteBoardToggle", "white-board-stage", "sendDrawingData", "Un-do", "clear-whiteBoard")
TIMEOUT = 5


class BoardClient:
    """A socket on the ART path that queues every whiteboard event it hears."""

    def __init__(self, url: str, *, api_key: str | None, token: str | None = None, ticket: str | None = None) -> None:
        """`api_key` (with a user's `token`), or a viewer link's `ticket` (api_key None)."""
        self.url = url
        credentials = {"apiKey": api_key, "token": token, "ticket": ticket}
        self.auth = {name: value for name, value in credentials.items() if value}
        self.socket = socketio.AsyncClient(reconnection=False)
        self.heard: dict[str, asyncio.Queue[Any]] = collections.defaultdict(asyncio.Queue)
        for event in EVENTS:
            self.socket.on(event, self._recorder(event))

    def _recorder(self, event: str) -> Callable[[Any], Awaitable[None]]:
        async def record(data: Any) -> None:
            await self.heard[event].put(data)

        return record

    async def connect(self) -> "BoardClient":
        await self.socket.connect(
            self.url, socketio_path="erizocontroller/socket.io", auth=self.auth, wait_timeout=TIMEOUT
        )
        return self

    @property
    def sid(self) -> str:
        return str(self.socket.get_sid())

    async def send(self, event: str, room_id: str, **msg: Any) -> Any:
        """Emit the seed's `{type, msg}` and return the acknowledgement."""
        return await self.socket.call(event, {"type": event, "msg": {**msg, "room_id": room_id}}, timeout=TIMEOUT)

    async def hear(self, event: str) -> Any:
        return (await asyncio.wait_for(self.heard[event].get(), TIMEOUT))["msg"]

    def heard_nothing(self, event: str) -> bool:
        return self.heard[event].empty()


Clients = Callable[..., Awaitable[BoardClient]]


@pytest.fixture
async def clients(suite) -> AsyncIterator[Clients]:
    made: list[BoardClient] = []

    async def connect(**kwargs: Any) -> BoardClient:
        client = BoardClient(suite.url, api_key=kwargs.pop("api_key", suite.api_key), **kwargs)
        made.append(await client.connect())
        return client

    yield connect
    for client in made:
        await client.socket.disconnect()


async def hosted_room(suite: Any, http: aiohttp.ClientSession) -> tuple[str, str]:
    """A room (POST /room/create) with a meeting whose host is a new user: (room id, host's token)."""
    host_id, token = await user_with_token(suite, http)
    room_id = await rest_room(suite, http, "meeting")
    status, meeting, _ = await call(
        http, "POST", suite.url + "/meetings/create", key=suite.api_key, token=token,
        json={"title": "Sketching", "hostId": host_id, "transcriptEnabled": False},
    )  # fmt: skip
    assert status == 201, meeting
    status, answer, _ = await call(
        http, "POST", f"{suite.url}/meetings/update/{meeting['data']['_id']}", key=suite.api_key, token=token,
        json={"userId": host_id, "roomId": room_id},
    )  # fmt: skip
    assert status == 204, answer
    return room_id, token


@pytest.fixture
async def board(suite, http, clients) -> tuple[str, BoardClient, BoardClient]:
    """A hosted room whose board the host turned on: (room id, host, viewer)."""
    room_id, token = await hosted_room(suite, http)
    host, viewer = await clients(token=token), await clients()
    assert await viewer.send("whiteBoardStateRequest", room_id) == {
        "room_id": room_id, "enabled": False, "stage": None, "strokes": [],
    }  # fmt: skip
    assert await host.send("whiteBoardToggle", room_id, enabled=True) == {"enabled": True}
    assert (await viewer.hear("whiteBoardToggle"))["enabled"] is True
    return room_id, host, viewer


def brush(x: float, y: float, **style: Any) -> dict[str, Any]:
    return {"pos": {"x": x, "y": y}, "eraser": False, "brushSize": 3, "inkColor": "#1a2b3c", "brushOpacity": 1, **style}


async def stroke(client: BoardClient, room_id: str, points: list[tuple[float, float]]) -> str:
    """Draw mousedown, moves, mouseup through `points`; the stroke's id."""
    kinds = ["mousedown"] + ["mousemove"] * (len(points) - 2) + ["mouseup"]
    stroke_ids = set()
    for kind, (x, y) in zip(kinds, points, strict=True):
        answer = await client.send("sendDrawingData", room_id, drawingType=kind, payload=brush(x, y))
        assert "error" not in answer, answer
        stroke_ids.add(answer["strokeId"])
    [stroke_id] = stroke_ids
    return stroke_id


async def test_a_viewer_cannot_toggle_the_board_and_a_host_can(suite, http, clients):
    room_id, token = await hosted_room(suite, http)
    host, viewer = await clients(token=token), await clients()
    _, stranger_token = await user_with_token(suite, http)
    stranger = await clients(token=stranger_token)

    assert (await viewer.send("whiteBoardToggle", room_id, enabled=True))["error"].startswith("only a host")
    assert "only a host of this room" in (await stranger.send("whiteBoardToggle", room_id))["error"]
    assert (await viewer.send("sendDrawingData", room_id, drawingType="mousedown", payload=brush(1, 1)))[
        "error"
    ].startswith("the whiteboard is off")

    assert await host.send("whiteBoardToggle", room_id) == {"enabled": True}  # no `enabled`: the other way round
    assert await viewer.hear("whiteBoardToggle") == {"room_id": room_id, "enabled": True, "socketId": host.sid}
    assert await host.send("whiteBoardToggle", room_id, enabled=False) == {"enabled": False}
    assert (await viewer.hear("whiteBoardToggle"))["enabled"] is False
    assert (await viewer.send("whiteBoardStateRequest", room_id))["enabled"] is False


async def test_a_co_host_approved_on_the_sfu_socket_toggles_the_board_and_nobody_else_does(suite, http, clients):
    """A viewer link's guests share one ticket: what tells the co-host apart is its peer on the
    SFU socket, named by socket id and proven by the key its join answered."""
    room_id, token = await hosted_room(suite, http)
    ticket = await viewer_ticket(suite, http, room_id, token)
    async with room_clients(suite) as sfu:
        host = await sfu(token=token)
        await enter(host, room_id, "Harper")
        guest, other = await sfu(api_key=None, ticket=ticket), await sfu(api_key=None, ticket=ticket)
        guest_key = (await enter(guest, room_id, "Quinn"))["peerKey"]
        other_key = (await enter(other, room_id, "Rory"))["peerKey"]
        assert guest_key != other_key
        guest_board = await clients(api_key=None, ticket=ticket)
        other_board = await clients(api_key=None, ticket=ticket)
        assert (await other_board.send("whiteBoardStateRequest", room_id))["enabled"] is False
        as_guest = {"peer_id": guest.sid, "peer_key": guest_key}

        # Still a viewer: refused, with its role named.
        answer = await guest_board.send("whiteBoardToggle", room_id, enabled=True, **as_guest)
        assert answer == {"error": "only a host or a co-host may turn the whiteboard on or off; you are a viewer"}

        assert await guest.request("cohost:request") == "success"
        assert await host.request("cohost:respond", {"peer_id": guest.sid, "approved": True}) == "success"
        assert await guest_board.send("whiteBoardToggle", room_id, enabled=True, **as_guest) == {"enabled": True}
        assert await other_board.hear("whiteBoardToggle") == {
            "room_id": room_id, "enabled": True, "socketId": guest_board.sid,
        }  # fmt: skip

        # Another guest naming the co-host's peer (its socket id is public) with its own key,
        # or with no key, or with no peer at all, is refused.
        spoofed = await other_board.send("whiteBoardToggle", room_id, peer_id=guest.sid, peer_key=other_key)
        assert spoofed == {"error": "peer_key is not that peer's key (the peerKey its join answered)"}
        keyless = await other_board.send("whiteBoardToggle", room_id, peer_id=guest.sid)
        assert "peer_key is required" in keyless["error"]
        assert "connect with a host's token" in (await other_board.send("whiteBoardToggle", room_id))["error"]
        # A key is good in its own room only (a guest's ticket keeps it to that room anyway).
        assert "error" in await other_board.send("whiteBoardToggle", room_name(), **as_guest)
        assert (await other_board.send("whiteBoardStateRequest", room_id))["enabled"] is True

        # Demoted, the co-host may no longer.
        assert await host.request("cohost:demote", {"peer_id": guest.sid}) == "success"
        answer = await guest_board.send("whiteBoardToggle", room_id, **as_guest)
        assert answer == {"error": "only a host or a co-host may turn the whiteboard on or off; you are a viewer"}


async def test_the_host_of_a_room_opened_on_the_socket_toggles_with_its_peer(suite, clients):
    async with room_clients(suite) as sfu:
        opener = await sfu()
        room_id = room_name()
        key = (await enter(opener, room_id, "Sasha"))["peerKey"]
        board = await clients()
        assert "error" in await board.send("whiteBoardToggle", room_id, enabled=True)  # no meeting names a host
        answer = await board.send("whiteBoardToggle", room_id, enabled=True, peer_id=opener.sid, peer_key=key)
        assert answer == {"enabled": True}


async def test_strokes_reach_the_others_in_order_and_a_late_joiner_gets_the_same_board(board, clients):
    room_id, host, viewer = board
    points = [(float(i), float(i * 2)) for i in range(30)]
    # Sent without waiting for each acknowledgement: the order must hold all the same.
    kinds = ["mousedown"] + ["mousemove"] * 28 + ["mouseup"]
    answers = await asyncio.gather(
        *(
            host.send("sendDrawingData", room_id, drawingType=kind, payload=brush(x, y))
            for kind, (x, y) in zip(kinds, points, strict=True)
        )
    )
    assert len({answer["strokeId"] for answer in answers}) == 1
    heard = [await viewer.hear("sendDrawingData") for _ in points]
    assert [(d["drawingType"], d["payload"]["pos"]["x"]) for d in heard] == [
        (kind, x) for kind, (x, _) in zip(kinds, points, strict=True)
    ]
    assert heard[0]["socketId"] == host.sid
    assert heard[0]["payload"]["inkColor"] == "#1a2b3c"
    assert host.heard_nothing("sendDrawingData")

    stage = {"attrs": {"width": 800, "height": 600}, "children": [{"className": "Layer", "children": []}]}
    assert await host.send("white-board-stage", room_id, stage=stage) == "success"
    assert (await viewer.hear("white-board-stage"))["stage"] == stage
    await stroke(viewer, room_id, [(5, 5), (6, 6), (7, 7)])

    late = await clients()
    state = await late.send("whiteBoardStateRequest", room_id)
    assert (state["enabled"], state["stage"]) == (True, stage)
    assert [(s["drawingType"], s["socketId"]) for s in state["strokes"]] == [
        ("mousedown", viewer.sid), ("mousemove", viewer.sid), ("mouseup", viewer.sid),
    ]  # fmt: skip
    assert state == await viewer.send("whiteBoardStateRequest", room_id)


async def test_undo_removes_the_senders_last_stroke_for_everyone(board, clients):
    room_id, host, viewer = board
    first = await stroke(viewer, room_id, [(1, 1), (2, 2)])
    host_stroke = await stroke(host, room_id, [(9, 9), (8, 8)])
    second = await stroke(viewer, room_id, [(3, 3), (4, 4), (5, 5)])
    assert len({first, host_stroke, second}) == 3

    assert await viewer.send("Un-do", room_id) == {"strokeId": second}
    assert await host.hear("Un-do") == {"socketId": viewer.sid, "room_id": room_id, "strokeId": second}
    state = await host.send("whiteBoardStateRequest", room_id)
    assert [s["strokeId"] for s in state["strokes"]] == [first, first, host_stroke, host_stroke]

    assert await viewer.send("Un-do", room_id) == {"strokeId": first}
    assert await viewer.send("Un-do", room_id) == {"strokeId": None}  # nothing of the viewer's is left
    assert [s["strokeId"] for s in (await viewer.send("whiteBoardStateRequest", room_id))["strokes"]] == [
        host_stroke, host_stroke,
    ]  # fmt: skip


async def test_clear_empties_the_board_for_everyone(board, clients):
    room_id, host, viewer = board
    await host.send("white-board-stage", room_id, stage={"attrs": {}, "children": [{"className": "Layer"}]})
    await stroke(viewer, room_id, [(1, 1), (2, 2)])
    assert await viewer.send("clear-whiteBoard", room_id) == "success"
    assert await host.hear("clear-whiteBoard") == {"socketId": viewer.sid, "room_id": room_id}
    late = await clients()
    assert await late.send("whiteBoardStateRequest", room_id) == {
        "room_id": room_id, "enabled": True, "stage": None, "strokes": [],
    }  # fmt: skip


async def test_the_board_survives_a_restart_of_the_whiteboard_service(suite, board, clients):
    room_id, host, viewer = board
    stage = {"attrs": {"width": 640}, "children": []}
    assert await host.send("white-board-stage", room_id, stage=stage) == "success"
    drawn = await stroke(host, room_id, [(10, 10), (20, 20)])
    before = await viewer.send("whiteBoardStateRequest", room_id)

    # Restarted from this thread: a process started from a worker thread dies with that thread.
    suite.processes["whiteboard"].restart()

    late = await clients()
    after = await late.send("whiteBoardStateRequest", room_id)
    assert after == before
    assert after["stage"] == stage
    assert [s["strokeId"] for s in after["strokes"]] == [drawn, drawn]
    assert await host.send("Un-do", room_id) == {"strokeId": drawn}


async def test_the_board_survives_a_restart_of_the_gateway(suite, http, clients):
    room_id, token = await hosted_room(suite, http)
    host = await clients(token=token)
    assert await host.send("whiteBoardToggle", room_id, enabled=True) == {"enabled": True}
    drawn = await stroke(host, room_id, [(3, 4), (5, 6), (7, 8)])
    before = await host.send("whiteBoardStateRequest", room_id)

    suite.processes["gateway"].restart()

    again = await clients(token=token)  # the host's page reconnects
    assert await again.send("whiteBoardStateRequest", room_id) == before
    assert await again.send("Un-do", room_id) == {"strokeId": drawn}  # the same user's stroke, on a new socket


async def test_an_essential_tenant_is_refused(suite, clients, essential_key):
    client = await clients(api_key=essential_key)
    answer = await client.send("whiteBoardStateRequest", "any-room")
    assert answer == {"error": "the whiteboard is part of the Professional plan; this tenant is on Essential"}


async def test_an_oversized_or_malformed_stage_and_a_bad_stroke_are_refused(board):
    room_id, host, viewer = board
    big = {"attrs": {}, "children": [{"className": "Line", "attrs": {"points": list(range(60_000))}}]}
    assert "at most 262144 are kept" in (await host.send("white-board-stage", room_id, stage=big))["error"]
    assert "stage.children" in (await host.send("white-board-stage", room_id, stage={"children": 3}))["error"]
    assert (await host.send("white-board-stage", room_id, stage="a picture"))["error"]
    bad = await viewer.send("sendDrawingData", room_id, drawingType="mousedown", payload=brush(1, 1, brushOpacity=7))
    assert "brushOpacity" in bad["error"]
    assert (await viewer.send("sendDrawingData", room_id, drawingType="wiggle", payload=brush(1, 1)))["error"]
    assert host.heard_nothing("white-board-stage")
    assert host.heard_nothing("sendDrawingData")
    assert (await viewer.send("whiteBoardStateRequest", room_id))["stage"] is None
