"""Room chat: the rules of a message (pure), its Redis store (capped, ordered, expiring,
rate-counted) and the handlers on the real Redis and MongoDB-compatible servers."""

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from meetings.domain import (
    RoomFile,
    chat_name,
    chat_text,
    check_chat_rate,
    check_may_delete_message,
    download_url,
    new_chat_message,
    strip_control_characters,
)
from meetings.handlers import ChatHandlers, ChatLimits
from meetings.store import ChatStore, MeetingsStore
from webinar_contracts import Forbidden, InvalidInput, NotFound, RateLimited, RequestContext, TooLarge
from webinar_contracts.meetings import DeleteChatMessage, GetChatHistory, KeepChat, SendChatMessage
from webinar_runtime.stores import connect_redis

TENANT = RequestContext(tenant_id="tenant-chat")

# --- the rules -----------------------------------------------------------------------


def test_control_and_bidirectional_characters_are_stripped_and_line_breaks_kept():
    raw = "hi\x00 there\x1b[31m\u202eevil\u202c\r\nnext\tline\x7f\x85"
    assert strip_control_characters(raw, keep_newlines=True) == "hi there[31mevil\nnext line"
    assert chat_text("  \x07 spaced out \n ", max_chars=50) == "spaced out"


def test_a_message_longer_than_the_limit_is_refused_after_cleaning():
    assert chat_text("a" * 10 + "\x00" * 5, max_chars=10) == "a" * 10
    with pytest.raises(TooLarge, match="message is longer than 10 characters"):
        chat_text("a" * 11, max_chars=10)


def test_a_senders_name_is_one_clean_bounded_line_or_guest():
    assert chat_name("  Ada\n\x1bLovelace ") == "Ada Lovelace"
    assert chat_name("\x00\n ") == "Guest"
    assert len(chat_name("x" * 500)) == 100


def test_a_message_needs_text_or_a_file():
    with pytest.raises(InvalidInput, match="message is empty"):
        new_chat_message(room_id="r", peer_id="p", name="n", text="", timestamp_ms=1)
    message = new_chat_message(room_id="r", peer_id="p", name="", text="hello", timestamp_ms=7)
    assert (message.room_id, message.name, message.message, message.timestamp) == ("r", "Guest", "hello", 7)
    assert len(message.id) == 16


def test_past_the_rate_limit_the_sender_is_told_how_long_to_wait():
    check_chat_rate(5, limit=5, window=10, retry_after=3.2)
    with pytest.raises(RateLimited, match="at most 5 every 10 seconds; wait 4 s") as refused:
        check_chat_rate(6, limit=5, window=10, retry_after=3.2)
    assert refused.value.retry_after == 4


def test_only_hosts_and_cohosts_delete_messages():
    check_may_delete_message("host")
    check_may_delete_message("co-host")
    for role in ("viewer", "participant", ""):
        with pytest.raises(Forbidden, match="only the host and co-hosts may delete a chat message"):
            check_may_delete_message(role)


def test_the_download_link_is_the_gateways_route_with_escaped_parts():
    assert download_url("room 1", "ab_c.txt") == "/room/room%201/files/ab_c.txt/download"


# --- the store on a real Redis ---------------------------------------------------------


@pytest.fixture
async def chat(redis_url) -> AsyncIterator[ChatStore]:
    redis = await connect_redis(redis_url, attempts=3)
    yield ChatStore(redis, max_messages=3, retention_seconds=60, rate_window_seconds=30)
    await redis.aclose()


def room() -> str:
    return f"room-{uuid.uuid4().hex[:8]}"


def message(room_id: str, text: str, ts: int):
    return new_chat_message(room_id=room_id, peer_id="p", name="Sam", text=text, timestamp_ms=ts)


async def test_history_is_in_order_capped_and_expires_after_the_retention(chat):
    room_id = room()
    for i in range(5):
        await chat.append("t", message(room_id, f"m{i}", i))
    assert [m.message for m in await chat.history("t", room_id)] == ["m2", "m3", "m4"]
    key = chat.room_key("t", room_id)
    assert key.startswith("meetings:chat:room:")
    assert 0 < await chat.redis.ttl(key) <= 60
    await chat.redis.expire(key, 5)
    await chat.keep("t", room_id)
    assert await chat.redis.ttl(key) > 5


async def test_rooms_and_tenants_have_separate_histories(chat):
    room_id = room()
    await chat.append("t", message(room_id, "ours", 1))
    assert await chat.history("other-tenant", room_id) == []
    assert await chat.history("t", room()) == []


async def test_removing_a_message_by_id_keeps_the_others(chat):
    room_id = room()
    first, second = message(room_id, "one", 1), message(room_id, "two", 2)
    await chat.append("t", first)
    await chat.append("t", second)
    assert await chat.remove("t", room_id, first.id) is True
    assert await chat.remove("t", room_id, first.id) is False
    assert [m.id for m in await chat.history("t", room_id)] == [second.id]


async def test_the_rate_counter_counts_per_sender_in_a_window(chat):
    room_id = room()
    assert [(await chat.count_sent("t", room_id, "user:a"))[0] for _ in range(3)] == [1, 2, 3]
    sent, left = await chat.count_sent("t", room_id, "user:b")
    assert sent == 1
    assert 0 < left <= 30
    assert chat.rate_key("t", room_id, "user:a").startswith("meetings:chat:rate:")


# --- the handlers ---------------------------------------------------------------------


@pytest.fixture
def handlers(chat: ChatStore, store: MeetingsStore) -> ChatHandlers:
    return ChatHandlers(
        chat=chat, files=store, limits=ChatLimits(max_chars=20, rate_messages=2, rate_window=30), clock=lambda: 12.5
    )


def send(room_id: str, text: str, *, sender: str = "user:a", filename: str | None = None) -> SendChatMessage:
    return SendChatMessage(
        room_id=room_id, peer_id="sock-1", sender_key=sender, name="Sam", message=text, filename=filename
    )


async def test_a_sent_message_is_kept_stamped_and_returned_by_the_history(handlers):
    room_id = room()
    sent = await handlers.send(send(room_id, " hello\x00 "), TENANT)
    assert (sent.message, sent.name, sent.timestamp, sent.peer_id, sent.file) == ("hello", "Sam", 12500, "sock-1", None)
    history = await handlers.history(GetChatHistory(room_id=room_id), TENANT)
    assert history.messages == [sent]


async def test_a_sender_past_its_rate_is_refused_and_others_are_not(handlers):
    room_id = room()
    await handlers.send(send(room_id, "one"), TENANT)
    await handlers.send(send(room_id, "two"), TENANT)
    with pytest.raises(RateLimited):
        await handlers.send(send(room_id, "three"), TENANT)
    await handlers.send(send(room_id, "mine", sender="user:b"), TENANT)
    # An empty message is refused before it is counted.
    with pytest.raises(InvalidInput, match="message is empty"):
        await handlers.send(send(room_id, " \x01 ", sender="user:c"), TENANT)
    assert (await handlers.chat.count_sent("tenant-chat", room_id, "user:c"))[0] == 1


async def test_a_file_message_names_a_file_of_the_room(handlers, store):
    room_id = room()
    with pytest.raises(NotFound, match="no such file in this room"):
        await handlers.send(send(room_id, "", filename="0123456789abcdef_notes.txt", sender="user:x"), TENANT)
    with pytest.raises(NotFound, match="no such file in this room"):
        await handlers.send(send(room_id, "", filename="../../etc/passwd", sender="user:y"), TENANT)
    await store.insert_file(
        RoomFile(
            tenant_id="tenant-chat",
            room_id=room_id,
            filename="0123456789abcdef_notes.txt",
            original_name="Notes.txt",
            content_type="text/plain",
            size=12,
            uploaded_at=datetime.now(UTC),
        )
    )
    sent = await handlers.send(send(room_id, "", filename="0123456789abcdef_notes.txt"), TENANT)
    assert sent.file is not None
    assert (sent.file.original_name, sent.file.size, sent.file.url) == (
        "Notes.txt",
        12,
        f"/room/{room_id}/files/0123456789abcdef_notes.txt/download",
    )


async def test_deleting_needs_a_moderator_and_an_existing_message(handlers):
    room_id = room()
    sent = await handlers.send(send(room_id, "oops"), TENANT)
    with pytest.raises(Forbidden):
        await handlers.delete(DeleteChatMessage(room_id=room_id, message_id=sent.id, role="viewer"), TENANT)
    deleted = await handlers.delete(DeleteChatMessage(room_id=room_id, message_id=sent.id, role="co-host"), TENANT)
    assert (deleted.room_id, deleted.id) == (room_id, sent.id)
    with pytest.raises(NotFound, match="no such message"):
        await handlers.delete(DeleteChatMessage(room_id=room_id, message_id=sent.id, role="host"), TENANT)
    assert (await handlers.history(GetChatHistory(room_id=room_id), TENANT)).messages == []
    await handlers.keep(KeepChat(room_id=room_id), TENANT)  # harmless on an empty history
