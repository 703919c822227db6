"""Events are published after commit, one per ticket touched, and never after a rollback."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from models import TeamRole
from subscriptions.events import EventKind, TicketEventEnvelope
from tests.conftest import Stack
from tests.factories import INTERNAL_MARKER, create_member, create_world
from tests.graphql import execute, global_id

NOTE = """
mutation($id: ID!, $body: String!, $internal: Boolean!) {
  addResponse(input: {ticketId: $id, body: $body, internal: $internal}) {
    response { id } userErrors { code }
  }
}
"""
BULK = """
mutation($ids: [ID!]!, $status: TicketStatus!) {
  bulkUpdateTickets(input: {ticketIds: $ids, status: $status}) { userErrors { code } }
}
"""


@asynccontextmanager
async def listening(db: Stack, organization_id: int) -> AsyncIterator[list[TicketEventEnvelope]]:
    """Record the envelopes the app publishes for an organization while the block runs."""
    received: list[TicketEventEnvelope] = []
    hub = db.app.state.runtime.get().hub
    publish = hub.publish

    async def recording(envelopes: Sequence[TicketEventEnvelope]) -> None:
        received.extend(e for e in envelopes if e.organization_id == organization_id)
        await publish(envelopes)

    hub.publish = recording
    try:
        yield received
    finally:
        del hub.publish


async def test_committed_change_is_published_with_its_cursor(db: Stack, session) -> None:
    world = await create_world(session)

    async with (
        listening(db, world.org.id) as received,
        db.client(db.token(world.agent.user_id)) as client,
    ):
        body = await execute(
            client,
            NOTE,
            {"id": global_id("Ticket", world.ticket.id), "body": INTERNAL_MARKER, "internal": True},
        )

    assert body["data"]["addResponse"]["userErrors"] == []
    assert len(received) == 1
    event = received[0]
    assert event.kind is EventKind.NOTE_ADDED
    assert event.internal is True
    assert event.ticket_id == world.ticket.id
    assert event.customer_id == world.customer.id
    assert event.cursor == max(event.history_ids)
    # The envelope names what changed; it never carries the text.
    assert INTERNAL_MARKER not in event.to_json()


async def test_refused_mutation_publishes_nothing(db: Stack, session) -> None:
    world = await create_world(session)

    async with (
        listening(db, world.org.id) as received,
        db.client(db.token(world.agent.user_id)) as client,
    ):
        body = await execute(
            client,
            NOTE,
            {"id": global_id("Ticket", world.ticket.id), "body": " ", "internal": False},
        )

    assert body["data"]["addResponse"]["userErrors"] == [{"code": "REQUIRED"}]
    assert received == []


async def test_rolled_back_bulk_update_publishes_nothing(db: Stack, session) -> None:
    world = await create_world(session)
    admin = await create_member(session, world.org, TeamRole.ADMIN)
    await session.commit()
    ids = [global_id("Ticket", world.ticket.id), global_id("Ticket", 999_999)]

    async with (
        listening(db, world.org.id) as received,
        db.client(db.token(admin.user_id)) as client,
    ):
        # The first ticket is changed (and its history written) before the second fails.
        body = await execute(client, BULK, {"ids": ids, "status": "IN_PROGRESS"})

    assert body["data"]["bulkUpdateTickets"]["userErrors"][0]["code"] == "INVALID"
    assert received == []


async def test_bulk_update_publishes_one_event_per_ticket(db: Stack, session) -> None:
    world = await create_world(session)
    admin = await create_member(session, world.org, TeamRole.ADMIN)
    await session.commit()

    async with (
        listening(db, world.org.id) as received,
        db.client(db.token(admin.user_id)) as client,
    ):
        await execute(
            client, BULK, {"ids": [global_id("Ticket", world.ticket.id)], "status": "RESOLVED"}
        )

    assert [(e.kind, e.ticket_id) for e in received] == [(EventKind.UPDATED, world.ticket.id)]
