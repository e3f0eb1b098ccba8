"""One track's file, written as the publisher encoded it: PyAV's muxer (libavformat) puts each
frame in a WebM or Matroska file with its own timestamp; no decoder and no encoder touches
the picture or the sound. (For Opus an encoder context is opened, never used, only so the
muxer writes the `OpusHead` header players need; the first H.264 keyframe is decoded once
to learn the picture size the container declares.)

The methods block on the disk: the recorder calls them on its muxing thread (`MuxThread`),
in order, never on the event loop.
"""

import asyncio
import contextlib
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, TypeVar

import av

from recording.rtp import Frame, TrackCodec

log = logging.getLogger("recording.tracks")

T = TypeVar("T")
OPUS_RATE = 48000


@dataclass(frozen=True)
class WrittenTrack:
    """A closed track file: how many frames, how long (seconds) and how big (bytes); or, with
    `error`, why it could not be written (then it holds nothing and is deleted)."""

    path: Path
    frames: int
    duration: float
    size: int
    width: int = 0
    height: int = 0
    error: str | None = None


class TrackFile:
    """One track's file; opened at its first frame (a keyframe, for video)."""

    def __init__(self, path: Path, codec: TrackCodec, *, clock_rate: int, channels: int) -> None:
        self.path = path
        self.codec = codec
        self.time_base = Fraction(1, clock_rate)
        self.channels = channels
        self.frames = 0
        self.width = 0
        self.height = 0
        self._container: Any = None
        self._stream: Any = None
        self._first: int | None = None
        self._last_pts: int | None = None
        self._last_step = 0
        self.error: str | None = None  # the first write that failed: the file is given up

    def write(self, frames: list[Frame]) -> None:
        if self.error is not None:
            return
        try:
            self._write(frames)
        except Exception as error:  # the disk, or the muxer: this track is lost, not the recording
            self.error = f"{type(error).__name__}: {error}"
            raise

    def _write(self, frames: list[Frame]) -> None:
        for frame in frames:
            if self._container is None:
                if self.codec.kind == "video" and not frame.keyframe:
                    continue  # a picture needs its keyframe first
                self._open(frame)
            first = self._first if self._first is not None else frame.timestamp
            pts = frame.timestamp - first
            if self._last_pts is not None and pts <= self._last_pts:
                continue  # the muxer takes time forward only (a publisher that restarted its clock)
            packet = av.Packet(frame.data)
            packet.stream = self._stream
            packet.time_base = self.time_base
            packet.pts = packet.dts = pts
            packet.is_keyframe = frame.keyframe
            self._container.mux(packet)
            if self._last_pts is not None:
                self._last_step = pts - self._last_pts
            self._last_pts = pts
            self.frames += 1

    def close(self) -> WrittenTrack:
        """Finish the file (its index and length); a track that never got a frame, or whose
        writing failed, has none."""
        container, self._container = self._container, None
        try:
            if container is not None:
                container.close()
        except Exception as error:
            self.error = self.error or f"{type(error).__name__}: {error}"
        if not self.frames or self.error is not None:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
            return WrittenTrack(path=self.path, frames=0, duration=0.0, size=0, error=self.error)
        seconds = float(((self._last_pts or 0) + self._last_step) * self.time_base)
        return WrittenTrack(
            path=self.path,
            frames=self.frames,
            duration=round(seconds, 3),
            size=self.path.stat().st_size,
            width=self.width,
            height=self.height,
        )

    def _open(self, frame: Frame) -> None:
        container = av.open(str(self.path), "w", format=self.codec.container)
        stream: av.stream.Stream
        try:
            if self.codec.kind == "audio":
                # An encoder context (never used) makes the muxer write the OpusHead header.
                layout = "stereo" if self.channels == 2 else "mono"
                stream = container.add_stream("libopus", rate=OPUS_RATE, layout=layout)
            else:
                self.width, self.height = frame.width, frame.height
                if self.codec.name == "h264" or not self.width:
                    self.width, self.height = _decoded_size(self.codec.name, frame.data)
                stream = container.add_mux_stream(self.codec.name, width=self.width, height=self.height)
            stream.time_base = self.time_base
        except BaseException:
            container.close()
            raise
        self._container, self._stream, self._first = container, stream, frame.timestamp


def _decoded_size(codec_name: str, keyframe: bytes) -> tuple[int, int]:
    """The picture size of a keyframe, decoded once (the container must declare it)."""
    decoder: Any = av.CodecContext.create(codec_name, "r")
    try:
        pictures = [*decoder.decode(av.Packet(keyframe)), *decoder.decode(None)]
    except av.error.FFmpegError as error:
        raise ValueError(f"the first {codec_name} keyframe cannot be read: {error}") from None
    if not pictures:
        raise ValueError(f"the first {codec_name} keyframe holds no picture")
    return int(pictures[0].width), int(pictures[0].height)


class MuxThread:
    """The one thread every track file of this process is written on, in submission order:
    a file's writes and its close queue behind each other, and the event loop never waits
    on the disk. Muxing a frame takes microseconds, so one thread serves many rooms."""

    def __init__(self) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="recording-mux")

    def submit(self, work: Callable[[], T]) -> "asyncio.Future[T]":
        return asyncio.get_running_loop().run_in_executor(self._executor, work)

    async def close(self) -> None:
        """Finish what is queued, then stop the thread."""
        await asyncio.to_thread(self._executor.shutdown, True)
