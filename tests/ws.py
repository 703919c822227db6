"""A minimal graphql-transport-ws client over a real socket, and an in-process uvicorn server."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import uvicorn
import websockets
from starlette.applications import Starlette

PROTOCOL = "graphql-transport-ws"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@asynccontextmanager
async def serving(app: Starlette) -> AsyncIterator[str]:
    """Serve an app whose lifespan is already running on a real port in this event loop."""
    port = free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        lifespan="off",
        log_level="warning",
        ws_max_size=65536,
        ws_per_message_deflate=False,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    try:
        yield f"ws://127.0.0.1:{port}/graphql"
    finally:
        server.should_exit = True
        await task


class GraphQLWebSocket:
    """graphql-transport-ws over a websockets connection."""

    def __init__(self, connection: Any) -> None:
        self.connection = connection
        self._ids = 0

    @classmethod
    @asynccontextmanager
    async def connect(
        cls,
        url: str,
        token: str | None = None,
        *,
        init: dict[str, Any] | None = None,
        **options: Any,
    ) -> AsyncIterator[GraphQLWebSocket]:
        async with websockets.connect(url, subprotocols=[PROTOCOL], **options) as connection:
            client = cls(connection)
            payload = (
                init
                if init is not None
                else ({"Authorization": f"Bearer {token}"} if token else {})
            )
            await client.send({"type": "connection_init", "payload": payload})
            ack = await client.receive()
            assert ack["type"] == "connection_ack", ack
            yield client

    async def send(self, message: dict[str, Any]) -> None:
        await self.connection.send(json.dumps(message))

    async def receive(self, within: float = 5.0) -> dict[str, Any]:
        async with asyncio.timeout(within):
            message: dict[str, Any] = json.loads(await self.connection.recv())
        return message

    async def subscribe(self, query: str, variables: dict[str, Any] | None = None) -> str:
        self._ids += 1
        op_id = str(self._ids)
        await self.send(
            {
                "id": op_id,
                "type": "subscribe",
                "payload": {"query": query, "variables": variables or {}},
            }
        )
        return op_id

    async def next_data(self, within: float = 5.0) -> dict[str, Any]:
        """The next `next` payload; fails on anything else."""
        message = await self.receive(within)
        assert message["type"] == "next", message
        payload: dict[str, Any] = message["payload"]
        return payload

    async def nothing_for(self, seconds: float) -> None:
        """Assert that no message arrives for a while."""
        try:
            message = await self.receive(within=seconds)
        except TimeoutError:
            return
        raise AssertionError(f"expected no message, got {message}")


async def wait_until(condition: Any, within: float = 10.0) -> None:
    """Poll a condition on the server's state (nothing there signals it) until it holds."""
    async with asyncio.timeout(within):
        while not condition():  # noqa: ASYNC110 - polling another component's state
            await asyncio.sleep(0.01)


async def subscribed(app: Starlette, count: int) -> None:
    """Wait until the app's event hub has `count` subscriptions: a subscription receives
    the changes committed after it is registered, and `subscribe` has no acknowledgement."""
    hub = app.state.runtime.get().hub
    await wait_until(lambda: hub.subscriber_count == count)
