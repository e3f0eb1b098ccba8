"""Fan-out benchmark of one media worker: one publisher, N subscribers.

    .venv/bin/python bench/sfu_fanout/run.py [--quick] [--subscribers 10,50,100,200]

Starts NATS, Redis, the MongoDB-compatible server and the services the SFU socket needs
(auth, meetings, one media worker, gateway) on loopback; one publisher sends pre-encoded
VP8 720p at about 1.5 Mbps plus Opus (encoded once with PyAV into var/bench/, then
replayed without encoding); subscriber processes (subscribers.py) join through the
gateway and consume both without decoding. For each N it measures the media worker's CPU
seconds per second (from /proc), the RTP packets forwarded per second (as the
subscribers count them) and the subscribers' loss (from sequence numbers), then prints
the largest N the worker held (loss under 1%, at full pace) and what one core would
hold, beside mediasoup's and LiveKit's published figures and this project's targets.
Everything binds 127.0.0.1 and stops at the end. See bench/README.md.
"""

import argparse
import asyncio
import contextlib
import math
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import msgspec
import socketio
from aiortc.mediastreams import MediaStreamTrack

from media import ortc
from media.peer_client import PeerTransport, encode_opus
from webinar_contracts.media import (
    DtlsParameters,
    IceCandidate,
    IceParameters,
    RtpCodecParameters,
)
from webinar_devstack.suite import REPO_ROOT, Suite

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from json_line_child import JsonLineChild
from load_steps import QuickRun, parse_load_steps
from loopback_suite import loopback_suite
from pattern_video import encode_pattern_video
from proc_stats import machine_busy_and_total, process_cpu_seconds, udp_buffer_drops

HERE = Path(__file__).resolve().parent
CACHE = REPO_ROOT / "var" / "bench"
VIDEO_FILE = CACHE / "vp8-720p30-1500k-5s.webm"

# Published anchors and this project's targets (issue 8).
MEDIASOUP_CONSUMERS_PER_CORE = 500  # mediasoup.org, Scalability: "over ~500 consumers" per worker
LIVEKIT_SUBSCRIBERS_PER_CORE = 3000 / 16  # LiveKit benchmark: 1 publisher to 3,000 subscribers on 16 cores
LIVEKIT_PACKETS_PER_CORE = 560_962 / 16  # the same run: 560,962 packets/s out
TARGET_PACKETS_PER_CORE = 40_000
TARGET_VIEWERS_PER_CORE = 250
LOSS_LIMIT = 0.01
PACE_LIMIT = 0.97
JOIN_BATCH = 20
QUICK = QuickRun(steps="10,50,100", window=5.0, settle=2.0, help="N = 10,50,100 and 5 s windows")
PER_PROCESS_HELP = "subscribers per subscriber process"

VP8 = RtpCodecParameters(mime_type="video/VP8", payload_type=96, clock_rate=90000)
OPUS = RtpCodecParameters(
    mime_type="audio/opus", payload_type=111, clock_rate=48000, channels=2, parameters={"useinbandfec": 1}
)
VIDEO_FEEDBACK = [ortc.NACK, ortc.NACK_PLI, ortc.CCM_FIR, ortc.GOOG_REMB]


# --- media, encoded once ---


def video_packets() -> list[Any]:
    if not VIDEO_FILE.exists():
        print(f"encoding 5 s of VP8 720p at 1.5 Mbps into {VIDEO_FILE.relative_to(REPO_ROOT)} (once) ...", flush=True)
        encode_pattern_video(VIDEO_FILE, width=1280, height=720, bit_rate=1_500_000)
    with av.open(str(VIDEO_FILE)) as container:
        return [packet for packet in container.demux(video=0) if packet.size]


class ReplayTrack(MediaStreamTrack):
    """Pre-encoded packets, looped at a steady clock; aiortc's sender packetises them as they are."""

    def __init__(self, kind: str, packets: list[Any], *, interval: float, clock_rate: int) -> None:
        super().__init__()
        self.kind = kind
        self._packets = packets
        self._interval = interval
        self._clock_rate = clock_rate
        self._index = 0
        self._started: float | None = None

    async def recv(self) -> Any:
        loop = asyncio.get_running_loop()
        if self._started is None:
            self._started = loop.time()
        await asyncio.sleep(max(0.0, self._started + self._index * self._interval - loop.time()))
        packet = self._packets[self._index % len(self._packets)]
        packet.time_base = Fraction(1, self._clock_rate)
        packet.pts = round(self._index * self._interval * self._clock_rate)
        self._index += 1
        return packet


# --- the publisher, through the gateway's SFU socket ---


class Publisher:
    def __init__(self, url: str, api_key: str) -> None:
        self.url = url
        self.api_key = api_key
        self.socket = socketio.AsyncClient(reconnection=False)
        self.peer: PeerTransport | None = None

    async def call(self, event: str, data: Any) -> Any:
        answer = await self.socket.call(event, data, timeout=30)
        if isinstance(answer, dict) and "error" in answer:
            raise RuntimeError(f"publisher {event}: {answer['error']}")
        return answer

    async def start(self, room: str, video: list[Any], audio: list[Any]) -> list[str]:
        """Create the room (its creator may publish), join, publish camera and microphone."""
        await self.socket.connect(self.url, socketio_path="socket.io", auth={"apiKey": self.api_key}, wait_timeout=30)
        await self.call("createRoom", {"room_id": room})
        await self.call("join", {"room_id": room, "name": "Publisher"})
        await self.call("getRouterRtpCapabilities", {})
        created = await self.call("createWebRtcTransport", {"forceTcp": False})
        self.peer = await PeerTransport.create()
        await self.call(
            "connectTransport",
            {"transport_id": created["id"], "dtlsParameters": msgspec.to_builtins(self.peer.dtls_parameters)},
        )
        await asyncio.wait_for(
            self.peer.connect(
                ice_parameters=msgspec.convert(created["iceParameters"], IceParameters),
                ice_candidates=msgspec.convert(created["iceCandidates"], list[IceCandidate]),
                dtls_parameters=msgspec.convert(created["dtlsParameters"], DtlsParameters),
            ),
            30,
        )
        producers = []
        camera = ReplayTrack("video", video, interval=1 / 30, clock_rate=90000)
        microphone = ReplayTrack("audio", audio, interval=0.02, clock_rate=48000)
        for kind, track, codec, feedback, mid, app_type in (
            ("video", camera, VP8, VIDEO_FEEDBACK, "0", "camera"),
            ("audio", microphone, OPUS, [], "1", "microphone"),
        ):
            parameters = await self.peer.publish(track, codec=codec, mid=mid, rtcp_feedback=feedback)
            produced = await self.call(
                "produce",
                {
                    "producerTransportId": created["id"],
                    "kind": kind,
                    "rtpParameters": msgspec.to_builtins(parameters),
                    "appData": {"type": app_type},
                },
            )
            producers.append(produced["producer_id"])
        return producers

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.socket.disconnect()
        if self.peer is not None:
            with contextlib.suppress(Exception):
                await self.peer.close()


# --- measuring ---


@dataclass
class Snapshot:
    at: float
    udp_drops: int
    worker_cpu: float
    subscribers_cpu: float
    machine: tuple[float, float]
    received: int
    expected: int
    flowing: int
    worst_loss: float


@dataclass
class Step:
    viewers: int  # the N asked for
    joined: int  # subscribers that joined (a join the busy worker did not answer in time fails)
    join_seconds: float  # how long growing to N took
    flowing: int  # subscribers receiving both streams
    seconds: float
    worker_cpu: float  # CPU seconds per second
    subscribers_cpu: float
    machine_busy: float  # fraction of all cores
    delivered: float  # RTP packets per second, as the subscribers counted them
    loss: float
    worst_loss: float
    udp_drops: float  # per second, machine-wide

    @property
    def per_viewer(self) -> float:
        return self.delivered / max(1, self.flowing)

    def pace(self, source_rate: float) -> float:
        """The share of the publisher's packet rate each viewer got: below 1 the worker fell
        behind (its input queues up unread), even while nothing is lost yet."""
        return self.per_viewer / source_rate if source_rate else 0.0

    def held(self, source_rate: float) -> bool:
        return (
            self.joined == self.flowing == self.viewers
            and self.loss < LOSS_LIMIT
            and self.pace(source_rate) >= PACE_LIMIT
        )


def source_rate(steps: list["Step"]) -> float:
    """Packets per second per viewer at full pace: the best any N got (the publisher's rate,
    unless every N was starved)."""
    return max((step.per_viewer for step in steps), default=0.0)


class Bench:
    def __init__(self, *, suite: Suite, worker_pid: int, window: float, per_process: int, log_dir: Path) -> None:
        self.suite = suite
        self.worker_pid = worker_pid
        self.window = window
        self.per_process = per_process
        self.log_dir = log_dir
        self.processes: list[JsonLineChild] = []
        self.room = f"fanout-{os.getpid()}"
        self.producers: list[str] = []
        self.join_errors: list[str] = []

    @property
    def joined(self) -> int:
        return sum(process.count for process in self.processes)

    async def snapshot(self) -> Snapshot:
        reports = await asyncio.gather(*(p.ask({"cmd": "report"}) for p in self.processes))
        return Snapshot(
            at=time.monotonic(),
            udp_drops=udp_buffer_drops(),
            worker_cpu=process_cpu_seconds(self.worker_pid),
            subscribers_cpu=sum(process_cpu_seconds(p.pid) for p in self.processes),
            machine=machine_busy_and_total(),
            received=sum(r["received"] for r in reports),
            expected=sum(r["expected"] for r in reports),
            flowing=sum(r["flowing"] for r in reports),
            worst_loss=max((r["worst_loss"] for r in reports), default=0.0),
        )

    async def grow_to(self, viewers: int) -> None:
        """Add subscribers, spread over the processes, until `viewers` have tried to join:
        JOIN_BATCH at a time, as viewers of a webinar arrive over a while rather than at once."""
        needed = math.ceil(viewers / self.per_process)
        while len(self.processes) < needed:
            index = len(self.processes)
            process = JsonLineChild(
                HERE / "subscribers.py", index, self.log_dir, role="subscriber", args=[str(index)], limit=1 << 20
            )
            await process.start()
            self.processes.append(process)
        tried = self.joined + len(self.join_errors)
        while tried < viewers:
            batch = min(JOIN_BATCH, viewers - tried)
            shares = [0] * len(self.processes)
            for _ in range(batch):  # the emptiest process first
                emptiest = min(range(len(self.processes)), key=lambda i: self.processes[i].count + shares[i])
                shares[emptiest] += 1
            request = {"cmd": "add", "url": self.suite.url, "api_key": self.suite.api_key, "room": self.room}
            asked = [(process, share) for process, share in zip(self.processes, shares, strict=True) if share]
            answers = await asyncio.gather(
                *(process.ask({**request, "count": share, "producers": self.producers}) for process, share in asked)
            )
            for (process, _), answer in zip(asked, answers, strict=True):
                process.count += int(answer["added"])
                self.join_errors += answer["errors"]
            tried += batch

    async def measure(self, viewers: int, *, settle: float, join_seconds: float) -> Step:
        # Every subscriber receives both streams (video starts at the next keyframe), then settle.
        deadline = time.monotonic() + 30
        while (await self.snapshot()).flowing < self.joined and time.monotonic() < deadline:  # noqa: ASYNC110 - polled counters
            await asyncio.sleep(0.5)
        await asyncio.sleep(settle)
        first = await self.snapshot()
        await asyncio.sleep(self.window)
        last = await self.snapshot()
        seconds = last.at - first.at
        busy = (last.machine[0] - first.machine[0]) / max(1.0, last.machine[1] - first.machine[1])
        received = last.received - first.received
        expected = last.expected - first.expected
        return Step(
            viewers=viewers,
            joined=self.joined,
            join_seconds=join_seconds,
            flowing=last.flowing,
            seconds=seconds,
            worker_cpu=(last.worker_cpu - first.worker_cpu) / seconds,
            subscribers_cpu=(last.subscribers_cpu - first.subscribers_cpu) / seconds,
            machine_busy=busy,
            delivered=received / seconds,
            loss=max(0.0, 1 - received / expected) if expected else 1.0,
            worst_loss=last.worst_loss,
            udp_drops=(last.udp_drops - first.udp_drops) / seconds,
        )

    async def stop(self) -> None:
        await asyncio.gather(*(process.stop() for process in self.processes))


# --- the run ---


COLUMNS: list[tuple[str, int, Callable[[Step, float], float], str]] = [
    # header, width, the value of a step (given the source rate), its format
    ("N", 4, lambda step, _: step.viewers, "d"),
    ("joined", 6, lambda step, _: step.joined, "d"),
    ("join s", 6, lambda step, _: step.join_seconds, ".1f"),
    ("flowing", 7, lambda step, _: step.flowing, "d"),
    ("worker CPU s/s", 14, lambda step, _: step.worker_cpu, ".3f"),
    ("forwarded pkt/s", 15, lambda step, _: step.delivered, ",.0f"),
    ("pkt/s/viewer", 12, lambda step, _: step.per_viewer, ".1f"),
    ("pace %", 6, lambda step, rate: step.pace(rate) * 100, ".1f"),
    ("loss %", 7, lambda step, _: step.loss * 100, ".2f"),
    ("worst viewer %", 14, lambda step, _: step.worst_loss * 100, ".2f"),
    ("UDP drops/s", 11, lambda step, _: step.udp_drops, ",.0f"),
    ("subscribers CPU s/s", 19, lambda step, _: step.subscribers_cpu, ".3f"),
    ("machine busy %", 14, lambda step, _: step.machine_busy * 100, ".1f"),
]


def print_table(steps: list[Step]) -> None:
    rate = source_rate(steps)
    print()
    print(" ".join(f"{header:>{width}}" for header, width, _, _ in COLUMNS))
    for step in steps:
        print(" ".join(f"{value(step, rate):>{width}{form}}" for _, width, value, form in COLUMNS))
    print(
        f"pace %: packets per viewer against the best any N got ({rate:.1f}/s); below {PACE_LIMIT:.0%} the worker "
        "fell behind its input.\nworst viewer %: the largest loss one subscriber saw since it joined. UDP drops/s: "
        "datagrams dropped by full socket buffers on this machine (the worker or a subscriber falling behind)."
    )


def print_summary(steps: list[Step], cores: int) -> None:
    rate = source_rate(steps)
    held = [step for step in steps if step.held(rate)]
    print()
    if not held:
        print("No N was held (all joined and receiving, loss under 1%, full pace): no figures per core.")
        return
    best = max(held, key=lambda step: step.viewers)
    every = best is steps[-1] and all(step.held(rate) for step in steps)
    print(
        f"Largest N one worker held (all joined and receiving, loss under 1%, full pace): {best.viewers}"
        f"{' (every N tried was held)' if every else ''}: "
        f"{2 * best.viewers} consumers (video + audio), {best.delivered:,.0f} packets/s forwarded, "
        f"the worker at {best.worker_cpu:.2f} CPU s/s."
    )
    if best.worker_cpu <= 0:
        return
    packets_per_core = best.delivered / best.worker_cpu
    viewers_per_core = packets_per_core / rate
    consumers_per_core = 2 * viewers_per_core
    print(
        f"Per worker core: N={best.viewers} scaled to a whole core by the CPU the worker got ({cores} cores shared "
        "with the subscribers, the publisher and the servers), at "
        f"{rate:.0f} packets/s per viewer:"
    )
    rows = [
        ("forwarded packets/s per core", packets_per_core, TARGET_PACKETS_PER_CORE, "target 40k"),
        ("", packets_per_core, LIVEKIT_PACKETS_PER_CORE, "LiveKit ~35k (560,962 pkt/s on 16 cores)"),
        ("viewers per core", viewers_per_core, TARGET_VIEWERS_PER_CORE, "target 250"),
        ("", viewers_per_core, LIVEKIT_SUBSCRIBERS_PER_CORE, "LiveKit ~188 (3,000 subscribers on 16 cores)"),
        ("consumers per core", consumers_per_core, MEDIASOUP_CONSUMERS_PER_CORE, "mediasoup ~500 per worker core"),
    ]
    for label, value, anchor, name in rows:
        print(f"  {label:<29} {value:>10,.0f}   x{value / anchor:.2f} of {name}")


async def run(args: argparse.Namespace, suite: Suite) -> None:
    media = suite.processes["media"].process
    if media is None:
        raise RuntimeError("the media worker did not start")
    video = video_packets()
    seconds = len(video) / 30
    kbps = sum(packet.size for packet in video) * 8 / seconds / 1000
    print(f"publisher: VP8 1280x720 30 fps {kbps:,.0f} kbit/s ({len(video)} frames looped) + Opus 20 ms", flush=True)
    audio = encode_opus(250)
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    print(f"machine: {os.cpu_count()} cores, load average {load} (whatever else runs here shares them)", flush=True)
    bench = Bench(
        suite=suite, worker_pid=media.pid, window=args.window, per_process=args.per_process, log_dir=suite.workdir
    )
    publisher = Publisher(suite.url, suite.api_key)
    steps: list[Step] = []
    try:
        bench.producers = await publisher.start(bench.room, video, audio)
        for viewers in args.steps:
            started = time.monotonic()
            failures = len(bench.join_errors)
            await bench.grow_to(viewers)
            step = await bench.measure(viewers, settle=args.settle, join_seconds=time.monotonic() - started)
            steps.append(step)
            failed = bench.join_errors[failures:]
            print(
                f"N={viewers}: {step.joined} joined ({len(failed)} failed) in {step.join_seconds:.1f}s; "
                f"worker {step.worker_cpu:.3f} CPU s/s, {step.delivered:,.0f} pkt/s, loss {step.loss * 100:.2f}%"
                + (f"; first failure: {failed[0]}" if failed else ""),
                flush=True,
            )
    finally:
        await bench.stop()
        await publisher.close()
    print_table(steps)
    print_summary(steps, os.cpu_count() or 1)


def main() -> None:
    args = parse_load_steps(
        __doc__,
        load="subscribers",
        default="10,50,100,200",
        quick=QUICK,
        per_process=50,
        per_process_help=PER_PROCESS_HELP,
    )
    # One media worker: the figures are per worker core.
    env = {"MEDIA_WORKERS": "1", "LOG_LEVEL": "WARNING"}
    with loopback_suite("sfu-fanout", env=env, keep_logs=args.keep_logs) as suite:
        try:
            import uvloop
        except ImportError:
            asyncio.run(run(args, suite))
        else:
            uvloop.run(run(args, suite))


if __name__ == "__main__":
    main()
