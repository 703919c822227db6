"""Optimistic concurrency: of two updates made against the same version, exactly one wins."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from models import HistoryAction, Ticket, TicketHistory
from tests.conftest import Stack
from tests.factories import create_customer, create_member, create_organization, create_ticket
from tests.graphql import execute, global_id

UPDATE = """
mutation Update($id: ID!, $version: Int!, $status: TicketStatus!) {
  updateTicket(input: {id: $id, expectedVersion: $version, status: $status}) {
    ticket { status version }
    userErrors { field code }
  }
}
"""


async def test_concurrent_updates_with_the_same_version(db: Stack, session) -> None:
    org = await create_organization(session)
    first_agent = await create_member(session, org)
    second_agent = await create_member(session, org)
    ticket = await create_ticket(session, org, await create_customer(session))
    await session.commit()
    ticket_id = global_id("Ticket", ticket.id)

    async def update(agent, status: str) -> dict:
        async with db.client(db.token(agent.user_id)) as client:
            body = await execute(client, UPDATE, {"id": ticket_id, "version": 1, "status": status})
        return body["data"]["updateTicket"]

    results = await asyncio.gather(
        update(first_agent, "IN_PROGRESS"), update(second_agent, "WAITING_ON_CUSTOMER")
    )

    winners = [r for r in results if r["ticket"] is not None]
    losers = [r for r in results if r["ticket"] is None]
    assert len(winners) == 1, results
    assert len(losers) == 1, results
    assert losers[0]["userErrors"] == [{"field": "expectedVersion", "code": "CONFLICT"}]
    async with db.sessionmaker() as check:
        stored = await check.get(Ticket, ticket.id)
        changes = await check.scalar(
            select(func.count()).where(
                TicketHistory.ticket_id == ticket.id,
                TicketHistory.action == HistoryAction.FIELD_CHANGED,
            )
        )
    assert stored is not None
    assert stored.version == 2
    assert stored.status.name == winners[0]["ticket"]["status"]
    assert changes == 1


async def test_many_concurrent_creates_get_distinct_numbers(db: Stack, session) -> None:
    org = await create_organization(session)
    agent = await create_member(session, org)
    customer = await create_customer(session)
    await create_ticket(session, org, customer)  # ties the customer to the organization
    await session.commit()
    create = """
    mutation($c: ID!, $t: String!) {
      createTicket(input: {customerId: $c, title: $t}) { ticket { number } userErrors { code } }
    }
    """

    async def open_one(n: int) -> int:
        async with db.client(db.token(agent.user_id)) as client:
            body = await execute(
                client, create, {"c": global_id("Customer", customer.id), "t": f"parallel {n}"}
            )
        return body["data"]["createTicket"]["ticket"]["number"]

    numbers = await asyncio.gather(*(open_one(n) for n in range(8)))

    assert sorted(numbers) == list(range(2, 10))
