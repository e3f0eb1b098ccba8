"""ffmpeg for the recording service: which program runs, what a file holds, and the one
command (built with ffmpeg-python) that scales files to one size and joins them into an
MP4 (H.264 + AAC).

ffmpeg runs as a child process, so the work happens off the event loop, which only reads
the child's progress lines as they come. A child dies with the service (a Linux parent-death
signal): a killed recording service leaves no ffmpeg behind writing a file nobody will keep.
"""

import asyncio
import contextlib
import logging
import re
import shutil
import signal
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ffmpeg

from recording.domain import grid_layout
from webinar_runtime.child_processes import die_with_parent

log = logging.getLogger("recording.ffmpeg")

FRAME_RATE = 30
SAMPLE_RATE = 48000
_STREAM = re.compile(r"^\s*Stream #\d+:\d+.*?: (Video|Audio): (.*)$")
_SIZE = re.compile(r"(?:^|[ ,])(\d{2,5})x(\d{2,5})(?:[ ,\[]|$)")
_DURATION = re.compile(r"^\s*Duration: (\d+):(\d{2}):(\d{2}(?:\.\d+)?)")

ProgressCallback = Callable[[float], Awaitable[None]]


class FfmpegFailed(Exception):
    """ffmpeg could not do the work; the message says what it printed last."""


@dataclass(frozen=True)
class MediaInfo:
    """What a media file holds: its length in seconds, its picture size if it has video, and
    the codecs of its first video and audio streams as ffmpeg names them (`vp8`, `opus`)."""

    duration: float
    has_video: bool
    has_audio: bool
    width: int | None = None
    height: int | None = None
    video_codec: str | None = None
    audio_codec: str | None = None

    @property
    def size(self) -> tuple[int, int] | None:
        return (self.width, self.height) if self.width and self.height else None


@dataclass(frozen=True)
class Part:
    """One file to join, with what it holds."""

    path: Path
    info: MediaInfo


def find_ffmpeg(configured: str = "") -> str:
    """The ffmpeg to run: the configured one, else ffmpeg on PATH (Debian's), else the one
    the imageio-ffmpeg wheel ships (it has libx264, libvpx, libopus and aac)."""
    if configured:
        return configured
    on_path = shutil.which("ffmpeg")
    if on_path:
        return on_path
    import imageio_ffmpeg

    return str(imageio_ffmpeg.get_ffmpeg_exe())


def _seconds(hours: str, minutes: str, seconds: str) -> float:
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


def parse_input_report(lines: list[str]) -> tuple[bool, bool, tuple[int, int] | None, float | None]:
    """From ffmpeg's report of its input (the lines before `Output #0` / `Stream mapping`):
    whether it has video, audio, the first video's size and the container's duration."""
    has_video = has_audio = False
    size: tuple[int, int] | None = None
    duration: float | None = None
    for line in lines:
        if line.startswith(("Output #", "Stream mapping")):
            break
        found = _DURATION.match(line)
        if found:
            duration = _seconds(*found.groups())
            continue
        stream = _STREAM.match(line)
        if not stream:
            continue
        if stream.group(1) == "Audio":
            has_audio = True
            continue
        has_video = True
        dims = _SIZE.search(stream.group(2))
        if size is None and dims:
            size = (int(dims.group(1)), int(dims.group(2)))
    return has_video, has_audio, size, duration


def stream_codecs(lines: list[str]) -> tuple[str | None, str | None]:
    """The codecs of the first video and the first audio stream of ffmpeg's input report."""
    found: dict[str, str] = {}
    for line in lines:
        if line.startswith(("Output #", "Stream mapping")):
            break
        stream = _STREAM.match(line)
        if stream:
            found.setdefault(stream.group(1), stream.group(2).split(",", 1)[0].split(" ", 1)[0])
    return found.get("Video"), found.get("Audio")


class Ffmpeg:
    """Runs one ffmpeg program; `timeout` bounds each run."""

    def __init__(self, program: str) -> None:
        self.program = program

    async def run(
        self, argv: list[str], *, timeout: float, on_progress: ProgressCallback | None = None
    ) -> tuple[list[str], float]:
        """Run ffmpeg with `argv` (which must ask for `-progress pipe:1`); return the first
        lines it printed on stderr (its report of the inputs) and the last output time it
        reported. FfmpegFailed when it fails or takes longer than `timeout` seconds."""
        process = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            preexec_fn=die_with_parent(signal.SIGKILL),
        )
        stderr, stdout = process.stderr, process.stdout
        if stderr is None or stdout is None:
            raise RuntimeError("ffmpeg was started without its pipes")
        head: list[str] = []
        tail: deque[str] = deque(maxlen=8)
        reached = 0.0

        async def read_report() -> None:
            async for raw in stderr:
                line = raw.decode("utf-8", "replace").rstrip()
                if len(head) < 400:
                    head.append(line)
                if line.strip():
                    tail.append(line.strip())

        async def read_progress() -> None:
            nonlocal reached
            async for raw in stdout:
                key, _, value = raw.decode("ascii", "replace").strip().partition("=")
                if key == "out_time_us" and value.lstrip("-").isdigit():
                    reached = max(reached, int(value) / 1_000_000)
                    if on_progress is not None:
                        await on_progress(reached)

        try:
            async with asyncio.timeout(timeout):
                await asyncio.gather(read_report(), read_progress())
                code = await process.wait()
        except TimeoutError:
            raise FfmpegFailed(f"ffmpeg took longer than {timeout:.0f}s") from None
        finally:
            if process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.shield(process.wait())
        if code != 0:
            raise FfmpegFailed(" / ".join(tail) or f"ffmpeg exited with {code}")
        return head, reached

    async def probe(self, path: Path, *, timeout: float = 120.0) -> MediaInfo:
        """What `path` holds. A browser's MediaRecorder writes WebM without a duration, so the
        file is read through (copied to nowhere, nothing decoded) to find where it ends."""
        argv = [
            self.program, "-hide_banner", "-nostdin", "-i", str(path), "-map", "0", "-c", "copy", "-f", "null", "-",
            "-progress", "pipe:1", "-nostats",
        ]  # fmt: skip
        head, reached = await self.run(argv, timeout=timeout)
        has_video, has_audio, size, duration = parse_input_report(head)
        video_codec, audio_codec = stream_codecs(head)
        return MediaInfo(
            duration=max(reached, duration or 0.0),
            has_video=has_video,
            has_audio=has_audio,
            width=size[0] if size else None,
            height=size[1] if size else None,
            video_codec=video_codec,
            audio_codec=audio_codec,
        )


def join_command(program: str, parts: list[Part], target: tuple[int, int], output: Path, *, preset: str) -> list[str]:
    """The ffmpeg command that scales every part to `target` (keeping its aspect, padded with
    black), at 30 fps and 48 kHz stereo, and concatenates them in the order given into one
    MP4 of H.264 and AAC, its index at the front so a browser can seek before it has it all.
    A part without video gets black picture, one without audio silence, for its length."""
    width, height = target
    streams = []
    for part in parts:
        source = ffmpeg.input(str(part.path))
        length = f"{max(part.info.duration, 0.04):.3f}"
        if part.info.has_video:
            video = (
                source.video.filter("setpts", "PTS-STARTPTS")
                .filter("scale", width, height, force_original_aspect_ratio="decrease")
                .filter("pad", width, height, "(ow-iw)/2", "(oh-ih)/2", color="black")
                .filter("setsar", 1)
                .filter("fps", FRAME_RATE)
                .filter("format", "yuv420p")
            )
        else:
            video = ffmpeg.input(f"color=c=black:s={width}x{height}:r={FRAME_RATE}:d={length}", f="lavfi").video
        if part.info.has_audio:
            audio = (
                source.audio.filter("asetpts", "PTS-STARTPTS")
                .filter("aresample", SAMPLE_RATE)
                .filter("aformat", sample_fmts="fltp", channel_layouts="stereo")
            )
        else:
            audio = ffmpeg.input(f"anullsrc=r={SAMPLE_RATE}:cl=stereo", f="lavfi", t=length).audio
        streams += [video, audio]
    joined = ffmpeg.concat(*streams, v=1, a=1).node
    out = ffmpeg.output(
        joined[0],
        joined[1],
        str(output),
        vcodec="libx264",
        preset=preset,
        crf=23,
        pix_fmt="yuv420p",
        acodec="aac",
        audio_bitrate="128k",
        movflags="+faststart",
        f="mp4",
    )
    argv = out.global_args("-hide_banner", "-nostdin", "-nostats", "-progress", "pipe:1", "-y").compile(cmd=program)
    return [str(arg) for arg in argv]


@dataclass(frozen=True)
class GridFile:
    """A file of a track: when (seconds after the recording's start) its first frame came,
    and how long it lasts."""

    path: Path
    offset: float
    duration: float = 0.0


@dataclass(frozen=True)
class GridInput:
    """One track of a server-side recording to compose: its kind and its files, in order (one
    file, or the segments it was stored in; a gap between two is black or silent)."""

    kind: str
    files: tuple[GridFile, ...]

    @property
    def offset(self) -> float:
        return self.files[0].offset

    def gaps(self) -> list[float]:
        """The seconds of nothing after each file before the next one begins (0 after the last)."""
        pairs = zip(self.files, self.files[1:], strict=False)
        return [max(0.0, after.offset - (before.offset + before.duration)) for before, after in pairs] + [0.0]


def grid_command(
    program: str, inputs: list[GridInput], canvas: tuple[int, int], duration: float, output: Path, *, preset: str
) -> list[str]:
    """The ffmpeg command that composes a server-side recording into one MP4 of `canvas` size
    lasting `duration`: every video track scaled into a cell of a near-square grid (keeping
    its aspect, padded black), each from its own offset and black before and after it; every
    audio track delayed by its offset, gaps filled with silence, all mixed at full level.
    No video: a black picture; no audio: silence."""
    width, height = canvas
    length = f"{max(duration, 0.04):.3f}"
    videos = [item for item in inputs if item.kind == "video"]
    audios = [item for item in inputs if item.kind == "audio"]
    layout = grid_layout(len(videos), canvas)
    cell_width, cell_height = layout.cell

    def picture(file: GridFile, gap: float) -> Any:
        chain = (
            ffmpeg.input(str(file.path))
            .video.filter("setpts", "PTS-STARTPTS")
            .filter("scale", cell_width, cell_height, force_original_aspect_ratio="decrease")
            .filter("pad", cell_width, cell_height, "(ow-iw)/2", "(oh-ih)/2", color="black")
            .filter("setsar", 1)
            .filter("fps", FRAME_RATE)
            .filter("format", "yuv420p")
        )
        return chain.filter("tpad", stop_mode="add", stop_duration=f"{gap:.3f}", color="black") if gap else chain

    def sound(file: GridFile, gap: float) -> Any:
        chain = (
            ffmpeg.input(str(file.path))
            .audio.filter("asetpts", "PTS-STARTPTS")
            .filter("aresample", SAMPLE_RATE, **{"async": 1})
            .filter("aformat", sample_fmts="fltp", channel_layouts="stereo")
        )
        return chain.filter("apad", pad_dur=f"{gap:.3f}") if gap else chain

    def joined(item: GridInput, each: Callable[[GridFile, float], Any], *, video: bool) -> Any:
        """The track's files one after the other (each followed by its gap)."""
        parts = [each(file, gap) for file, gap in zip(item.files, item.gaps(), strict=True)]
        if len(parts) == 1:
            return parts[0]
        return ffmpeg.concat(*parts, v=int(video), a=int(not video))

    cells = [
        joined(item, picture, video=True)
        .filter("tpad", start_duration=f"{item.offset:.3f}", stop_mode="add", stop_duration=length, color="black")
        .filter("trim", duration=length)
        for item in videos
    ]
    if not cells:
        video = ffmpeg.input(f"color=c=black:s={width}x{height}:r={FRAME_RATE}:d={length}", f="lavfi").video
    elif len(cells) == 1:
        video = cells[0]
    else:
        positions = "|".join(f"{x}_{y}" for x, y in (layout.position(index) for index in range(len(cells))))
        video = ffmpeg.filter(cells, "xstack", inputs=len(cells), layout=positions, fill="black")
    video = video.filter("pad", width, height, "(ow-iw)/2", "(oh-ih)/2", color="black").filter("setsar", 1)
    sounds = [
        joined(item, sound, video=False)
        .filter("adelay", delays=str(round(item.offset * 1000)), all=1)
        .filter("apad")
        .filter("atrim", duration=length)
        for item in audios
    ]
    if not sounds:
        audio = ffmpeg.input(f"anullsrc=r={SAMPLE_RATE}:cl=stereo", f="lavfi", t=length).audio
    elif len(sounds) == 1:
        audio = sounds[0]
    else:
        audio = ffmpeg.filter(sounds, "amix", inputs=len(sounds), normalize=0, duration="longest")
    out = ffmpeg.output(
        video,
        audio,
        str(output),
        vcodec="libx264",
        preset=preset,
        crf=23,
        pix_fmt="yuv420p",
        r=FRAME_RATE,
        acodec="aac",
        audio_bitrate="128k",
        t=length,
        movflags="+faststart",
        f="mp4",
    )
    argv = out.global_args("-hide_banner", "-nostdin", "-nostats", "-progress", "pipe:1", "-y").compile(cmd=program)
    return [str(arg) for arg in argv]
