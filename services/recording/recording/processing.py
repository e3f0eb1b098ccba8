"""One processing job: the files of a recording, each put back together from its chunks
in a job directory, read for what they hold, scaled to one size and joined in time order
into one MP4 by ffmpeg, checked, and stored; or (a server-side recording) its tracks
fetched and composed into a grid. Nothing of it is held in memory whole.

`ProcessingFailed` says why a recording cannot be processed (a file that is not media, an
ffmpeg error, a result that fails its check): the job ends there and the recording is
marked failed. Any other exception is a passing fault (the blob store, the database) and
the job is tried again.
"""

import asyncio
import contextlib
import logging
import shutil
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from recording.domain import (
    StoredTrack,
    TrackFile,
    check_output,
    in_time_order,
    largest_size,
    percent_done,
    tracks_in_segments,
)
from recording.scratch import job_dir_prefix
from recording.store import RecordingStore
from recording.transcode import (
    Ffmpeg,
    FfmpegFailed,
    GridFile,
    GridInput,
    MediaInfo,
    Part,
    grid_command,
    join_command,
)
from webinar_runtime.blobs import DEFAULT_CHUNK_SIZE, BlobNotFound, BlobStore

log = logging.getLogger("recording.processing")

CONTENT_TYPE = "video/mp4"
# ffmpeg gets this long, plus this many seconds per second of media, before it is stopped.
BASE_TIMEOUT = 120.0
TIMEOUT_PER_SECOND = 20.0

PercentCallback = Callable[[int], Awaitable[None]]


class ProcessingFailed(Exception):
    """The recording cannot be processed; the message is the reason its users see."""


@dataclass(frozen=True)
class Output:
    key: str
    size: int
    duration: float
    width: int
    height: int


def output_key(recording_key: str, job_id: str) -> str:
    return f"outputs/{recording_key}/{job_id}.mp4"


def _extension(mime_type: str) -> str:
    subtype = mime_type.split("/", 1)[-1].split(";", 1)[0].strip().lower()
    return {"webm": "webm", "mp4": "mp4", "x-matroska": "mkv", "ogg": "ogg"}.get(subtype, "bin")


class Processor:
    def __init__(
        self, *, store: RecordingStore, blobs: BlobStore, ffmpeg: Ffmpeg, work_dir: str = "", preset: str = "veryfast"
    ) -> None:
        self.store = store
        self.blobs = blobs
        self.ffmpeg = ffmpeg
        self.work_dir = work_dir or None
        self.preset = preset

    async def process(
        self,
        *,
        recording_key: str,
        job_id: str,
        files: list[TrackFile],
        target: tuple[int, int] | None,
        on_percent: PercentCallback,
    ) -> Output:
        """Join `files` into one MP4 stored under a key of this job; its Output once checked."""
        async with self._workdir(job_id) as workdir:
            parts = [await self._gather(file, workdir / f"{index:04d}.{_extension(file.mime_type)}")
                     for index, file in enumerate(in_time_order(files))]  # fmt: skip
            size = target or largest_size([part.info.size for part in parts if part.info.size])
            result = workdir / "joined.mp4"
            return await self._render(
                join_command(self.ffmpeg.program, parts, size, result, preset=self.preset),
                result,
                size=size,
                expected=sum(part.info.duration for part in parts),
                saying=("join the files", "the processed file"),
                stored_as=(recording_key, job_id),
                on_percent=on_percent,
            )

    async def compose(
        self,
        *,
        recording_key: str,
        job_id: str,
        tracks: list[StoredTrack],
        duration: float,
        canvas: tuple[int, int],
        on_percent: PercentCallback,
    ) -> Output:
        """Compose a server-side recording's tracks into one MP4 of `canvas` (the videos in a
        grid, the sounds mixed) lasting `duration`; its Output once checked and stored."""
        async with self._workdir(job_id) as workdir:
            inputs = []
            for segments in tracks_in_segments(tracks):
                files = []
                for segment in segments:
                    path = workdir / f"{segment.track_id}.{segment.extension}"
                    await self._fetch(segment, path)
                    files.append(GridFile(path=path, offset=segment.offset, duration=segment.duration))
                inputs.append(GridInput(kind=segments[0].kind, files=tuple(files)))
            result = workdir / "grid.mp4"
            return await self._render(
                grid_command(self.ffmpeg.program, inputs, canvas, duration, result, preset=self.preset),
                result,
                size=canvas,
                expected=duration,
                saying=("compose the tracks", "the composed file"),
                stored_as=(recording_key, job_id),
                on_percent=on_percent,
            )

    @contextlib.asynccontextmanager
    async def _workdir(self, job_id: str) -> AsyncIterator[Path]:
        """A directory of the job's own, deleted with what it holds when the job is done."""
        workdir = Path(await asyncio.to_thread(tempfile.mkdtemp, prefix=job_dir_prefix(job_id), dir=self.work_dir))
        try:
            yield workdir
        finally:
            await asyncio.to_thread(shutil.rmtree, workdir, True)

    async def _render(
        self,
        argv: list[str],
        result: Path,
        *,
        size: tuple[int, int],
        expected: float,
        saying: tuple[str, str],
        stored_as: tuple[str, str],
        on_percent: PercentCallback,
    ) -> Output:
        """Run ffmpeg's `argv` into `result` (progress against `expected` seconds), check the
        file (video, audio, `size`, length) and store it. `saying`: what ffmpeg does and what
        it makes, for the reasons of a failure."""
        doing, made = saying

        async def progress(seconds: float) -> None:
            await on_percent(percent_done(seconds, expected))

        try:
            await self.ffmpeg.run(argv, timeout=BASE_TIMEOUT + TIMEOUT_PER_SECOND * expected, on_progress=progress)
        except FfmpegFailed as error:
            raise ProcessingFailed(f"ffmpeg could not {doing}: {error}") from None
        info = await self._probe(result, made)
        try:
            check_output(
                has_video=info.has_video,
                has_audio=info.has_audio,
                size=info.size,
                duration=info.duration,
                target=size,
                expected=expected,
            )
        except ValueError as error:
            raise ProcessingFailed(f"{made} failed its check: {error}") from None
        recording_key, job_id = stored_as
        return await self._store(result, recording_key, job_id, info.duration, size)

    async def _fetch(self, track: StoredTrack, path: Path) -> None:
        handle = await asyncio.to_thread(path.open, "wb")
        try:
            async for piece in self.blobs.read(track.key):
                await asyncio.to_thread(handle.write, piece)
        except BlobNotFound:
            raise ProcessingFailed(f"the file of track {track.track_id} is gone from storage") from None
        finally:
            await asyncio.to_thread(handle.close)

    async def _store(
        self, result: Path, recording_key: str, job_id: str, duration: float, size: tuple[int, int]
    ) -> Output:
        key = output_key(recording_key, job_id)
        stored = await self.blobs.write(key, read_file(result))
        local = (await asyncio.to_thread(result.stat)).st_size
        if stored != local:
            await self.blobs.delete(key)
            raise OSError(f"stored {stored} bytes of a {local}-byte file")
        return Output(key=key, size=stored, duration=round(duration, 3), width=size[0], height=size[1])

    async def _gather(self, file: TrackFile, path: Path) -> Part:
        """The file of a track, put back together from its chunks at `path`, and what it holds."""
        handle = await asyncio.to_thread(path.open, "wb")
        try:
            async for key in self.store.chunk_keys(file):
                async for piece in self.blobs.read(key):
                    await asyncio.to_thread(handle.write, piece)
        finally:
            await asyncio.to_thread(handle.close)
        info = await self._probe(path, f"the file of track {file.track_id}")
        if not info.has_video and not info.has_audio:
            raise ProcessingFailed(f"the file of track {file.track_id} holds no audio or video")
        if info.duration <= 0:
            raise ProcessingFailed(f"the file of track {file.track_id} holds no media time")
        return Part(path=path, info=info)

    async def _probe(self, path: Path, what: str) -> MediaInfo:
        try:
            return await self.ffmpeg.probe(path)
        except FfmpegFailed as error:
            raise ProcessingFailed(f"{what} cannot be read as media: {error}") from None


async def read_file(path: Path) -> AsyncIterator[bytes]:
    """A local file's bytes, read off the event loop in blob-sized pieces."""
    handle: BinaryIO = await asyncio.to_thread(path.open, "rb")
    try:
        while chunk := await asyncio.to_thread(handle.read, DEFAULT_CHUNK_SIZE):
            yield chunk
    finally:
        await asyncio.to_thread(handle.close)
