"""Room recorders: a server-side recording of one room, as one replica of the recording
service runs it. Nothing here limits a process to one room; `RoomRecordings` bounds how
many it runs.

A RoomRecorder finds the media node holding the room, then every `poll_seconds` asks it for
the room's producers (the node knows nothing of recording) and taps each one it does not
tap yet (media.taps: plain RTP over UDP to a socket of the recorder, leased, renewed at
each poll). A producer that appears later is tapped at the next poll; one whose tap ends
(it closed, or its node went) ends its track, and a producer still listed after that gets
a new track. Each TrackRecorder puts its packets back in order and back into the frames
the publisher encoded (recording.rtp), waits for a keyframe (the tap asks for one at
start; the recorder asks again, with its renewal, after a loss) and hands the frames, in
batches, to the muxing thread, which writes them to the track's file (recording.track_files).

A track is written in segments of `segment_seconds` (a video segment begins at a keyframe,
asked for when the segment is due): each finished segment is a whole file handed to
`on_segment` at once, so the recording service stores it while the room is still being
recorded, and a replica that dies loses only the segments it had not finished.
"""

import asyncio
import contextlib
import itertools
import logging
import secrets
import shutil
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from recording import metrics
from recording.domain import track_name
from recording.rtp import (
    Depacketizer,
    Frame,
    InOrder,
    PacketError,
    PacketOrder,
    TrackCodec,
    depacketizer_for,
    parse_rtp,
    track_codec,
)
from recording.scratch import room_dir_name
from recording.track_files import MuxThread, TrackFile, WrittenTrack
from webinar_contracts import NotFound, ServiceError, Unavailable
from webinar_contracts.media import RoomProducer, StartTap, TapRef, TapStarted

log = logging.getLogger("recording.recorder")

MAX_EARLY_PACKETS = 500  # packets that come before the node's answer, kept until it comes
FLUSH_SECONDS = 0.25  # frames wait this long to be written together
KEYFRAME_ASK_EVERY = 1.0  # seconds between two keyframe requests of one track
RECEIVE_BUFFER = 1 << 20  # bytes of a track socket's kernel buffer: rides out a busy loop
ROOM_GONE_GRACE = 10.0  # seconds a room may be open nowhere (its node restarting) before the recording stops


class MediaNodes(Protocol):
    """The media plane as a recorder uses it (over the bus in production)."""

    async def place(self, tenant_id: str, room_id: str) -> str:
        """The node holding the room; NotFound when it is open nowhere."""
        ...

    async def producers(self, tenant_id: str, node_id: str, room_id: str) -> list[RoomProducer]: ...

    async def start_tap(self, tenant_id: str, node_id: str, request: StartTap) -> TapStarted: ...

    async def renew_tap(self, tenant_id: str, node_id: str, request: TapRef) -> None: ...

    async def stop_tap(self, tenant_id: str, node_id: str, request: TapRef) -> None: ...


@dataclass(frozen=True, kw_only=True)
class RecorderSettings:
    listen_ip: str  # where track sockets bind
    announced_ip: str  # where nodes send taps to
    lease_seconds: float
    poll_seconds: float
    work_dir: Path  # track files are written under it while the room is recorded
    max_bytes: int  # a recording stops by itself past this many bytes of frames
    room_gone_grace: float = ROOM_GONE_GRACE  # seconds the room may be open nowhere before the recording stops
    segment_seconds: float = 0.0  # a track's file is finished and a new one begun this often (0: one file)


@dataclass(frozen=True)
class RecordedTrackFile:
    """A segment of a track as its recorder finished it: the file, and what its packets were
    (until then)."""

    track_id: str
    producer: RoomProducer
    codec: TrackCodec
    offset: float  # seconds from the recording's start to the segment's first frame
    written: WrittenTrack
    packets: int
    lost: int
    failure: str | None
    segment: int = 0  # 0, 1, ...: the segments of a track follow each other without a gap
    last: bool = True  # the track's last segment (it ended)


SegmentSink = Callable[[RecordedTrackFile], None]


class TrackRecorder(asyncio.DatagramProtocol):
    """One tapped producer: its UDP socket, its packets in order, its frames, its file."""

    def __init__(
        self,
        *,
        producer: RoomProducer,
        directory: Path,
        mux: MuxThread,
        started_at: float,
        clock: Callable[[], float] = time.monotonic,
        segment_seconds: float = 0.0,
        on_segment: SegmentSink | None = None,
    ) -> None:
        self.producer = producer
        self.directory = directory
        self.mux = mux
        self.started_at = started_at
        self.clock = clock
        self.segment_seconds = segment_seconds
        self.on_segment = on_segment
        self.segment = 0
        self.segment_first_at: float | None = None  # when the segment's first frame came
        self.roll_wanted = False  # the segment is due: the next keyframe begins a new one
        self.track_id = ""
        self.tap: TapStarted | None = None
        self.codec: TrackCodec | None = None
        self.file: TrackFile | None = None
        self.order = PacketOrder()
        self.depacketizer: Depacketizer | None = None
        self.transport: asyncio.DatagramTransport | None = None
        self.need_keyframe = False
        self.keyframe_asked_at = float("-inf")
        self.renewed_at = clock()
        self.first_frame_at: float | None = None
        self.frames = 0
        self.bytes = 0
        self.dropped_frames = 0
        self.ended = False
        self.failure: str | None = None
        self._early: list[bytes] = []
        self._pending: list[Frame] = []
        self._flush_timer: asyncio.TimerHandle | None = None
        self._counted = (0, 0, 0, 0)  # received, lost, frames, dropped frames counted in the metrics
        self._closing: asyncio.Future[WrittenTrack] | None = None

    # --- the socket ---

    async def bind(self, listen_ip: str) -> int:
        """Open the track's socket; its port."""
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(lambda: self, local_addr=(listen_ip, 0))
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)
        return int(transport.get_extra_info("sockname")[1])

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if isinstance(transport, asyncio.DatagramTransport):
            self.transport = transport

    def datagram_received(self, data: bytes, addr: Any) -> None:
        if self.ended:
            return
        if self.tap is None:
            if len(self._early) < MAX_EARLY_PACKETS:
                self._early.append(data)
            return
        self._packet(data)

    def error_received(self, exc: Exception) -> None:
        log.debug("track socket error: %s", exc, extra={"track_id": self.track_id})

    # --- the stream ---

    def attach(self, tap: TapStarted, codec: TrackCodec, track_id: str) -> None:
        """The node answered: read the stream as the tap describes it (and what came before)."""
        self.tap, self.codec, self.track_id = tap, codec, track_id
        self.depacketizer = depacketizer_for(codec)
        self.need_keyframe = codec.kind == "video"
        self.keyframe_asked_at = self.clock()  # the tap asked for one as it started
        self.file = self._segment_file(tap, codec)
        metrics.RECORDING_TRACKS.inc()
        early, self._early = self._early, []
        for data in early:
            self._packet(data)

    def _segment_file(self, tap: TapStarted, codec: TrackCodec) -> TrackFile:
        path = self.directory / f"{self.track_id}.{self.segment}.{codec.extension}"
        return TrackFile(path, codec, clock_rate=tap.clock_rate, channels=tap.channels)

    @property
    def wants_keyframe(self) -> bool:
        """A picture is missing (or a segment is due) and no keyframe was asked for just now."""
        wanted = self.need_keyframe or self.roll_wanted
        return wanted and self.clock() - self.keyframe_asked_at >= KEYFRAME_ASK_EVERY

    def _packet(self, data: bytes) -> None:
        tap = self.tap
        if tap is None:
            return
        try:
            packet = parse_rtp(data)
        except PacketError:
            return
        if packet.ssrc != tap.ssrc or packet.payload_type != tap.payload_type:
            return
        for item in self.order.push(packet):
            self._in_order(item)

    def _in_order(self, item: InOrder) -> None:
        if self.depacketizer is None or self.codec is None:
            return
        if item.gap_before and self.codec.kind == "video" and not self.need_keyframe:
            # A frame is lost, and the ones after it refer to it: ask at the next renewal.
            self.need_keyframe = True
            self.keyframe_asked_at = float("-inf")
        for frame in self.depacketizer.push(item):
            self._frame(frame)

    def _frame(self, frame: Frame) -> None:
        if self.need_keyframe:
            if not frame.keyframe:
                self.dropped_frames += 1
                return
            self.need_keyframe = False
        if self._segment_due() and self.codec is not None:
            if self.codec.kind == "audio" or frame.keyframe:
                self._roll()
            else:
                self.roll_wanted = True  # asked for with the next renewal
        now = self.clock()
        if self.first_frame_at is None:
            self.first_frame_at = now
        if self.segment_first_at is None:
            self.segment_first_at = now
        self._pending.append(frame)
        self.frames += 1
        self.bytes += len(frame.data)
        if self._flush_timer is None and not self.ended:
            self._flush_timer = asyncio.get_running_loop().call_later(FLUSH_SECONDS, self._flush)

    def _count(self) -> None:
        """Add what came since the last count to the process's metrics (in batches: cheap)."""
        received, lost = self.order.received, self.order.lost
        metrics.RTP_PACKETS.inc(received - self._counted[0])
        metrics.RTP_LOST.inc(lost - self._counted[1])
        if self.codec is not None:
            metrics.FRAMES_WRITTEN.labels(self.codec.kind).inc(self.frames - self._counted[2])
        metrics.FRAMES_DROPPED.inc(self.dropped_frames - self._counted[3])
        self._counted = (received, lost, self.frames, self.dropped_frames)

    def _flush(self) -> None:
        self._flush_timer = None
        self._count()
        file = self.file
        if not self._pending or file is None:
            self._pending.clear()
            return
        frames, self._pending = self._pending, []
        self.mux.submit(lambda: file.write(frames)).add_done_callback(self._written)

    def _segment_due(self) -> bool:
        first = self.segment_first_at
        return self.segment_seconds > 0 and first is not None and self.clock() - first >= self.segment_seconds

    def _offset(self) -> float:
        first = self.segment_first_at
        return round(0.0 if first is None else max(0.0, first - self.started_at), 3)

    def _roll(self) -> None:
        """Finish the segment's file (after what waits is written) and begin the next one."""
        file, codec, tap = self.file, self.codec, self.tap
        if file is None or codec is None or tap is None:
            return
        if self._flush_timer is not None:
            self._flush_timer.cancel()
        self._flush()
        segment, offset = self.segment, self._offset()
        closing = self.mux.submit(file.close)
        closing.add_done_callback(lambda done: self._segment_closed(done, codec, segment, offset))
        self.segment += 1
        self.segment_first_at = None
        self.roll_wanted = False
        self.file = self._segment_file(tap, codec)

    def _segment_closed(
        self, done: "asyncio.Future[WrittenTrack]", codec: TrackCodec, segment: int, offset: float
    ) -> None:
        if done.cancelled() or done.exception() is not None or self.on_segment is None:
            return
        written = done.result()
        if written.error is not None and self.failure is None:
            self.failure = f"segment {segment} of track {self.track_id} could not be written: {written.error}"
        self.on_segment(self._recorded(written, codec, segment=segment, offset=offset, last=False))

    def _recorded(
        self, written: WrittenTrack, codec: TrackCodec, *, segment: int, offset: float, last: bool
    ) -> RecordedTrackFile:
        return RecordedTrackFile(
            track_id=self.track_id,
            producer=self.producer,
            codec=codec,
            offset=offset,
            written=written,
            packets=self.order.received,
            lost=self.order.lost,
            failure=self.failure,
            segment=segment,
            last=last,
        )

    def _written(self, future: "asyncio.Future[None]") -> None:
        if not future.cancelled() and future.exception() is not None and self.failure is None:
            self.failure = f"the file of track {self.track_id} could not be written: {future.exception()}"
            log.error(self.failure)

    def end(self) -> None:
        """Stop receiving (its tap ended, or the recording stops): what waits is written, then
        the file is finished on the muxing thread (`close` collects it)."""
        if self.ended:
            return
        self.ended = True
        if self.tap is not None:
            metrics.RECORDING_TRACKS.dec()
        if self.transport is not None:
            self.transport.close()
        if self.depacketizer is not None:
            for item in self.order.flush():
                self._in_order(item)
            for frame in self.depacketizer.flush():
                self._frame(frame)
        if self._flush_timer is not None:
            self._flush_timer.cancel()
        self._flush()
        if self.file is not None:
            self._closing = self.mux.submit(self.file.close)  # after every write queued before

    async def close(self) -> RecordedTrackFile | None:
        """The track's last segment, finished; None when it never had a tap."""
        self.end()
        codec, tap, closing = self.codec, self.tap, self._closing
        if codec is None or tap is None or closing is None:
            return None
        written = await closing
        if written.error is not None:
            self.failure = f"the file of track {self.track_id} could not be written: {written.error}"
        return self._recorded(written, codec, segment=self.segment, offset=self._offset(), last=True)


@dataclass
class Resumed:
    """Where a recording taken over from a replica that died goes on from: how long ago it
    started, the tracks whose producers it goes on writing (producer id -> (track id, next
    segment)), and the number of the next new track."""

    seconds_since_start: float = 0.0
    tracks: dict[str, tuple[str, int]] = field(default_factory=dict)
    next_number: int = 1


class RoomRecorder:
    """One room being recorded by this process."""

    def __init__(
        self,
        *,
        tenant_id: str,
        room_id: str,
        recording_id: str,
        nodes: MediaNodes,
        mux: MuxThread,
        settings: RecorderSettings,
        on_stop_needed: Callable[["RoomRecorder", str], None],
        clock: Callable[[], float] = time.monotonic,
        resumed: "Resumed | None" = None,
    ) -> None:
        self.tenant_id = tenant_id
        self.resumed = resumed or Resumed()
        # Every finished segment of every track, as it finishes (the last ones come from
        # `close_files`): the recording service stores them from here.
        self.segments: asyncio.Queue[RecordedTrackFile] = asyncio.Queue()
        self.room_id = room_id
        self.recording_id = recording_id
        self.nodes = nodes
        self.mux = mux
        self.settings = settings
        self.clock = clock
        self._on_stop_needed = on_stop_needed
        self.directory = settings.work_dir / room_dir_name(secrets.token_hex(8))
        self.node_id: str | None = None
        self.started_at = clock()
        self.ended_at: float | None = None
        self.tracks: dict[str, TrackRecorder] = {}  # live, by producer id
        self.finished: list[TrackRecorder] = []
        self.skipped: set[str] = set()  # producers whose codec cannot be recorded
        self._numbers = itertools.count(self.resumed.next_number)
        self._task: asyncio.Task[None] | None = None
        self._gone_since: float | None = None

    @property
    def bytes(self) -> int:
        return sum(track.bytes for track in [*self.tracks.values(), *self.finished])

    @property
    def duration(self) -> float:
        return max(0.0, (self.ended_at if self.ended_at is not None else self.clock()) - self.started_at)

    async def start(self) -> None:
        """Find the room's node and begin; NotFound when the room is open nowhere."""
        self.node_id = await self.nodes.place(self.tenant_id, self.room_id)
        await asyncio.to_thread(self.directory.mkdir, parents=True, exist_ok=True)
        # Offsets and the duration count from the recording's start, which a resumed one is past.
        self.started_at = self.clock() - self.resumed.seconds_since_start
        self._task = asyncio.create_task(self._run(), name=f"recorder:{self.recording_id}")

    async def stop(self) -> None:
        """Stop tapping and receiving; the files are finished by `close_files`."""
        if self._task is not None and self._task is not asyncio.current_task():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._task = None
        if self.ended_at is None:
            self.ended_at = self.clock()
        for track in self.tracks.values():
            track.end()
        self.finished.extend(self.tracks.values())
        self.tracks.clear()

    async def close_files(self) -> list[RecordedTrackFile]:
        """Let the node stop the taps (their leases would end them anyway), finish every
        track's file and say what each holds."""
        if self.node_id is not None:
            node_id = self.node_id
            refs = [TapRef(room_id=self.room_id, tap_id=track.tap.tap_id) for track in self.finished if track.tap]
            await asyncio.gather(*(self._stop_tap(node_id, ref) for ref in refs))
        closed = [await track.close() for track in self.finished]
        return [track for track in closed if track is not None]

    async def discard(self) -> None:
        """Delete what was written locally (stored elsewhere by now, or given up)."""
        await asyncio.to_thread(shutil.rmtree, self.directory, True)

    async def _stop_tap(self, node_id: str, ref: TapRef) -> None:
        with contextlib.suppress(ServiceError):
            await self.nodes.stop_tap(self.tenant_id, node_id, ref)

    # --- the loop: producers and leases ---

    async def _run(self) -> None:
        while True:
            try:
                await self._poll()
                self._gone_since = None
            except asyncio.CancelledError:
                raise
            except (NotFound, Unavailable) as error:
                if await self._room_gone(error):
                    return
            except Exception:
                log.exception("recorder poll failed", extra={"recording_id": self.recording_id})
            if self.bytes > self.settings.max_bytes:
                self._on_stop_needed(self, f"the recording reached its limit of {self.settings.max_bytes} bytes")
                return
            await asyncio.sleep(self.settings.poll_seconds)

    async def _poll(self) -> None:
        node_id = self.node_id
        if node_id is None:
            raise NotFound("room does not exist", field="room_id")
        producers = await self.nodes.producers(self.tenant_id, node_id, self.room_id)
        await asyncio.gather(*(self._renew(node_id, track) for track in list(self.tracks.values())))
        new = [p for p in producers if p.producer_id not in self.tracks and p.producer_id not in self.skipped]
        await asyncio.gather(*(self._tap(node_id, producer) for producer in new))

    async def _room_gone(self, error: ServiceError) -> bool:
        """The node does not have the room (or does not answer): find where it is now. True
        when it has been open nowhere for too long (the recording must stop)."""
        try:
            node_id = await self.nodes.place(self.tenant_id, self.room_id)
        except NotFound:
            now = self.clock()
            self._gone_since = self._gone_since if self._gone_since is not None else now
            if now - self._gone_since >= self.settings.room_gone_grace:
                self._on_stop_needed(self, "the room closed")
                return True
            return False
        except ServiceError:
            return False  # the bus or the nodes are away: try again at the next poll
        if node_id != self.node_id:
            log.warning(
                "room moved to another media node; its producers are tapped there",
                extra={"recording_id": self.recording_id, "node_id": node_id, "reason": error.message},
            )
            for track in list(self.tracks.values()):
                self._track_ended(track)
            self.node_id = node_id
        return False

    async def _renew(self, node_id: str, track: TrackRecorder) -> None:
        tap = track.tap
        if tap is None:
            return
        keyframe = track.wants_keyframe
        try:
            await self.nodes.renew_tap(
                self.tenant_id, node_id, TapRef(room_id=self.room_id, tap_id=tap.tap_id, keyframe=keyframe)
            )
        except NotFound:
            self._track_ended(track)  # the producer closed (or the lease lapsed): its track is done
            return
        except ServiceError as error:
            if self.clock() - track.renewed_at > self.settings.lease_seconds:
                log.warning("tap lost: %s", error, extra={"track_id": track.track_id})
                self._track_ended(track)
            return
        track.renewed_at = self.clock()
        if keyframe:
            track.keyframe_asked_at = track.renewed_at

    def _track_ended(self, track: TrackRecorder) -> None:
        if self.tracks.get(track.producer.producer_id) is track:
            del self.tracks[track.producer.producer_id]
        track.end()
        self.finished.append(track)

    async def _tap(self, node_id: str, producer: RoomProducer) -> None:
        track = TrackRecorder(
            producer=producer,
            directory=self.directory,
            mux=self.mux,
            started_at=self.started_at,
            clock=self.clock,
            segment_seconds=self.settings.segment_seconds,
            on_segment=self.segments.put_nowait,
        )
        port = await track.bind(self.settings.listen_ip)
        request = StartTap(
            room_id=self.room_id,
            producer_id=producer.producer_id,
            host=self.settings.announced_ip,
            port=port,
            lease_seconds=self.settings.lease_seconds,
        )
        try:
            tap = await self.nodes.start_tap(self.tenant_id, node_id, request)
        except ServiceError as error:  # it closed meanwhile, or the node is busy: the next poll sees
            track.end()
            log.info("producer not tapped: %s", error, extra={"producer_id": producer.producer_id})
            return
        except BaseException:  # stopped meanwhile: a tap the node may have started lapses with its lease
            track.end()
            raise
        codec = track_codec(tap.mime_type)
        if codec is None:
            track.end()
            self.skipped.add(producer.producer_id)
            await self._stop_tap(node_id, TapRef(room_id=self.room_id, tap_id=tap.tap_id))
            log.warning(
                "%s cannot be recorded: producer skipped", tap.mime_type, extra={"recording_id": self.recording_id}
            )
            return
        if self.ended_at is not None:  # stopped while the node answered
            track.end()
            await self._stop_tap(node_id, TapRef(room_id=self.room_id, tap_id=tap.tap_id))
            return
        continued = self.resumed.tracks.pop(producer.producer_id, None)
        if continued is not None:  # the producer's track goes on, in its next segment
            track.segment = continued[1]
            track.attach(tap, codec, continued[0])
        else:
            track.attach(tap, codec, track_name(next(self._numbers), codec.kind, producer.name))
        track.renewed_at = self.clock()
        self.tracks[producer.producer_id] = track
        log.info(
            "track recording",
            extra={"recording_id": self.recording_id, "track_id": track.track_id, "port": port, "codec": tap.mime_type},
        )
