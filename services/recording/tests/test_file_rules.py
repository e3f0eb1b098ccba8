"""The rules of files, chunks and processing, and the reading of ffmpeg's reports: no I/O."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from recording.domain import (
    MAX_LISTED_MISSING,
    Limits,
    TrackFile,
    check_chunk,
    check_chunk_fits_track,
    check_output,
    check_processable,
    in_time_order,
    largest_size,
    missing_chunks,
    percent_done,
    target_size,
    validate_file,
)
from recording.transcode import MediaInfo, Part, join_command, parse_input_report
from webinar_contracts import Conflict, InvalidInput, TooLarge
from webinar_contracts.recording import CreateFile, ProcessRecording

T0 = datetime(2025, 10, 13, 10, 0, tzinfo=UTC)
LIMITS = Limits(max_chunk_bytes=1000, max_recording_bytes=10_000, max_tenant_bytes=100_000)


def track(**overrides: object) -> TrackFile:
    fields: dict[str, object] = {
        "id": "f" * 24,
        "tenant_id": "t1",
        "recording_id": "r1",
        "track_id": "cam",
        "mime_type": "video/webm",
        "started_at": T0,
        "opened_at": T0,
        "closed": True,
        "last_seq": 3,
        "chunks": 4,
        "bytes": 400,
        "missing_count": 0,
    }
    fields.update(overrides)
    return TrackFile(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("received", "last_seq", "count", "listed"),
    [
        ([0, 1, 2], None, 0, []),
        ([0, 2, 3], None, 1, [1]),
        ([1, 2], None, 1, [0]),
        ([0, 1], 3, 2, [2, 3]),
        ([], 2, 3, [0, 1, 2]),
        ([], None, 0, []),
        ([0, 5], 1, 4, [1, 2, 3, 4]),  # a lastSeq below what arrived is not believed
    ],
)
def test_missing_chunks_are_the_numbers_up_to_the_last_that_never_came(received, last_seq, count, listed):
    missing = missing_chunks(received, last_seq)
    assert (missing.count, missing.first) == (count, listed)


def test_only_the_first_hundred_missing_chunks_are_listed_but_all_are_counted():
    missing = missing_chunks([500], 999)
    assert missing.count == 999
    assert missing.first == list(range(MAX_LISTED_MISSING))


@pytest.mark.parametrize(
    "mime", ["video/webm;codecs=vp8,opus", "audio/webm", "video/mp4", "video/x-matroska;codecs=avc1", "VIDEO/WEBM"]
)
def test_the_media_types_of_media_recorder_are_taken(mime):
    assert validate_file(CreateFile(recording_id="r", track_id="t", mime_type=mime)).mime_type == mime


@pytest.mark.parametrize("mime", ["text/plain", "video/", "image/webm", "video/webm;\ncodecs=vp8", ""])
def test_another_mime_type_is_refused_naming_the_field(mime):
    with pytest.raises(InvalidInput) as refused:
        validate_file(CreateFile(recording_id="r", track_id="t", mime_type=mime))
    assert refused.value.field == "mimeType"


def test_a_files_start_time_is_read_as_at_start():
    new = validate_file(CreateFile(recording_id="r", track_id="t", mime_type="video/webm", start_time=1756364334634))
    assert new.started_at == datetime(2025, 8, 28, 6, 58, 54, 634000, tzinfo=UTC)


@pytest.mark.parametrize(
    ("seq", "size", "error", "field"),
    [(-1, 10, InvalidInput, "seq"), (True, 10, InvalidInput, "seq"), (0, 0, InvalidInput, "data"),
     (0, 1001, TooLarge, "data")],
)  # fmt: skip
def test_a_bad_chunk_is_refused_naming_the_field(seq, size, error, field):
    with pytest.raises(error) as refused:
        check_chunk(seq, size, LIMITS)
    assert refused.value.field == field


def test_a_closed_file_takes_only_chunks_up_to_its_last():
    check_chunk_fits_track(track(last_seq=3), 2)
    with pytest.raises(Conflict):
        check_chunk_fits_track(track(last_seq=3), 4)
    check_chunk_fits_track(track(closed=False, last_seq=None), 40)


def test_files_are_joined_by_start_time_then_by_when_they_were_opened():
    late = track(id="1" * 24, track_id="late", started_at=T0 + timedelta(seconds=30), opened_at=T0)
    early = track(id="2" * 24, track_id="early", started_at=T0, opened_at=T0 + timedelta(seconds=5))
    twin = track(id="3" * 24, track_id="twin", started_at=T0, opened_at=T0 + timedelta(seconds=6))
    assert [file.track_id for file in in_time_order([late, twin, early])] == ["early", "twin", "late"]


@pytest.mark.parametrize(
    ("files", "field"),
    [
        ([], "recordingId"),
        ([track(closed=False)], "trackId"),
        ([track(), track(track_id="screen", missing_count=2)], "trackId"),
        ([track(chunks=0, last_seq=-1)], "trackId"),
    ],
)
def test_processing_needs_every_file_closed_and_whole(files, field):
    with pytest.raises((InvalidInput, Conflict)) as refused:
        check_processable("r1", files)
    assert refused.value.field == field


def test_the_target_size_is_both_sides_even_or_none():
    assert target_size(ProcessRecording(recording_id="r")) is None
    assert target_size(ProcessRecording(recording_id="r", width=1280, height=720)) == (1280, 720)
    for width, height, field in ((1281, 720, "width"), (1280, None, "height"), (8, 720, "width")):
        with pytest.raises(InvalidInput) as refused:
            target_size(ProcessRecording(recording_id="r", width=width, height=height))
        assert refused.value.field == field


def test_the_default_size_is_the_largest_picture_with_even_sides():
    assert largest_size([(320, 240), (1281, 721), (640, 480)]) == (1280, 720)
    assert largest_size([]) == (640, 360)


def test_a_processed_file_passes_only_with_video_audio_its_size_and_the_length_of_its_parts():
    good = {"has_video": True, "has_audio": True, "size": (640, 360), "duration": 5.05, "target": (640, 360)}
    check_output(**good, expected=5.02)  # type: ignore[arg-type]
    for change in ({"has_audio": False}, {"size": (640, 480)}, {"duration": 3.0}):
        with pytest.raises(ValueError, match="processed file"):
            check_output(**{**good, **change}, expected=5.02)  # type: ignore[arg-type]


def test_progress_stays_below_100_until_the_recording_is_ready():
    assert [percent_done(s, 10) for s in (0, 2.5, 10, 12)] == [0, 25, 99, 99]
    assert percent_done(3, 0) == 0


FFMPEG_REPORT = """\
Input #0, matroska,webm, from 'recording.webm':
  Metadata:
    encoder         : Chrome
  Duration: N/A, start: 0.000000, bitrate: N/A
  Stream #0:0(eng): Audio: opus, 48000 Hz, mono, fltp (default)
  Stream #0:1(eng): Video: vp8, yuv420p(tv, bt709, progressive), 1280x720, SAR 1:1 DAR 16:9, 30.30 fps (default)
Stream mapping:
  Stream #0:0 -> #0:0 (copy)
Output #0, null, to 'pipe:':
  Stream #0:0: Video: vp8, yuv420p, 320x240
""".splitlines()


def test_ffmpegs_report_of_a_media_recorder_file_gives_its_streams_and_size_but_no_duration():
    assert parse_input_report(FFMPEG_REPORT) == (True, True, (1280, 720), None)


def test_ffmpegs_report_gives_the_containers_duration_when_it_has_one():
    lines = [
        "Input #0, mov,mp4, from 'x.mp4':",
        "  Duration: 00:01:02.50, start: 0.0, bitrate: 1 kb/s",
        "  Stream #0:0[0x1](und): Audio: aac (LC) (mp4a / 0x6134706D), 48000 Hz, stereo, fltp, 128 kb/s",
    ]
    assert parse_input_report(lines) == (False, True, None, 62.5)


def test_the_join_command_scales_pads_and_fills_a_missing_stream_for_its_length():
    parts = [
        Part(Path("a.webm"), MediaInfo(duration=2.0, has_video=True, has_audio=True, width=320, height=240)),
        Part(Path("b.webm"), MediaInfo(duration=1.5, has_video=False, has_audio=True)),
    ]
    argv = join_command("ffmpeg", parts, (640, 360), Path("out.mp4"), preset="veryfast")
    graph = argv[argv.index("-filter_complex") + 1]
    assert "scale=640:360:force_original_aspect_ratio=decrease" in graph
    assert "pad=640:360" in graph
    assert "concat=a=1:n=2:v=1" in graph
    assert "color=c=black:s=640x360:r=30:d=1.500" in argv
    assert argv[argv.index("-vcodec") + 1] == "libx264"
    assert argv[argv.index("-acodec") + 1] == "aac"
    assert argv[argv.index("-movflags") + 1] == "+faststart"
    assert argv[-6:] == ["-hide_banner", "-nostdin", "-nostats", "-progress", "pipe:1", "-y"]
