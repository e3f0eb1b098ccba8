"""The handlers on the real store, with the room's hosts and peers' roles given by a fake
(the bus path to the meetings service and the media node is covered end to end in
tests/test_whiteboard_socket.py)."""

import pytest

from webinar_contracts import Conflict, Forbidden, InvalidInput, RequestContext, TooLarge
from webinar_contracts.media import PeerProof
from webinar_contracts.plans import Plan
from webinar_contracts.whiteboard import BoardCall, Brush, Draw, Position, ReplaceStage, ToggleBoard, UndoStroke
from whiteboard.domain import BoardLimits
from whiteboard.handlers import BoardHandlers

HOST = RequestContext(tenant_id="t1", plan=Plan.PROFESSIONAL, user_id="host-1")
VIEWER = RequestContext(tenant_id="t1", plan=Plan.PROFESSIONAL, user_id="viewer-1")


class FixedRoles:
    """Meeting host "host-1"; peers on the SFU socket with the key "key-<peer id>"."""

    peers = {"sid-cohost": "co-host", "sid-viewer": "viewer"}

    async def host_ids(self, room_id: str, context: RequestContext) -> list[str]:
        return ["host-1"]

    async def peer_role(self, proof: PeerProof, context: RequestContext) -> str | None:
        if proof.peer_id not in self.peers:
            return None
        if proof.peer_key != f"key-{proof.peer_id}":
            raise Forbidden("peer_key is not that peer's key", field="peer_key")
        return self.peers[proof.peer_id]


@pytest.fixture
def handlers(store) -> BoardHandlers:
    return BoardHandlers(store=store, roles=FixedRoles(), limits=BoardLimits(max_stage_bytes=1024, max_drawings=4))


def draw(kind: str, author: str = "user:viewer-1", x: float = 1) -> Draw:
    return Draw(room_id="r1", author=author, socket_id="s1", drawing_type=kind, payload=Brush(pos=Position(x=x, y=0)))  # type: ignore[arg-type]


async def test_a_board_is_off_until_a_host_turns_it_on(handlers):
    assert (await handlers.get_board(BoardCall(room_id="r1"), VIEWER)).enabled is False
    with pytest.raises(Conflict):
        await handlers.draw(draw("mousedown"), VIEWER)
    with pytest.raises(Forbidden):
        await handlers.toggle(ToggleBoard(room_id="r1", enabled=True), VIEWER)
    assert (await handlers.toggle(ToggleBoard(room_id="r1"), HOST)).enabled is True
    assert (await handlers.toggle(ToggleBoard(room_id="r1"), HOST)).enabled is False


async def test_a_co_host_on_the_sfu_socket_toggles_with_its_peer_key(handlers):
    guest = RequestContext(tenant_id="t1", plan=Plan.PROFESSIONAL)  # a viewer link's guest: no user
    toggle = ToggleBoard(room_id="r1", enabled=True, peer_id="sid-cohost", peer_key="key-sid-cohost")
    assert (await handlers.toggle(toggle, guest)).enabled is True
    with pytest.raises(Forbidden, match="not that peer's key"):
        await handlers.toggle(ToggleBoard(room_id="r1", peer_id="sid-cohost", peer_key="guessed"), guest)
    with pytest.raises(Forbidden, match="you are a viewer"):
        await handlers.toggle(ToggleBoard(room_id="r1", peer_id="sid-viewer", peer_key="key-sid-viewer"), guest)
    with pytest.raises(Forbidden, match="host's token"):  # not in the room
        await handlers.toggle(ToggleBoard(room_id="r1", peer_id="sid-gone", peer_key="key-sid-gone"), guest)
    with pytest.raises(InvalidInput, match="peer_key is required"):
        await handlers.toggle(ToggleBoard(room_id="r1", peer_id="sid-cohost"), guest)
    assert (await handlers.get_board(BoardCall(room_id="r1"), guest)).enabled is True


async def test_boards_are_per_tenant(handlers):
    await handlers.toggle(ToggleBoard(room_id="r1", enabled=True), HOST)
    other = RequestContext(tenant_id="t2", plan=Plan.PROFESSIONAL, user_id="host-1")
    assert (await handlers.get_board(BoardCall(room_id="r1"), other)).enabled is False


async def test_undo_takes_the_authors_last_stroke_and_a_full_board_refuses_more(handlers):
    await handlers.toggle(ToggleBoard(room_id="r1", enabled=True), HOST)
    first = await handlers.draw(draw("mousedown"), VIEWER)
    await handlers.draw(draw("mouseup"), VIEWER)
    other = await handlers.draw(draw("mousedown", author="user:host-1"), HOST)
    second = await handlers.draw(draw("mousedown", x=2), VIEWER)
    with pytest.raises(TooLarge):
        await handlers.draw(draw("mousemove"), VIEWER)
    assert (await handlers.undo(UndoStroke(room_id="r1", author="user:viewer-1"), VIEWER)).stroke_id == second.stroke_id
    assert (await handlers.undo(UndoStroke(room_id="r1", author="user:viewer-1"), VIEWER)).stroke_id == first.stroke_id
    state = await handlers.get_board(BoardCall(room_id="r1"), VIEWER)
    assert [d.stroke_id for d in state.strokes] == [other.stroke_id]
    # Room again after the undo.
    assert (await handlers.draw(draw("mousedown"), VIEWER)).seq == 5


async def test_a_stage_replaces_the_strokes_and_clear_empties_the_board(handlers):
    await handlers.toggle(ToggleBoard(room_id="r1", enabled=True), HOST)
    await handlers.draw(draw("mousedown"), VIEWER)
    await handlers.replace_stage(ReplaceStage(room_id="r1", stage='{"attrs": {}, "children": []}'), VIEWER)
    state = await handlers.get_board(BoardCall(room_id="r1"), VIEWER)
    assert (state.stage, state.strokes) == ({"attrs": {}, "children": []}, [])
    await handlers.draw(draw("mousedown"), VIEWER)
    await handlers.clear(BoardCall(room_id="r1"), VIEWER)
    state = await handlers.get_board(BoardCall(room_id="r1"), VIEWER)
    assert (state.enabled, state.stage, state.strokes) == (True, None, [])


async def test_an_essential_tenant_is_refused_before_the_store_is_asked(handlers):
    essential = RequestContext(tenant_id="t1", plan=Plan.ESSENTIAL, user_id="host-1")
    with pytest.raises(Forbidden, match="Professional plan"):
        await handlers.get_board(BoardCall(room_id="r1"), essential)
