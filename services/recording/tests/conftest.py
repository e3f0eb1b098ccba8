"""A NATS server of this service's tests alone, so the suite's own processes (which
answer the same subjects on the shared one) never take these tests' requests; and small
WebM files made with ffmpeg's test sources."""

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from webinar_devstack.servers import start_nats


@pytest.fixture(scope="module")
def private_nats_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data: Path = tmp_path_factory.mktemp("private-nats")
    server = start_nats(data / "nats", log_path=data / "nats.log")
    yield f"nats://127.0.0.1:{server.port}"
    server.stop()


# -- media made with ffmpeg's test sources (no file is shipped) --------------------------


def make_webm(program: str, path: Path, *, size: str, seconds: float, color: str, tone: int = 440) -> Path:
    """A VP8/Opus WebM of one solid `color` picture of `size` and a sine tone, as a browser's
    MediaRecorder would send (VP8 and Opus in WebM)."""
    subprocess.run(
        [
            program, "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
            "-f", "lavfi", "-i", f"color=c={color}:s={size}:r=30:d={seconds}",
            "-f", "lavfi", "-i", f"sine=frequency={tone}:duration={seconds}:sample_rate=48000",
            "-c:v", "libvpx", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "200k",
            "-c:a", "libopus", "-b:a", "48k", "-shortest", str(path),
        ],
        check=True,
        timeout=120,
    )  # fmt: skip
    return path


@pytest.fixture(scope="session")
def ffmpeg_program() -> str:
    from recording.transcode import find_ffmpeg

    return find_ffmpeg()


@pytest.fixture(scope="session")
def webm_files(tmp_path_factory: pytest.TempPathFactory, ffmpeg_program: str) -> dict[str, Path]:
    """`small`: 320x240 red, 2 s; `wide`: 1280x720 blue, 3 s."""
    folder = tmp_path_factory.mktemp("webm")
    return {
        "small": make_webm(ffmpeg_program, folder / "small.webm", size="320x240", seconds=2, color="red"),
        "wide": make_webm(ffmpeg_program, folder / "wide.webm", size="1280x720", seconds=3, color="blue", tone=880),
    }


def read_pixel(program: str, video: Path, at_seconds: float, x: int, y: int) -> tuple[int, int, int]:
    """The RGB colour of one pixel of the frame shown at `at_seconds`."""
    raw = subprocess.run(
        [
            program, "-hide_banner", "-nostdin", "-loglevel", "error", "-ss", f"{at_seconds}", "-i", str(video),
            "-frames:v", "1", "-vf", f"crop=2:2:{x // 2 * 2}:{y // 2 * 2}", "-f", "rawvideo", "-pix_fmt", "rgb24", "-",
        ],
        check=True,
        capture_output=True,
        timeout=60,
    ).stdout  # fmt: skip
    return raw[0], raw[1], raw[2]


@pytest.fixture(scope="session")
def pixel(ffmpeg_program: str) -> Callable[[Path, float, int, int], tuple[int, int, int]]:
    """`pixel(video, at_seconds, x, y)`: the RGB colour there."""
    return lambda video, at_seconds, x, y: read_pixel(ffmpeg_program, video, at_seconds, x, y)
