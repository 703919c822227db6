"""Compiled writes in the lane: admitted by the pipeline first, parallel across tickets and
serialized on one, their events delivered to subscribers, and off with COMPILED_WRITES=false.
(tests/compiled/test_write_differential.py compares what they write with the reference.)"""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import pytest

from models import Status, Ticket
from schema.compiled import outcomes
from tests.backends import POSTGRES_URL, configured_backends
from tests.conftest import Stack
from tests.factories import World, create_ticket, create_world
from tests.graphql import global_id
from tests.ws import GraphQLWebSocket, serving, subscribed

STATUS = """mutation Status($id: ID!, $status: TicketStatus!) {
  updateTicket(input: {id: $id, status: $status}) { ticket { status version } userErrors { code } }
}"""
REPLY = """mutation Reply($id: ID!, $body: String!) {
  addResponse(input: {ticketId: $id, body: $body}) { response { body } userErrors { code } }
}"""
EVENTS = """subscription { ticketEvents { kind ticket { status } response { body } } }"""


@pytest.fixture
async def world(session: Any) -> World:
    return await create_world(session)


async def _write(db: Stack, world: World, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    async with db.client(db.token(world.agent.user_id)) as client:
        response = await client.post("/graphql", json={"query": query, "variables": variables})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body
    return body


async def test_the_first_request_of_a_document_is_the_pipelines_and_repeats_are_compiled(
    db: Stack, world: World
) -> None:
    ticket = global_id("Ticket", world.ticket.id)
    before = outcomes["write"]
    statuses = ["IN_PROGRESS", "WAITING_ON_CUSTOMER", "OPEN"]
    versions = []
    for status in statuses:
        body = await _write(db, world, STATUS, {"id": ticket, "status": status})
        versions.append(body["data"]["updateTicket"]["ticket"]["version"])
        assert body["data"]["updateTicket"]["ticket"]["status"] == status
    assert versions == [versions[0], versions[0] + 1, versions[0] + 2]
    # Compiled writes are PostgreSQL's; the first request admitted the document.
    assert outcomes["write"] - before == (2 if db.backend.is_postgres else 0)


async def test_subscribers_receive_the_events_of_compiled_writes(db: Stack, world: World) -> None:
    ticket = global_id("Ticket", world.ticket.id)
    async with (
        serving(db.app) as url,
        GraphQLWebSocket.connect(url, db.token(world.agent.user_id)) as agent,
        GraphQLWebSocket.connect(url, db.token(world.customer.user_id)) as customer,
    ):
        await agent.subscribe(EVENTS)
        await customer.subscribe(EVENTS)
        await subscribed(db.app, 2)
        for text in ("First", "Second", "Third"):
            await _write(db, world, REPLY, {"id": ticket, "body": text})
        await _write(db, world, STATUS, {"id": ticket, "status": "RESOLVED"})
        await _write(db, world, STATUS, {"id": ticket, "status": "CLOSED"})
        for socket in (agent, customer):
            received = [(await socket.next_data())["data"]["ticketEvents"] for _ in range(5)]
            assert [(e["kind"], (e["response"] or {}).get("body")) for e in received] == [
                ("RESPONSE_ADDED", "First"),
                ("RESPONSE_ADDED", "Second"),
                ("RESPONSE_ADDED", "Third"),
                ("UPDATED", None),
                ("UPDATED", None),
            ]
            assert received[-1]["ticket"]["status"] == "CLOSED"
        await customer.nothing_for(0.3)


async def test_compiled_writes_can_be_turned_off(db: Stack, world: World) -> None:
    ticket = global_id("Ticket", world.ticket.id)
    before = outcomes["write"]
    async with (
        db.variant(compiled_writes=False) as app,
        db.client(db.token(world.agent.user_id), app=app) as client,
    ):
        for status in ("IN_PROGRESS", "OPEN", "IN_PROGRESS"):
            response = await client.post(
                "/graphql",
                json={"query": STATUS, "variables": {"id": ticket, "status": status}},
            )
            assert response.json()["data"]["updateTicket"]["ticket"]["status"] == status
    assert outcomes["write"] == before


if POSTGRES_URL:

    @pytest.mark.parametrize(
        "stack",
        [b for b in configured_backends() if b.is_postgres],
        indirect=True,
        ids=lambda b: b.name,
    )
    async def test_compiled_writes_on_different_tickets_do_not_wait_for_each_other(
        db: Stack, world: World, session: Any
    ) -> None:
        other = await create_ticket(session, world.org, world.customer)
        await session.commit()
        first, second = global_id("Ticket", world.ticket.id), global_id("Ticket", other.id)
        await _write(db, world, STATUS, {"id": first, "status": "OPEN"})  # admits it
        before = outcomes["write"]
        holder = await asyncpg.connect(db.database_url.replace("+asyncpg", ""))
        try:
            transaction = holder.transaction()
            await transaction.start()
            # Another transaction holds the first ticket's row lock.
            await holder.execute("SELECT 1 FROM tickets WHERE id = $1 FOR UPDATE", world.ticket.id)
            async with asyncio.timeout(5):
                body = await _write(db, world, STATUS, {"id": second, "status": "IN_PROGRESS"})
            assert body["data"]["updateTicket"]["ticket"]["status"] == "IN_PROGRESS"
            waiting = asyncio.create_task(
                _write(db, world, STATUS, {"id": first, "status": "RESOLVED"})
            )
            await asyncio.sleep(0.5)
            assert not waiting.done(), "a write on a locked ticket waits for its lock"
            await transaction.commit()
            async with asyncio.timeout(5):
                body = await waiting
            assert body["data"]["updateTicket"]["ticket"]["status"] == "RESOLVED"
        finally:
            await holder.close()
        assert outcomes["write"] - before == 2
        async with db.sessionmaker() as check:
            found = await check.get(Ticket, world.ticket.id)
            assert found is not None
            assert found.status is Status.RESOLVED
