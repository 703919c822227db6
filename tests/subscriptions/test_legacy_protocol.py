"""The legacy `graphql-ws` protocol (subscriptions-transport-ws): queries and mutations too."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
import websockets

from tests.conftest import Stack
from tests.factories import World, create_world
from tests.graphql import global_id
from tests.ws import serving


@pytest.fixture
async def world(session) -> World:
    return await create_world(session)


async def legacy_run(url: str, token: str, payload: dict[str, Any]) -> list[dict[str, Any]]:
    """Start one operation over graphql-ws and collect its messages up to `complete`."""
    async with websockets.connect(url, subprotocols=["graphql-ws"]) as connection:
        await connection.send(
            json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}})
        )
        assert json.loads(await connection.recv())["type"] == "connection_ack"
        await connection.send(json.dumps({"id": "q1", "type": "start", "payload": payload}))
        messages = []
        async with asyncio.timeout(5):
            while True:
                message = json.loads(await connection.recv())
                if message["type"] == "ka":
                    continue
                messages.append(message)
                if message["type"] in ("complete", "error"):
                    return messages


async def test_query_over_legacy_protocol_answers_then_completes(db: Stack, world: World) -> None:
    query = "query($id: ID!) { ticket(id: $id) { number title } }"
    variables = {"id": global_id("Ticket", world.ticket.id)}
    async with serving(db.app) as url:
        messages = await legacy_run(
            url, db.token(world.agent.user_id), {"query": query, "variables": variables}
        )

    assert [m["type"] for m in messages] == ["data", "complete"]
    assert messages[0]["id"] == "q1"
    assert messages[0]["payload"]["data"] == {
        "ticket": {"number": world.ticket.number, "title": world.ticket.title}
    }
    assert "errors" not in messages[0]["payload"]


async def test_mutation_over_legacy_protocol_commits_once(db: Stack, world: World) -> None:
    mutation = """
    mutation($id: ID!) { updateTicket(input: {id: $id, status: IN_PROGRESS}) {
      ticket { status } userErrors { code } } }
    """
    variables = {"id": global_id("Ticket", world.ticket.id)}
    async with serving(db.app) as url:
        messages = await legacy_run(
            url, db.token(world.agent.user_id), {"query": mutation, "variables": variables}
        )

    assert [m["type"] for m in messages] == ["data", "complete"]
    assert messages[0]["payload"]["data"]["updateTicket"] == {
        "ticket": {"status": "IN_PROGRESS"},
        "userErrors": [],
    }


async def test_invalid_query_over_legacy_protocol_is_a_validation_error(
    db: Stack, world: World
) -> None:
    async with serving(db.app) as url:
        messages = await legacy_run(
            url, db.token(world.agent.user_id), {"query": "query { ticket { nope } }"}
        )

    assert [m["type"] for m in messages] == ["error"]
    assert "nope" in messages[0]["payload"]["message"]
