"""No N+1: a list query costs the same number of SQL statements for 3 tickets as for 12."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event

from models import TeamRole
from tests.conftest import Stack
from tests.factories import (
    add_response,
    create_customer,
    create_member,
    create_organization,
    create_team,
    create_ticket,
)
from tests.graphql import execute

QUEUE = """
query Queue($first: Int!) {
  tickets(first: $first) {
    totalCount
    nodes {
      number title status
      organization { name }
      customer { name email }
      assignee { name team { name } }
      team { name }
      responses(last: 3) {
        totalCount
        nodes { body author { ... on Customer { name } ... on TeamMember { name } } }
      }
      history(first: 5) {
        nodes { action field actor { ... on Customer { name } ... on TeamMember { name } } }
      }
    }
  }
}
"""


@contextmanager
def counting_statements(stack: Stack, app: Any = None) -> Iterator[list[str]]:
    """Every SQL statement the running app (the stack's, or `app`) sends while the block runs."""
    engine = (app or stack.app).state.runtime.get().engine.sync_engine
    statements: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


async def seed_queue(session, tickets: int):
    org = await create_organization(session)
    teams = [await create_team(session, org) for _ in range(3)]
    admin = await create_member(session, org, TeamRole.ADMIN, team_id=teams[0].id)
    agents = [await create_member(session, org, team_id=t.id) for t in teams]
    customers = [await create_customer(session) for _ in range(4)]
    for n in range(tickets):
        ticket = await create_ticket(
            session, org, customers[n % 4], assignee_id=agents[n % 3].id, team_id=teams[n % 3].id
        )
        await add_response(session, ticket, customers[n % 4], f"question {n}")
        await add_response(session, ticket, agents[n % 3], f"answer {n}")
        await add_response(session, ticket, agents[n % 3], f"note {n}", internal=True)
        await add_response(session, ticket, customers[n % 4], f"thanks {n}")
    await session.commit()
    return admin


async def statements_for(db: Stack, admin, first: int) -> int:
    async with db.client(db.token(admin.user_id)) as client:
        with counting_statements(db) as statements:
            body = await execute(client, QUEUE, {"first": first})
    assert "errors" not in body, body
    assert len(body["data"]["tickets"]["nodes"]) == first
    return len(statements)


@pytest.mark.parametrize("page_sizes", [(3, 12)])
async def test_queue_statement_count_does_not_grow_with_page_size(
    db: Stack, session, page_sizes: tuple[int, int]
) -> None:
    admin = await seed_queue(session, tickets=12)
    small, large = page_sizes

    few = await statements_for(db, admin, small)
    many = await statements_for(db, admin, large)

    assert few == many, f"{few} statements for {small} tickets but {many} for {large}"
    # Actor, page, count, and one per relation: a regression that adds a query per row or per
    # relation shows up here even before it grows with the page.
    assert many <= 12, many
