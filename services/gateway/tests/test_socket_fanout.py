"""Broadcasts reach a room's sockets whichever gateway process holds them."""

import asyncio
import uuid

import nats
import pytest
import socketio
from aiohttp import web

from gateway.socket_fanout import NatsClientManager
from webinar_devstack.servers import free_port


async def start_gateway_like_server(nats_url: str, channel: str):
    nc = await nats.connect(nats_url)
    server = socketio.AsyncServer(async_mode="aiohttp", client_manager=NatsClientManager(nc, channel=channel))

    async def connect(sid, environ, auth=None):
        await server.enter_room(sid, "room-1")

    server.on("connect", connect)
    app = web.Application()
    server.attach(app)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return server, runner, nc, f"http://127.0.0.1:{port}"


@pytest.fixture
async def two_gateways(nats_url):
    channel = uuid.uuid4().hex[:8]
    started = [await start_gateway_like_server(nats_url, channel) for _ in range(2)]
    yield started
    for _, runner, nc, _ in started:
        await runner.cleanup()
        await nc.close()


async def test_emit_to_a_room_on_one_process_reaches_sockets_held_by_another(two_gateways):
    (server_one, _, _, url_one), (server_two, _, _, url_two) = two_gateways
    received: dict[str, asyncio.Future] = {}
    clients = []
    for name, url in (("on-one", url_one), ("on-two", url_two)):
        client = socketio.AsyncClient(reconnection=False)
        received[name] = asyncio.get_running_loop().create_future()
        client.on("announcement", lambda data, name=name: received[name].set_result(data))
        await client.connect(url, wait_timeout=10)
        clients.append(client)
    try:
        # Each process starts listening on the bus when its first socket connects.
        await asyncio.wait_for(
            asyncio.gather(server_one.manager.listening.wait(), server_two.manager.listening.wait()), 5
        )
        await server_one.manager.nc.flush()
        await server_two.manager.nc.flush()
        await server_one.emit("announcement", {"text": "hello room"}, room="room-1")
        results = await asyncio.wait_for(asyncio.gather(*received.values()), 5)
        assert results == [{"text": "hello room"}, {"text": "hello room"}]
    finally:
        for client in clients:
            await client.disconnect()
