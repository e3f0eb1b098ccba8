"""Tapped RTP back into the publisher's frames and into track files, with no decoding: order,
loss and each payload format; the files WebM and Matroska hold; a room recorder against a
stand-in media node that taps and sends as a node does."""

import asyncio
import random
import re
import struct
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import pytest
from aiortc.codecs.h264 import H264Encoder
from aiortc.codecs.opus import OpusEncoder
from aiortc.codecs.vpx import Vp8Encoder

from recording.recorder import RecorderSettings, RoomRecorder
from recording.rtp import (
    Depacketizer,
    Frame,
    H264Depacketizer,
    OpusDepacketizer,
    PacketOrder,
    Vp8Depacketizer,
    depacketizer_for,
    parse_rtp,
    track_codec,
    vp8_keyframe_size,
)
from recording.track_files import MuxThread, TrackFile, WrittenTrack
from recording.transcode import Ffmpeg, GridFile, GridInput, grid_command
from webinar_contracts import NotFound
from webinar_contracts.media import RoomProducer, StartTap, TapRef, TapStarted

PAYLOAD_TYPES = {"video/VP8": 101, "video/H264": 102, "audio/opus": 100}


def encode_video(codec_name: str, frames: int, *, keyframe_interval: int, noisy: bool = False) -> list[Any]:
    """`frames` 320x240 pictures at 30 fps, encoded as a publisher would (a keyframe every
    `keyframe_interval`); `noisy` ones (random) fill several packets each."""
    codec: Any = av.CodecContext.create(codec_name, "w")
    codec.width, codec.height, codec.pix_fmt = 320, 240, "yuv420p"
    codec.time_base, codec.framerate = Fraction(1, 30), Fraction(30, 1)
    codec.bit_rate = 900_000
    codec.gop_size = keyframe_interval
    if codec_name == "libx264":
        codec.profile = "Baseline"
        codec.options = {"tune": "zerolatency", "preset": "ultrafast"}
    else:
        codec.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}
    packets: list[Any] = []
    for index in range(frames):
        frame = av.VideoFrame(320, 240, "yuv420p")
        for number, plane in enumerate(frame.planes):
            size = plane.line_size * plane.height
            fill = random.Random(index * 3 + number).randbytes(size) if noisy else bytes([index * 7 % 256]) * size
            plane.update(fill)
        frame.pts, frame.time_base = index, codec.time_base
        packets.extend(codec.encode(frame))
    return packets + list(codec.encode(None))


def encode_opus(frames: int) -> list[Any]:
    """`frames` Opus frames of 20 ms, 48 kHz stereo, of a changing tone."""
    codec: Any = av.CodecContext.create("libopus", "w")
    codec.sample_rate, codec.layout, codec.format = 48000, "stereo", "s16"
    packets: list[Any] = []
    for index in range(frames):
        frame = av.AudioFrame(format="s16", layout="stereo", samples=960)
        frame.sample_rate, frame.pts, frame.time_base = 48000, index * 960, Fraction(1, 48000)
        frame.planes[0].update(bytes((i * (index + 3)) % 97 for i in range(960 * 4)))
        packets.extend(codec.encode(frame))
    return packets


def rtp(payload_type: int, sequence: int, timestamp: int, ssrc: int, payload: bytes, *, marker: bool) -> bytes:
    header = struct.pack(
        "!BBHII", 0x80, (0x80 if marker else 0) | payload_type, sequence & 0xFFFF, timestamp & 0xFFFFFFFF, ssrc
    )
    return header + payload


@dataclass
class Stream:
    """One tapped producer's datagrams, frame by frame: `frames[i]` is what encoding made,
    `packets[i]` the RTP datagrams that carry it."""

    mime_type: str
    ssrc: int
    frames: list[bytes]
    keyframes: list[bool]
    packets: list[list[bytes]]

    def datagrams(self) -> Iterator[bytes]:
        for packets in self.packets:
            yield from packets


def packetise(mime_type: str, encoded: list[Any], *, ssrc: int, first_sequence: int = 65_000) -> Stream:
    """`encoded` (PyAV packets) as RTP; sequence numbers start near the wrap on purpose."""
    packer: Any = {"video/VP8": Vp8Encoder, "video/H264": H264Encoder, "audio/opus": OpusEncoder}[mime_type]()
    step = 960 if mime_type == "audio/opus" else 1
    base = Fraction(1, 48000) if mime_type == "audio/opus" else Fraction(1, 30)
    sequence = first_sequence
    stream = Stream(mime_type, ssrc, [], [], [])
    for index, packet in enumerate(encoded):
        packet.pts = index * step
        packet.time_base = base
        payloads, timestamp = packer.pack(packet)
        datagrams = []
        for number, payload in enumerate(payloads):
            last = number == len(payloads) - 1
            datagrams.append(
                rtp(PAYLOAD_TYPES[mime_type], sequence, 4_294_000_000 + timestamp, ssrc, payload, marker=last)
            )
            sequence += 1
        stream.frames.append(bytes(packet))
        stream.keyframes.append(bool(packet.is_keyframe))
        stream.packets.append(datagrams)
    return stream


def vp8_stream(frames: int = 30, *, ssrc: int = 1111, keyframe_interval: int = 10, noisy: bool = True) -> Stream:
    encoded = encode_video("libvpx", frames, keyframe_interval=keyframe_interval, noisy=noisy)
    return packetise("video/VP8", encoded, ssrc=ssrc)


def h264_stream(frames: int = 30, *, ssrc: int = 2222) -> Stream:
    return packetise("video/H264", encode_video("libx264", frames, keyframe_interval=10, noisy=True), ssrc=ssrc)


def opus_stream(frames: int = 50, *, ssrc: int = 3333) -> Stream:
    return packetise("audio/opus", encode_opus(frames), ssrc=ssrc)


def frames_of(datagrams: list[bytes], depacketizer: Depacketizer, order: PacketOrder | None = None) -> list[Frame]:
    order = order or PacketOrder()
    frames: list[Frame] = []
    for datagram in datagrams:
        for item in order.push(parse_rtp(datagram)):
            frames.extend(depacketizer.push(item))
    for item in order.flush():
        frames.extend(depacketizer.push(item))
    return frames + depacketizer.flush()


def nal_units(annex_b: bytes) -> list[bytes]:
    """The NAL units of an Annex B access unit (start codes of 3 or 4 bytes, trailing zeros dropped)."""
    return [unit.rstrip(b"\x00") for unit in re.split(b"\x00\x00\x01", annex_b) if unit.rstrip(b"\x00")]


def test_a_packet_parses_with_its_marker_and_payload():
    packet = parse_rtp(rtp(101, 7, 90_000, 42, b"frame", marker=True))
    assert (packet.payload_type, packet.sequence_number, packet.timestamp, packet.ssrc) == (101, 7, 90_000, 42)
    assert packet.marker
    assert packet.payload == b"frame"


def test_packets_come_out_in_sequence_order_across_the_wrap_and_a_repeat_is_dropped():
    order = PacketOrder(depth=8)
    numbers = [65534, 0, 65535, 1, 1, 2]
    released = [
        item.packet.sequence_number
        for number in numbers
        for item in order.push(parse_rtp(rtp(100, number, number * 960, 1, b"x", marker=True)))
    ]
    assert released == [65534, 65535, 0, 1, 2]
    assert (order.received, order.lost, order.late) == (5, 0, 1)


def test_a_packet_that_never_comes_is_given_up_after_depth_more_and_marked_as_a_gap():
    order = PacketOrder(depth=3)
    out = []
    for number in (10, 12, 13, 14, 15):
        out.extend(order.push(parse_rtp(rtp(100, number, number, 1, b"x", marker=True))))
    assert [(item.packet.sequence_number, item.gap_before) for item in out] == [
        (10, False),
        (12, True),
        (13, False),
        (14, False),
        (15, False),
    ]
    assert order.lost == 1


def test_vp8_frames_split_over_many_packets_come_back_byte_for_byte_with_keyframes_and_size():
    stream = vp8_stream(20, keyframe_interval=10)
    assert max(len(packets) for packets in stream.packets) > 3  # frames span several packets
    frames = frames_of(list(stream.datagrams()), Vp8Depacketizer())
    assert [frame.data for frame in frames] == stream.frames
    assert [frame.keyframe for frame in frames] == stream.keyframes
    assert (frames[0].width, frames[0].height) == (320, 240)
    assert vp8_keyframe_size(frames[1].data) is None


def test_a_vp8_frame_that_lost_a_packet_is_dropped_whole_and_the_others_kept():
    stream = vp8_stream(6, keyframe_interval=10)
    datagrams = [datagram for number, packets in enumerate(stream.packets) for datagram in packets]
    lost = stream.packets[2][1]  # the middle of frame 2
    frames = frames_of([datagram for datagram in datagrams if datagram != lost], Vp8Depacketizer())
    assert [frame.data for frame in frames] == [stream.frames[i] for i in (0, 1, 3, 4, 5)]


def test_a_vp8_stream_joined_mid_frame_starts_at_the_next_frame():
    stream = vp8_stream(3)
    frames = frames_of([*stream.packets[0][2:], *stream.packets[1], *stream.packets[2]], Vp8Depacketizer())
    assert [frame.data for frame in frames] == stream.frames[1:]


def test_h264_access_units_come_back_from_fu_a_and_stap_a_with_their_idr_marked():
    stream = h264_stream(20)
    frames = frames_of(list(stream.datagrams()), H264Depacketizer())
    assert [nal_units(frame.data) for frame in frames] == [nal_units(frame) for frame in stream.frames]
    assert [frame.keyframe for frame in frames] == stream.keyframes
    types = [unit[0] & 0x1F for unit in nal_units(frames[0].data)]
    assert types[:2] == [7, 8]  # SPS, PPS
    assert 5 in types  # an IDR slice


def test_an_h264_access_unit_missing_a_fragment_is_dropped_and_the_next_kept():
    stream = h264_stream(4)
    keyframe = stream.packets[0]
    assert len(keyframe) > 3
    frames = frames_of([*keyframe[:2], *keyframe[3:], *stream.packets[1]], H264Depacketizer())
    assert [nal_units(frame.data) for frame in frames] == [nal_units(stream.frames[1])]


def test_each_opus_packet_is_a_frame_at_its_timestamp():
    stream = opus_stream(10)
    frames = frames_of(list(stream.datagrams()), OpusDepacketizer())
    assert [frame.data for frame in frames] == stream.frames
    assert [frame.timestamp - frames[0].timestamp for frame in frames] == [960 * i for i in range(10)]


@pytest.mark.parametrize(
    ("mime", "container", "extension"),
    [("video/VP8", "webm", "webm"), ("audio/opus", "webm", "webm"), ("video/H264", "matroska", "mkv")],
)
def test_vp8_and_opus_go_to_webm_and_h264_to_matroska(mime, container, extension):
    codec = track_codec(mime)
    assert codec is not None
    assert (codec.container, codec.extension) == (container, extension)


def test_a_codec_the_recorder_cannot_write_is_none():
    assert track_codec("video/rtx") is None


# -- track files ------------------------------------------------------------------------


def write_track(path: Path, mime: str, stream: Stream, *, skip: int = 0) -> WrittenTrack:
    """Depacketise `stream` (from frame `skip` on) and write it as the recorder does."""
    codec = track_codec(mime)
    assert codec is not None
    clock_rate = 48000 if codec.kind == "audio" else 90000
    frames = frames_of([datagram for packets in stream.packets[skip:] for datagram in packets], depacketizer_for(codec))
    track = TrackFile(path, codec, clock_rate=clock_rate, channels=2)
    track.write(frames)
    return track.close()


async def decoding_errors(program: str, path: Path) -> str:
    """What ffmpeg complains of while decoding the whole file (empty: it decodes cleanly)."""
    process = await asyncio.create_subprocess_exec(
        program, "-hide_banner", "-nostdin", "-v", "error", "-i", str(path), "-f", "null", "-",
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, errors = await asyncio.wait_for(process.communicate(), 60)
    return errors.decode()


async def test_vp8_frames_are_written_to_webm_as_they_were_encoded(tmp_path, ffmpeg_program):
    stream = vp8_stream(45, keyframe_interval=15)
    written = write_track(tmp_path / "camera.webm", "video/VP8", stream)
    info = await Ffmpeg(ffmpeg_program).probe(written.path)
    assert (info.video_codec, info.audio_codec, info.size) == ("vp8", None, (320, 240))
    assert written.frames == 45
    assert info.duration == pytest.approx(1.5, abs=0.05)
    assert await decoding_errors(ffmpeg_program, written.path) == ""
    # Not one byte re-encoded: the file's frames are the publisher's.
    with av.open(str(written.path)) as container:
        assert [bytes(packet) for packet in container.demux(video=0) if packet.size] == stream.frames


async def test_opus_goes_to_webm_with_its_header_and_h264_to_matroska(tmp_path, ffmpeg_program):
    ffmpeg = Ffmpeg(ffmpeg_program)
    sound = write_track(tmp_path / "mic.webm", "audio/opus", opus_stream(100))
    info = await ffmpeg.probe(sound.path)
    assert (info.audio_codec, info.video_codec) == ("opus", None)
    assert info.duration == pytest.approx(2.0, abs=0.05)
    assert b"OpusHead" in sound.path.read_bytes()
    picture = write_track(tmp_path / "screen.mkv", "video/H264", h264_stream(30))
    info = await ffmpeg.probe(picture.path)
    assert (info.video_codec, info.size) == ("h264", (320, 240))
    assert info.duration == pytest.approx(1.0, abs=0.05)
    assert await decoding_errors(ffmpeg_program, picture.path) == ""


def test_a_video_track_starts_at_its_first_keyframe(tmp_path):
    stream = vp8_stream(25, keyframe_interval=10)
    written = write_track(tmp_path / "late.webm", "video/VP8", stream, skip=3)
    assert written.frames == 25 - 10  # frames 3..9 refer to a keyframe the file never had


def test_a_track_file_that_cannot_be_written_holds_nothing_and_says_why(tmp_path):
    codec = track_codec("audio/opus")
    assert codec is not None
    track = TrackFile(tmp_path / "gone" / "mic.webm", codec, clock_rate=48000, channels=2)
    frames = frames_of(list(opus_stream(5).datagrams()), OpusDepacketizer())
    with pytest.raises(av.error.FFmpegError):
        track.write(frames)
    track.write(frames)  # given up: later frames are not tried
    written = track.close()
    assert written.frames == 0
    assert written.error is not None
    assert "No such file" in written.error


# -- a room recorder against a stand-in media node ----------------------------------------


class StandInNode:
    """Holds a room's producers and, for each tap, sends its stream's datagrams to the
    recorder's port at `pace` seconds a frame, as a media node forwards a publisher's."""

    def __init__(self, streams: dict[str, tuple[str, Stream]], *, pace: float = 0.01) -> None:
        self.streams = streams  # producer id -> (kind, stream)
        self.listed: list[str] = []
        self.closed_producers: set[str] = set()
        self.room_open = True
        self.pace = pace
        self.renewals: list[TapRef] = []
        self.stopped: list[str] = []
        self.drop: set[bytes] = set()  # datagrams "lost" on the way
        self._taps: dict[str, str] = {}  # tap id -> producer id
        self._senders: list[asyncio.Task[None]] = []

    def add(self, producer_id: str) -> None:
        self.listed.append(producer_id)

    async def place(self, tenant_id: str, room_id: str) -> str:
        if not self.room_open:
            raise NotFound("room does not exist", field="room_id")
        return "node-1"

    async def producers(self, tenant_id: str, node_id: str, room_id: str) -> list[RoomProducer]:
        if not self.room_open:
            raise NotFound("room does not exist", field="room_id")
        return [
            RoomProducer(producer_id=pid, peer_id="peer-1", name="Avery Stone", kind=self.streams[pid][0])  # type: ignore[arg-type]
            for pid in self.listed
            if pid not in self.closed_producers
        ]

    async def start_tap(self, tenant_id: str, node_id: str, request: StartTap) -> TapStarted:
        kind, stream = self.streams[request.producer_id]
        tap_id = f"tap-{len(self._taps) + 1}"
        self._taps[tap_id] = request.producer_id
        self._senders.append(asyncio.create_task(self._send(stream, request.host, request.port)))
        return TapStarted(
            tap_id=tap_id,
            producer_id=request.producer_id,
            kind=kind,  # type: ignore[arg-type]
            mime_type=stream.mime_type,
            payload_type=PAYLOAD_TYPES[stream.mime_type],
            clock_rate=48000 if kind == "audio" else 90000,
            channels=2 if kind == "audio" else 1,
            ssrc=stream.ssrc,
            lease_seconds=request.lease_seconds,
        )

    async def renew_tap(self, tenant_id: str, node_id: str, request: TapRef) -> None:
        self.renewals.append(request)
        if self._taps.get(request.tap_id) in self.closed_producers or not self.room_open:
            raise NotFound(f"no tap {request.tap_id} in this room", field="tap_id")

    async def stop_tap(self, tenant_id: str, node_id: str, request: TapRef) -> None:
        self.stopped.append(request.tap_id)

    async def _send(self, stream: Stream, host: str, port: int) -> None:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(asyncio.DatagramProtocol, remote_addr=(host, port))
        try:
            for packets in stream.packets:
                for datagram in packets:
                    if datagram not in self.drop:
                        transport.sendto(datagram)
                await asyncio.sleep(self.pace)
        finally:
            transport.close()

    async def close(self) -> None:
        for task in self._senders:
            task.cancel()
        await asyncio.gather(*self._senders, return_exceptions=True)


@pytest.fixture
async def mux() -> AsyncIterator[MuxThread]:
    thread = MuxThread()
    yield thread
    await thread.close()


def recorder_for(
    node: StandInNode, mux: MuxThread, tmp_path: Path, stops: list[str], *, segment_seconds: float = 0.0
) -> RoomRecorder:
    settings = RecorderSettings(
        listen_ip="127.0.0.1",
        announced_ip="127.0.0.1",
        lease_seconds=1.0,
        poll_seconds=0.1,
        work_dir=tmp_path,
        max_bytes=50_000_000,
        room_gone_grace=0.3,
        segment_seconds=segment_seconds,
    )
    return RoomRecorder(
        tenant_id="t1",
        room_id="r1",
        recording_id="rec-1",
        nodes=node,
        mux=mux,
        settings=settings,
        on_stop_needed=lambda _, reason: stops.append(reason),
    )


async def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():  # noqa: ASYNC110 - the recorder's own loop changes what it checks
            await asyncio.sleep(0.02)


async def test_a_room_recorder_taps_every_producer_also_one_that_comes_later_and_writes_each_track(
    tmp_path, mux, ffmpeg_program
):
    camera, mic, screen = vp8_stream(30, ssrc=11), opus_stream(60, ssrc=12), h264_stream(20, ssrc=13)
    node = StandInNode({"cam": ("video", camera), "mic": ("audio", mic), "screen": ("video", screen)})
    node.add("cam")
    node.add("mic")
    stops: list[str] = []
    recorder = recorder_for(node, mux, tmp_path, stops)
    try:
        await recorder.start()
        await wait_for(lambda: {"cam", "mic"} <= set(recorder.tracks))
        node.add("screen")  # shared a moment later: tapped at the next poll
        await wait_for(lambda: "screen" in recorder.tracks and recorder.tracks["screen"].frames == 20)
        await wait_for(lambda: recorder.tracks["cam"].frames == 30 and recorder.tracks["mic"].frames == 60)
        await recorder.stop()
        files = {file.producer.producer_id: file for file in await recorder.close_files()}
    finally:
        await node.close()
    assert stops == []
    assert files["screen"].track_id == "03-video-avery-stone"
    assert {files["cam"].track_id, files["mic"].track_id} == {"01-video-avery-stone", "02-audio-avery-stone"} or {
        files["cam"].track_id,
        files["mic"].track_id,
    } == {"02-video-avery-stone", "01-audio-avery-stone"}
    assert (files["cam"].written.frames, files["mic"].written.frames, files["screen"].written.frames) == (30, 60, 20)
    assert files["screen"].offset > files["cam"].offset
    assert all(file.lost == 0 and file.failure is None for file in files.values())
    ffmpeg = Ffmpeg(ffmpeg_program)
    assert (await ffmpeg.probe(files["cam"].written.path)).video_codec == "vp8"
    assert (await ffmpeg.probe(files["mic"].written.path)).audio_codec == "opus"
    assert (await ffmpeg.probe(files["screen"].written.path)).video_codec == "h264"
    assert {ref.tap_id for ref in node.renewals} >= {"tap-1", "tap-2"}
    assert sorted(node.stopped) == ["tap-1", "tap-2", "tap-3"]


async def test_after_a_lost_packet_the_recorder_asks_for_a_keyframe_and_the_file_still_decodes(
    tmp_path, mux, ffmpeg_program
):
    camera = vp8_stream(40, ssrc=21, keyframe_interval=20)
    node = StandInNode({"cam": ("video", camera)}, pace=0.03)
    node.drop.add(camera.packets[5][1])  # part of frame 5: frames 5..19 cannot be shown
    node.add("cam")
    recorder = recorder_for(node, mux, tmp_path, [])
    try:
        await recorder.start()
        await wait_for(lambda: "cam" in recorder.tracks and recorder.tracks["cam"].frames == 5 + 20)
        track = recorder.tracks["cam"]
        assert track.dropped_frames == 14  # 6..19 (frame 5 itself never came whole)
        await recorder.stop()
        [file] = await recorder.close_files()
    finally:
        await node.close()
    assert any(ref.keyframe for ref in node.renewals)
    assert file.lost == 1
    assert file.written.frames == 25
    assert await decoding_errors(ffmpeg_program, file.written.path) == ""


async def test_tracks_are_written_in_segments_handed_over_as_they_finish_and_composed_whole(
    tmp_path, mux, ffmpeg_program
):
    camera, microphone = vp8_stream(60, ssrc=41, keyframe_interval=10), opus_stream(60, ssrc=42)
    node = StandInNode({"cam": ("video", camera), "mic": ("audio", microphone)}, pace=0.02)
    node.add("cam")
    node.add("mic")
    recorder = recorder_for(node, mux, tmp_path, [], segment_seconds=0.3)
    try:
        await recorder.start()
        await wait_for(lambda: recorder.segments.qsize() >= 2)  # finished while the room is recorded
        await wait_for(lambda: {"cam", "mic"} <= set(recorder.tracks))
        await wait_for(lambda: recorder.tracks["cam"].frames == 60 and recorder.tracks["mic"].frames == 60)
        await recorder.stop()
        last = await recorder.close_files()
    finally:
        await node.close()
    handed = [recorder.segments.get_nowait() for _ in range(recorder.segments.qsize())]
    segments = sorted([*handed, *last], key=lambda file: (file.producer.producer_id, file.segment))
    by_track = {pid: [file for file in segments if file.producer.producer_id == pid] for pid in ("cam", "mic")}
    assert all(len(files) >= 3 for files in by_track.values())
    assert [file.last for file in by_track["cam"]] == [False] * (len(by_track["cam"]) - 1) + [True]
    # Nothing lost at a cut: every frame is in exactly one segment; a picture's begins at a keyframe.
    assert sum(file.written.frames for file in by_track["cam"]) == 60
    assert sum(file.written.frames for file in by_track["mic"]) == 60
    for file in by_track["cam"]:
        assert await decoding_errors(ffmpeg_program, file.written.path) == ""
    offsets = [file.offset for file in by_track["cam"]]
    assert offsets == sorted(offsets)

    # Composed, each track's segments play one after the other in one cell.
    ffmpeg = Ffmpeg(ffmpeg_program)
    inputs = [
        GridInput(kind, tuple(GridFile(f.written.path, f.offset, f.written.duration) for f in by_track[pid]))
        for pid, kind in (("cam", "video"), ("mic", "audio"))
    ]
    duration = max(f.offset + f.written.duration for f in segments)
    output = tmp_path / "grid.mp4"
    await ffmpeg.run(grid_command(ffmpeg.program, inputs, (320, 180), duration, output, preset="ultrafast"), timeout=60)
    info = await ffmpeg.probe(output)
    assert (info.has_video, info.has_audio) == (True, True)
    assert info.duration == pytest.approx(duration, abs=0.15)


async def test_a_closed_producer_ends_its_track_and_a_closed_room_asks_to_stop(tmp_path, mux):
    node = StandInNode({"mic": ("audio", opus_stream(20, ssrc=31)), "cam": ("video", vp8_stream(10, ssrc=32))})
    node.add("mic")
    node.add("cam")
    stops: list[str] = []
    recorder = recorder_for(node, mux, tmp_path, stops)
    try:
        await recorder.start()
        await wait_for(lambda: {"mic", "cam"} <= set(recorder.tracks))
        node.closed_producers.add("mic")
        await wait_for(lambda: "mic" not in recorder.tracks)
        assert [track.producer.producer_id for track in recorder.finished] == ["mic"]
        node.room_open = False
        await wait_for(lambda: stops == ["the room closed"])
        await recorder.stop()
        files = await recorder.close_files()
    finally:
        await node.close()
    assert sorted(file.producer.producer_id for file in files) == ["cam", "mic"]
