"""Fixtures of the meetings service's tests: its store on the real MongoDB-compatible server."""

import uuid
from collections.abc import AsyncIterator

import pytest

from meetings.store import MeetingsStore
from webinar_runtime.stores import connect_mongo


@pytest.fixture
async def store(mongo_url) -> AsyncIterator[MeetingsStore]:
    client = await connect_mongo(mongo_url, attempts=3, app_name="meetings-tests")
    name = f"meetings_test_{uuid.uuid4().hex[:10]}"
    store = MeetingsStore(client[name])
    await store.create_indexes()
    yield store
    await client.drop_database(name)
    await client.close()
