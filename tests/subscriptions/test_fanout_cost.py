"""Fanning one change out to many subscribers costs the same SQL as fanning it out to a few."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from typing import Any

import pytest

from tests.api.test_query_counts import counting_statements
from tests.conftest import Stack
from tests.factories import World, create_world
from tests.graphql import execute, global_id
from tests.ws import GraphQLWebSocket, serving, subscribed, wait_until

EVENTS = """
subscription {
  ticketEvents {
    cursor kind
    ticket { number status customer { name } assignee { name } team { name } organization { name } }
    changes { action field actor { ... on TeamMember { name } ... on Customer { name } } }
  }
}
"""
STATUS = """
mutation($id: ID!, $status: TicketStatus!) {
  updateTicket(input: {id: $id, status: $status}) { userErrors { code } }
}
"""


@pytest.fixture
async def world(session) -> World:
    return await create_world(session)


async def statements_to_deliver(
    db: Stack, world: World, app: Any, url: str, subscribers: int, status: str
) -> int:
    token = db.token(world.agent.user_id)
    hub = app.state.runtime.get().hub
    # The previous round's subscriptions end asynchronously after their sockets close.
    await wait_until(lambda: hub.subscriber_count == 0)
    async with AsyncExitStack() as stack:
        clients = [
            await stack.enter_async_context(GraphQLWebSocket.connect(url, token))
            for _ in range(subscribers)
        ]
        for client in clients:
            await client.subscribe(EVENTS)
        await subscribed(app, subscribers)
        async with db.client(token, app=app) as http:
            with counting_statements(db, app) as statements:
                await execute(
                    http, STATUS, {"id": global_id("Ticket", world.ticket.id), "status": status}
                )
                events = await asyncio.gather(*(c.next_data() for c in clients))
    assert {e["data"]["ticketEvents"]["ticket"]["status"] for e in events} == {status}
    assert all(e["data"]["ticketEvents"]["ticket"]["assignee"]["name"] for e in events)
    return len(statements)


async def test_fan_out_does_not_query_per_subscriber(db: Stack, world: World) -> None:
    # Open sockets are re-checked against the database every ACTOR_CACHE_SECONDS, with one
    # query for all of them; a long cache keeps that periodic query out of the count.
    async with db.variant(actor_cache_seconds=3600) as app, serving(app) as url:
        # The mutation once before counting: its first request is the pipeline's, repeats
        # are the compiled lane's (PostgreSQL), and both counts must see the same write path.
        async with db.client(db.token(world.agent.user_id), app=app) as http:
            await execute(
                http, STATUS, {"id": global_id("Ticket", world.ticket.id), "status": "OPEN"}
            )
        few = await statements_to_deliver(db, world, app, url, 2, "IN_PROGRESS")
        many = await statements_to_deliver(db, world, app, url, 25, "WAITING_ON_CUSTOMER")

    # One query per subscriber would add 23 statements. The hub may read the event log once
    # more when a change waits above the watermark for a moment (it re-polls; timing, not
    # subscribers), so a few statements either way are not a per-subscriber cost.
    assert abs(many - few) <= 3, f"{few} statements for 2 subscribers, {many} for 25"
