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
import math
import os
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import av
from aiortc.codecs.vpx import Vp8Encoder

from webinar_devstack.suite import REPO_ROOT, Suite

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from json_line_child import JsonLineChild
from load_steps import QuickRun, parse_load_steps
from loopback_suite import SFU_SERVICES, loopback_suite
from pattern_video import encode_pattern_video
from proc_stats import machine_busy_and_total, process_cpu_seconds, udp_buffer_drops

HERE = Path(__file__).resolve().parent
CACHE = REPO_ROOT / "var" / "bench"
VIDEO_FILE = CACHE / "vp8-360p30-600k-5s.webm"
ANCHOR_ROOMS_PER_CORE = 1.0  # one browser (a core) per recorded room
PACE_LIMIT = 0.97
QUICK = QuickRun(steps="4,8", window=10.0, settle=2.0, help="N = 4,8 and 2 s to settle")
PER_PROCESS_HELP = "publishers (rooms) per publisher process"
SERVICES = [*SFU_SERVICES[:-1], "recording", SFU_SERVICES[-1]]  # the gateway last


def source_rate() -> tuple[float, float]:
    """The video's bitrate (kbit/s) and its RTP packets per second, packetised as the
    publishers' aiortc senders packetise it."""
    packer = Vp8Encoder()
    with av.open(str(VIDEO_FILE)) as container:
        frames = [bytes(packet) for packet in container.demux(video=0) if packet.size]
    seconds = len(frames) / 30
    packets = sum(len(packer._packetize(frame, index)) for index, frame in enumerate(frames))
    return sum(len(frame) for frame in frames) * 8 / seconds / 1000, packets / seconds


# --- measuring ---


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
        self.processes: list[JsonLineChild] = []
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
            process = JsonLineChild(HERE / "publishers.py", len(self.processes), self.suite.workdir, role="publisher")
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
        encode_pattern_video(VIDEO_FILE, width=640, height=360, bit_rate=600_000)
    kbps, video_pps = source_rate()
    print(f"each room: VP8 640x360 30 fps {kbps:,.0f} kbit/s (~{video_pps:.0f} packets/s) + Opus 20 ms (50/s)")
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    print(f"machine: {os.cpu_count()} cores, load average {load} (whatever else runs here shares them)", flush=True)
    bench = Bench(suite=suite, args=args, video_pps=video_pps)
    steps: list[Step] = []
    try:
        for rooms in args.steps:
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


def main() -> None:
    args = parse_load_steps(
        __doc__, load="rooms", default="10,20,40,60", quick=QUICK, per_process=10, per_process_help=PER_PROCESS_HELP
    )
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
