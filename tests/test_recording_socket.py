"""The recording socket (/recording/socket.io) end to end: a python-socketio client uploads a
real VP8/Opus WebM in chunks through the suite's gateway to the recording service, has it
processed into an MP4, and downloads it with HTTP range requests."""

import asyncio
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import socketio
from recordingclient import RecorderClient, make_webm, pieces_of, probe

from restclient import call

PIECE = 48 * 1024

Clients = Callable[..., Awaitable[RecorderClient]]


@pytest.fixture(scope="module")
def webm(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return make_webm(tmp_path_factory.mktemp("webm") / "camera.webm", size="640x480", seconds=3).read_bytes()


@pytest.fixture
async def clients(suite) -> AsyncIterator[Clients]:
    made: list[RecorderClient] = []

    async def connect(**kwargs: Any) -> RecorderClient:
        client = RecorderClient(suite.url, api_key=kwargs.pop("api_key", suite.api_key), **kwargs)
        made.append(await client.connect())
        return client

    yield connect
    for client in made:
        await client.close()


def new_recording_id() -> str:
    return f"sock-{secrets.token_hex(6)}"


async def get(http, url: str, headers: dict[str, str]) -> tuple[int, bytes, Any]:
    async with http.get(url, headers=headers) as response:
        return response.status, await response.read(), response.headers


async def test_a_webm_sent_in_chunks_is_processed_into_an_mp4_that_downloads_in_ranges(
    suite, clients, http, webm, tmp_path
):
    recorder = await clients()
    recording_id = new_recording_id()
    opened = await recorder.open(recording_id, "camera")
    assert (opened["status"], opened["nextSeq"], opened["bytes"]) == ("recording", 0, 0)
    chunks = pieces_of(webm, PIECE)
    acks = await asyncio.gather(*(recorder.send(recording_id, "camera", seq, data) for seq, data in enumerate(chunks)))
    assert [ack["duplicate"] for ack in acks] == [False] * len(chunks)
    resent = await recorder.send(recording_id, "camera", 1, chunks[1])  # a retry after a lost acknowledgement
    assert (resent["duplicate"], resent["recordingBytes"]) == (True, len(webm))
    closed = await recorder.close_file(recording_id, "camera", len(chunks) - 1)
    assert closed == {
        "recordingId": recording_id,
        "trackId": "camera",
        "chunks": len(chunks),
        "bytes": len(webm),
        "complete": True,
        "missing": [],
        "missingCount": 0,
    }

    queued = await recorder.ask("process-recording", {"recordingId": recording_id, "width": 640, "height": 360})
    assert queued["status"] == "processing"
    event, ready, percents = await recorder.outcome(recording_id)
    assert event == "recording:ready", ready
    assert percents == sorted(percents)
    assert (ready["width"], ready["height"]) == (640, 360)
    link = suite.url + ready["downloadUrl"]
    size = ready["size"]

    # The link plays in a <video src> (no header); a range is what a seek asks for.
    status, whole, headers = await get(http, link, {})
    assert (status, len(whole), headers["Content-Type"], headers["Accept-Ranges"]) == (200, size, "video/mp4", "bytes")
    status, first, headers = await get(http, link, {"Range": "bytes=0-1023"})
    assert (status, headers["Content-Range"], first) == (206, f"bytes 0-1023/{size}", whole[:1024])
    status, middle, headers = await get(http, link, {"Range": f"bytes={size // 2}-"})
    assert (status, middle) == (206, whole[size // 2 :])
    assert headers["Content-Range"] == f"bytes {size // 2}-{size - 1}/{size}"
    status, tail, _ = await get(http, link, {"Range": "bytes=-500"})
    assert (status, tail) == (206, whole[-500:])
    status, _, headers = await get(http, link, {"Range": f"bytes={size}-"})
    assert (status, headers["Content-Range"]) == (416, f"bytes */{size}")

    # With the tenant's key and no token, as an integrator's server downloads it.
    key_url = f"{suite.url}/recordings/{recording_id}/download"
    status, by_key, _ = await get(http, key_url, {"x-api-key": suite.api_key, "Range": "bytes=100-199"})
    assert (status, by_key) == (206, whole[100:200])

    output = tmp_path / "downloaded.mp4"
    output.write_bytes(whole)
    found = await probe(output)
    assert (found.has_video, found.has_audio, found.width, found.height) == (True, True, 640, 360)
    assert found.duration == pytest.approx(3.0, abs=0.3)

    status, listed, _ = await call(http, "GET", suite.url + "/recordings/list?roomId=room-rec", key=suite.api_key)
    [mine] = [item for item in listed if item["recordingId"] == recording_id]
    assert (status, mine["status"], mine["size"], mine["downloadUrl"]) == (200, "ready", size, ready["downloadUrl"])


async def test_the_file_is_for_the_recordings_tenant_only(suite, clients, http, webm, essential_key):
    recorder = await clients()
    recording_id = new_recording_id()
    await recorder.open(recording_id, "camera")
    chunks = pieces_of(webm, PIECE)
    for seq, data in enumerate(chunks):
        await recorder.send(recording_id, "camera", seq, data)
    await recorder.close_file(recording_id, "camera", len(chunks) - 1)
    await recorder.ask("process-recording", {"recordingId": recording_id})
    event, ready, _ = await recorder.outcome(recording_id)
    assert event == "recording:ready", ready
    key_url = f"{suite.url}/recordings/{recording_id}/download"
    status, _, _ = await get(http, key_url, {"x-api-key": essential_key})
    assert status == 404
    status, _, _ = await get(http, key_url + "?token=" + secrets.token_urlsafe(24), {})
    assert status == 404
    status, _, _ = await get(http, key_url, {})
    assert status == 401
    # Another tenant's socket hears nothing of it and cannot write to it.
    other = await clients(api_key=essential_key)
    refused = await other.send(recording_id, "camera", 99, b"data")
    assert (refused["code"], refused["field"]) == ("not_found", "trackId")


async def test_a_missing_chunk_is_said_at_stop_writing_and_processing_waits_for_it(clients, webm):
    recorder = await clients()
    recording_id = new_recording_id()
    await recorder.open(recording_id, "camera")
    chunks = pieces_of(webm, PIECE)
    for seq, data in enumerate(chunks):
        if seq != 2:
            await recorder.send(recording_id, "camera", seq, data)
    closed = await recorder.close_file(recording_id, "camera", len(chunks) - 1)
    assert (closed["complete"], closed["missing"], closed["missingCount"]) == (False, [2], 1)
    refused = await recorder.ask("process-recording", {"recordingId": recording_id})
    assert (refused["code"], refused["field"]) == ("conflict", "trackId")
    await recorder.send(recording_id, "camera", 2, chunks[2])
    again = await recorder.close_file(recording_id, "camera", len(chunks) - 1)
    assert again["complete"] is True


async def test_a_bad_event_is_acknowledged_with_the_error_and_its_field(clients):
    recorder = await clients()
    recording_id = new_recording_id()
    await recorder.open(recording_id, "camera")
    as_text = await recorder.ask("stream", {"recordingId": recording_id, "trackId": "camera", "seq": 0, "data": "AAA"})
    assert (as_text["code"], as_text["field"]) == ("invalid", "data")
    bad_type = await recorder.ask("create-file", {"recordingId": recording_id, "trackId": "t2", "mimeType": "text/x"})
    assert (bad_type["code"], bad_type["field"]) == ("invalid", "mimeType")
    unknown = await recorder.ask(
        "create-file", {"recordingId": "nobody-started-me", "trackId": "t", "mimeType": "audio/webm"}
    )
    assert (unknown["code"], unknown["field"]) == ("not_found", "recordingId")
    assert (await recorder.ask("stop-writing", "not an object"))["code"] == "invalid"


async def test_a_socket_without_an_api_key_is_refused(suite):
    client = socketio.AsyncClient(reconnection=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        await client.connect(suite.url, socketio_path="recording/socket.io", auth={}, wait_timeout=5)
    await client.disconnect()
