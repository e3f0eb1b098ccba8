"""A benchmark's load, run in child processes it speaks to in JSON lines: the fan-out
benchmark's subscribers and the recording benchmark's publishers."""

import asyncio
import contextlib
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ASYNCIO_STREAM_LIMIT = 1 << 16  # asyncio's own default for a line read from the child
QUIT_SECONDS = 20.0


class JsonLineChild:
    """A Python script run as a child process that answers each JSON object written to its
    stdin with one JSON line on its stdout, and leaves on {"cmd": "quit"}. Its stderr goes to
    `<script name>-<index>.log` in `log_dir`; `role` names it in errors ("subscriber process 3
    exited; ..."). `count` is what the benchmark has placed in it (subscribers, rooms)."""

    def __init__(
        self,
        script: Path,
        index: int,
        log_dir: Path,
        *,
        role: str,
        args: Sequence[str] = (),
        limit: int = ASYNCIO_STREAM_LIMIT,
    ) -> None:
        self.script = script
        self.index = index
        self.log_dir = log_dir
        self.role = role
        self.args = list(args)
        self.limit = limit
        self.process: asyncio.subprocess.Process | None = None
        self.count = 0

    async def start(self) -> None:
        log = open(self.log_dir / f"{self.script.stem}-{self.index}.log", "wb")  # noqa: SIM115, ASYNC230 - the child keeps it
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            str(self.script),
            *self.args,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=log,
            limit=self.limit,
        )
        log.close()

    async def ask(self, request: dict[str, Any], timeout: float = 600) -> dict[str, Any]:
        if self.process is None or self.process.stdin is None or self.process.stdout is None:
            raise RuntimeError(f"{self.role} process not started")
        self.process.stdin.write(json.dumps(request).encode() + b"\n")
        await self.process.stdin.drain()
        line = await asyncio.wait_for(self.process.stdout.readline(), timeout)
        if not line:
            raise RuntimeError(f"{self.role} process {self.index} exited; see its log in {self.log_dir}")
        answer: dict[str, Any] = json.loads(line)
        return answer

    async def stop(self) -> None:
        """Ask the child to quit; kill it when it has not within QUIT_SECONDS."""
        if self.process is None or self.process.returncode is not None:
            return
        with contextlib.suppress(Exception):
            if self.process.stdin is not None:
                self.process.stdin.write(b'{"cmd": "quit"}\n')
                await self.process.stdin.drain()
        try:
            await asyncio.wait_for(self.process.wait(), QUIT_SECONDS)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()

    @property
    def pid(self) -> int:
        return self.process.pid if self.process is not None else 0
