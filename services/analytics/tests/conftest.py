"""Fixtures of the analytics service's tests: its store on the real MongoDB-compatible server."""

import uuid
from collections.abc import AsyncIterator

import pytest

from analytics.store import AnalyticsStore
from webinar_runtime.stores import connect_mongo


@pytest.fixture
async def store(mongo_url) -> AsyncIterator[AnalyticsStore]:
    client = await connect_mongo(mongo_url, attempts=3, app_name="analytics-tests")
    name = f"analytics_test_{uuid.uuid4().hex[:10]}"
    store = AnalyticsStore(client[name])
    await store.create_indexes()
    yield store
    await client.drop_database(name)
    await client.close()
