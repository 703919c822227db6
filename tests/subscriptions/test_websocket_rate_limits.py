"""Operations over a WebSocket spend the same per-user budget as HTTP requests (review,
finding 4): over it an operation gets an `error` with RATE_LIMITED and the socket stays open;
a new socket over budget is refused with close code 4029."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest
import websockets

from tests.conftest import Stack
from tests.factories import World, create_world
from tests.ws import GraphQLWebSocket, serving

BUDGET = 5
QUERY = "{ me { __typename } }"


@pytest.fixture
async def world(session) -> World:
    return await create_world(session)


async def clear_of_a_new_minute() -> None:
    """Budgets are counted per clock minute: start a test well inside one."""
    if time.time() % 60 > 50:
        await asyncio.sleep(61 - time.time() % 60)


async def until_closed(raw: Any) -> None:
    """Read (the legacy protocol's connection_error, if any) until the server closes."""
    async with asyncio.timeout(5):
        while True:
            await raw.recv()


async def answers(ws: GraphQLWebSocket, count: int) -> list[dict[str, Any]]:
    ids = [await ws.subscribe(QUERY) for _ in range(count)]
    found: dict[str, dict[str, Any]] = {}
    while len(found) < count:
        message = await ws.receive()
        if message["type"] in ("next", "error"):
            found[message["id"]] = message
    return [found[i] for i in ids]


async def test_operations_on_one_socket_share_the_users_budget_with_http(
    db: Stack, world: World
) -> None:
    await clear_of_a_new_minute()
    token = db.token(world.agent.user_id)
    async with (
        db.variant(rate_limit_per_minute=BUDGET) as app,
        serving(app) as url,
        GraphQLWebSocket.connect(url, token) as ws,  # connecting spends one
    ):
        found = await answers(ws, 8)
        async with db.client(token, app=app) as http:
            over_http = await http.post("/graphql", json={"query": QUERY})
        # The socket is still open for what it already runs: a ping is answered.
        await ws.send({"type": "ping"})
        pong = await ws.receive()

    assert [m["type"] for m in found] == ["next"] * (BUDGET - 1) + ["error"] * 4
    refused = found[-1]["payload"][0]
    assert refused["extensions"]["code"] == "RATE_LIMITED"
    assert 1 <= refused["extensions"]["retryAfter"] <= 60
    assert refused["extensions"]["requestId"]
    assert over_http.status_code == 429
    assert pong["type"] == "pong"


async def test_http_requests_spend_the_budget_a_socket_then_lacks(db: Stack, world: World) -> None:
    await clear_of_a_new_minute()
    token = db.token(world.agent.user_id)
    async with db.variant(rate_limit_per_minute=BUDGET) as app, serving(app) as url:
        async with db.client(token, app=app) as http:
            for _ in range(BUDGET - 1):
                assert (await http.post("/graphql", json={"query": QUERY})).status_code == 200
        async with GraphQLWebSocket.connect(url, token) as ws:  # the last one
            (refused,) = await answers(ws, 1)

    assert refused["type"] == "error"
    assert refused["payload"][0]["extensions"]["code"] == "RATE_LIMITED"


async def test_a_new_socket_over_budget_is_refused_with_4029(db: Stack, world: World) -> None:
    await clear_of_a_new_minute()
    token = db.token(world.agent.user_id)
    async with db.variant(rate_limit_per_minute=BUDGET) as app, serving(app) as url:
        async with db.client(token, app=app) as http:
            for _ in range(BUDGET):
                await http.post("/graphql", json={"query": QUERY})
        for protocol in ("graphql-transport-ws", "graphql-ws"):
            async with websockets.connect(url, subprotocols=[protocol]) as raw:
                init = {"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}
                await raw.send(json.dumps(init))
                with pytest.raises(websockets.ConnectionClosed) as closed:
                    await until_closed(raw)
            assert closed.value.rcvd is not None
            assert closed.value.rcvd.code == 4029, protocol


async def test_the_legacy_protocol_gets_the_same_refusal(db: Stack, world: World) -> None:
    await clear_of_a_new_minute()
    token = db.token(world.agent.user_id)
    async with (
        db.variant(rate_limit_per_minute=2) as app,
        serving(app) as url,
        websockets.connect(url, subprotocols=["graphql-ws"]) as raw,
    ):
        init = {"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}
        await raw.send(json.dumps(init))
        assert json.loads(await raw.recv())["type"] == "connection_ack"
        subscription = "subscription { ticketEvents { cursor } }"
        for op in ("1", "2"):
            start = {"type": "start", "id": op, "payload": {"query": subscription}}
            await raw.send(json.dumps(start))
        async with asyncio.timeout(5):
            while (message := json.loads(await raw.recv()))["type"] == "ka":
                pass

    assert message["type"] == "error"
    assert message["id"] == "2"
    assert message["payload"]["extensions"]["code"] == "RATE_LIMITED"
