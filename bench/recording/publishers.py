"""A process of publishers for the recording benchmark (started by run.py).

Each publisher opens a room of its own through the gateway's SFU socket (its creator hosts
it), publishes a camera and a microphone replayed from pre-encoded packets (aiortc
packetises them, nothing is encoded here), then asks for the room to be recorded on the
server (`recording:start`), as a host's page would. It is the fan-out benchmark's
publisher (bench/sfu_fanout/run.py), one per room.

Control: one JSON object per line on stdin, one answer per line on stdout.
  {"cmd": "add", "count": K, "url": ..., "api_key": ..., "prefix": ..., "video": path}
  {"cmd": "quit"}
"""

import asyncio
import contextlib
import importlib.util
import json
import logging
import sys
from pathlib import Path
from typing import Any

import av

from media.peer_client import encode_opus


def fanout_publisher() -> Any:
    """The fan-out benchmark's Publisher class (bench/sfu_fanout/run.py)."""
    path = Path(__file__).resolve().parents[1] / "sfu_fanout" / "run.py"
    spec = importlib.util.spec_from_file_location("sfu_fanout_run", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.Publisher


Publisher = fanout_publisher()

CONCURRENT_STARTS = 4


class Publishers:
    def __init__(self) -> None:
        self.publishers: list[Any] = []
        self.video: list[Any] = []
        self.audio: list[Any] = encode_opus(250)

    def load(self, path: str) -> None:
        if not self.video:
            with av.open(path) as container:
                self.video = [packet for packet in container.demux(video=0) if packet.size]

    async def add(self, request: dict[str, Any]) -> dict[str, Any]:
        self.load(request["video"])
        slots = asyncio.Semaphore(CONCURRENT_STARTS)
        errors: list[str] = []

        async def one(index: int) -> None:
            async with slots:
                publisher = Publisher(request["url"], request["api_key"])
                try:
                    await publisher.start(f"{request['prefix']}-{index}", self.video, self.audio)
                    answer = await publisher.call("recording:start", {})
                    if answer.get("status") != "recording":
                        raise RuntimeError(f"recording:start answered {answer}")
                except Exception as error:
                    errors.append(f"{type(error).__name__}: {error}")
                    await publisher.close()
                    return
                self.publishers.append(publisher)

        before = len(self.publishers)
        await asyncio.gather(*(one(before + number) for number in range(request["count"])))
        return {"added": len(self.publishers) - before, "errors": errors}

    async def close(self) -> None:
        await asyncio.gather(*(publisher.close() for publisher in self.publishers))


async def serve() -> None:
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    publishers = Publishers()
    try:
        while line := await reader.readline():
            request = json.loads(line)
            if request["cmd"] == "quit":
                break
            answer = await publishers.add(request) if request["cmd"] == "add" else {"error": "unknown command"}
            sys.stdout.write(json.dumps(answer) + "\n")
            sys.stdout.flush()
    finally:
        with contextlib.suppress(Exception):
            await publishers.close()


if __name__ == "__main__":
    asyncio.run(serve())
