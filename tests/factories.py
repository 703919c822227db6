"""Factories: create rows with sensible defaults. They flush; the test commits."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from models import (
    Customer,
    Organization,
    Priority,
    Status,
    Team,
    TeamMember,
    TeamRole,
    Ticket,
    TicketResponse,
)
from models.enums import AuthorType
from resolvers.ticket_write import allocate_ticket_number

_seq = itertools.count(1)


def _n() -> int:
    return next(_seq)


async def create_organization(session: AsyncSession, **values: Any) -> Organization:
    n = _n()
    org = Organization(**{"name": f"Org {n}", "slug": f"org-{n}", **values})
    session.add(org)
    await session.flush()
    return org


async def create_team(session: AsyncSession, org: Organization, **values: Any) -> Team:
    team = Team(**{"organization_id": org.id, "name": f"Team {_n()}", **values})
    session.add(team)
    await session.flush()
    return team


async def create_member(
    session: AsyncSession, org: Organization, role: TeamRole = TeamRole.AGENT, **values: Any
) -> TeamMember:
    n = _n()
    member = TeamMember(
        **{
            "organization_id": org.id,
            "user_id": f"member-{n}",
            "email": f"member{n}@example.com",
            "name": f"Member {n}",
            "role": role,
            **values,
        }
    )
    session.add(member)
    await session.flush()
    return member


async def create_customer(session: AsyncSession, **values: Any) -> Customer:
    n = _n()
    customer = Customer(
        **{
            "user_id": f"customer-{n}",
            "email": f"customer{n}@example.com",
            "name": f"Customer {n}",
            **values,
        }
    )
    session.add(customer)
    await session.flush()
    return customer


async def create_ticket(
    session: AsyncSession, org: Organization, customer: Customer, **values: Any
) -> Ticket:
    number = await allocate_ticket_number(session, org.id)
    ticket = Ticket(
        **{
            "organization_id": org.id,
            "customer_id": customer.id,
            "number": number,
            "title": f"Ticket {_n()}",
            "description": "Something is broken.",
            "status": Status.OPEN,
            "priority": Priority.MEDIUM,
            **values,
        }
    )
    session.add(ticket)
    await session.flush()
    return ticket


async def add_response(
    session: AsyncSession,
    ticket: Ticket,
    author: Customer | TeamMember,
    body: str,
    *,
    internal: bool = False,
) -> TicketResponse:
    response = TicketResponse(
        ticket_id=ticket.id,
        author_type=AuthorType.CUSTOMER if isinstance(author, Customer) else AuthorType.TEAM_MEMBER,
        author_id=author.id,
        body=body,
        is_internal=internal,
    )
    session.add(response)
    await session.flush()
    return response


@dataclass
class World:
    """Two organizations with staff, two customers, and one ticket with a reply and a note."""

    org: Organization
    other_org: Organization
    admin: TeamMember
    agent: TeamMember
    other_agent: TeamMember
    customer: Customer
    other_customer: Customer
    ticket: Ticket
    public_reply: TicketResponse
    internal_note: TicketResponse


INTERNAL_MARKER = "INTERNAL-NOTE-MARKER-7f3a"
METADATA_MARKER = "STAFF-METADATA-MARKER-91c2"


async def create_world(session: AsyncSession) -> World:
    org = await create_organization(session)
    other_org = await create_organization(session)
    team = await create_team(session, org)
    admin = await create_member(session, org, TeamRole.ADMIN, team_id=team.id)
    agent = await create_member(session, org, team_id=team.id)
    other_agent = await create_member(session, other_org)
    customer = await create_customer(session)
    other_customer = await create_customer(session)
    ticket = await create_ticket(
        session,
        org,
        customer,
        assignee_id=agent.id,
        team_id=team.id,
        metadata_={"note": METADATA_MARKER},
    )
    public_reply = await add_response(session, ticket, agent, "We are on it.")
    internal_note = await add_response(session, ticket, agent, INTERNAL_MARKER, internal=True)
    await session.commit()
    return World(
        org=org,
        other_org=other_org,
        admin=admin,
        agent=agent,
        other_agent=other_agent,
        customer=customer,
        other_customer=other_customer,
        ticket=ticket,
        public_reply=public_reply,
        internal_note=internal_note,
    )
