"""The demo seed: the promised shape, consistent history, and idempotence."""

from __future__ import annotations

import json

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
from resolvers.history import entry_kind
from server.seed import demo_users, seed_demo
from tests.graphql import execute


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


async def test_seeded_history_is_the_history_the_api_writes(session) -> None:
    """The seeder goes through the write use cases: every reply and note entry names its
    response, every triage and move wrote its field's entry, and the tickets end where their
    history says."""
    await seed_demo(session)
    await session.commit()
    tickets = {t.id: t for t in await session.scalars(select(Ticket))}
    responses = {r.id: r for r in await session.scalars(select(TicketResponse))}
    rows = list(await session.scalars(select(TicketHistory).order_by(TicketHistory.id)))

    for row in rows:
        entry_kind(row)  # every row is one of the typed entries
        if row.action in (HistoryAction.RESPONSE_ADDED, HistoryAction.NOTE_ADDED):
            assert row.field_name == "response"
            response = responses[int(row.new_value or 0)]
            assert response.ticket_id == row.ticket_id
            assert response.is_internal is (row.action is HistoryAction.NOTE_ADDED)
            assert row.is_internal is response.is_internal
    for ticket in tickets.values():
        own = [r for r in rows if r.ticket_id == ticket.id]
        last = {r.field_name: r.new_value for r in own if r.field_name}
        assert last.get("status", "open") == ticket.status.value
        assert last["team"] == str(ticket.team_id)
        assert last["tags"] == json.dumps(ticket.tags, separators=(",", ":"))
        assert ("metadata", True) in {(r.field_name, r.is_internal) for r in own}
        assert last.get("assignee") == (
            None if ticket.assignee_id is None else str(ticket.assignee_id)
        )
        public = [r for r in own if not r.is_internal and r.action is not HistoryAction.CREATED]
        # Each public change bumped the version once (a change may write several rows).
        assert ticket.version == 1 + len({r.created_at for r in public})
        assert ticket.updated_at == max(r.created_at for r in own if not r.is_internal)


async def test_seeded_timelines_render_as_typed_entries(db, session) -> None:
    await seed_demo(session)
    await session.commit()
    alice = await session.scalar(select(TeamMember).where(TeamMember.user_id == "demo|alice"))
    assert alice is not None
    document = """
    query {
      tickets(first: 40) {
        nodes {
          history(first: 12) {
            nodes {
              __typename
              ... on ResponseAdded { response { id } }
              ... on NoteAdded { response { id } }
              ... on StatusChanged { fromStatus toStatus }
              ... on Assigned { toAssignee { name } }
              ... on TeamChanged { toTeam { name } }
            }
          }
        }
      }
    }
    """
    async with db.client(db.token(alice.user_id)) as client:
        body = await execute(client, document)

    assert "errors" not in body, body
    nodes = body["data"]["tickets"]["nodes"]
    assert len(nodes) == 40
    entries = [e for t in nodes for e in t["history"]["nodes"]]
    kinds = {e["__typename"] for e in entries}
    assert {"Created", "TeamChanged", "TagsChanged", "MetadataChanged", "Assigned"} <= kinds
    assert {"ResponseAdded", "NoteAdded", "StatusChanged"} <= kinds
    assert all(e["response"] for e in entries if "response" in e)
    assert all(e["toAssignee"] for e in entries if e["__typename"] == "Assigned")
