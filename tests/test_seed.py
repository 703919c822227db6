"""The demo seed: the promised shape, consistent history, and idempotence."""

from __future__ import annotations

from sqlalchemy import func, select

from models import (
    Customer,
    HistoryAction,
    Organization,
    Priority,
    Status,
    Team,
    TeamMember,
    TeamRole,
    Ticket,
    TicketHistory,
    TicketResponse,
)
from server.seed import demo_users, seed_demo


async def count(session, statement) -> int:
    return int(await session.scalar(statement) or 0)


async def test_demo_seed_has_the_promised_shape(session) -> None:
    assert await seed_demo(session) is True
    await session.commit()

    acme = await session.scalar(select(Organization).where(Organization.slug == "acme"))
    assert acme is not None
    assert await count(session, select(func.count()).select_from(Organization)) == 2
    assert (
        await count(session, select(func.count(Team.id)).where(Team.organization_id == acme.id))
        == 2
    )
    roles = list(
        await session.scalars(select(TeamMember.role).where(TeamMember.organization_id == acme.id))
    )
    assert sorted(roles) == sorted([TeamRole.ADMIN, TeamRole.AGENT, TeamRole.AGENT, TeamRole.AGENT])
    assert await count(session, select(func.count()).select_from(Customer)) == 6
    acme_tickets = list(
        await session.scalars(select(Ticket).where(Ticket.organization_id == acme.id))
    )
    assert len(acme_tickets) == 40
    assert {t.status for t in acme_tickets} == set(Status)
    assert {t.priority for t in acme_tickets} == set(Priority)
    assert sorted(t.number for t in acme_tickets) == list(range(1, 41))
    assert acme.next_ticket_number == 41
    # Every ticket has its `created` entry; internal notes have internal history.
    created = await count(
        session, select(func.count()).where(TicketHistory.action == HistoryAction.CREATED)
    )
    assert created == await count(session, select(func.count()).select_from(Ticket))
    notes = await count(session, select(func.count()).where(TicketResponse.is_internal.is_(True)))
    note_entries = await count(
        session,
        select(func.count()).where(
            TicketHistory.action == HistoryAction.NOTE_ADDED, TicketHistory.is_internal.is_(True)
        ),
    )
    assert notes > 0
    assert note_entries == notes
    # Closed tickets carry their timestamps.
    closed = [t for t in acme_tickets if t.status is Status.CLOSED]
    assert all(t.closed_at and t.resolved_at and t.first_responded_at for t in closed)


async def test_seeding_twice_changes_nothing(session) -> None:
    await seed_demo(session)
    await session.commit()
    before = await count(session, select(func.count()).select_from(Ticket))

    assert await seed_demo(session) is False
    await session.commit()

    assert await count(session, select(func.count()).select_from(Ticket)) == before


async def test_demo_users_lists_staff_and_customers(session) -> None:
    await seed_demo(session)
    await session.commit()

    users = await demo_users(session)

    assert users[0].email == "alice@acme.example.com"
    assert users[0].role == "admin"
    assert sum(1 for u in users if u.role == "customer") == 6
    assert {u.organization for u in users if u.role != "customer"} == {"acme", "globex"}
