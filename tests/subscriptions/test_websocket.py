"""The WebSocket transport: authentication at connect, expiry, limits, protocols, clients."""

from __future__ import annotations

import asyncio
import datetime as dt
import json

import pytest
import websockets
from gql import Client, gql
from gql.transport.websockets import WebsocketsTransport

from tests.conftest import Stack
from tests.factories import World, create_world
from tests.graphql import execute, global_id
from tests.ws import GraphQLWebSocket, serving, subscribed

EVENTS = "subscription { ticketEvents { cursor kind ticket { number status } } }"
STATS = "subscription { ticketStats(intervalMs: 500) { total open inProgress } }"
STATUS = """
mutation($id: ID!, $status: TicketStatus!) {
  updateTicket(input: {id: $id, status: $status}) { userErrors { code } }
}
"""


@pytest.fixture
async def world(session) -> World:
    return await create_world(session)


async def set_status(db: Stack, world: World, status: str) -> None:
    async with db.client(db.token(world.agent.user_id)) as client:
        body = await execute(
            client, STATUS, {"id": global_id("Ticket", world.ticket.id), "status": status}
        )
    assert body["data"]["updateTicket"]["userErrors"] == []


async def close_code(url: str, init: dict, subprotocol: str = "graphql-transport-ws") -> int:
    async with websockets.connect(url, subprotocols=[subprotocol]) as connection:
        await connection.send(json.dumps({"type": "connection_init", "payload": init}))
        with pytest.raises(websockets.ConnectionClosed) as closed:
            async with asyncio.timeout(5):
                await connection.recv()
    code: int = closed.value.rcvd.code
    return code


@pytest.mark.parametrize(
    "init",
    [
        {"Authorization": "Bearer not-a-token"},
        {"Authorization": "Basic abc"},
        {"token": "x.y.z"},
        {"Authorization": 42},
    ],
    ids=["garbage", "wrong-scheme", "token-field", "not-a-string"],
)
async def test_bad_token_closes_with_4403(db: Stack, init: dict) -> None:
    async with serving(db.app) as url:
        assert await close_code(url, init) == 4403


async def test_expired_and_unknown_tokens_close_with_4403(db: Stack, world: World) -> None:
    expired = db.token(world.agent.user_id, ttl=dt.timedelta(minutes=-5))
    unknown = db.token("nobody")
    async with serving(db.app) as url:
        assert await close_code(url, {"Authorization": f"Bearer {expired}"}) == 4403
        assert await close_code(url, {"token": unknown}) == 4403


async def test_anonymous_socket_may_not_subscribe(db: Stack) -> None:
    async with serving(db.app) as url, GraphQLWebSocket.connect(url) as anonymous:
        await anonymous.subscribe(EVENTS)
        message = await anonymous.receive()

    assert message["type"] == "error"
    assert message["payload"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_socket_closes_with_4401_when_the_token_expires(db: Stack, world: World) -> None:
    token = db.token(world.agent.user_id, ttl=dt.timedelta(seconds=1))
    async with serving(db.app) as url, GraphQLWebSocket.connect(url, token) as client:
        await client.subscribe(EVENTS)
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await client.receive(within=5)

    assert closed.value.rcvd.code == 4401
    assert closed.value.rcvd.reason == "token expired"


async def test_subscription_limit_per_connection(db: Stack, world: World) -> None:
    token = db.token(world.agent.user_id)
    async with (
        db.variant(ws_max_subscriptions=2) as app,
        serving(app) as url,
        GraphQLWebSocket.connect(url, token) as client,
    ):
        await client.subscribe(EVENTS)
        await client.subscribe(EVENTS)
        await client.subscribe(EVENTS)
        refused = await client.receive()

    assert refused["type"] == "error"
    assert refused["id"] == "3"
    assert "limit" in refused["payload"][0]["message"]


async def test_websocket_from_a_foreign_origin_is_refused(db: Stack) -> None:
    async with db.variant(cors_origins=("https://portal.example.com",)) as app, serving(app) as url:
        with pytest.raises(websockets.InvalidStatus):
            async with websockets.connect(
                url, subprotocols=["graphql-transport-ws"], origin="https://evil.example.com"
            ):
                pass
        async with websockets.connect(
            url, subprotocols=["graphql-transport-ws"], origin="https://portal.example.com"
        ) as allowed:
            assert allowed.subprotocol == "graphql-transport-ws"


async def test_legacy_graphql_ws_protocol(db: Stack, world: World) -> None:
    async with (
        serving(db.app) as url,
        websockets.connect(url, subprotocols=["graphql-ws"]) as connection,
    ):
        token = db.token(world.agent.user_id)
        await connection.send(
            json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}})
        )
        assert json.loads(await connection.recv())["type"] == "connection_ack"
        await connection.send(
            json.dumps({"id": "1", "type": "start", "payload": {"query": EVENTS}})
        )
        await subscribed(db.app, 1)
        await set_status(db, world, "IN_PROGRESS")
        async with asyncio.timeout(5):
            while (message := json.loads(await connection.recv()))["type"] == "ka":
                pass

    assert message["type"] == "data"
    assert message["payload"]["data"]["ticketEvents"]["ticket"]["status"] == "IN_PROGRESS"


async def test_third_party_gql_client_receives_events(db: Stack, world: World) -> None:
    async with serving(db.app) as url:
        transport = WebsocketsTransport(
            url=url,
            init_payload={"Authorization": f"Bearer {db.token(world.agent.user_id)}"},
            close_timeout=1,
        )
        async with Client(transport=transport) as session:
            stream = session.subscribe(gql(EVENTS))

            async def first_event() -> dict:
                async for result in stream:
                    return result
                raise AssertionError("stream ended")

            receiving = asyncio.create_task(first_event())
            await subscribed(db.app, 1)
            await set_status(db, world, "RESOLVED")
            async with asyncio.timeout(5):
                result = await receiving

    assert result["ticketEvents"]["kind"] == "UPDATED"
    assert result["ticketEvents"]["ticket"]["status"] == "RESOLVED"


async def test_live_stats_are_sent_at_once_then_coalesced(db: Stack, world: World) -> None:
    async with (
        serving(db.app) as url,
        GraphQLWebSocket.connect(url, db.token(world.agent.user_id)) as client,
    ):
        await client.subscribe(STATS)
        initial = (await client.next_data())["data"]["ticketStats"]
        for status in ("IN_PROGRESS", "WAITING_ON_CUSTOMER", "IN_PROGRESS"):
            await set_status(db, world, status)
        update = (await client.next_data(within=3))["data"]["ticketStats"]
        await client.nothing_for(0.8)

    assert initial == {"total": 1, "open": 1, "inProgress": 0}
    assert update == {"total": 1, "open": 0, "inProgress": 1}


async def test_token_nested_in_headers_is_accepted(db: Stack, world: World) -> None:
    token = db.token(world.agent.user_id)
    async with (
        serving(db.app) as url,
        GraphQLWebSocket.connect(
            url, init={"headers": {"Authorization": f"Bearer {token}"}}
        ) as client,
    ):
        await client.subscribe(EVENTS)
        await subscribed(db.app, 1)
        await set_status(db, world, "IN_PROGRESS")
        event = (await client.next_data())["data"]["ticketEvents"]

    assert event["ticket"]["status"] == "IN_PROGRESS"


async def test_oversized_websocket_message_closes_the_socket(db: Stack, world: World) -> None:
    token = db.token(world.agent.user_id)
    async with serving(db.app) as url, GraphQLWebSocket.connect(url, token) as client:
        await client.subscribe("subscription { ticketEvents { cursor } }" + " " * 70_000)
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await client.receive(within=5)

    assert closed.value.rcvd.code == 1009  # message too big
