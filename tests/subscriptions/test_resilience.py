"""Announcing a change is off the mutation's path: a broadcast that hangs or fails neither
delays the response nor keeps this instance's own subscribers from the change."""

from __future__ import annotations

import asyncio

import pytest

from tests.conftest import Stack
from tests.factories import World, create_world
from tests.graphql import execute, global_id
from tests.ws import GraphQLWebSocket, serving, wait_until

EVENTS = "subscription { ticketEvents { cursor kind ticket { status } } }"
STATUS = """
mutation($id: ID!, $status: TicketStatus!) {
  updateTicket(input: {id: $id, status: $status}) { ticket { status } userErrors { code } }
}
"""


@pytest.fixture
async def world(session) -> World:
    return await create_world(session)


@pytest.fixture
def hanging_broadcast(db: Stack):
    """The broadcast backend's publish blocks until released (a Redis that stopped answering)."""
    backend = db.app.state.runtime.get().hub.backend
    release = asyncio.Event()
    calls: list[str] = []

    async def hang(channel: str, message: str) -> None:
        calls.append(channel)
        await release.wait()

    backend.publish = hang
    try:
        yield calls
    finally:
        release.set()
        del backend.publish


async def test_mutation_answers_while_the_broadcast_hangs(
    db: Stack, world: World, hanging_broadcast: list[str]
) -> None:
    hub = db.app.state.runtime.get().hub
    published_before = hub.published
    async with (
        serving(db.app) as url,
        GraphQLWebSocket.connect(url, db.token(world.agent.user_id)) as agent,
    ):
        await agent.subscribe(EVENTS)
        await wait_until(lambda: hub.subscriber_count == 1)
        async with db.client(db.token(world.agent.user_id)) as client, asyncio.timeout(10):
            first = await execute(
                client, STATUS, {"id": global_id("Ticket", world.ticket.id), "status": "RESOLVED"}
            )
            second = await execute(
                client, STATUS, {"id": global_id("Ticket", world.ticket.id), "status": "OPEN"}
            )
        events = [(await agent.next_data())["data"]["ticketEvents"] for _ in range(2)]
        await wait_until(lambda: len(hanging_broadcast) >= 1)
        announced = hub.published

    assert first["data"]["updateTicket"]["ticket"] == {"status": "RESOLVED"}
    assert second["data"]["updateTicket"]["ticket"] == {"status": "OPEN"}
    # This instance's subscriber got both changes although neither announcement went out.
    assert [e["ticket"]["status"] for e in events] == ["RESOLVED", "OPEN"]
    assert announced == published_before


async def test_failing_broadcast_is_counted_not_raised(db: Stack, world: World) -> None:
    hub = db.app.state.runtime.get().hub
    backend = hub.backend

    async def fail(channel: str, message: str) -> None:
        raise ConnectionError("redis is gone")

    failures_before = hub.publish_failures + hub.publish_skipped
    backend.publish = fail
    try:
        async with db.client(db.token(world.agent.user_id)) as client:
            body = await execute(
                client, STATUS, {"id": global_id("Ticket", world.ticket.id), "status": "RESOLVED"}
            )
        await wait_until(lambda: hub.publish_failures + hub.publish_skipped > failures_before)
    finally:
        del backend.publish

    assert body["data"]["updateTicket"]["userErrors"] == []
