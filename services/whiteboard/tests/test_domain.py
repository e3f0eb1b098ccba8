import pytest

from webinar_contracts import Conflict, Forbidden, InvalidInput, TooLarge
from webinar_contracts.plans import Plan
from webinar_contracts.whiteboard import Brush, Position
from whiteboard.domain import (
    BoardLimits,
    check_brush,
    drawing_refused,
    parse_stage,
    require_moderator,
    require_professional,
    stroke_of,
)

LIMITS = BoardLimits(max_stage_bytes=2048, max_drawings=10)


def test_only_the_professional_plan_may_use_the_whiteboard():
    require_professional(Plan.PROFESSIONAL)
    for plan in (Plan.ESSENTIAL, None):
        with pytest.raises(Forbidden, match="Professional plan"):
            require_professional(plan)


def test_only_a_host_of_the_room_or_a_moderating_peer_may_toggle():
    require_moderator("u1", ["u0", "u1"], None)
    require_moderator(None, [], "co-host")  # a co-host its media node vouched for
    require_moderator("u2", ["u1"], "host")  # the host of a room opened on the socket
    with pytest.raises(Forbidden, match="host's token"):
        require_moderator(None, ["u1"], None)
    with pytest.raises(Forbidden, match="host of this room"):
        require_moderator("u2", ["u1"], None)
    with pytest.raises(Forbidden, match="you are a viewer"):
        require_moderator("u2", ["u1"], "viewer")


def test_a_stage_is_an_object_with_attrs_and_children_within_the_bound():
    assert parse_stage('{"attrs": {"width": 3}, "children": []}', LIMITS) == {"attrs": {"width": 3}, "children": []}
    with pytest.raises(TooLarge) as too_large:
        parse_stage('{"attrs": {"x": "' + "a" * 3000 + '"}}', LIMITS)
    assert too_large.value.field == "stage"
    for text, field in (
        ("[1]", "stage"),
        ("{", "stage"),
        ('{"attrs": 1}', "stage.attrs"),
        ('{"children": {}}', "stage.children"),
    ):
        with pytest.raises(InvalidInput) as invalid:
            parse_stage(text, LIMITS)
        assert invalid.value.field == field


@pytest.mark.parametrize(
    ("brush", "field"),
    [
        (Brush(pos=Position(x=float("nan"), y=0)), "payload.pos.x"),
        (Brush(pos=Position(x=0, y=1e9)), "payload.pos.y"),
        (Brush(pos=Position(x=0, y=0), brush_size=0), "payload.brushSize"),
        (Brush(pos=Position(x=0, y=0), brush_opacity=1.5), "payload.brushOpacity"),
        (Brush(pos=Position(x=0, y=0), ink_color="url(javascript:1)"), "payload.inkColor"),
    ],
)
def test_a_bad_brush_is_refused_naming_the_field(brush, field):
    with pytest.raises(InvalidInput) as invalid:
        check_brush(brush)
    assert invalid.value.field == field


def test_a_good_brush_passes():
    brush = Brush(pos=Position(x=1, y=2), ink_color="rgba(10, 20, 30, 0.5)", brush_size=12, brush_opacity=0.3)
    assert check_brush(brush) is brush


def test_a_mousedown_starts_a_stroke_and_moves_continue_the_authors_open_one():
    assert stroke_of("a", 1, "mousedown", None) == "a:1"
    assert stroke_of("a", 2, "mousemove", ("a:1", "mousedown")) == "a:1"
    assert stroke_of("a", 3, "mouseup", ("a:1", "mousemove")) == "a:1"
    assert stroke_of("a", 4, "mousemove", ("a:1", "mouseup")) == "a:4"
    assert stroke_of("a", 5, "mousemove", None) == "a:5"
    assert stroke_of("a", 6, "mousedown", ("a:5", "mousemove")) == "a:6"


def test_a_board_that_took_no_drawing_is_off_or_full():
    assert isinstance(drawing_refused(False, LIMITS), Conflict)
    full = drawing_refused(True, LIMITS)
    assert isinstance(full, TooLarge)
    assert "10 drawing events" in full.message
