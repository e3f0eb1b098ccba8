"""Connections to MongoDB (PyMongo's async API) and Redis (redis-py asyncio), opened with bounded retries."""

from typing import Any

import redis.asyncio as aioredis
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from webinar_runtime.retry import retry


async def connect_mongo(url: str, *, attempts: int = 30, app_name: str = "webinar") -> AsyncMongoClient[Any]:
    """A client that has answered a ping; datetimes come back timezone-aware (UTC)."""
    client: AsyncMongoClient[Any] = AsyncMongoClient(
        url, tz_aware=True, appname=app_name, serverSelectionTimeoutMS=2000, connectTimeoutMS=2000, timeoutMS=10000
    )

    async def ping() -> None:
        await client.admin.command("ping")

    try:
        await retry(ping, what=f"MongoDB at {_without_password(url)}", attempts=attempts)
    except BaseException:
        await client.close()
        raise
    return client


async def mongo_ready(database: AsyncDatabase[Any]) -> bool:
    try:
        await database.command("ping")
    except Exception:
        return False
    return True


async def connect_redis(url: str, *, attempts: int = 30) -> "aioredis.Redis":
    """A Redis client that has answered a PING."""
    client = aioredis.from_url(url, socket_timeout=5, socket_connect_timeout=2, health_check_interval=15)

    async def ping() -> None:
        await client.ping()

    try:
        await retry(ping, what=f"Redis at {_without_password(url)}", attempts=attempts)
    except BaseException:
        await client.aclose()
        raise
    return client


async def redis_ready(client: "aioredis.Redis") -> bool:
    try:
        return bool(await client.ping())
    except Exception:
        return False


def _without_password(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    if "@" in rest:
        rest = "***@" + rest.split("@", 1)[1]
    return scheme + sep + rest
