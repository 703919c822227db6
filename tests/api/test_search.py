"""Search by ticket number: `#41`, `41` and `#41 export` put ticket 41 first, on every backend.

One table of searches and their expected results runs on SQLite and on PostgreSQL (the `db`
fixture is parametrized over the configured backends). Ticket 41 is the least recently
updated ticket, so only the number match can bring it to the front.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from models import TeamMember
from tests.conftest import Stack
from tests.factories import create_customer, create_member, create_organization, create_ticket
from tests.graphql import execute

T0 = dt.datetime(2024, 3, 1, 9, 0, tzinfo=dt.UTC)
LIST = """
query($search: String!, $order: TicketOrder, $first: Int, $after: String, $last: Int,
      $before: String) {
  tickets(filter: {search: $search}, orderBy: $order, first: $first, after: $after,
          last: $last, before: $before) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    nodes { number }
  }
  ticketStats(filter: {search: $search}) { total }
}
"""

# Tickets that match something; every other number up to 42 is a filler matching nothing.
SPECIAL = {
    4: ("Export button missing", "Where did it go?"),
    14: ("Crash on save", "Error 41 on save"),
    40: ("Export to PDF", "It is blank."),
    41: ("Printer jam", "Paper stuck."),
    42: ("Slow export", "It took 41 minutes."),
}
NUMBER_ASC = {"field": "NUMBER", "direction": "ASC"}

# (search, order) -> the numbers of the results, in order.
SEARCHES: list[tuple[str, dict[str, str] | None, list[int]]] = [
    ("#41", None, [41]),
    ("41", None, [41, 42, 14]),
    ("#41 export", None, [41, 42, 40, 4]),
    ("export #41", None, [41, 42, 40, 4]),
    ("  #41   export ", None, [41, 42, 40, 4]),
    ("#41 export", NUMBER_ASC, [41, 4, 40, 42]),
    ("41", NUMBER_ASC, [41, 14, 42]),
    ("#41 #14", None, [14, 41]),
    ("#4", None, [4]),
    ("export", None, [42, 40, 4]),
    ("#999", None, []),
    ("#999 export", None, [42, 40, 4]),
]


@dataclass
class Desk:
    agent: TeamMember


@pytest.fixture
async def desk(session: AsyncSession) -> Desk:
    org = await create_organization(session)
    agent = await create_member(session, org)
    customer = await create_customer(session)
    for number in range(1, 43):
        title, description = SPECIAL.get(number, ("Filler", "Nothing to see."))
        # Ticket 41 is the oldest change of all; the others later, in number order.
        minutes = 0 if number == 41 else number
        ticket = await create_ticket(
            session,
            org,
            customer,
            title=title,
            description=description,
            updated_at=T0 + dt.timedelta(minutes=minutes),
        )
        assert ticket.number == number
    await session.commit()
    return Desk(agent)


async def search(db: Stack, desk: Desk, **variables: Any) -> dict[str, Any]:
    async with db.client(db.token(desk.agent.user_id)) as client:
        body = await execute(client, LIST, variables)
    assert "errors" not in body, body
    return body["data"]  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("text", "order", "expected"),
    SEARCHES,
    ids=[f"{text.strip()!r}{'-by-number' if order else ''}" for text, order, _ in SEARCHES],
)
async def test_search_results_and_their_order(
    db: Stack, desk: Desk, text: str, order: dict[str, str] | None, expected: list[int]
) -> None:
    data = await search(db, desk, search=text, order=order)

    assert [n["number"] for n in data["tickets"]["nodes"]] == expected
    assert data["tickets"]["totalCount"] == len(expected)
    assert data["ticketStats"]["total"] == len(expected)


@pytest.mark.parametrize("order", [None, NUMBER_ASC], ids=["by-update", "by-number"])
async def test_paging_through_a_number_search_keeps_the_pinned_ticket_first_and_once(
    db: Stack, desk: Desk, order: dict[str, str] | None
) -> None:
    expected = next(e for t, o, e in SEARCHES if t == "#41 export" and o == order)

    forward, after = [], None
    while True:
        page = (await search(db, desk, search="#41 export", order=order, first=1, after=after))[
            "tickets"
        ]
        forward += [n["number"] for n in page["nodes"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    backward, before = [], None
    while True:
        page = (await search(db, desk, search="#41 export", order=order, last=1, before=before))[
            "tickets"
        ]
        backward = [n["number"] for n in page["nodes"]] + backward
        if not page["pageInfo"]["hasPreviousPage"]:
            break
        before = page["pageInfo"]["startCursor"]

    assert forward == expected
    assert backward == expected


async def test_a_cursor_of_a_plain_search_is_refused_by_a_number_search(
    db: Stack, desk: Desk
) -> None:
    """The pinned order is another order: its cursors do not mix with the plain one."""
    plain = await search(db, desk, search="export", first=1)
    cursor = plain["tickets"]["pageInfo"]["endCursor"]

    async with db.client(db.token(desk.agent.user_id)) as client:
        body = await execute(client, LIST, {"search": "#41 export", "first": 1, "after": cursor})

    assert [e["extensions"]["code"] for e in body["errors"]] == ["BAD_USER_INPUT"]
    assert body["data"]["tickets"] is None
    assert body["data"]["ticketStats"] == {"total": 4}
