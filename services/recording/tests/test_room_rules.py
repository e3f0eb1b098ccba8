"""The rules of server-side recordings of rooms, and their settings: no I/O."""

from datetime import UTC, datetime
from pathlib import Path

import pytest

from recording.config import RecordingConfig
from recording.domain import (
    RecordingSession,
    check_open_for_files,
    check_room_host,
    check_stop,
    grid_layout,
    parse_size,
    room_recording_id,
    track_name,
)
from recording.transcode import GridFile, GridInput, grid_command
from webinar_contracts import Conflict, Forbidden, Unauthorized
from webinar_runtime.config import ConfigError, load_config

MONGO = {"MONGO_URL": "mongodb://127.0.0.1:1/"}
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("videos", "columns", "rows", "cell"),
    [
        (0, 1, 1, (1280, 720)),
        (1, 1, 1, (1280, 720)),
        (2, 2, 1, (640, 720)),
        (3, 2, 2, (640, 360)),
        (5, 3, 2, (426, 360)),
    ],
)
def test_videos_are_laid_out_in_the_smallest_near_square_grid_with_even_cells(videos, columns, rows, cell):
    layout = grid_layout(videos, (1280, 720))
    assert (layout.columns, layout.rows, layout.cell) == (columns, rows, cell)


def test_grid_cells_fill_rows_left_to_right():
    layout = grid_layout(4, (1280, 720))
    assert [layout.position(index) for index in range(4)] == [(0, 0), (640, 0), (0, 360), (640, 360)]


def test_a_track_is_named_by_its_number_kind_and_peer():
    assert track_name(3, "video", "Avery Stone-Lopez!") == "03-video-avery-stone-lopez"
    assert track_name(12, "audio", "   ") == "12-audio-peer"


def test_a_room_recording_id_has_the_seeds_form():
    assert room_recording_id(NOW, 42) == "1772366400000_000042"


@pytest.mark.parametrize(("text", "size"), [("1280x720", (1280, 720)), (" 640X360 ", (640, 360))])
def test_a_grid_size_reads_as_width_by_height(text, size):
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["1280", "1281x720", "8x8", "axb", "99999x720"])
def test_a_bad_grid_size_is_refused(text):
    with pytest.raises(ValueError, match=r"x|even"):
        parse_size(text)


def test_only_a_signed_in_host_of_the_room_records_it():
    check_room_host("u1", ["u0", "u1"], "room-1")
    with pytest.raises(Forbidden):
        check_room_host("u2", ["u1"], "room-1")
    with pytest.raises(Unauthorized):
        check_room_host(None, ["u1"], "room-1")


def server_recording() -> RecordingSession:
    return RecordingSession(
        id="x",
        tenant_id="t",
        recording_id="1772366400000_000042",
        room_id="room-1",
        user_name="Avery",
        stream_id="room",
        video_type="grid",
        status="recording",
        started_at=NOW,
        ended_at=None,
        created_at=NOW,
        updated_at=NOW,
        source="server",
    )


def test_the_seeds_stop_and_the_recording_socket_leave_a_server_side_recording_alone():
    session = server_recording()
    with pytest.raises(Conflict, match="server-side recording of room room-1"):
        check_stop(session, "room", NOW)
    with pytest.raises(Conflict):
        check_open_for_files(session)


def track(kind: str, *files: tuple[str, float, float]) -> GridInput:
    return GridInput(kind, tuple(GridFile(Path(name), offset, duration) for name, offset, duration in files))


def test_the_grid_command_places_each_track_from_its_offset_and_mixes_the_sounds():
    inputs = [
        track("video", ("cam-a.webm", 0.25, 5)),
        track("video", ("cam-b.webm", 1.5, 5)),
        track("audio", ("mic-a.webm", 0.2, 5)),
        track("audio", ("mic-b.webm", 1.25, 5)),
    ]
    argv = grid_command("ffmpeg", inputs, (1280, 720), 10.0, Path("out.mp4"), preset="veryfast")
    graph = argv[argv.index("-filter_complex") + 1]
    assert "xstack=fill=black:inputs=2:layout=0_0|640_0" in graph
    assert "tpad=color=black:start_duration=1.500:stop_duration=10.000:stop_mode=add" in graph
    assert "trim=duration=10.000" in graph
    assert "adelay=all=1:delays=1250" in graph
    assert "amix=duration=longest:inputs=2:normalize=0" in graph
    assert argv[argv.index("-t") + 1] == "10.000"
    assert (argv[argv.index("-vcodec") + 1], argv[argv.index("-acodec") + 1]) == ("libx264", "aac")


def test_a_recording_without_video_gets_a_black_picture_and_one_without_sound_silence():
    silent = grid_command("ffmpeg", [track("video", ("cam.webm", 0, 3))], (640, 360), 3, Path("o.mp4"), preset="x")
    assert "anullsrc=r=48000:cl=stereo" in silent
    blind = grid_command("ffmpeg", [track("audio", ("mic.webm", 0, 3))], (640, 360), 3, Path("o.mp4"), preset="x")
    assert "color=c=black:s=640x360:r=30:d=3.000" in blind


def test_a_track_stored_in_segments_is_joined_in_one_cell_with_its_gaps_filled():
    camera = track("video", ("cam.0.webm", 0.5, 10.0), ("cam.1.webm", 10.5, 10.0), ("cam.2.webm", 22.0, 4.0))
    microphone = track("audio", ("mic.0.webm", 0.4, 10.0), ("mic.1.webm", 10.4, 6.0))
    assert camera.gaps() == [0.0, 1.5, 0.0]  # segment 1 ends at 20.5, segment 2 begins at 22
    argv = grid_command("ffmpeg", [camera, microphone], (1280, 720), 26.0, Path("out.mp4"), preset="veryfast")
    graph = argv[argv.index("-filter_complex") + 1]
    assert argv.count("-i") == 5
    assert "xstack" not in graph  # one camera, one cell, however many files
    assert "concat=a=0:n=3:v=1" in graph
    assert "tpad=color=black:stop_duration=1.500:stop_mode=add" in graph
    assert "tpad=color=black:start_duration=0.500:stop_duration=26.000:stop_mode=add" in graph
    assert "concat=a=1:n=2:v=0" in graph
    assert "adelay=all=1:delays=400" in graph


def test_server_side_recording_settings_have_working_defaults():
    config = load_config(RecordingConfig, MONGO)
    assert (config.max_rooms, config.canvas, config.listen_ip, config.announced_ip) == (
        20,
        (1280, 720),
        "127.0.0.1",
        "",
    )


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("RECORDING_MAX_ROOMS", "0"),
        ("RECORDING_GRID_SIZE", "1280x721"),
        ("RECORDING_PRODUCER_POLL_SECONDS", "2"),  # past half the lease: taps would lapse
        ("RECORDING_TAP_LEASE_SECONDS", "0.5"),
    ],
)
def test_a_bad_server_side_recording_setting_is_refused_naming_it(variable, value):
    with pytest.raises(ConfigError) as refused:
        load_config(RecordingConfig, {**MONGO, variable: value})
    assert refused.value.variable == variable
