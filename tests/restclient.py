"""Small helpers for REST tests through the gateway."""

import secrets
from typing import Any

import aiohttp


def new_user(**overrides: Any) -> dict[str, Any]:
    """A registration body with a unique made-up email."""
    body = {
        "email": f"user.{secrets.token_hex(4)}@example.test",
        "fName": "Rowan",
        "lName": "Tester",
        "phoneNumber": "+1 555 0100",
        "country": "Nowhere",
        "password": "a long passphrase",
    }
    body.update(overrides)
    return body


async def call(
    http: aiohttp.ClientSession,
    method: str,
    url: str,
    *,
    key: str | None = None,
    token: str | None = None,
    json: Any = None,
    data: Any = None,
) -> tuple[int, Any, aiohttp.typedefs.LooseHeaders]:
    headers = {}
    if key is not None:
        headers["x-api-key"] = key
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    async with http.request(method, url, headers=headers, json=json, data=data) as response:
        body = await response.json(content_type=None) if response.content_length != 0 else None
        return response.status, body, response.headers
