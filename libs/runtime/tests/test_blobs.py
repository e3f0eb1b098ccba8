"""Blob stores: the same behaviour from a local directory and from a real JetStream object store."""

import hashlib
import os
import uuid
from collections.abc import AsyncIterator

import nats
import pytest
from nats.js.api import ObjectMeta, ObjectMetaOptions

from webinar_runtime.blobs import (
    BlobNotFound,
    BlobStore,
    BlobTooLarge,
    InvalidBlobKey,
    JetStreamBlobStore,
    LocalDirectoryBlobStore,
    stream_of,
)

CHUNK = 64 * 1024


@pytest.fixture
async def js(nats_url):
    nc = await nats.connect(nats_url)
    yield nc.jetstream()
    await nc.drain()


@pytest.fixture(params=["local", "jetstream"])
async def store(request, tmp_path, js) -> BlobStore:
    if request.param == "local":
        return LocalDirectoryBlobStore(tmp_path / "blobs")
    return await JetStreamBlobStore.ensure(js, f"test_{uuid.uuid4().hex[:12]}", chunk_size=CHUNK, ttl=600)


async def read_all(store: BlobStore, key: str, **kwargs) -> bytes:
    return b"".join([chunk async for chunk in store.read(key, **kwargs)])


async def failing_after(data: bytes) -> AsyncIterator[bytes]:
    yield data
    raise ConnectionResetError("the sender went away")


async def test_what_is_written_reads_back_whole_and_by_range(store):
    data = os.urandom(3 * CHUNK + 123)
    assert await store.write("rooms/a/b.bin", stream_of(data, 10_000)) == len(data)
    assert await store.size("rooms/a/b.bin") == len(data)
    assert await read_all(store, "rooms/a/b.bin") == data
    for offset, length in ((0, 1), (CHUNK - 1, 2), (CHUNK, CHUNK), (2 * CHUNK + 5, 10**9), (len(data), 10)):
        assert await read_all(store, "rooms/a/b.bin", offset=offset, length=length) == data[offset : offset + length]


async def test_reads_come_in_chunks_no_larger_than_asked(store):
    data = os.urandom(2 * CHUNK)
    await store.write("k", stream_of(data, CHUNK))
    sizes = [len(chunk) async for chunk in store.read("k", chunk_size=1000)]
    assert max(sizes) == 1000
    assert sum(sizes) == len(data)


async def test_an_empty_blob_exists_with_size_0(store):
    assert await store.write("empty", stream_of(b"")) == 0
    assert await store.size("empty") == 0
    assert await read_all(store, "empty") == b""


async def test_a_write_past_max_bytes_is_refused_and_keeps_nothing(store):
    with pytest.raises(BlobTooLarge):
        await store.write("big", stream_of(b"x" * (CHUNK + 1), 1000), max_bytes=CHUNK)
    assert await store.size("big") is None
    assert await store.write("exact", stream_of(b"x" * CHUNK, 1000), max_bytes=CHUNK) == CHUNK


async def test_a_failed_write_keeps_the_previous_blob(store):
    await store.write("doc", stream_of(b"first version"))
    with pytest.raises(ConnectionResetError):
        await store.write("doc", failing_after(b"half of the sec"))
    assert await read_all(store, "doc") == b"first version"


async def test_a_second_write_replaces_the_first(store):
    await store.write("doc", stream_of(os.urandom(3 * CHUNK)))
    await store.write("doc", stream_of(b"short"))
    assert await read_all(store, "doc") == b"short"


async def test_missing_blobs(store):
    assert await store.size("nothing/here") is None
    assert await store.delete("nothing/here") is False
    with pytest.raises(BlobNotFound):
        await read_all(store, "nothing/here")


async def test_delete_removes_the_blob(store):
    await store.write("gone/soon", stream_of(b"bytes"))
    assert await store.delete("gone/soon") is True
    assert await store.size("gone/soon") is None
    with pytest.raises(BlobNotFound):
        await read_all(store, "gone/soon")


@pytest.mark.parametrize(
    "key", ["../escape", "a/../../b", "/etc/passwd", "a//b", ".hidden", "a/./b", "new\nline", "nul\x00", "", "a/"]
)
async def test_unsafe_keys_are_refused(store, key):
    with pytest.raises(InvalidBlobKey):
        await store.write(key, stream_of(b"x"))
    with pytest.raises(InvalidBlobKey):
        await store.size(key)


async def test_local_blobs_stay_inside_their_directory(tmp_path):
    store = LocalDirectoryBlobStore(tmp_path / "root")
    await store.write("rooms/t1/r1/f.txt", stream_of(b"x"))
    assert (tmp_path / "root" / "rooms" / "t1" / "r1" / "f.txt").read_bytes() == b"x"
    assert sorted(p.name for p in (tmp_path / "root" / "rooms" / "t1" / "r1").iterdir()) == ["f.txt"]


async def test_jetstream_blobs_are_nats_object_store_objects(js):
    bucket = f"compat_{uuid.uuid4().hex[:12]}"
    ours = await JetStreamBlobStore.ensure(js, bucket, chunk_size=CHUNK)
    theirs = await js.object_store(bucket)
    data = os.urandom(2 * CHUNK + 7)
    await ours.write("written/by/us", stream_of(data, 5000))
    result = await theirs.get("written/by/us")
    assert result.data == data
    assert result.info.size == len(data)
    other = os.urandom(CHUNK + 3)
    await theirs.put("written/by/nats-py", other, meta=ObjectMeta(options=ObjectMetaOptions(max_chunk_size=CHUNK)))
    assert await read_all(ours, "written/by/nats-py", offset=CHUNK - 1, length=3) == other[CHUNK - 1 : CHUNK + 2]
    assert hashlib.sha256(await read_all(ours, "written/by/nats-py")).digest() == hashlib.sha256(other).digest()


async def test_jetstream_delete_frees_the_chunks(js):
    store = await JetStreamBlobStore.ensure(js, f"purge_{uuid.uuid4().hex[:12]}", chunk_size=CHUNK)
    await store.write("staged", stream_of(os.urandom(4 * CHUNK)))
    await store.delete("staged")
    state = (await js.stream_info(store.stream)).state
    assert state.bytes < CHUNK  # only the small tombstone remains


async def test_a_directory_of_blobs_is_not_itself_a_blob(tmp_path):
    store = LocalDirectoryBlobStore(tmp_path / "root")
    await store.write("rooms/t1/f.txt", stream_of(b"x"))
    assert await store.size("rooms/t1") is None
    assert await store.delete("rooms/t1") is False
    with pytest.raises(BlobNotFound):
        await read_all(store, "rooms/t1")
    with pytest.raises(BlobNotFound):
        await read_all(store, "rooms/t1/f.txt/deeper")
    assert await read_all(store, "rooms/t1/f.txt") == b"x"
