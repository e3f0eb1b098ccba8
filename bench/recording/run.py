"""Server-side recording benchmark: how many rooms one recorder core records at once.

    .venv/bin/python bench/recording/run.py [--quick] [--rooms 10,20,40,60]

Starts NATS, Redis, the MongoDB-compatible server and auth, meetings, one media worker,
recording and the gateway on loopback. Each room has one publisher (publishers.py, in
child processes) sending pre-encoded VP8 640x360 at 30 fps and about 600 kbit/s plus Opus
(encoded once with PyAV into var/bench/, then replayed without encoding), and is recorded
server-side from the moment it publishes (`recording:start` on the SFU socket): the
recording service taps both producers on the media node and writes each track to its file
without re-encoding. For each N it measures, over a window, the recording service's CPU
seconds per second (from /proc), the RTP packets its recorders received and the ones that
never came (its /metrics: gaps in the taps' sequence numbers), then prints the largest N
recorded with no packet lost and at full pace, and what one recorder core would hold,
against the anchor: one browser per recording (a core per recorded room, as a recording
bot or a MediaRecorder in a headless browser needs). Composition (the grid MP4, after a
stop) is not part of the figure. Everything binds 127.0.0.1 and stops at the end.
"""

import argparse
import asyncio
import contextlib
import json
import math
import os
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
from aiortc.codecs.vpx import Vp8Encoder

from webinar_devstack.suite import REPO_ROOT, Suite

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from loopback_suite import SFU_SERVICES, loopback_suite

HERE = Path(__file__).resolve().parent
CACHE = REPO_ROOT / "var" / "bench"
VIDEO_FILE = CACHE / "vp8-360p30-600k-5s.webm"
ANCHOR_ROOMS_PER_CORE = 1.0  # one browser (a core) per recorded room
PACE_LIMIT = 0.97
SERVICES = [*SFU_SERVICES[:-1], "recording", SFU_SERVICES[-1]]  # the gateway last


def encode_video(path: Path, *, seconds: int = 5) -> None:
    """VP8 640x360 at 30 fps and about 600 kbit/s, a keyframe every 2 s: ffmpeg's testsrc2
    pattern with moving noise, so that the encoder spends its bitrate."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    source = av.open("testsrc2=size=640x360:rate=30,noise=alls=6:allf=t", format="lavfi")
    output = av.open(str(partial), "w", format="webm")
    stream = output.add_stream("libvpx", rate=30)
    stream.width, stream.height, stream.pix_fmt = 640, 360, "yuv420p"
    stream.bit_rate = 600_000
    stream.codec_context.gop_size = 60
    stream.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}
    for count, frame in enumerate(source.decode(video=0)):
        if count == seconds * 30:
            break
        frame.pts = None
        frame.pict_type = av.video.frame.PictureType.NONE  # lavfi marks every frame a keyframe
        for packet in stream.encode(frame):
            output.mux(packet)
    for packet in stream.encode(None):
        output.mux(packet)
    output.close()
    source.close()
    partial.rename(path)


def source_rate() -> tuple[float, float]:
    """The video's bitrate (kbit/s) and its RTP packets per second, packetised as the
    publishers' aiortc senders packetise it."""
    packer = Vp8Encoder()
    with av.open(str(VIDEO_FILE)) as container:
        frames = [bytes(packet) for packet in container.demux(video=0) if packet.size]
    seconds = len(frames) / 30
    packets = sum(len(packer._packetize(frame, index)) for index, frame in enumerate(frames))
    return sum(len(frame) for frame in frames) * 8 / seconds / 1000, packets / seconds


# --- the publisher processes ---


class PublisherProcess:
    def __init__(self, index: int, log_dir: Path) -> None:
        self.index = index
        self.log_dir = log_dir
        self.process: asyncio.subprocess.Process | None = None
        self.count = 0

    async def start(self) -> None:
        log = open(self.log_dir / f"publishers-{self.index}.log", "wb")  # noqa: SIM115, ASYNC230 - the child keeps it
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, str(HERE / "publishers.py"),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=log,
        )  # fmt: skip
        log.close()

    async def ask(self, request: dict[str, Any], timeout: float = 600) -> dict[str, Any]:
        if self.process is None or self.process.stdin is None or self.process.stdout is None:
            raise RuntimeError("publisher process not started")
        self.process.stdin.write(json.dumps(request).encode() + b"\n")
        await self.process.stdin.drain()
        line = await asyncio.wait_for(self.process.stdout.readline(), timeout)
        if not line:
            raise RuntimeError(f"publisher process {self.index} exited; see its log in {self.log_dir}")
        answer: dict[str, Any] = json.loads(line)
        return answer

    async def stop(self) -> None:
        if self.process is None or self.process.returncode is not None:
            return
        with contextlib.suppress(Exception):
            if self.process.stdin is not None:
                self.process.stdin.write(b'{"cmd": "quit"}\n')
                await self.process.stdin.drain()
        try:
            await asyncio.wait_for(self.process.wait(), 20)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()

    @property
    def pid(self) -> int:
        return self.process.pid if self.process is not None else 0


# --- measuring ---


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, all its threads, from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy_and_total() -> tuple[float, float]:
    values = [int(value) for value in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values[:8]) - idle, sum(values[:8])


def udp_buffer_drops() -> int:
    header, values = [
        line.split()[1:] for line in Path("/proc/net/snmp").read_text().splitlines() if line.startswith("Udp:")
    ]
    counters = dict(zip(header, values, strict=True))
    return int(counters["RcvbufErrors"]) + int(counters["SndbufErrors"])


def recording_metrics(port: int) -> dict[str, float]:
    """The recording service's own counters (its /metrics on the health port)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    found: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("webinar_recording_"):
            name, _, value = line.rpartition(" ")
            found[name] = float(value)
    return found


@dataclass
class Snapshot:
    at: float
    recorder_cpu: float
    worker_cpu: float
    publishers_cpu: float
    machine: tuple[float, float]
    udp_drops: int
    metrics: dict[str, float]

    def metric(self, name: str) -> float:
        return self.metrics.get(name, 0.0)

    def delta(self, earlier: "Snapshot", name: str) -> float:
        return self.metric(name) - earlier.metric(name)


@dataclass
class Step:
    rooms: int
    recording: int  # rooms the recording service records (its gauge)
    tracks: int
    seconds: float
    recorder_cpu: float
    worker_cpu: float
    publishers_cpu: float
    machine_busy: float
    received: float  # RTP packets per second the recorders got
    video_frames: float  # video frames per second written
    lost: int
    udp_drops: float
    expected: float  # packets per second at full pace

    @property
    def pace(self) -> float:
        return self.received / self.expected if self.expected else 0.0

    @property
    def held(self) -> bool:
        return (
            self.recording == self.rooms
            and self.tracks == 2 * self.rooms
            and self.lost == 0
            and (self.pace >= PACE_LIMIT)
        )


class Bench:
    def __init__(self, *, suite: Suite, args: argparse.Namespace, video_pps: float) -> None:
        self.suite = suite
        self.args = args
        self.video_pps = video_pps
        self.processes: list[PublisherProcess] = []
        self.errors: list[str] = []
        recording = suite.processes["recording"]
        media = suite.processes["media"]
        if recording.process is None or media.process is None:
            raise RuntimeError("the recording service or the media worker did not start")
        self.recorder_pid = recording.process.pid
        self.worker_pid = media.process.pid
        self.metrics_port = recording.health_port

    @property
    def rooms(self) -> int:
        return sum(process.count for process in self.processes)

    async def snapshot(self) -> Snapshot:
        return Snapshot(
            at=time.monotonic(),
            recorder_cpu=process_cpu_seconds(self.recorder_pid),
            worker_cpu=process_cpu_seconds(self.worker_pid),
            publishers_cpu=sum(process_cpu_seconds(process.pid) for process in self.processes),
            machine=machine_busy_and_total(),
            udp_drops=udp_buffer_drops(),
            metrics=await asyncio.to_thread(recording_metrics, self.metrics_port),
        )

    async def grow_to(self, rooms: int) -> None:
        needed = math.ceil(rooms / self.args.per_process)
        while len(self.processes) < needed:
            process = PublisherProcess(len(self.processes), self.suite.workdir)
            await process.start()
            self.processes.append(process)
        while self.rooms + len(self.errors) < rooms:
            process = min(self.processes, key=lambda candidate: candidate.count)
            count = min(rooms - self.rooms - len(self.errors), self.args.per_process - process.count)
            answer = await process.ask(
                {
                    "cmd": "add",
                    "count": count,
                    "url": self.suite.url,
                    "api_key": self.suite.api_key,
                    "prefix": f"recorded-{process.index}",
                    "video": str(VIDEO_FILE),
                }
            )
            process.count += int(answer["added"])
            self.errors += answer["errors"]

    async def measure(self, rooms: int) -> Step:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            tracks = (await self.snapshot()).metric("webinar_recording_tracks")
            if tracks >= 2 * self.rooms:
                break
            await asyncio.sleep(0.5)
        await asyncio.sleep(self.args.settle)
        first = await self.snapshot()
        await asyncio.sleep(self.args.window)
        last = await self.snapshot()
        seconds = last.at - first.at
        busy, total = last.machine[0] - first.machine[0], last.machine[1] - first.machine[1]
        return Step(
            rooms=rooms,
            recording=int(last.metric("webinar_recording_rooms")),
            tracks=int(last.metric("webinar_recording_tracks")),
            seconds=seconds,
            recorder_cpu=(last.recorder_cpu - first.recorder_cpu) / seconds,
            worker_cpu=(last.worker_cpu - first.worker_cpu) / seconds,
            publishers_cpu=(last.publishers_cpu - first.publishers_cpu) / seconds,
            machine_busy=busy / max(1.0, total),
            received=last.delta(first, "webinar_recording_rtp_packets_total") / seconds,
            lost=int(last.delta(first, "webinar_recording_rtp_lost_total")),
            video_frames=last.delta(first, 'webinar_recording_frames_total{kind="video"}') / seconds,
            udp_drops=(last.udp_drops - first.udp_drops) / seconds,
            expected=self.rooms * (self.video_pps + 50),
        )

    async def stop(self) -> None:
        await asyncio.gather(*(process.stop() for process in self.processes))


def print_table(steps: list[Step]) -> None:
    columns = [
        ("rooms", 5, lambda s: s.rooms, "d"),
        ("recording", 9, lambda s: s.recording, "d"),
        ("tracks", 6, lambda s: s.tracks, "d"),
        ("recorder CPU s/s", 16, lambda s: s.recorder_cpu, ".3f"),
        ("packets/s in", 12, lambda s: s.received, ",.0f"),
        ("pace %", 6, lambda s: s.pace * 100, ".1f"),
        ("video fps/room", 14, lambda s: s.video_frames / max(1, s.rooms), ".1f"),
        ("lost", 5, lambda s: s.lost, "d"),
        ("UDP drops/s", 11, lambda s: s.udp_drops, ",.1f"),
        ("media worker CPU s/s", 20, lambda s: s.worker_cpu, ".3f"),
        ("publishers CPU s/s", 18, lambda s: s.publishers_cpu, ".3f"),
        ("machine busy %", 14, lambda s: s.machine_busy * 100, ".1f"),
    ]
    print()
    print(" ".join(f"{header:>{width}}" for header, width, _, _ in columns))
    for step in steps:
        print(" ".join(f"{value(step):>{width}{form}}" for _, width, value, form in columns))  # type: ignore[operator]
    print(
        "lost: RTP packets of the taps that never reached a recorder in the window (gaps in sequence numbers). "
        "pace %: packets received against what the publishers send."
    )


def print_summary(steps: list[Step], cores: int) -> None:
    held = [step for step in steps if step.held]
    print()
    if not held:
        print("No N was recorded whole (every room and track, no packet lost, full pace): no figure per core.")
        return
    best = max(held, key=lambda step: step.rooms)
    every = best is steps[-1] and all(step.held for step in steps)
    print(
        f"Largest N recorded whole (every room and track, no packet lost, full pace): {best.rooms} rooms"
        f"{' (every N tried)' if every else ''}, {best.received:,.0f} packets/s in, the recording service at "
        f"{best.recorder_cpu:.3f} CPU s/s ({cores} cores shared with the publishers, the media worker and the servers)."
    )
    if best.recorder_cpu <= 0:
        return
    per_core = best.rooms / best.recorder_cpu
    print(
        f"Rooms one recorder core records (N scaled by the CPU it got): {per_core:,.0f}   "
        f"x{per_core / ANCHOR_ROOMS_PER_CORE:,.0f} of the anchor (one browser per recording: 1 room per core)"
    )


async def run(args: argparse.Namespace, suite: Suite) -> None:
    if not VIDEO_FILE.exists():
        print(f"encoding 5 s of VP8 360p into {VIDEO_FILE.relative_to(REPO_ROOT)} (once) ...", flush=True)
        encode_video(VIDEO_FILE)
    kbps, video_pps = source_rate()
    print(f"each room: VP8 640x360 30 fps {kbps:,.0f} kbit/s (~{video_pps:.0f} packets/s) + Opus 20 ms (50/s)")
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    print(f"machine: {os.cpu_count()} cores, load average {load} (whatever else runs here shares them)", flush=True)
    bench = Bench(suite=suite, args=args, video_pps=video_pps)
    steps: list[Step] = []
    try:
        for rooms in args.rooms:
            started = time.monotonic()
            failures = len(bench.errors)
            await bench.grow_to(rooms)
            step = await bench.measure(rooms)
            steps.append(step)
            failed = bench.errors[failures:]
            print(
                f"N={rooms}: {bench.rooms} rooms recorded ({len(failed)} failed) in {time.monotonic() - started:.1f}s; "
                f"recorder {step.recorder_cpu:.3f} CPU s/s, {step.received:,.0f} packets/s, {step.lost} lost"
                + (f"; first failure: {failed[0]}" if failed else ""),
                flush=True,
            )
            if step.machine_busy > 0.97 and not step.held:
                print("the machine is saturated: stopping here")
                break
    finally:
        await bench.stop()
    print_table(steps)
    print_summary(steps, os.cpu_count() or 1)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rooms", default="10,20,40,60", help="the N to measure, ascending (comma-separated)")
    parser.add_argument("--quick", action="store_true", help="N = 4,8 and 2 s to settle")
    parser.add_argument("--window", type=float, default=10.0, help="seconds measured at each N")
    parser.add_argument("--settle", type=float, default=3.0, help="seconds waited before measuring each N")
    parser.add_argument("--per-process", type=int, default=10, help="publishers (rooms) per publisher process")
    parser.add_argument("--keep-logs", action="store_true", help="keep the services' logs (printed path)")
    args = parser.parse_args()
    if args.quick:
        args.rooms, args.window, args.settle = "4,8", 10.0, 2.0
    args.rooms = sorted(int(n) for n in args.rooms.split(","))
    return args


def main() -> None:
    args = parse_args()
    env = {
        "MEDIA_WORKERS": "1",
        "LOG_LEVEL": "WARNING",
        "BUS_REQUEST_TIMEOUT": "15",
        "RECORDING_MAX_ROOMS": "1000",
        "RECORDING_GRID_SIZE": "320x180",  # composition is not measured; keep it small if it runs
    }
    with loopback_suite("recording-bench", env=env, keep_logs=args.keep_logs, services=SERVICES) as suite:
        asyncio.run(run(args, suite))


if __name__ == "__main__":
    main()
