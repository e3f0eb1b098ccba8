"""Rooms, meetings and room files over HTTP through the gateway, with meetings and auth behind it;
and the events (recording stopped, summary generated) that change meetings, on real NATS."""

import asyncio
import hashlib
import re
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from meetings.config import MeetingsConfig
from restclient import call, new_user
from webinar_contracts import NotFound, RequestContext
from webinar_contracts.auth import RESOLVE_API_KEY, ResolveApiKey
from webinar_contracts.meetings import GET_MEETING, GetMeeting
from webinar_contracts.recording import RECORDING_STOPPED, RecordingStopped
from webinar_contracts.transcription import SUMMARY_GENERATED, SummaryGenerated
from webinar_runtime.bus import Bus

UNKNOWN_ID = "0123456789abcdef01234567"
STORED_NAME = re.compile(r"^[0-9a-f]{16}_[A-Za-z0-9._-]+$")
BOUNDARY = "webinar-test-boundary"


# -- helpers ------------------------------------------------------------------------


async def registered_user(suite, http, key: str | None = None) -> tuple[str, str]:
    """A new user of the key's tenant: (user id, access token)."""
    key = key or suite.api_key
    body = new_user()
    status, answer, _ = await call(http, "POST", suite.url + "/auth/register", key=key, json=body)
    assert status == 201
    _, login, _ = await call(
        http, "POST", suite.url + "/auth/login", key=key,
        json={"userName": body["email"], "password": body["password"]},
    )  # fmt: skip
    return answer["data"]["user"]["_id"], login["data"]["accessToken"]


async def new_room(suite, http, key: str | None = None) -> str:
    status, answer, _ = await call(
        http,
        "POST",
        suite.url + "/room/create",
        key=key or suite.api_key,
        json={"name": "Weekly sync", "type": "meeting"},
    )
    assert status == 201
    return str(answer["data"]["id"])


async def new_meeting(suite, http, host_id: str, title: str = "Planning", key: str | None = None) -> dict[str, Any]:
    status, answer, _ = await call(
        http, "POST", suite.url + "/meetings/create", key=key or suite.api_key,
        json={"title": title, "hostId": host_id, "transcriptEnabled": True},
    )  # fmt: skip
    assert status == 201, answer
    return dict(answer["data"])


async def meetings_of(suite, http, user_id: str, query: str = "") -> list[dict[str, Any]]:
    status, answer, _ = await call(http, "GET", f"{suite.url}/meetings/list/{user_id}{query}", key=suite.api_key)
    assert status == 200
    return list(answer["data"])


def multipart(disposition: str | bytes, content: bytes, content_type: str = "text/plain") -> bytes:
    """A multipart body written byte for byte, as curl or a hostile client would send it."""
    if isinstance(disposition, str):
        disposition = disposition.encode()
    return (
        f"--{BOUNDARY}\r\n".encode()
        + b"Content-Disposition: "
        + disposition
        + f"\r\nContent-Type: {content_type}\r\n\r\n".encode()
        + content
        + f"\r\n--{BOUNDARY}--\r\n".encode()
    )


async def upload(
    suite, http, room_id: str, body: bytes | AsyncIterator[bytes], key: str | None = None
) -> tuple[int, Any]:
    headers = {"x-api-key": key or suite.api_key, "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
    async with http.post(f"{suite.url}/room/{room_id}/upload", data=body, headers=headers) as response:
        return response.status, await response.json(content_type=None)


async def upload_named(suite, http, room_id: str, filename: str, content: bytes) -> tuple[int, Any]:
    return await upload(suite, http, room_id, multipart(f'form-data; name="file"; filename="{filename}"', content))


async def streamed_file(filename: str, size: int, seed: bytes) -> AsyncIterator[bytes]:
    """A multipart body around `size` pseudo-random bytes, produced piece by piece."""
    yield f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'.encode()
    yield b"Content-Type: application/octet-stream\r\n\r\n"
    for block in pseudo_random_blocks(size, seed):
        yield block
    yield f"\r\n--{BOUNDARY}--\r\n".encode()


def pseudo_random_blocks(size: int, seed: bytes, block: int = 64 * 1024) -> list[bytes]:
    out, made, counter = [], 0, 0
    while made < size:
        piece = b"".join(hashlib.sha256(seed + (counter * 2048 + i).to_bytes(8, "big")).digest() for i in range(2048))
        piece = piece[: min(block, size - made)]
        out.append(piece)
        made += len(piece)
        counter += 1
    return out


async def download(suite, http, room_id: str, filename: str, key: str | None = None) -> tuple[int, bytes, Any]:
    url = f"{suite.url}/room/{room_id}/files/{filename}/download"
    async with http.get(url, headers={"x-api-key": key or suite.api_key}) as response:
        return response.status, await response.read(), response.headers


def files_named(root: Path, names: set[str]) -> list[Path]:
    """Every file or directory under `root` with one of `names`."""
    return [path for path in root.rglob("*") if path.name in names]


def max_file_bytes(suite) -> int:
    configured = suite.env.get("ROOM_FILE_MAX_BYTES")
    return int(configured) if configured else int(MeetingsConfig.__dataclass_fields__["max_file_bytes"].default)


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 10.0) -> None:
    """Wait for an effect of an event on the bus (the consumer is another process)."""
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError("the event had no effect in time")
        await asyncio.sleep(0.05)


@pytest.fixture
async def bus(nats_url) -> AsyncIterator[Bus]:
    connected = await Bus.connect(nats_url, service="tests", instance="meetings-rest", request_timeout=5)
    yield connected
    await connected.close()


@pytest.fixture
async def tenant_context(suite, bus) -> RequestContext:
    access = await bus.request(RESOLVE_API_KEY, ResolveApiKey(api_key=suite.api_key))
    return RequestContext(tenant_id=access.tenant_id)


# -- rooms --------------------------------------------------------------------------


async def test_create_room_answers_201_with_the_seed_shape(suite, http):
    status, answer, _ = await call(
        http, "POST", suite.url + "/room/create", key=suite.api_key,
        json={"name": "Quarterly review", "type": "conference", "maxParticipants": 40, "isPrivate": True},
    )  # fmt: skip
    assert status == 201
    assert answer["success"] is True
    assert answer["msg"] == "Room created Successfully!"
    assert set(answer["data"]) == {"id", "name", "type", "p2p"}
    assert (answer["data"]["name"], answer["data"]["type"]) == ("Quarterly review", "conference")
    assert len(answer["data"]["id"]) == 24


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"type": "party"}, "type"),
        ({"type": None}, "type"),
        ({"name": "  "}, "name"),
        ({"maxParticipants": 0}, "maxParticipants"),
        ({"maxParticipants": 1_000_000}, "maxParticipants"),
        ({"maxParticipants": "ten"}, "maxParticipants"),
        ({"isPrivate": "yes"}, "isPrivate"),
    ],
)
async def test_invalid_room_is_400_naming_the_field(suite, http, change, field):
    body = {"name": "Town hall", "type": "webinar", **change}
    status, answer, _ = await call(http, "POST", suite.url + "/room/create", key=suite.api_key, json=body)
    assert (status, answer["field"]) == (400, field)


async def test_room_needs_an_api_key(suite, http):
    status, _, _ = await call(http, "POST", suite.url + "/room/create", json={"name": "x", "type": "live"})
    assert status == 401


# -- meetings -----------------------------------------------------------------------


async def test_create_meeting_answers_201_with_the_meeting(suite, http):
    host_id, _ = await registered_user(suite, http)
    meeting = await new_meeting(suite, http, host_id, title="Roadmap")
    assert set(meeting) == {
        "_id", "title", "hostId", "roomId", "recordingIds", "summaryGenerated", "transcriptEnabled", "createdAt"
    }  # fmt: skip
    assert (meeting["title"], meeting["hostId"], meeting["recordingIds"]) == ("Roadmap", host_id, [])
    assert (meeting["summaryGenerated"], meeting["transcriptEnabled"], meeting["roomId"]) == (False, True, None)
    assert meeting["createdAt"].endswith("Z")


@pytest.mark.parametrize(
    ("change", "field"),
    [({"title": ""}, "title"), ({"title": 7}, "title"), ({"hostId": None}, "hostId"), ({"transcriptEnabled": "no"},
     "transcriptEnabled")],
)  # fmt: skip
async def test_invalid_meeting_is_400_naming_the_field(suite, http, change, field):
    body = {"title": "Retro", "hostId": UNKNOWN_ID, "transcriptEnabled": False, **change}
    status, answer, _ = await call(http, "POST", suite.url + "/meetings/create", key=suite.api_key, json=body)
    assert (status, answer["field"]) == (400, field)


async def test_meeting_missing_transcript_flag_is_400(suite, http):
    body = {"title": "Retro", "hostId": UNKNOWN_ID}
    status, answer, _ = await call(http, "POST", suite.url + "/meetings/create", key=suite.api_key, json=body)
    assert (status, answer["message"]) == (400, "transcriptEnabled is required")


async def test_meeting_of_a_host_who_is_not_a_user_of_this_tenant_is_404(suite, http, essential_key):
    other_tenants_user, _ = await registered_user(suite, http, key=essential_key)
    for host_id in (UNKNOWN_ID, other_tenants_user, "not-an-id"):
        status, answer, _ = await call(
            http, "POST", suite.url + "/meetings/create", key=suite.api_key,
            json={"title": "Retro", "hostId": host_id, "transcriptEnabled": False},
        )  # fmt: skip
        assert (status, answer["field"]) == (404, "hostId")


async def test_with_a_token_the_host_must_be_the_token_user(suite, http):
    host_id, host_token = await registered_user(suite, http)
    _, other_token = await registered_user(suite, http)
    body = {"title": "Retro", "hostId": host_id, "transcriptEnabled": False}
    status, answer, _ = await call(
        http, "POST", suite.url + "/meetings/create", key=suite.api_key, token=other_token, json=body
    )
    assert (status, answer["field"]) == (403, "hostId")
    status, _, _ = await call(
        http, "POST", suite.url + "/meetings/create", key=suite.api_key, token=host_token, json=body
    )
    assert status == 201


async def test_update_meeting_answers_204_and_the_list_shows_the_changes(suite, http):
    host_id, _ = await registered_user(suite, http)
    meeting = await new_meeting(suite, http, host_id)
    room_id = await new_room(suite, http)
    changes = {"userId": host_id, "title": "Planning (moved)", "roomId": room_id, "recordingId": "1737978989992_59591",
               "summaryGenerated": True, "transcriptEnabled": False}  # fmt: skip
    status, answer, _ = await call(
        http, "POST", f"{suite.url}/meetings/update/{meeting['_id']}", key=suite.api_key, json=changes
    )
    assert (status, answer) == (204, None)
    [listed] = await meetings_of(suite, http, host_id)
    assert listed["title"] == "Planning (moved)"
    assert listed["roomId"] == room_id
    assert listed["recordingIds"] == ["1737978989992_59591"]
    assert (listed["summaryGenerated"], listed["transcriptEnabled"]) == (True, False)


async def test_a_recording_id_is_added_once_however_often_it_is_sent(suite, http):
    host_id, _ = await registered_user(suite, http)
    meeting = await new_meeting(suite, http, host_id)
    url = f"{suite.url}/meetings/update/{meeting['_id']}"
    for recording_id in ("rec-1", "rec-1", "rec-2", "rec-1"):
        status, _, _ = await call(
            http, "POST", url, key=suite.api_key, json={"userId": host_id, "recordingId": recording_id}
        )
        assert status == 204
    [listed] = await meetings_of(suite, http, host_id)
    assert listed["recordingIds"] == ["rec-1", "rec-2"]


async def test_update_refusals(suite, http, essential_key):
    host_id, host_token = await registered_user(suite, http)
    other_id, other_token = await registered_user(suite, http)
    meeting = await new_meeting(suite, http, host_id)
    url = f"{suite.url}/meetings/update/{meeting['_id']}"

    async def update(body, token=None, key=None, target=url):
        status, answer, _ = await call(http, "POST", target, key=key or suite.api_key, token=token, json=body)
        return status, (answer or {}).get("field")

    assert await update({"userId": host_id}, target=f"{suite.url}/meetings/update/{UNKNOWN_ID}") == (404, "meetingId")
    assert await update({"userId": host_id}, key=essential_key) == (404, "meetingId")
    assert await update({"userId": other_id, "title": "Mine now"}) == (403, "userId")
    assert await update({"userId": host_id, "title": "x"}, token=other_token) == (403, "userId")
    assert await update({"title": "No user"}) == (400, "userId")
    assert await update({"userId": host_id, "title": ""}) == (400, "title")
    assert await update({"userId": host_id, "roomId": UNKNOWN_ID}) == (404, "roomId")
    assert await update({"userId": host_id, "title": "Fine"}, token=host_token) == (204, None)
    [listed] = await meetings_of(suite, http, host_id)
    assert listed["title"] == "Fine"


async def test_list_is_newest_first_and_pages_with_limit_and_cursor(suite, http):
    host_id, _ = await registered_user(suite, http)
    titles = [f"Meeting {n}" for n in range(5)]
    for title in titles:
        await new_meeting(suite, http, host_id, title=title)
    status, first, _ = await call(http, "GET", f"{suite.url}/meetings/list/{host_id}?limit=2", key=suite.api_key)
    assert status == 200
    seen = [m["title"] for m in first["data"]]
    cursor = first["nextCursor"]
    while cursor:
        _, page, _ = await call(
            http, "GET", f"{suite.url}/meetings/list/{host_id}?limit=2&cursor={cursor}", key=suite.api_key
        )
        assert len(page["data"]) <= 2
        seen += [m["title"] for m in page["data"]]
        cursor = page["nextCursor"]
    assert seen == titles[::-1]
    everything = await meetings_of(suite, http, host_id)
    assert [m["title"] for m in everything] == titles[::-1]
    assert set(everything[0]) >= {"createdAt", "hostId", "recordingIds", "summaryGenerated", "title",
                                  "transcriptEnabled", "_id"}  # fmt: skip


async def test_list_refusals_and_tenant_scope(suite, http, essential_key):
    host_id, _ = await registered_user(suite, http)
    _, other_token = await registered_user(suite, http)
    await new_meeting(suite, http, host_id)
    base = f"{suite.url}/meetings/list/{host_id}"
    for query, field in (("?limit=0", "limit"), ("?limit=101", "limit"), ("?limit=many", "limit"),
                         ("?cursor=not-a-cursor", "cursor")):  # fmt: skip
        status, answer, _ = await call(http, "GET", base + query, key=suite.api_key)
        assert (status, answer["field"]) == (400, field)
    status, answer, _ = await call(http, "GET", base, key=suite.api_key, token=other_token)
    assert (status, answer["field"]) == (403, "userId")
    status, answer, _ = await call(http, "GET", base, key=essential_key)
    assert (status, answer["data"]) == (200, [])


# -- room files ---------------------------------------------------------------------


async def test_upload_answers_with_the_seed_shape_and_the_file_comes_back(suite, http):
    room_id = await new_room(suite, http)
    content = b"Agenda:\n1. budget\n2. hiring\n"
    status, answer = await upload_named(suite, http, room_id, "Agenda 2026.txt", content)
    assert status == 200
    assert (answer["success"], answer["msg"]) == (True, "File uploaded successfully!")
    stored = answer["data"]
    assert set(stored) == {"originalName", "filename", "size", "roomId", "path"}
    assert (stored["originalName"], stored["size"], stored["roomId"]) == ("Agenda 2026.txt", len(content), room_id)
    assert STORED_NAME.match(stored["filename"])
    assert stored["filename"].endswith("_Agenda_2026.txt")
    assert stored["path"] == f"documents/{room_id}/{stored['filename']}"

    status, details, _ = await call(http, "GET", f"{suite.url}/room/{room_id}/files/{stored['filename']}",
                                    key=suite.api_key)  # fmt: skip
    assert (status, details["success"], details["msg"]) == (200, True, "File retrieved successfully!")
    assert {k: details["data"][k] for k in ("filename", "originalName", "size", "path")} == {
        k: stored[k] for k in ("filename", "originalName", "size", "path")
    }
    assert details["data"]["uploadDate"].endswith("Z")

    status, body, headers = await download(suite, http, room_id, stored["filename"])
    assert (status, body) == (200, content)
    assert headers["Content-Type"] == "text/plain"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Content-Disposition"] == (
        "attachment; filename=\"Agenda_2026.txt\"; filename*=UTF-8''Agenda%202026.txt"
    )


async def test_two_uploads_of_one_name_are_stored_apart(suite, http):
    room_id = await new_room(suite, http)
    _, first = await upload_named(suite, http, room_id, "notes.md", b"first")
    _, second = await upload_named(suite, http, room_id, "notes.md", b"second")
    assert first["data"]["filename"] != second["data"]["filename"]
    assert (await download(suite, http, room_id, first["data"]["filename"]))[1] == b"first"
    assert (await download(suite, http, room_id, second["data"]["filename"]))[1] == b"second"


async def test_a_large_file_goes_up_and_down_intact(suite, http):
    room_id = await new_room(suite, http)
    size = 6 * 1024 * 1024 + 12345
    expected = hashlib.sha256(b"".join(pseudo_random_blocks(size, b"large"))).hexdigest()
    status, answer = await upload(suite, http, room_id, streamed_file("recording-notes.bin", size, b"large"))
    assert (status, answer["data"]["size"]) == (200, size)
    status, body, headers = await download(suite, http, room_id, answer["data"]["filename"])
    assert (status, len(body), int(headers["Content-Length"])) == (200, size, size)
    assert hashlib.sha256(body).hexdigest() == expected
    assert headers["Content-Type"] == "application/octet-stream"


async def test_an_empty_file_is_stored_with_size_0(suite, http):
    room_id = await new_room(suite, http)
    status, answer = await upload_named(suite, http, room_id, "empty.txt", b"")
    assert (status, answer["data"]["size"]) == (200, 0)
    status, body, _ = await download(suite, http, room_id, answer["data"]["filename"])
    assert (status, body) == (200, b"")


async def test_a_file_over_the_limit_is_413_and_leaves_nothing(suite, http):
    room_id = await new_room(suite, http)
    limit = max_file_bytes(suite)
    status, answer = await upload(suite, http, room_id, streamed_file("huge.bin", limit + 1, b"huge"))
    assert (status, answer["field"]) == (413, "file")
    status, answer, _ = await call(http, "DELETE", f"{suite.url}/room/{room_id}/files", key=suite.api_key)
    assert (status, answer["data"]["deleted"]) == (200, 0)


@pytest.mark.parametrize(
    "body",
    [
        multipart('form-data; name="notes"', b"no file here"),
        multipart('form-data; name="file"; filename=""', b""),
        multipart('form-data; name="file"', b"a field, not a file"),
        b"",
    ],
    ids=["other-field", "no-file-chosen", "file-without-name", "empty-body"],
)
async def test_upload_without_a_file_is_400(suite, http, body):
    room_id = await new_room(suite, http)
    status, answer = await upload(suite, http, room_id, body)
    assert (status, answer["field"]) == (400, "file")


async def test_upload_that_is_not_multipart_is_400(suite, http):
    room_id = await new_room(suite, http)
    status, answer, _ = await call(http, "POST", f"{suite.url}/room/{room_id}/upload", key=suite.api_key,
                                   json={"file": "aGVsbG8="})  # fmt: skip
    assert (status, answer["field"]) == (400, "file")


async def test_upload_with_a_nul_byte_in_the_part_header_is_400(suite, http):
    room_id = await new_room(suite, http)
    status, answer = await upload(
        suite, http, room_id, multipart(b'form-data; name="file"; filename="nul\x00.txt"', b"x")
    )
    assert (status, answer["field"]) == (400, "file")


@pytest.mark.parametrize(
    ("disposition", "original"),
    [
        ('form-data; name="file"; filename="../../etc/passwd"', "../../etc/passwd"),
        ('form-data; name="file"; filename="..\\\\..\\\\boot.ini"', "..\\..\\boot.ini"),
        ("form-data; name=\"file\"; filename*=UTF-8''evil%00name.txt", "evil\x00name.txt"),
        ("form-data; name=\"file\"; filename*=UTF-8''line%0D%0Abreak.txt", "line\r\nbreak.txt"),
        ('form-data; name="file"; filename="...."', "...."),
    ],
    ids=["dot-dot-slash", "backslashes", "nul", "newline", "only-dots"],
)
async def test_hostile_names_are_stored_under_safe_generated_names(suite, http, disposition, original):
    room_id = await new_room(suite, http)
    status, answer = await upload(suite, http, room_id, multipart(disposition, b"root:x:0:0"))
    assert status == 200
    stored = answer["data"]
    assert stored["originalName"] == original
    assert STORED_NAME.match(stored["filename"])
    assert stored["path"] == f"documents/{room_id}/{stored['filename']}"
    blobs = Path(suite.env["BLOB_DIR"])
    assert files_named(blobs.parent, {"passwd", "boot.ini", "etc"}) == []
    on_disk = files_named(blobs.parent, {stored["filename"]})
    assert len(on_disk) == 1
    assert on_disk[0].is_relative_to(blobs)
    status, body, headers = await download(suite, http, room_id, stored["filename"])
    assert (status, body) == (200, b"root:x:0:0")
    disposition_header = headers["Content-Disposition"]
    assert disposition_header.startswith("attachment; ")
    assert not any(ord(ch) < 32 for ch in disposition_header)
    assert "/" not in disposition_header


async def test_files_of_unknown_rooms_and_names_are_404(suite, http, essential_key):
    room_id = await new_room(suite, http)
    _, stored = await upload_named(suite, http, room_id, "slides.pdf", b"%PDF-1.7")
    filename = stored["data"]["filename"]
    status, answer = await upload_named(suite, http, UNKNOWN_ID, "slides.pdf", b"%PDF-1.7")
    assert (status, answer["field"]) == (404, "roomId")
    status, answer = await upload(
        suite, http, room_id, multipart('form-data; name="file"; filename="x.txt"', b"x"), key=essential_key
    )
    assert (status, answer["field"]) == (404, "roomId")
    for url in (f"/room/{room_id}/files/0123456789abcdef_nothing.txt", f"/room/{UNKNOWN_ID}/files/{filename}",
                f"/room/{room_id}/files/..%2F..%2Fetc%2Fpasswd"):  # fmt: skip
        status, answer, _ = await call(http, "GET", suite.url + url, key=suite.api_key)
        assert (status, answer["field"]) == (404, "filename")
        status, _, _ = await download(suite, http, *url.removeprefix("/room/").split("/files/"))
        assert status == 404
    status, answer, _ = await call(http, "GET", f"{suite.url}/room/{room_id}/files/{filename}", key=essential_key)
    assert status == 404
    status, answer, _ = await call(http, "DELETE", f"{suite.url}/room/{UNKNOWN_ID}/files", key=suite.api_key)
    assert (status, answer["field"]) == (404, "roomId")


async def test_delete_room_files_removes_records_and_bytes_and_says_how_many(suite, http):
    room_id = await new_room(suite, http)
    other_room = await new_room(suite, http)
    names = []
    for n in range(3):
        _, answer = await upload_named(suite, http, room_id, f"part-{n}.txt", b"x" * n)
        names.append(answer["data"]["filename"])
    _, kept = await upload_named(suite, http, other_room, "keep.txt", b"keep")
    status, answer, _ = await call(http, "DELETE", f"{suite.url}/room/{room_id}/files", key=suite.api_key)
    assert status == 200
    assert answer == {"success": True, "data": {"roomId": room_id, "deleted": 3},
                      "msg": "Files deleted successfully!"}  # fmt: skip
    for name in names:
        status, _, _ = await call(http, "GET", f"{suite.url}/room/{room_id}/files/{name}", key=suite.api_key)
        assert status == 404
    assert files_named(Path(suite.env["BLOB_DIR"]), set(names)) == []
    assert (await download(suite, http, other_room, kept["data"]["filename"]))[1] == b"keep"
    status, answer, _ = await call(http, "DELETE", f"{suite.url}/room/{room_id}/files", key=suite.api_key)
    assert (status, answer["data"]["deleted"]) == (200, 0)


# -- what other services ask and tell ---------------------------------------------------


async def test_other_services_get_a_meeting_over_the_bus_within_its_tenant(suite, http, bus, tenant_context):
    host_id, _ = await registered_user(suite, http)
    meeting = await new_meeting(suite, http, host_id, title="Design review")
    info = await bus.request(GET_MEETING, GetMeeting(meeting_id=meeting["_id"]), context=tenant_context)
    assert (info.id, info.title, info.host_id, info.transcript_enabled) == (
        meeting["_id"],
        "Design review",
        host_id,
        True,
    )
    with pytest.raises(NotFound):
        await bus.request(
            GET_MEETING, GetMeeting(meeting_id=meeting["_id"]), context=RequestContext(tenant_id=UNKNOWN_ID)
        )


async def test_recording_stopped_links_the_recording_to_the_rooms_meetings_once(suite, http, bus, tenant_context):
    host_id, _ = await registered_user(suite, http)
    room_id = await new_room(suite, http)
    meeting = await new_meeting(suite, http, host_id)
    await call(http, "POST", f"{suite.url}/meetings/update/{meeting['_id']}", key=suite.api_key,
               json={"userId": host_id, "roomId": room_id})  # fmt: skip
    recording_id = f"{int(time.time() * 1000)}_{secrets.randbelow(10**6)}"
    stopped = RecordingStopped(recording_id=recording_id, room_id=room_id, stream_id="755961800257348400")
    await bus.publish(RECORDING_STOPPED, stopped, context=tenant_context)

    async def linked() -> bool:
        return (await meetings_of(suite, http, host_id))[0]["recordingIds"] == [recording_id]

    await eventually(linked)
    # Replay it (a redelivery carries the same content) and follow with a fresh one to know both were handled.
    await bus.publish(RECORDING_STOPPED, stopped, context=tenant_context)
    later = RecordingStopped(recording_id=recording_id + "-b", room_id=room_id, stream_id="1")
    await bus.publish(RECORDING_STOPPED, later, context=tenant_context)

    async def both_linked() -> bool:
        return (await meetings_of(suite, http, host_id))[0]["recordingIds"] == [recording_id, recording_id + "-b"]

    await eventually(both_linked)


async def test_summary_generated_sets_summary_generated_and_replays_change_nothing(suite, http, bus, tenant_context):
    host_id, _ = await registered_user(suite, http)
    meetings = [await new_meeting(suite, http, host_id, title=f"Meeting {n}") for n in range(2)]
    events = [SummaryGenerated(meeting_id=m["_id"]) for m in meetings]
    for event in events:
        await bus.publish(SUMMARY_GENERATED, event, context=tenant_context)

    async def both_summarised() -> bool:
        return all(m["summaryGenerated"] for m in await meetings_of(suite, http, host_id))

    await eventually(both_summarised)
    before = await meetings_of(suite, http, host_id)
    for event in events:  # every event again
        await bus.publish(SUMMARY_GENERATED, event, context=tenant_context)
    # A last event on another meeting: once it shows, the replays before it were handled too.
    marker = await new_meeting(suite, http, host_id, title="Marker")
    await bus.publish(SUMMARY_GENERATED, SummaryGenerated(meeting_id=marker["_id"]), context=tenant_context)

    async def marker_summarised() -> bool:
        return (await meetings_of(suite, http, host_id))[0]["summaryGenerated"]

    await eventually(marker_summarised)
    assert (await meetings_of(suite, http, host_id))[1:] == before
