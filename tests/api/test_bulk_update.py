"""`bulkUpdateTickets`: admins change many tickets at once, all or nothing, with the same history
as single updates."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import pytest

from models import Status, Team, TeamMember, TeamRole, Ticket
from tests.api.mutation_helpers import (
    TICKET_FIELDS,
    Change,
    call,
    call_anonymously,
    change,
    database_state,
    history_of,
    load_ticket,
    payload_of,
    ticket_id,
    user_error_codes,
)
from tests.conftest import Stack
from tests.factories import (
    World,
    create_member,
    create_team,
    create_ticket,
    create_world,
)
from tests.graphql import assert_authentication_required, error_codes, global_id

BULK_UPDATE = f"""
mutation BulkUpdate($input: BulkUpdateTicketsInput!) {{
  bulkUpdateTickets(input: $input) {{
    tickets {{ {TICKET_FIELDS} }}
    results {{ ticketId ticket {{ id status }} userErrors {{ field message code }} }}
    userErrors {{ field message code }}
  }}
}}
"""

UPDATE_TICKET = """
mutation UpdateTicket($input: UpdateTicketInput!) {
  updateTicket(input: $input) { userErrors { code } }
}
"""

ASSIGN_TICKET = """
mutation AssignTicket($input: AssignTicketInput!) {
  assignTicket(input: $input) { userErrors { code } }
}
"""


@dataclass
class Queue:
    """The world, with a queue of three tickets in different states and one elsewhere."""

    world: World
    tickets: list[Ticket]  # the world's ticket, an unassigned one and one in progress
    closed: Ticket
    foreign: Ticket
    team: Team
    colleague: TeamMember

    def __getattr__(self, name: str) -> Any:
        return getattr(self.world, name)


@pytest.fixture
async def queue(session) -> Queue:
    world = await create_world(session)
    unassigned = await create_ticket(session, world.org, world.customer, tags=["old", "keep"])
    in_progress = await create_ticket(
        session, world.org, world.other_customer, status=Status.IN_PROGRESS
    )
    closed = await create_ticket(session, world.org, world.customer, status=Status.CLOSED)
    foreign = await create_ticket(session, world.other_org, world.customer, title="Elsewhere")
    team = await create_team(session, world.org)
    colleague = await create_member(session, world.org)
    await session.commit()
    return Queue(world, [world.ticket, unassigned, in_progress], closed, foreign, team, colleague)


def ids(*tickets: Ticket) -> list[str]:
    return [ticket_id(t) for t in tickets]


async def bulk_as(db: Stack, who: Any, tickets: list[str], **fields: Any) -> dict[str, Any]:
    return await call(db, who, BULK_UPDATE, {"input": {"ticketIds": tickets, **fields}})


def results_of(payload: dict[str, Any]) -> dict[str, list[tuple[str | None, str]]]:
    return {result["ticketId"]: user_error_codes(result) for result in payload["results"]}


def without_actor(entries: list[Change]) -> list[Change]:
    return [replace(entry, actor=None) for entry in entries]


# --- success -------------------------------------------------------------------------------


async def test_admin_changes_many_tickets_at_once(db: Stack, queue: Queue) -> None:
    before = {t.id: await load_ticket(db, t) for t in queue.tickets}

    body = await bulk_as(
        db,
        queue.admin,
        ids(*queue.tickets),
        status="WAITING_ON_CUSTOMER",
        priority="HIGH",
        teamId=global_id("Team", queue.team.id),
        assigneeId=global_id("TeamMember", queue.colleague.id),
        addTags=["Follow-up"],
        removeTags=["old"],
    )

    payload = payload_of(body, "bulkUpdateTickets")
    assert payload["userErrors"] == []
    assert results_of(payload) == {tid: [] for tid in ids(*queue.tickets)}
    assert [t["id"] for t in payload["tickets"]] == ids(*queue.tickets)
    for ticket in payload["tickets"]:
        assert (ticket["status"], ticket["priority"]) == ("WAITING_ON_CUSTOMER", "HIGH")
        assert ticket["team"] == {"id": global_id("Team", queue.team.id)}
        assert ticket["assignee"] == {"id": global_id("TeamMember", queue.colleague.id)}
        assert "follow-up" in ticket["tags"]
        assert "old" not in ticket["tags"]
    unassigned = queue.tickets[1]
    assert payload["tickets"][1]["tags"] == ["keep", "follow-up"]
    assert payload["tickets"][1]["version"] == before[unassigned.id].version + 1
    admin = queue.admin
    assert sorted(await history_of(db, unassigned), key=lambda e: e.field or "") == [
        change(admin, "assigned", "assignee", None, queue.colleague.id),
        change(admin, "field_changed", "priority", "medium", "high"),
        change(admin, "field_changed", "status", "open", "waiting_on_customer"),
        change(admin, "field_changed", "tags", '["old","keep"]', '["keep","follow-up"]'),
        change(admin, "field_changed", "team", None, queue.team.id),
    ]


async def test_bulk_history_is_the_history_of_single_updates(
    db: Stack, queue: Queue, session
) -> None:
    # Given two identical tickets
    twins = [
        await create_ticket(session, queue.org, queue.customer, title="Twin", tags=["a"])
        for _ in range(2)
    ]
    await session.commit()
    changes = {"status": "RESOLVED", "priority": "LOW", "teamId": global_id("Team", queue.team.id)}
    assignee = global_id("TeamMember", queue.colleague.id)

    # when one is changed in bulk and the other with updateTicket + assignTicket
    bulk = await bulk_as(
        db, queue.admin, ids(twins[0]), addTags=["b"], assigneeId=assignee, **changes
    )
    single = await call(
        db,
        queue.admin,
        UPDATE_TICKET,
        {"input": {"id": ticket_id(twins[1]), "tags": ["a", "b"], **changes}},
    )
    assigned = await call(
        db,
        queue.admin,
        ASSIGN_TICKET,
        {"input": {"ticketId": ticket_id(twins[1]), "assigneeId": assignee}},
    )

    # then both have the same history
    assert payload_of(bulk, "bulkUpdateTickets")["userErrors"] == []
    assert payload_of(single, "updateTicket")["userErrors"] == []
    assert payload_of(assigned, "assignTicket")["userErrors"] == []
    bulk_history = await history_of(db, twins[0])
    assert len(bulk_history) == 5
    assert sorted(bulk_history, key=repr) == sorted(await history_of(db, twins[1]), key=repr)
    first, second = [await load_ticket(db, twin) for twin in twins]
    assert (first.status, second.status) == (Status.RESOLVED, Status.RESOLVED)
    assert first.tags == second.tags == ["a", "b"]


async def test_tickets_already_as_asked_get_no_history(db: Stack, queue: Queue) -> None:
    in_progress = queue.tickets[2]

    body = await bulk_as(db, queue.admin, ids(queue.tickets[1], in_progress), status="IN_PROGRESS")

    assert payload_of(body, "bulkUpdateTickets")["userErrors"] == []
    assert await history_of(db, in_progress) == []
    assert without_actor(await history_of(db, queue.tickets[1])) == [
        Change("field_changed", "status", "open", "in_progress")
    ]


async def test_null_assignee_and_team_clear_them(db: Stack, queue: Queue) -> None:
    ticket = queue.world.ticket
    team_id, assignee_id = ticket.team_id, ticket.assignee_id

    body = await bulk_as(db, queue.admin, ids(ticket), teamId=None, assigneeId=None)

    updated = payload_of(body, "bulkUpdateTickets")["tickets"][0]
    assert (updated["team"], updated["assignee"]) == (None, None)
    assert sorted(without_actor(await history_of(db, ticket)), key=repr) == [
        Change("assigned", "assignee", str(assignee_id), None),
        Change("field_changed", "team", str(team_id), None),
    ]


async def test_a_repeated_id_is_refused_as_a_duplicate(db: Stack, queue: Queue) -> None:
    """One result per requested id: the repeat is reported as DUPLICATE, and (all or nothing)
    nothing changes."""
    ticket, other = queue.tickets[1], queue.tickets[2]
    before = await database_state(db)

    body = await bulk_as(db, queue.admin, ids(ticket, other, ticket), priority="URGENT")

    payload = payload_of(body, "bulkUpdateTickets")
    assert [r["ticketId"] for r in payload["results"]] == ids(ticket, other, ticket)
    assert [user_error_codes(r) for r in payload["results"]] == [
        [],
        [],
        [("ticketIds", "DUPLICATE")],
    ]
    await assert_nothing_changed(db, before, body)


async def test_results_echo_the_requested_ids_in_order(db: Stack, queue: Queue) -> None:
    requested = ids(queue.tickets[2], queue.tickets[0], queue.tickets[1])

    body = await bulk_as(db, queue.admin, requested, priority="HIGH")

    payload = payload_of(body, "bulkUpdateTickets")
    assert [r["ticketId"] for r in payload["results"]] == requested
    assert [r["ticket"]["id"] for r in payload["results"]] == requested


# --- all or nothing ------------------------------------------------------------------------


async def assert_nothing_changed(db: Stack, before: dict[str, Any], body: dict[str, Any]) -> None:
    payload = payload_of(body, "bulkUpdateTickets")
    assert payload["tickets"] == []
    assert all(result["ticket"] is None for result in payload["results"])
    assert user_error_codes(payload) == [("ticketIds", "INVALID")]
    assert await database_state(db) == before


async def test_one_illegal_transition_changes_no_ticket(db: Stack, queue: Queue) -> None:
    before = await database_state(db)

    # A closed ticket can only be reopened.
    body = await bulk_as(
        db, queue.admin, ids(*queue.tickets, queue.closed), status="RESOLVED", priority="LOW"
    )

    await assert_nothing_changed(db, before, body)
    assert results_of(payload_of(body, "bulkUpdateTickets")) == {
        **{tid: [] for tid in ids(*queue.tickets)},
        ticket_id(queue.closed): [("status", "ILLEGAL_TRANSITION")],
    }


async def test_a_ticket_of_another_organization_changes_no_ticket(db: Stack, queue: Queue) -> None:
    before = await database_state(db)

    body = await bulk_as(db, queue.admin, ids(queue.foreign, *queue.tickets), priority="LOW")

    await assert_nothing_changed(db, before, body)
    results = results_of(payload_of(body, "bulkUpdateTickets"))
    assert results[ticket_id(queue.foreign)] == [("ticketIds", "NOT_FOUND")]
    assert "Elsewhere" not in str(body)


async def test_an_admin_of_another_organization_changes_nothing(
    db: Stack, queue: Queue, session
) -> None:
    foreign_admin = await create_member(session, queue.other_org, TeamRole.ADMIN)
    await session.commit()
    before = await database_state(db)

    body = await bulk_as(db, foreign_admin, ids(*queue.tickets), priority="LOW")

    await assert_nothing_changed(db, before, body)
    assert results_of(payload_of(body, "bulkUpdateTickets")) == {
        tid: [("ticketIds", "NOT_FOUND")] for tid in ids(*queue.tickets)
    }


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"addTags": ["Not Valid"]}, [("tags", "INVALID")]),
        ({"addTags": [f"t{i}" for i in range(21)]}, [("tags", "TOO_MANY")]),
        ({"removeTags": ["x" * 51]}, [("removeTags", "TOO_LONG")]),
        ({"teamId": "foreign-team"}, [("teamId", "NOT_FOUND")]),
        ({"assigneeId": "foreign-member"}, [("assigneeId", "NOT_FOUND")]),
        ({"assigneeId": "inactive-member"}, [("assigneeId", "INVALID")]),
        ({"assigneeId": "pending-member"}, [("assigneeId", "INVALID")]),
    ],
    ids=[
        "invalid-tag",
        "too-many-tags",
        "long-tag",
        "team",
        "foreign-member",
        "inactive-member",
        "pending-member",
    ],
)
async def test_bad_input_changes_no_ticket(
    db: Stack, queue: Queue, session, fields: dict[str, Any], expected: list[tuple[str, str]]
) -> None:
    references = {
        "foreign-team": global_id("Team", (await create_team(session, queue.other_org)).id),
        "foreign-member": global_id("TeamMember", queue.other_agent.id),
        "inactive-member": global_id(
            "TeamMember", (await create_member(session, queue.org, is_active=False)).id
        ),
        "pending-member": global_id(
            "TeamMember", (await create_member(session, queue.org, user_id=None)).id
        ),
    }
    await session.commit()
    fields = {
        name: references.get(value, value) if isinstance(value, str) else value
        for name, value in fields.items()
    }
    before = await database_state(db)

    body = await bulk_as(db, queue.admin, ids(*queue.tickets), priority="LOW", **fields)

    await assert_nothing_changed(db, before, body)
    assert results_of(payload_of(body, "bulkUpdateTickets")) == {
        tid: expected for tid in ids(*queue.tickets)
    }


async def test_more_than_100_tickets_are_too_many(db: Stack, queue: Queue) -> None:
    before = await database_state(db)
    many = ids(*queue.tickets) + [ticket_id(1000 + n) for n in range(98)]

    body = await bulk_as(db, queue.admin, many, priority="LOW")

    payload = payload_of(body, "bulkUpdateTickets")
    assert (payload["tickets"], payload["results"]) == ([], [])
    assert user_error_codes(payload) == [("ticketIds", "TOO_MANY")]
    assert await database_state(db) == before


async def test_100_tickets_are_not_too_many(db: Stack, queue: Queue) -> None:
    before = await database_state(db)
    hundred = ids(*queue.tickets) + [ticket_id(1000 + n) for n in range(97)]

    body = await bulk_as(db, queue.admin, hundred, priority="LOW")

    # Refused for the unknown tickets, not for the count.
    await assert_nothing_changed(db, before, body)
    assert len(payload_of(body, "bulkUpdateTickets")["results"]) == 100


async def test_no_tickets_is_refused(db: Stack, queue: Queue) -> None:
    body = await bulk_as(db, queue.admin, [], priority="LOW")

    assert user_error_codes(payload_of(body, "bulkUpdateTickets")) == [("ticketIds", "REQUIRED")]


# --- who may bulk-update -------------------------------------------------------------------


@pytest.mark.parametrize("who", ["customer", "agent"])
async def test_only_admins_bulk_update(db: Stack, queue: Queue, who: str) -> None:
    before = await database_state(db)

    body = await bulk_as(db, getattr(queue, who), ids(queue.world.ticket), status="CLOSED")

    payload = payload_of(body, "bulkUpdateTickets")
    assert user_error_codes(payload) == [(None, "FORBIDDEN")]
    assert (payload["tickets"], payload["results"]) == ([], [])
    assert await database_state(db) == before


async def test_anonymous_must_authenticate(db: Stack, queue: Queue) -> None:
    before = await database_state(db)

    response = await call_anonymously(
        db, BULK_UPDATE, {"input": {"ticketIds": ids(queue.world.ticket), "status": "CLOSED"}}
    )

    assert_authentication_required(response)
    assert await database_state(db) == before


@pytest.mark.parametrize(
    "fields",
    [{"status": "DONE"}, {"ticketIds": "not a list of ids!"}, {"assigneeId": "%%%"}],
    ids=["unknown-status", "malformed-ticket-id", "malformed-assignee"],
)
async def test_values_that_do_not_coerce_are_bad_user_input(
    db: Stack, queue: Queue, fields: dict[str, Any]
) -> None:
    before = await database_state(db)

    body = await call(
        db,
        queue.admin,
        BULK_UPDATE,
        {"input": {"ticketIds": ids(*queue.tickets), "priority": "LOW", **fields}},
    )

    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert body["data"] in (None, {"bulkUpdateTickets": None}), body
    assert await database_state(db) == before


async def test_an_id_of_another_type_is_not_found_in_its_result(db: Stack, queue: Queue) -> None:
    before = await database_state(db)
    requested = [*ids(*queue.tickets), global_id("Customer", queue.customer.id)]

    body = await bulk_as(db, queue.admin, requested, priority="LOW")

    await assert_nothing_changed(db, before, body)
    assert user_error_codes(payload_of(body, "bulkUpdateTickets")["results"][-1]) == [
        ("ticketIds", "NOT_FOUND")
    ]


async def test_a_team_id_of_another_type_is_not_found(db: Stack, queue: Queue) -> None:
    before = await database_state(db)

    body = await bulk_as(
        db, queue.admin, ids(*queue.tickets), teamId=global_id("TeamMember", queue.agent.id)
    )

    await assert_nothing_changed(db, before, body)
    assert results_of(payload_of(body, "bulkUpdateTickets")) == {
        tid: [("teamId", "NOT_FOUND")] for tid in ids(*queue.tickets)
    }
