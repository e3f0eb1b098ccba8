"""The recording service's scratch directories on local disk: a processing job's
(`recording-<pid>-<job id>-...`, in RECORDING_WORK_DIR or the system's temporary directory)
and a recorded room's (`rooms/room-<pid>-<token>`). Each is deleted when its work ends; a
process killed meanwhile leaves its own behind, and the next process to start on the same
disk deletes those of processes that are gone (the pid in the name says whose it is)."""

import logging
import os
import re
import shutil
from pathlib import Path

log = logging.getLogger("recording.scratch")

JOB_DIR = re.compile(r"^recording-(\d+)-[0-9a-f]{32}-")
ROOM_DIR = re.compile(r"^room-(\d+)-[0-9a-f]{16}$")


def job_dir_prefix(job_id: str) -> str:
    return f"recording-{os.getpid()}-{job_id}-"


def room_dir_name(token: str) -> str:
    return f"room-{os.getpid()}-{token}"


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # somebody else's process: alive
        return True
    return True


def sweep_leftovers(directory: Path, pattern: re.Pattern[str]) -> int:
    """Delete the scratch directories in `directory` matching `pattern` whose process is gone;
    how many. Blocking: run it off the event loop."""
    swept = 0
    try:
        entries = list(directory.iterdir())
    except FileNotFoundError:
        return 0
    for entry in entries:
        found = pattern.match(entry.name)
        if found is None or not entry.is_dir() or _running(int(found.group(1))):
            continue
        shutil.rmtree(entry, ignore_errors=True)
        swept += 1
    if swept:
        log.info(
            "scratch directories of stopped processes deleted", extra={"directory": str(directory), "count": swept}
        )
    return swept
