"""Fault tests: the recording service dies (SIGKILL) during an upload and during processing.
After it is started again, each recording is either completed or marked failed with the
reason; a recording said to be ready always has a whole, playable file."""

import secrets
from collections.abc import Iterator
from typing import Any

import pytest
from recordingclient import RecorderClient, make_webm, pieces_of, probe

from restclient import call
from webinar_devstack.servers import start_nats
from webinar_devstack.suite import Suite

PIECE = 64 * 1024
ACK_WAIT = 2


@pytest.fixture(scope="module")
def fragile_suite(tmp_path_factory, redis_url, mongo_url) -> Iterator[Suite]:
    workdir = tmp_path_factory.mktemp("recording-faults")
    nats = start_nats(workdir / "nats")
    suite = Suite(
        workdir=workdir,
        nats_url=f"nats://127.0.0.1:{nats.port}",
        redis_url=redis_url,
        mongo_url=mongo_url,
        services=["auth", "recording", "gateway"],
        env={
            "BUS_REQUEST_TIMEOUT": "3",
            "AUTH_DATABASE": f"auth_recfault_{secrets.token_hex(3)}",
            "RECORDING_DATABASE": f"recording_fault_{secrets.token_hex(3)}",
            "API_KEY_CACHE_SECONDS": "300",
            "RECORDING_JOB_ACK_WAIT_SECONDS": str(ACK_WAIT),
            # A slower encoder, so a job is surely running when the test kills its worker.
            "RECORDING_X264_PRESET": "medium",
        },
    ).start()
    yield suite
    suite.stop()
    nats.stop()


@pytest.fixture
async def recorder(fragile_suite) -> Any:
    client = await RecorderClient(fragile_suite.url, api_key=fragile_suite.api_key).connect()
    yield client
    await client.close()


async def check_outcome(suite: Suite, http: Any, recording_id: str, event: str, data: Any, seconds: float, tmp_path):
    """Ready with a whole file of the expected length, or failed with a reason; nothing else."""
    status, listed, _ = await call(http, "GET", suite.url + "/recordings/list", key=suite.api_key)
    assert status == 200
    [mine] = [item for item in listed if item["recordingId"] == recording_id]
    if event == "recording:failed":
        assert data["reason"]
        assert (mine["status"], mine["failureReason"]) == ("failed", data["reason"])
        return
    assert event == "recording:ready", data
    assert mine["status"] == "ready"
    async with http.get(suite.url + data["downloadUrl"]) as response:
        assert response.status == 200
        body = await response.read()
    assert len(body) == data["size"]
    output = tmp_path / f"{recording_id}.mp4"
    output.write_bytes(body)
    found = await probe(output)
    assert (found.has_video, found.has_audio) == (True, True)
    assert found.duration == pytest.approx(seconds, abs=0.5)


@pytest.mark.slow
async def test_an_upload_cut_by_a_crash_is_completed_after_the_restart(fragile_suite, recorder, http, tmp_path):
    suite = fragile_suite
    webm = make_webm(tmp_path / "cam.webm", seconds=4)
    chunks = pieces_of(webm.read_bytes(), 16 * 1024)
    recording_id = f"cut-{secrets.token_hex(5)}"
    await recorder.open(recording_id, "camera")
    half = len(chunks) // 2
    for seq in range(half):
        assert not (await recorder.send(recording_id, "camera", seq, chunks[seq])).get("error")

    suite.processes["recording"].kill()
    refused = await recorder.send(recording_id, "camera", half, chunks[half])
    assert refused["code"] == "unavailable"

    suite.processes["recording"].start_and_wait()
    # The client goes on where it was refused; a chunk it is unsure of is simply sent again.
    for seq in range(half - 1, len(chunks)):
        assert not (await recorder.send(recording_id, "camera", seq, chunks[seq])).get("error")
    closed = await recorder.close_file(recording_id, "camera", len(chunks) - 1)
    assert (closed["complete"], closed["bytes"]) == (True, len(webm.read_bytes()))
    await recorder.ask("process-recording", {"recordingId": recording_id})
    event, data, _ = await recorder.outcome(recording_id)
    assert event == "recording:ready", data
    await check_outcome(suite, http, recording_id, event, data, 4, tmp_path)


@pytest.mark.slow
async def test_processing_cut_by_a_crash_ends_ready_or_failed_with_a_reason(fragile_suite, recorder, http, tmp_path):
    suite = fragile_suite
    webm = make_webm(tmp_path / "long.webm", seconds=12, bitrate="600k")
    chunks = pieces_of(webm.read_bytes(), PIECE)
    recording_id = f"crash-{secrets.token_hex(5)}"
    await recorder.open(recording_id, "camera")
    for seq, data in enumerate(chunks):
        await recorder.send(recording_id, "camera", seq, data)
    await recorder.close_file(recording_id, "camera", len(chunks) - 1)
    queued = await recorder.ask("process-recording", {"recordingId": recording_id, "width": 1280, "height": 720})
    assert queued["status"] == "processing"
    await recorder.progress(recording_id, above=0)  # ffmpeg is encoding
    suite.processes["recording"].kill()

    suite.processes["recording"].start_and_wait()
    # The job's message was never acknowledged: after ACK_WAIT seconds it is handed out again.
    event, data, _ = await recorder.outcome(recording_id, timeout=120)
    await check_outcome(suite, http, recording_id, event, data, 12, tmp_path)
    again = await recorder.ask("process-recording", {"recordingId": recording_id})
    assert again["status"] == ("ready" if event == "recording:ready" else "processing")
