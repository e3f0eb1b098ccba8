"""Server-side recording against the running suite: aiortc publishers (VP8 camera, Opus
microphone) in two rooms recorded at the same time, one started over REST and one on the SFU
socket; each track is written as it was encoded (VP8 and Opus in WebM, in segments of
RECORDING_SEGMENT_SECONDS: 2 s here) and the tracks are composed into one MP4 (H.264 + AAC)
lasting the recorded time. Only the host records; stopping twice is harmless. The recording
service killed mid-recording: the restarted one takes the recording over and composes what
was stored."""

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from recordingclient import probe
from roomclients import Clients, room_clients, user_with_token
from sfuclient import SfuClient

from media.peer_client import EncodedTrack, encode_opus, encode_vp8
from recording.transcode import Ffmpeg, find_ffmpeg
from restclient import call

pytestmark = pytest.mark.slow

RECORD_SECONDS = 3.0
ROOM_EVENTS = ("recording:started", "recording:stopped", "recording:ready", "recording:failed")


@pytest.fixture(scope="module")
def camera_packets() -> list[Any]:
    # 640x360 VP8 at 30 fps, a keyframe twice a second (a replayed track cannot answer a PLI).
    return encode_vp8(30, width=640, height=360, keyframe_interval=15)


@pytest.fixture(scope="module")
def microphone_packets() -> list[Any]:
    return encode_opus(50)


@pytest.fixture
async def clients(suite: Any) -> AsyncIterator[Clients]:
    async with room_clients(suite) as connect:
        yield connect


def listen_recording(client: SfuClient) -> SfuClient:
    for event in ROOM_EVENTS:
        queue = client.pushes[event]

        async def put(data: Any, queue: asyncio.Queue[Any] = queue) -> None:
            await queue.put(data)

        client.socket.on(event, put)
    return client


async def hosted_room(suite: Any, http: aiohttp.ClientSession, host_id: str, host_token: str) -> str:
    """A meeting room whose meeting names `host_id` as its host."""
    key = suite.api_key
    status, room, _ = await call(
        http, "POST", suite.url + "/room/create", key=key, json={"name": "Review", "type": "meeting"}
    )
    assert status == 201, room
    room_id = str(room["data"]["id"])
    status, meeting, _ = await call(
        http, "POST", suite.url + "/meetings/create", key=key, token=host_token,
        json={"title": "Design review", "hostId": host_id, "transcriptEnabled": False},
    )  # fmt: skip
    assert status == 201, meeting
    status, answer, _ = await call(
        http, "POST", f"{suite.url}/meetings/update/{meeting['data']['_id']}", key=key, token=host_token,
        json={"userId": host_id, "roomId": room_id},
    )  # fmt: skip
    assert status == 204, answer
    return room_id


class PacedTrack(EncodedTrack):
    """Pre-encoded frames on the wall clock, as a browser sends them: frame N leaves at
    start + N x interval however long the sending took (a plain sleep per frame drifts, and
    the media's timestamps would then say less time passed than did)."""

    def __init__(self, kind: Any, packets: list[Any], *, interval: float) -> None:
        super().__init__(kind, packets, interval=0)
        self._pace = interval
        self._started: float | None = None
        self._count = 0

    async def recv(self) -> Any:
        now = time.monotonic()
        self._started = now if self._started is None else self._started
        await asyncio.sleep(max(0.0, self._started + self._count * self._pace - now))
        self._count += 1
        return await super().recv()


async def publish(client: SfuClient, camera_packets: list[Any], microphone_packets: list[Any]) -> None:
    transport_id, peer = await client.transport()
    camera = PacedTrack("video", camera_packets, interval=1 / 30)
    microphone = PacedTrack("audio", microphone_packets, interval=0.02)
    for track, mid, kind in ((camera, "0", "camera"), (microphone, "1", "mic")):
        answer = await client.produce(transport_id, peer, track, mid=mid, app_type=kind)
        assert "producer_id" in answer, answer


async def recording_of(suite: Any, http: aiohttp.ClientSession, room_id: str, recording_id: str) -> dict[str, Any]:
    status, listed, _ = await call(http, "GET", f"{suite.url}/recordings/list?roomId={room_id}", key=suite.api_key)
    assert status == 200, listed
    return next(item for item in listed if item["recordingId"] == recording_id)


async def when_processed(suite: Any, http: aiohttp.ClientSession, room_id: str, recording_id: str) -> dict[str, Any]:
    async with asyncio.timeout(120):
        while True:
            found = await recording_of(suite, http, room_id, recording_id)
            if found["status"] in ("ready", "failed"):
                return found
            await asyncio.sleep(0.5)


async def download(http: aiohttp.ClientSession, url: str, key: str, path: Path) -> Path:
    async with http.get(url, headers={"x-api-key": key}) as response:
        assert response.status == 200, await response.text()
        await asyncio.to_thread(path.write_bytes, await response.read())
    return path


async def test_a_page_that_joins_while_the_room_is_recorded_is_told_so(suite, http, clients):
    host_id, host_token = await user_with_token(suite, http)
    room_id = await hosted_room(suite, http, host_id, host_token)
    host = await clients(token=host_token)
    joined = await host.enter(room_id, "Harper")
    assert joined["recording"] is None
    started = await host.request("recording:start")
    assert started.get("status") == "recording", started

    late = await clients()
    told = (await late.enter(room_id, "Late viewer"))["recording"]
    assert (told["recordingId"], told["roomId"], told["status"]) == (started["recordingId"], room_id, "recording")
    assert told["startTime"]
    assert (await host.request("recording:stop"))["status"] == "stopped"
    later = await clients()
    assert (await later.enter(room_id, "Later viewer"))["recording"] is None


def segments_by_kind(tracks: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """A recording's one track of each kind, as its segments in order."""
    found: dict[str, list[dict[str, Any]]] = {}
    for segment in tracks:
        found.setdefault(segment["kind"], []).append(segment)
    for kind, segments in found.items():
        assert len({segment["segmentOf"] for segment in segments}) == 1, f"one {kind} track"
        segments.sort(key=lambda segment: segment["segment"])
        assert [segment["segment"] for segment in segments] == list(range(len(segments)))
    return found


async def test_two_rooms_are_recorded_at_once_per_track_without_reencoding_and_composed_into_an_mp4(
    suite, http, clients, camera_packets, microphone_packets, tmp_path
):
    avery_id, avery_token = await user_with_token(suite, http)
    blake_id, blake_token = await user_with_token(suite, http)
    _, casey_token = await user_with_token(suite, http)
    first_room = await hosted_room(suite, http, avery_id, avery_token)
    second_room = await hosted_room(suite, http, blake_id, blake_token)
    avery = await clients(token=avery_token)
    blake = await clients(token=blake_token)
    casey = listen_recording(await clients(token=casey_token))
    await avery.enter(first_room, "Avery")
    await casey.enter(first_room, "Casey")
    await blake.enter(second_room, "Blake")
    await publish(avery, camera_packets, microphone_packets)
    await publish(blake, camera_packets, microphone_packets)

    # Only the room's host records it: not a guest over REST, not a participant on the socket.
    start_first = f"{suite.url}/room/{first_room}/recording/start"
    status, refused, _ = await call(http, "POST", start_first, key=suite.api_key, token=casey_token)
    assert (status, refused["field"]) == (403, "roomId")
    assert "error" in await casey.request("recording:start")

    began = time.monotonic()
    status, started, _ = await call(
        http, "POST", start_first, key=suite.api_key, token=avery_token, json={"userName": "Avery"}
    )
    assert status == 201, started
    second = await blake.request("recording:start")  # the other room, on the SFU socket
    assert second.get("status") == "recording", second
    first = started["data"]
    assert (first["status"], first["source"], first["hostName"]) == ("recording", "server", "Avery")
    heard = await casey.pushed("recording:started")
    assert (heard["recordingId"], heard["roomId"], heard["status"]) == (first["recordingId"], first_room, "recording")
    status, again, _ = await call(http, "POST", start_first, key=suite.api_key, token=avery_token)
    assert status == 409, again  # one recording of a room at a time

    await asyncio.sleep(RECORD_SECONDS)
    stop_first = f"{suite.url}/room/{first_room}/recording/stop"
    status, stopped, _ = await call(http, "POST", stop_first, key=suite.api_key, token=avery_token)
    recorded = time.monotonic() - began
    assert status == 200, stopped
    assert stopped["data"]["status"] == "stopped"
    assert (await blake.request("recording:stop"))["status"] == "stopped"
    assert (await casey.pushed("recording:stopped"))["recordingId"] == first["recordingId"]
    # Stopping again changes nothing: it answers the same recording.
    status, twice, _ = await call(http, "POST", stop_first, key=suite.api_key, token=avery_token)
    assert (status, twice["data"]["recordingId"]) == (200, first["recordingId"])

    ffmpeg = Ffmpeg(find_ffmpeg())
    for room_id, recording_id in ((first_room, first["recordingId"]), (second_room, second["recordingId"])):
        done = await when_processed(suite, http, room_id, recording_id)
        assert done["status"] == "ready", done
        length = done["duration"]
        assert length == pytest.approx(recorded, abs=1.0)
        tracks = segments_by_kind(done["tracks"])
        assert set(tracks) == {"audio", "video"}
        assert {segment["mimeType"] for segment in tracks["video"]} == {"video/webm;codecs=vp8"}
        assert {segment["mimeType"] for segment in tracks["audio"]} == {"audio/webm;codecs=opus"}
        url = f"{suite.url}/recordings/{recording_id}/download"
        for kind, codec in (("video", "vp8"), ("audio", "opus")):
            segments = tracks[kind]
            assert len(segments) >= 2  # 3 s in segments of 2 s
            played = 0.0
            for segment in segments:
                path = await download(
                    http, f"{url}?track={segment['trackId']}", suite.api_key, tmp_path / f"{segment['trackId']}.webm"
                )
                info = await ffmpeg.probe(path)
                assert (info.video_codec if kind == "video" else info.audio_codec) == codec
                played += info.duration
            # From its first frame (a keyframe, for video) to the stop: within a keyframe interval and a poll.
            assert played == pytest.approx(length - segments[0]["offset"], abs=0.4)
            assert segments[0]["offset"] < 1.5
        if room_id == first_room:
            assert (await casey.pushed("recording:ready", timeout=30))["downloadUrl"] == done["downloadUrl"]
        composed = await download(
            http, suite.url + done["downloadUrl"], suite.api_key, tmp_path / f"{recording_id}.mp4"
        )
        info = await ffmpeg.probe(composed)
        assert (info.video_codec, info.audio_codec) == ("h264", "aac")
        assert info.duration == pytest.approx(length, abs=0.3)
        shown = await probe(composed)
        assert (shown.has_video, shown.has_audio, shown.width, shown.height) == (True, True, 1280, 720)


async def test_a_recording_whose_recording_service_was_killed_goes_on_at_the_restarted_one(
    suite, http, clients, camera_packets, microphone_packets, tmp_path
):
    host_id, host_token = await user_with_token(suite, http)
    room_id = await hosted_room(suite, http, host_id, host_token)
    host = listen_recording(await clients(token=host_token))
    await host.enter(room_id, "Harper")
    await publish(host, camera_packets, microphone_packets)
    began = time.monotonic()
    started = await host.request("recording:start")
    assert started.get("status") == "recording", started
    assert (await host.pushed("recording:started"))["recordingId"] == started["recordingId"]
    recording_id = started["recordingId"]
    async with asyncio.timeout(30):  # segments of 2 s: the first ones are stored while the room is recorded
        while len((await recording_of(suite, http, room_id, recording_id))["tracks"]) < 4:  # noqa: ASYNC110
            await asyncio.sleep(0.25)

    service = suite.processes["recording"]
    service.kill()  # SIGKILL: the segments it was writing are lost
    service.start_and_wait()  # a replica of its own: it takes the silent one's recordings over

    resumed = await host.pushed("recording:started", timeout=30)  # the room is live: it goes on recording
    assert resumed["recordingId"] == recording_id
    assert "goes on recording it" in resumed["reason"]
    await asyncio.sleep(3)  # recorded by the new replica
    stopped = await host.request("recording:stop")
    recorded = time.monotonic() - began
    assert (stopped["recordingId"], stopped["status"]) == (recording_id, "stopped")

    done = await when_processed(suite, http, room_id, recording_id)
    assert done["status"] == "ready", done
    tracks = segments_by_kind(done["tracks"])  # one track of each kind, before and after the crash
    assert set(tracks) == {"audio", "video"}
    assert done["duration"] == pytest.approx(recorded, abs=1.0)  # start to stop, the gap included
    composed = await download(http, suite.url + done["downloadUrl"], suite.api_key, tmp_path / "taken-over.mp4")
    shown = await probe(composed)
    assert (shown.has_video, shown.has_audio) == (True, True)
    assert shown.duration == pytest.approx(done["duration"], abs=0.3)
