"""Recording controls over HTTP through the gateway, with the recording service behind it
(and meetings, which links a stopped recording to its room's meeting)."""

import asyncio
import secrets
import time
from typing import Any

import pytest

from restclient import call, new_user

SEED_STREAM_ID = 755961800257348400


def start_body(**overrides: Any) -> dict[str, Any]:
    """The seed's example with a unique recordingId and a made-up name."""
    body: dict[str, Any] = {
        "roomId": "68affe24fabc0702c5d30c29",
        "userName": "Rowan Host",
        "streamId": SEED_STREAM_ID,
        "recordingId": f"{int(time.time() * 1000)}_{secrets.randbelow(10**6)}",
        "startTime": 1756364334634,
        "videoType": "video",
        "status": "pending",
    }
    body.update(overrides)
    return body


async def start(suite, http, key: str | None = None, **overrides: Any) -> tuple[int, Any, dict[str, Any]]:
    body = start_body(**overrides)
    status, answer, _ = await call(http, "POST", suite.url + "/recording/start", key=key or suite.api_key, json=body)
    return status, answer, body


async def stop(suite, http, body: dict[str, Any], key: str | None = None) -> tuple[int, Any]:
    status, answer, _ = await call(http, "POST", suite.url + "/recording/stop", key=key or suite.api_key, json=body)
    return status, answer


async def listed(suite, http, query: str = "", key: str | None = None) -> tuple[int, Any, Any]:
    return await call(http, "GET", f"{suite.url}/recordings/list{query}", key=key or suite.api_key)


async def test_start_answers_201_with_the_seeds_19_digit_stream_id_digit_for_digit(suite, http):
    status, answer, body = await start(suite, http)
    assert status == 201
    recording = answer["data"]
    assert recording["streamId"] == "755961800257348400"
    assert (recording["roomId"], recording["recordingId"], recording["hostName"], recording["status"]) == (
        body["roomId"],
        body["recordingId"],
        "Rowan Host",
        "pending",
    )
    assert recording["startTime"] == "2025-08-28T06:58:54.634Z"  # as the seed writes it
    assert recording["endTime"] is None
    assert len(recording["_id"]) == 24


async def test_a_stream_id_beyond_64_bits_keeps_every_digit(suite, http):
    raw = b'{"roomId": "r1", "userName": "Rowan", "streamId": 98765432109876543210987, "recordingId": "%s",' % (
        secrets.token_hex(6).encode()
    )
    raw += b' "startTime": "2025-10-13T10:15:30.000Z", "videoType": "screen", "status": "recording"}'
    status, answer, _ = await call(http, "POST", suite.url + "/recording/start", key=suite.api_key, data=raw)
    assert status == 201
    assert answer["data"]["streamId"] == "98765432109876543210987"
    assert answer["data"]["startTime"] == "2025-10-13T10:15:30.000Z"


async def test_starting_an_existing_recording_id_is_409(suite, http):
    _, _, body = await start(suite, http)
    status, answer, _ = await start(suite, http, recordingId=body["recordingId"], streamId="1")
    assert (status, answer["field"]) == (409, "recordingId")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"roomId": ""}, "roomId"),
        ({"streamId": 7.5}, "streamId"),
        ({"streamId": None}, "streamId"),
        ({"startTime": "next tuesday"}, "startTime"),
        ({"startTime": True}, "startTime"),
        ({"status": 1}, "status"),
    ],
)
async def test_a_start_with_a_bad_field_is_400_naming_it(suite, http, change, field):
    status, answer, _ = await start(suite, http, **change)
    assert (status, answer["field"]) == (400, field)


async def test_a_start_missing_a_field_is_400_naming_it(suite, http):
    body = start_body()
    del body["videoType"]
    status, answer, _ = await call(http, "POST", suite.url + "/recording/start", key=suite.api_key, json=body)
    assert (status, answer["field"], answer["message"]) == (400, "videoType", "videoType is required")


async def test_recording_routes_need_an_api_key(suite, http):
    for method, path, body in (
        ("POST", "/recording/start", start_body()),
        ("POST", "/recording/stop", {"recordingId": "x", "streamId": 1, "endTime": 0}),
        ("GET", "/recordings/list", None),
    ):
        status, answer, _ = await call(http, method, suite.url + path, json=body)
        assert (status, answer["message"]) == (401, "missing x-api-key header")


async def test_stop_answers_204_and_stopping_again_changes_nothing(suite, http):
    _, _, body = await start(suite, http, roomId=f"room-{secrets.token_hex(4)}")
    first = {"recordingId": body["recordingId"], "streamId": str(SEED_STREAM_ID), "endTime": 1756364400000}
    assert await stop(suite, http, first) == (204, None)
    assert await stop(suite, http, {**first, "endTime": "2025-08-28T07:30:00Z"}) == (204, None)
    status, answer, _ = await listed(suite, http, f"?roomId={body['roomId']}")
    assert status == 200
    [recording] = answer
    assert (recording["status"], recording["endTime"]) == ("stopped", "2025-08-28T07:00:00.000Z")


async def test_stopping_an_unknown_recording_or_another_stream_is_404(suite, http):
    status, answer = await stop(suite, http, {"recordingId": "no-such-recording", "streamId": 1, "endTime": 0})
    assert (status, answer["field"]) == (404, "recordingId")
    _, _, body = await start(suite, http)
    status, answer = await stop(
        suite, http, {"recordingId": body["recordingId"], "streamId": 755961800257348401, "endTime": 1756364400000}
    )
    assert (status, answer["field"]) == (404, "streamId")


async def test_a_stop_ending_before_its_start_is_400(suite, http):
    _, _, body = await start(suite, http)
    status, answer = await stop(
        suite, http, {"recordingId": body["recordingId"], "streamId": SEED_STREAM_ID, "endTime": 1000}
    )
    assert (status, answer["field"]) == (400, "endTime")


async def test_list_is_a_bare_array_newest_first_with_the_seeds_fields_paged_by_header(suite, http):
    room = f"room-{secrets.token_hex(4)}"
    ids = []
    for _ in range(3):
        _, _, body = await start(suite, http, roomId=room)
        ids.append(body["recordingId"])
    status, answer, _ = await listed(suite, http, f"?roomId={room}")
    assert status == 200
    assert [recording["recordingId"] for recording in answer] == list(reversed(ids))
    seed_fields = {"_id", "roomId", "recordingId", "hostName", "status", "createdAt", "updatedAt"}
    assert all(seed_fields <= set(recording) for recording in answer)
    status, first_page, headers = await listed(suite, http, f"?roomId={room}&limit=2")
    assert [recording["recordingId"] for recording in first_page] == [ids[2], ids[1]]
    cursor = headers["X-Next-Cursor"]
    status, last_page, headers = await listed(suite, http, f"?roomId={room}&limit=2&cursor={cursor}")
    assert [recording["recordingId"] for recording in last_page] == [ids[0]]
    assert "X-Next-Cursor" not in headers


async def test_list_without_a_room_shows_every_room_of_the_tenant_only(suite, http, essential_key):
    _, _, mine = await start(suite, http, roomId=f"room-{secrets.token_hex(4)}")
    _, _, theirs = await start(suite, http, key=essential_key)
    status, answer, _ = await listed(suite, http, "?limit=100")
    assert status == 200
    listed_ids = {recording["recordingId"] for recording in answer}
    assert mine["recordingId"] in listed_ids
    assert theirs["recordingId"] not in listed_ids


@pytest.mark.parametrize(
    ("query", "field"),
    [("?limit=0", "limit"), ("?limit=abc", "limit"), ("?limit=101", "limit"), ("?cursor=bad", "cursor")],
)
async def test_a_bad_list_query_is_400_naming_the_parameter(suite, http, query, field):
    status, answer, _ = await listed(suite, http, query)
    assert (status, answer["field"]) == (400, field)


async def test_a_stopped_recording_is_linked_to_its_rooms_meeting(suite, http):
    user = new_user()
    status, registered, _ = await call(http, "POST", suite.url + "/auth/register", key=suite.api_key, json=user)
    assert status == 201
    host_id = registered["data"]["user"]["_id"]
    status, room, _ = await call(
        http, "POST", suite.url + "/room/create", key=suite.api_key, json={"name": "Recorded room", "type": "webinar"}
    )
    assert status == 201
    room_id = room["data"]["id"]
    status, created, _ = await call(
        http,
        "POST",
        suite.url + "/meetings/create",
        key=suite.api_key,
        json={"title": "Recorded webinar", "hostId": host_id, "transcriptEnabled": False},
    )
    assert status == 201
    meeting_id = created["data"]["_id"]
    status, _, _ = await call(
        http,
        "POST",
        f"{suite.url}/meetings/update/{meeting_id}",
        key=suite.api_key,
        json={"userId": host_id, "roomId": room_id},
    )
    assert status == 204
    _, _, body = await start(suite, http, roomId=room_id)
    stopped = {"recordingId": body["recordingId"], "streamId": SEED_STREAM_ID, "endTime": 1756364400000}
    assert (await stop(suite, http, stopped))[0] == 204
    assert (await stop(suite, http, stopped))[0] == 204

    async def recording_ids() -> list[str]:
        status, answer, _ = await call(http, "GET", f"{suite.url}/meetings/list/{host_id}", key=suite.api_key)
        assert status == 200
        [meeting] = answer["data"]
        return list(meeting["recordingIds"])

    # The meetings service consumes the event in its own process: wait for its effect.
    deadline = time.monotonic() + 10
    while body["recordingId"] not in await recording_ids():
        assert time.monotonic() < deadline, "the recording never reached its meeting"
        await asyncio.sleep(0.05)
    assert await recording_ids() == [body["recordingId"]]
