"""A client of the recording socket (/recording/socket.io) for cross-service tests, WebM files
made with ffmpeg's test sources, and a probe of what a file holds (ffprobe when installed,
else the recording service's own reading of ffmpeg)."""

import asyncio
import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import socketio

from recording.transcode import Ffmpeg, find_ffmpeg

TIMEOUT = 10
MIME = "video/webm;codecs=vp8,opus"
PUSHED = ("recording:progress", "recording:ready", "recording:failed")


def make_webm(path: Path, *, size: str = "640x360", seconds: float = 3, bitrate: str = "400k") -> Path:
    """A VP8/Opus WebM (what Chrome's MediaRecorder writes) of ffmpeg's test picture and a tone."""
    subprocess.run(
        [
            find_ffmpeg(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
            "-f", "lavfi", "-i", f"testsrc=size={size}:rate=30:duration={seconds}",
            "-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}:sample_rate=48000",
            "-c:v", "libvpx", "-deadline", "realtime", "-cpu-used", "8", "-b:v", bitrate,
            "-c:a", "libopus", "-shortest", str(path),
        ],
        check=True,
        timeout=120,
    )  # fmt: skip
    return path


@dataclass(frozen=True)
class Probe:
    has_video: bool
    has_audio: bool
    width: int | None
    height: int | None
    duration: float


async def probe(path: Path) -> Probe:
    """What `path` holds, by ffprobe (Debian's ffmpeg) when it is installed."""
    ffprobe = shutil.which("ffprobe")
    if ffprobe is None:
        info = await Ffmpeg(find_ffmpeg()).probe(path)
        return Probe(info.has_video, info.has_audio, info.width, info.height, info.duration)
    process = await asyncio.create_subprocess_exec(
        ffprobe, "-v", "error", "-show_streams", "-show_format", "-of", "json", str(path),
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    report, _ = await asyncio.wait_for(process.communicate(), timeout=60)
    if process.returncode != 0:
        raise AssertionError(f"ffprobe could not read {path}")
    found = json.loads(report)
    video = [s for s in found["streams"] if s["codec_type"] == "video"]
    audio = [s for s in found["streams"] if s["codec_type"] == "audio"]
    return Probe(
        has_video=bool(video),
        has_audio=bool(audio),
        width=video[0]["width"] if video else None,
        height=video[0]["height"] if video else None,
        duration=float(found["format"]["duration"]),
    )


class RecorderClient:
    """A socket on the recording path that queues what it hears about recordings."""

    def __init__(self, url: str, *, api_key: str | None, token: str | None = None) -> None:
        self.url = url
        self.auth = {**({"apiKey": api_key} if api_key else {}), **({"token": token} if token else {})}
        self.socket = socketio.AsyncClient(reconnection=False)
        self.heard: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        for event in PUSHED:
            self.socket.on(event, self._recorder(event))

    def _recorder(self, event: str) -> Any:
        async def record(data: Any) -> None:
            await self.heard.put((event, data))

        return record

    async def connect(self) -> "RecorderClient":
        await self.socket.connect(self.url, socketio_path="recording/socket.io", auth=self.auth, wait_timeout=TIMEOUT)
        return self

    async def close(self) -> None:
        await self.socket.disconnect()

    async def ask(self, event: str, payload: dict[str, Any]) -> Any:
        return await self.socket.call(event, payload, timeout=TIMEOUT)

    async def open(self, recording_id: str, track_id: str, **extra: Any) -> Any:
        return await self.ask(
            "create-file",
            {"recordingId": recording_id, "trackId": track_id, "mimeType": MIME, "roomId": "room-rec",
             "userName": "Rowan Host", **extra},
        )  # fmt: skip

    async def send(self, recording_id: str, track_id: str, seq: int, data: bytes) -> Any:
        return await self.ask("stream", {"recordingId": recording_id, "trackId": track_id, "seq": seq, "data": data})

    async def close_file(self, recording_id: str, track_id: str, last_seq: int) -> Any:
        return await self.ask("stop-writing", {"recordingId": recording_id, "trackId": track_id, "lastSeq": last_seq})

    async def outcome(self, recording_id: str, timeout: float = 90) -> tuple[str, Any, list[int]]:
        """The ready or failed event of a recording, with the percents heard before it."""
        percents: list[int] = []
        async with asyncio.timeout(timeout):
            while True:
                event, data = await self.heard.get()
                if data.get("recordingId") != recording_id:
                    continue
                if event == "recording:progress":
                    percents.append(data["percent"])
                    continue
                return event, data, percents

    async def progress(self, recording_id: str, above: int = 0, timeout: float = 60) -> int:
        """Wait until the recording's processing says it is past `above` percent."""
        async with asyncio.timeout(timeout):
            while True:
                event, data = await self.heard.get()
                if data.get("recordingId") != recording_id:
                    continue
                if event != "recording:progress":
                    raise AssertionError(f"{event} before any progress past {above}%: {data}")
                if data["percent"] > above:
                    return int(data["percent"])


def pieces_of(data: bytes, size: int) -> list[bytes]:
    return [data[at : at + size] for at in range(0, len(data), size)]
