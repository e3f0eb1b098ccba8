"""Scratch directories a killed process left behind are deleted by the next one; those of
processes still running, and anything else in the directory, are left alone."""

import os
import subprocess
import sys
from pathlib import Path

from recording.scratch import JOB_DIR, ROOM_DIR, job_dir_prefix, room_dir_name, sweep_leftovers

JOB_ID = "0123456789abcdef0123456789abcdef"


def gone_pid() -> int:
    """The pid of a process that has exited."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_only_the_scratch_of_processes_that_are_gone_is_deleted(tmp_path: Path) -> None:
    dead = gone_pid()
    left_behind = tmp_path / f"recording-{dead}-{JOB_ID}-x1y2"
    running = tmp_path / f"{job_dir_prefix(JOB_ID)}a1b2"  # this process's own
    unrelated = [tmp_path / "recording-notes", tmp_path / f"recording-{dead}-short-id-z"]
    for directory in (left_behind, running, *unrelated):
        directory.mkdir()
        (directory / "part.webm").write_bytes(b"\0" * 1024)
    assert sweep_leftovers(tmp_path, JOB_DIR) == 1
    assert not left_behind.exists()
    assert running.exists()
    assert all(directory.exists() for directory in unrelated)

    rooms = tmp_path / "rooms"
    rooms.mkdir()
    (rooms / f"room-{dead}-0011223344556677").mkdir()
    mine = rooms / room_dir_name("8899aabbccddeeff")
    mine.mkdir()
    assert sweep_leftovers(rooms, ROOM_DIR) == 1
    assert [entry.name for entry in rooms.iterdir()] == [mine.name]
    assert mine.name.startswith(f"room-{os.getpid()}-")
    assert sweep_leftovers(tmp_path / "nowhere", ROOM_DIR) == 0
