"""`assignTicket`: agents take unassigned tickets and release their own; admins assign anyone
active in their organization; customers never assign."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import pytest

from models import TeamMember, Ticket
from tests.api.mutation_helpers import (
    TICKET_FIELDS,
    call,
    call_anonymously,
    change,
    database_state,
    history_of,
    load_ticket,
    payload_of,
    refusal_of,
    ticket_id,
    user_error_codes,
)
from tests.conftest import Stack
from tests.factories import World, create_member, create_ticket, create_world
from tests.graphql import assert_authentication_required, assert_refused_at, global_id

ASSIGN_TICKET = f"""
mutation AssignTicket($input: AssignTicketInput!) {{
  assignTicket(input: $input) {{
    ticket {{ {TICKET_FIELDS} }}
    userErrors {{ field message code }}
  }}
}}
"""


@dataclass
class Desk:
    """The world, plus an unassigned ticket and a second agent of the organization."""

    world: World
    unassigned: Ticket
    colleague: TeamMember

    def __getattr__(self, name: str) -> Any:
        return getattr(self.world, name)


@pytest.fixture
async def desk(session) -> Desk:
    world = await create_world(session)
    unassigned = await create_ticket(session, world.org, world.customer)
    colleague = await create_member(session, world.org)
    await session.commit()
    return Desk(world, unassigned, colleague)


def member_id(member: TeamMember | None) -> str | None:
    return None if member is None else global_id("TeamMember", member.id)


async def assign_as(
    db: Stack, who: Any, ticket: Ticket, assignee: TeamMember | None
) -> dict[str, Any]:
    variables = {"input": {"ticketId": ticket_id(ticket), "assigneeId": member_id(assignee)}}
    return await call(db, who, ASSIGN_TICKET, variables)


def assigned(body: dict[str, Any]) -> dict[str, Any]:
    payload = payload_of(body, "assignTicket")
    assert payload["userErrors"] == []
    ticket: dict[str, Any] = payload["ticket"]
    return ticket


# --- agents --------------------------------------------------------------------------------


async def test_an_agent_takes_an_unassigned_ticket(db: Stack, desk: Desk) -> None:
    before = await load_ticket(db, desk.unassigned)

    ticket = assigned(await assign_as(db, desk.agent, desk.unassigned, desk.agent))

    assert ticket["assignee"] == {"id": member_id(desk.agent)}
    assert ticket["version"] == before.version + 1
    assert await history_of(db, desk.unassigned) == [
        change(desk.agent, "assigned", "assignee", None, desk.agent.id)
    ]
    assert (await load_ticket(db, desk.unassigned)).updated_at > before.updated_at


async def test_an_agent_releases_their_own_ticket(db: Stack, desk: Desk) -> None:
    ticket = assigned(await assign_as(db, desk.agent, desk.ticket, None))

    assert ticket["assignee"] is None
    assert await history_of(db, desk.ticket) == [
        change(desk.agent, "assigned", "assignee", desk.agent.id, None)
    ]


@pytest.mark.parametrize(
    ("ticket", "assignee"),
    [("unassigned", "colleague"), ("ticket", "colleague"), ("ticket", "admin")],
    ids=["hand-a-ticket-to-a-colleague", "pass-on-own-ticket", "pass-on-to-the-admin"],
)
async def test_agents_assign_nobody_but_themselves(
    db: Stack, desk: Desk, ticket: str, assignee: str
) -> None:
    before = await database_state(db)

    body = await assign_as(db, desk.agent, getattr(desk, ticket), getattr(desk, assignee))

    assert refusal_of(body, "assignTicket") == [("assigneeId", "FORBIDDEN")]
    assert await database_state(db) == before


@pytest.mark.parametrize("assignee", ["colleague", None], ids=["take-it", "release-it"])
async def test_agents_cannot_take_or_release_a_ticket_of_a_colleague(
    db: Stack, desk: Desk, assignee: str | None
) -> None:
    before = await database_state(db)

    body = await assign_as(db, desk.colleague, desk.ticket, desk.colleague if assignee else None)

    assert refusal_of(body, "assignTicket") == [("assigneeId", "FORBIDDEN")]
    assert await database_state(db) == before


@pytest.mark.parametrize("who", ["agent", "admin"])
async def test_assigning_the_current_assignee_changes_nothing(
    db: Stack, desk: Desk, who: str
) -> None:
    before = await database_state(db)

    ticket = assigned(await assign_as(db, getattr(desk, who), desk.ticket, desk.agent))

    assert ticket["assignee"] == {"id": member_id(desk.agent)}
    assert await database_state(db) == before


async def test_of_two_agents_taking_a_ticket_at_once_one_gets_it(db: Stack, desk: Desk) -> None:
    bodies = await asyncio.gather(
        assign_as(db, desk.agent, desk.unassigned, desk.agent),
        assign_as(db, desk.colleague, desk.unassigned, desk.colleague),
    )

    outcomes = [
        refusal_of(body, "assignTicket") if body["data"]["assignTicket"]["userErrors"] else []
        for body in bodies
    ]
    assert [] in outcomes
    # The loser came second (the row lock makes writers take turns) and found the ticket taken.
    assert outcomes[1 - outcomes.index([])] == [("assigneeId", "FORBIDDEN")]
    winner = bodies[outcomes.index([])]["data"]["assignTicket"]["ticket"]
    stored = await load_ticket(db, desk.unassigned)
    assert winner["assignee"] == {"id": global_id("TeamMember", stored.assignee_id or 0)}
    assert len(await history_of(db, desk.unassigned)) == 1


# --- admins --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ticket", "assignee", "old"),
    [
        ("unassigned", "colleague", None),
        ("ticket", "colleague", "agent"),
        ("ticket", "admin", "agent"),
        ("ticket", None, "agent"),
    ],
    ids=["assign", "reassign", "take", "unassign"],
)
async def test_admins_assign_anyone_in_their_organization(
    db: Stack, desk: Desk, ticket: str, assignee: str | None, old: str | None
) -> None:
    target = getattr(desk, ticket)
    new_member = getattr(desk, assignee) if assignee else None
    old_member = getattr(desk, old) if old else None

    result = assigned(await assign_as(db, desk.admin, target, new_member))

    assert result["assignee"] == (new_member and {"id": member_id(new_member)})
    assert await history_of(db, target) == [
        change(
            desk.admin,
            "assigned",
            "assignee",
            old_member and old_member.id,
            new_member and new_member.id,
        )
    ]


@pytest.mark.parametrize(
    ("assignee", "code"),
    [
        ("inactive", "INVALID"),
        ("pending", "INVALID"),
        ("foreign", "NOT_FOUND"),
        ("foreign-pending", "NOT_FOUND"),
        ("missing", "NOT_FOUND"),
    ],
)
async def test_admins_assign_only_signed_in_active_members_of_their_organization(
    db: Stack, desk: Desk, session, assignee: str, code: str
) -> None:
    members = {
        "inactive": await create_member(session, desk.org, is_active=False),
        # Invited, never signed in: nobody would see the ticket.
        "pending": await create_member(session, desk.org, user_id=None),
        "foreign": desk.other_agent,
        "foreign-pending": await create_member(session, desk.other_org, user_id=None),
        "missing": TeamMember(id=999_999),
    }
    await session.commit()
    before = await database_state(db)

    body = await assign_as(db, desk.admin, desk.unassigned, members[assignee])

    payload = payload_of(body, "assignTicket")
    assert payload["ticket"] is None
    assert user_error_codes(payload) == [("assigneeId", code)]
    assert await database_state(db) == before


async def test_an_invited_member_takes_tickets_once_signed_in(
    db: Stack, desk: Desk, session
) -> None:
    invited = await create_member(session, desk.org, user_id=None)
    await session.commit()
    assert user_error_codes(
        payload_of(await assign_as(db, desk.admin, desk.unassigned, invited), "assignTicket")
    ) == [("assigneeId", "INVALID")]

    invited.user_id = "signed-in-now"
    await session.commit()
    body = await assign_as(db, desk.admin, desk.unassigned, invited)

    assert user_error_codes(payload_of(body, "assignTicket")) == []
    assert (await load_ticket(db, desk.unassigned.id)).assignee_id == invited.id


# --- who may assign ------------------------------------------------------------------------


@pytest.mark.parametrize("assignee", ["agent", None], ids=["assign", "unassign"])
async def test_customers_cannot_assign_their_tickets(
    db: Stack, desk: Desk, assignee: str | None
) -> None:
    before = await database_state(db)

    body = await assign_as(db, desk.customer, desk.ticket, desk.agent if assignee else None)

    # Customers never assign: the whole request is refused (field null).
    assert refusal_of(body, "assignTicket") == [(None, "FORBIDDEN")]
    assert await database_state(db) == before


@pytest.mark.parametrize("who", ["other_customer", "other_agent"])
async def test_a_ticket_of_someone_else_is_not_found(db: Stack, desk: Desk, who: str) -> None:
    before = await database_state(db)

    body = await assign_as(db, getattr(desk, who), desk.unassigned, getattr(desk, who))

    assert refusal_of(body, "assignTicket") == [("ticketId", "NOT_FOUND")]
    assert await database_state(db) == before


async def test_anonymous_must_authenticate(db: Stack, desk: Desk) -> None:
    before = await database_state(db)

    response = await call_anonymously(
        db,
        ASSIGN_TICKET,
        {"input": {"ticketId": ticket_id(desk.unassigned), "assigneeId": member_id(desk.agent)}},
    )

    assert_authentication_required(response)
    assert await database_state(db) == before


# --- bad input -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fields",
    [
        {"assigneeId": global_id("Customer", 1)},
        {"ticketId": global_id("TeamMember", 1)},
        {"assigneeId": global_id("TeamMember", "me")},  # type: ignore[arg-type]
    ],
    ids=["customer-as-assignee", "member-as-ticket", "non-numeric"],
)
async def test_ids_of_the_wrong_type_are_not_found(
    db: Stack, desk: Desk, fields: dict[str, Any]
) -> None:
    before = await database_state(db)

    body = await call(
        db,
        desk.admin,
        ASSIGN_TICKET,
        {"input": {"ticketId": ticket_id(desk.unassigned), "assigneeId": None, **fields}},
    )

    (field,) = fields
    assert refusal_of(body, "assignTicket") == [(field, "NOT_FOUND")]
    assert await database_state(db) == before


@pytest.mark.parametrize("field", ["ticketId", "assigneeId"])
async def test_malformed_ids_are_bad_user_input(db: Stack, desk: Desk, field: str) -> None:
    before = await database_state(db)
    fields = {"ticketId": ticket_id(desk.ticket), "assigneeId": member_id(desk.admin)}

    body = await call(db, desk.admin, ASSIGN_TICKET, {"input": {**fields, field: "!!"}})

    assert_refused_at(body, "assignTicket", "BAD_USER_INPUT")
    assert await database_state(db) == before


async def test_omitting_the_assignee_does_not_unassign(db: Stack, desk: Desk) -> None:
    before = await database_state(db)

    body = await call(
        db, desk.admin, ASSIGN_TICKET, {"input": {"ticketId": ticket_id(desk.ticket)}}
    )

    assert user_error_codes(payload_of(body, "assignTicket")) == [("assigneeId", "REQUIRED")]
    assert await database_state(db) == before
