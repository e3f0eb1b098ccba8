"""Fixtures of the whiteboard service's tests: its store on the real MongoDB-compatible server."""

import uuid
from collections.abc import AsyncIterator

import pytest

from webinar_runtime.stores import connect_mongo
from whiteboard.store import BoardStore


@pytest.fixture
async def store(mongo_url) -> AsyncIterator[BoardStore]:
    client = await connect_mongo(mongo_url, attempts=3, app_name="whiteboard-tests")
    name = f"whiteboard_test_{uuid.uuid4().hex[:10]}"
    store = BoardStore(client[name])
    await store.create_indexes()
    yield store
    await client.drop_database(name)
    await client.close()
