"""Sockets authenticate at connect, from the `auth` payload or from headers."""

import pytest
import socketio

from restclient import call, new_user


async def connect(url, **kwargs):
    client = socketio.AsyncClient(reconnection=False)
    await client.connect(url, socketio_path="socket.io", wait_timeout=10, **kwargs)
    return client


async def login_token(suite, http) -> str:
    body = new_user()
    await call(http, "POST", suite.url + "/auth/register", key=suite.api_key, json=body)
    _, answer, _ = await call(http, "POST", suite.url + "/auth/login", key=suite.api_key,
                              json={"userName": body["email"], "password": body["password"]})  # fmt: skip
    return answer["data"]["accessToken"]


async def test_socket_with_key_and_token_in_auth_payload_connects(suite, http):
    client = await connect(suite.url, auth={"apiKey": suite.api_key, "token": await login_token(suite, http)})
    assert client.connected
    await client.disconnect()


async def test_socket_with_key_in_headers_connects_over_websocket(suite):
    client = await connect(suite.url, headers={"x-api-key": suite.api_key}, transports=["websocket"])
    assert client.connected
    await client.disconnect()


@pytest.mark.parametrize(
    ("auth", "reason"),
    [
        (None, "missing x-api-key header"),
        ({"apiKey": "wk_unknown"}, "unknown API key"),
        ("TOKEN", "invalid access token"),
    ],
)
async def test_socket_without_valid_credentials_is_refused_with_the_reason(suite, http, auth, reason):
    if auth == "TOKEN":
        token = await login_token(suite, http)
        auth = {"apiKey": suite.api_key, "token": token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")}
    client = socketio.AsyncClient(reconnection=False)
    refusals = []
    client.on("connect_error", refusals.append)
    with pytest.raises(socketio.exceptions.ConnectionError):
        await client.connect(suite.url, socketio_path="socket.io", auth=auth, wait_timeout=10)
    assert refusals[0] == {"message": reason, "data": {"code": "unauthorized"}}
