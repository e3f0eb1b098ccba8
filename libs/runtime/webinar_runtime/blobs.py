"""Blob stores: file bytes kept apart from their metadata, moved in chunks, never whole in memory.

`BlobStore` is the small interface a service codes against. Two implementations:

- `LocalDirectoryBlobStore`: files under one directory (the default; several
  replicas on one machine, or on nodes sharing a volume, see the same files).
- `JetStreamBlobStore`: objects in a NATS JetStream object-store bucket, laid out
  exactly as NATS object stores are (chunks under `$O.<bucket>.C.<nuid>`, one meta
  message under `$O.<bucket>.M.<name>`), so `nats object get` reads them too. It is
  written chunk by chunk from an async iterator and read chunk by chunk with direct
  gets, which nats-py's own `ObjectStore.put/get` cannot do without buffering or
  threads. It serves as the shared backend for many nodes and as a staging area
  through which a file travels from one service to another.

Keys are `/`-separated segments of letters, digits, `.`, `_` and `-`, each starting
with a letter or digit: no traversal, no control characters, no absolute paths.
"""

import asyncio
import base64
import contextlib
import hashlib
import json
import os
import re
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterable, AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from stat import S_ISREG
from typing import BinaryIO, Protocol

import nats.js.errors
from nats.js import JetStreamContext, api
from nats.js.kv import MSG_ROLLUP_SUBJECT

DEFAULT_CHUNK_SIZE = 256 * 1024
MAX_KEY_LENGTH = 512
_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)*$")
_BUCKET = re.compile(r"^[A-Za-z0-9_-]+$")


class BlobError(Exception):
    """Base of every blob store refusal."""


class InvalidBlobKey(BlobError, ValueError):
    """The key is not a safe relative path of allowed characters."""


class BlobNotFound(BlobError, LookupError):
    """No blob is stored under the key."""


class BlobTooLarge(BlobError, ValueError):
    """A write went past its `max_bytes`; nothing was kept."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(f"blob is larger than {max_bytes} bytes")
        self.max_bytes = max_bytes


class BlobCorrupt(BlobError):
    """The bytes read back do not match what was written."""


def check_key(key: str) -> str:
    """`key` if it is a safe blob key, else InvalidBlobKey."""
    if len(key) > MAX_KEY_LENGTH or not _KEY.match(key):
        raise InvalidBlobKey(f"invalid blob key {key!r}")
    return key


class BlobStore(Protocol):
    """Where a service keeps file bytes. Every method moves data in chunks."""

    async def write(self, key: str, chunks: AsyncIterable[bytes], *, max_bytes: int | None = None) -> int:
        """Store the chunks under `key` (replacing what was there) and return the size.
        Over `max_bytes` raises BlobTooLarge and keeps nothing; a failed write keeps nothing."""
        ...

    def read(
        self, key: str, *, offset: int = 0, length: int | None = None, chunk_size: int = DEFAULT_CHUNK_SIZE
    ) -> AsyncIterator[bytes]:
        """The bytes of `key` from `offset`, at most `length` of them, in chunks of at most
        `chunk_size`. BlobNotFound (on first iteration) when there is no such blob."""
        ...

    async def delete(self, key: str) -> bool:
        """Remove `key`; False when there was nothing to remove."""
        ...

    async def size(self, key: str) -> int | None:
        """The size of `key` in bytes, or None when there is no such blob."""
        ...


def _check_range(offset: int, length: int | None, chunk_size: int) -> None:
    if offset < 0:
        raise ValueError("offset must not be negative")
    if length is not None and length < 0:
        raise ValueError("length must not be negative")
    if chunk_size < 1:
        raise ValueError("chunk_size must be positive")


# -- a local directory ---------------------------------------------------------------


class LocalDirectoryBlobStore:
    """Blobs as files under `root`. A write goes to a temporary file renamed into
    place when complete, so a reader never sees half a blob. File calls run in a
    thread: nothing blocks the event loop."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root).resolve()

    def _path(self, key: str) -> Path:
        path = (self.root / check_key(key)).resolve()
        if not path.is_relative_to(self.root) or path == self.root:
            raise InvalidBlobKey(f"invalid blob key {key!r}")
        return path

    async def write(self, key: str, chunks: AsyncIterable[bytes], *, max_bytes: int | None = None) -> int:
        path = self._path(key)
        partial = path.with_name(f".{path.name}.{uuid.uuid4().hex}.part")
        handle = await asyncio.to_thread(_open_for_writing, partial)
        size = 0
        try:
            async for chunk in chunks:
                size += len(chunk)
                if max_bytes is not None and size > max_bytes:
                    raise BlobTooLarge(max_bytes)
                if chunk:
                    await asyncio.to_thread(handle.write, chunk)
            await asyncio.to_thread(_finish_file, handle)
            await asyncio.to_thread(os.replace, partial, path)
        except BaseException:
            await asyncio.to_thread(_discard_file, handle, partial)
            raise
        return size

    async def read(
        self, key: str, *, offset: int = 0, length: int | None = None, chunk_size: int = DEFAULT_CHUNK_SIZE
    ) -> AsyncIterator[bytes]:
        _check_range(offset, length, chunk_size)
        path = self._path(key)
        try:
            handle = await asyncio.to_thread(path.open, "rb")
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise BlobNotFound(key) from None
        try:
            if offset:
                await asyncio.to_thread(handle.seek, offset)
            remaining = length
            while remaining is None or remaining > 0:
                want = chunk_size if remaining is None else min(chunk_size, remaining)
                chunk = await asyncio.to_thread(handle.read, want)
                if not chunk:
                    break
                if remaining is not None:
                    remaining -= len(chunk)
                yield chunk
        finally:
            await asyncio.to_thread(handle.close)

    async def delete(self, key: str) -> bool:
        path = self._path(key)
        try:
            await asyncio.to_thread(path.unlink)
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError):
            # PermissionError: unlink of a directory on some systems; a directory is no blob.
            if await self.size(key) is not None:
                raise
            return False
        return True

    async def size(self, key: str) -> int | None:
        path = self._path(key)
        try:
            status = await asyncio.to_thread(path.stat)
        except (FileNotFoundError, NotADirectoryError):
            return None
        return status.st_size if S_ISREG(status.st_mode) else None


def _open_for_writing(path: Path) -> BinaryIO:
    path.parent.mkdir(parents=True, exist_ok=True)
    return path.open("xb")


def _finish_file(handle: BinaryIO) -> None:
    handle.flush()
    os.fsync(handle.fileno())
    handle.close()


def _discard_file(handle: BinaryIO, path: Path) -> None:
    handle.close()
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


# -- a NATS JetStream object-store bucket --------------------------------------------


def _meta_subject(bucket: str, key: str) -> str:
    return f"$O.{bucket}.M.{base64.urlsafe_b64encode(key.encode()).decode()}"


def _chunk_subject(bucket: str, nuid: str) -> str:
    return f"$O.{bucket}.C.{nuid}"


class JetStreamBlobStore:
    """Blobs as objects of the JetStream object-store bucket `bucket`.

    Reading from an offset has to find the chunk holding it: the sequence numbers
    of chunks already seen are remembered (for a bounded number of objects), so a
    download made of consecutive ranged reads walks each chunk once.
    """

    def __init__(
        self, js: JetStreamContext, bucket: str, *, chunk_size: int = DEFAULT_CHUNK_SIZE, timeout: float = 5.0
    ) -> None:
        if not _BUCKET.match(bucket):
            raise ValueError(f"invalid object-store bucket name {bucket!r}")
        if not 1 <= chunk_size <= 1024 * 1024:
            raise ValueError("chunk_size must be between 1 byte and 1 MiB")
        self.js = js
        self.bucket = bucket
        self.stream = f"OBJ_{bucket}"
        self.chunk_size = chunk_size
        self.timeout = timeout
        self._chunk_seqs: OrderedDict[str, list[int]] = OrderedDict()

    @classmethod
    async def ensure(
        cls,
        js: JetStreamContext,
        bucket: str,
        *,
        ttl: float | None = None,
        replicas: int = 1,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        description: str = "",
    ) -> "JetStreamBlobStore":
        """The store on `bucket`, creating the bucket when it does not exist yet (a
        replica racing us to create it is fine). `ttl` seconds: objects older vanish."""
        store = cls(js, bucket, chunk_size=chunk_size)
        try:
            await js.stream_info(store.stream)
        except nats.js.errors.NotFoundError:
            config = api.ObjectStoreConfig(
                description=description or None, ttl=ttl, replicas=replicas, storage=api.StorageType.FILE
            )
            try:
                await js.create_object_store(bucket, config=config)
            except nats.js.errors.BadRequestError:
                await js.stream_info(store.stream)
        return store

    async def _info(self, key: str) -> api.ObjectInfo | None:
        try:
            msg = await self.js.get_last_msg(self.stream, _meta_subject(self.bucket, check_key(key)), direct=True)
        except nats.js.errors.NotFoundError:
            return None
        info = api.ObjectInfo.from_response(json.loads(msg.data or b"{}"))
        return None if info.deleted else info

    async def write(self, key: str, chunks: AsyncIterable[bytes], *, max_bytes: int | None = None) -> int:
        check_key(key)
        nuid = uuid.uuid4().hex
        chunk_subject = _chunk_subject(self.bucket, nuid)
        digest = hashlib.sha256()
        pending = bytearray()
        size = 0
        sent = 0
        try:
            async for piece in chunks:
                size += len(piece)
                if max_bytes is not None and size > max_bytes:
                    raise BlobTooLarge(max_bytes)
                pending += piece
                while len(pending) >= self.chunk_size:
                    chunk = bytes(pending[: self.chunk_size])
                    del pending[: self.chunk_size]
                    digest.update(chunk)
                    await self.js.publish(chunk_subject, chunk, timeout=self.timeout)
                    sent += 1
            if pending:
                digest.update(pending)
                await self.js.publish(chunk_subject, bytes(pending), timeout=self.timeout)
                sent += 1
            previous = await self._info(key)
            info = api.ObjectInfo(
                name=key,
                bucket=self.bucket,
                nuid=nuid,
                size=size,
                chunks=sent,
                mtime=datetime.now(UTC).isoformat(),
                digest="SHA-256=" + base64.urlsafe_b64encode(digest.digest()).decode(),
                options=api.ObjectMetaOptions(max_chunk_size=self.chunk_size),
            )
            await self.js.publish(
                _meta_subject(self.bucket, key),
                json.dumps(info.as_dict()).encode(),
                headers={api.Header.ROLLUP: MSG_ROLLUP_SUBJECT},
                timeout=self.timeout,
            )
        except BaseException:
            with contextlib.suppress(Exception):
                await self.js.purge_stream(self.stream, subject=chunk_subject)
            raise
        if previous is not None and previous.nuid:
            await self._purge_chunks(previous.nuid)
        return size

    async def read(
        self, key: str, *, offset: int = 0, length: int | None = None, chunk_size: int = DEFAULT_CHUNK_SIZE
    ) -> AsyncIterator[bytes]:
        _check_range(offset, length, chunk_size)
        info = await self._info(key)
        if info is None:
            raise BlobNotFound(key)
        total = info.size or 0
        end = total if length is None else min(total, offset + length)
        if offset >= end:
            return
        whole = offset == 0 and end == total
        digest = hashlib.sha256() if whole else None
        subject = _chunk_subject(self.bucket, info.nuid)
        seqs = self._chunk_seqs.setdefault(info.nuid, [])
        self._chunk_seqs.move_to_end(info.nuid)
        while len(self._chunk_seqs) > 256:
            self._chunk_seqs.popitem(last=False)
        position = 0  # where the chunk about to be fetched starts in the object
        index = 0
        while position < end:
            chunk = await self._chunk(subject, seqs, index, key)
            start, stop = position, position + len(chunk)
            position, index = stop, index + 1
            if digest is not None:
                digest.update(chunk)
            if stop <= offset:
                continue
            piece = memoryview(chunk)[max(0, offset - start) : min(len(chunk), end - start)]
            for at in range(0, len(piece), chunk_size):
                yield bytes(piece[at : at + chunk_size])
        if digest is not None and info.digest:
            expected = info.digest.split("=", 1)[1]
            if base64.urlsafe_b64decode(expected + "=" * (-len(expected) % 4)) != digest.digest():
                raise BlobCorrupt(f"{key}: content does not match its digest")

    async def _chunk(self, subject: str, seqs: list[int], index: int, key: str) -> bytes:
        # A chunk seen before is fetched by its sequence; a new one is the next after the last seen.
        start = seqs[index] if index < len(seqs) else (seqs[-1] + 1 if seqs else 1)
        try:
            msg = await self.js.get_msg(self.stream, seq=start, subject=subject, next=True, direct=True)
        except nats.js.errors.NotFoundError:
            raise BlobNotFound(f"{key}: a chunk is missing (deleted while read?)") from None
        if index >= len(seqs) and msg.seq is not None:
            seqs.append(msg.seq)
        return msg.data or b""

    async def delete(self, key: str) -> bool:
        info = await self._info(key)
        if info is None:
            return False
        tombstone = api.ObjectInfo(
            name=key,
            bucket=self.bucket,
            nuid=info.nuid,
            size=0,
            chunks=0,
            digest="",
            mtime="",
            deleted=True,
        )
        await self.js.publish(
            _meta_subject(self.bucket, key),
            json.dumps(tombstone.as_dict()).encode(),
            headers={api.Header.ROLLUP: MSG_ROLLUP_SUBJECT},
            timeout=self.timeout,
        )
        await self._purge_chunks(info.nuid)
        return True

    async def _purge_chunks(self, nuid: str) -> None:
        self._chunk_seqs.pop(nuid, None)
        await self.js.purge_stream(self.stream, subject=_chunk_subject(self.bucket, nuid))

    async def size(self, key: str) -> int | None:
        info = await self._info(key)
        return None if info is None else int(info.size or 0)


async def stream_of(data: bytes, chunk_size: int = DEFAULT_CHUNK_SIZE) -> AsyncIterator[bytes]:
    """`data` as an async chunk iterator (for small payloads and tests)."""
    for at in range(0, len(data), chunk_size):
        yield data[at : at + chunk_size]
