"""`updateTicket`: staff change fields along the workflow, customers close or reopen; every
changed field writes one history entry, a refused update changes nothing."""

from __future__ import annotations

import asyncio
import itertools
import json
from typing import Any

import pytest

from models import Priority, Status
from tests.api.mutation_helpers import (
    MEGABYTE,
    TICKET_FIELDS,
    assert_refused_as_bad_input,
    call,
    call_anonymously,
    change,
    database_state,
    history_of,
    is_recent,
    load_ticket,
    operation_text,
    payload_of,
    post_leniently,
    refusal_of,
    ticket_id,
    user_error_codes,
)
from tests.conftest import Stack
from tests.factories import METADATA_MARKER, World, create_team, create_world
from tests.graphql import (
    assert_authentication_required,
    assert_refused_at,
    error_codes,
    global_id,
)

UPDATE_TICKET = f"""
mutation UpdateTicket($input: UpdateTicketInput!) {{
  updateTicket(input: $input) {{
    ticket {{ {TICKET_FIELDS} }}
    userErrors {{ field message code }}
  }}
}}
"""

S = Status

# The workflow as DESIGN §3-4 describe it: staff move freely, but a resolved ticket is not
# handed back to the customer and a closed one can only be reopened.
STAFF_MAY = {
    S.OPEN: {S.IN_PROGRESS, S.WAITING_ON_CUSTOMER, S.RESOLVED, S.CLOSED},
    S.IN_PROGRESS: {S.OPEN, S.WAITING_ON_CUSTOMER, S.RESOLVED, S.CLOSED},
    S.WAITING_ON_CUSTOMER: {S.OPEN, S.IN_PROGRESS, S.RESOLVED, S.CLOSED},
    S.RESOLVED: {S.OPEN, S.IN_PROGRESS, S.CLOSED},
    S.CLOSED: {S.OPEN},
}
# Customers close their ticket, or reopen a resolved or closed one.
CUSTOMER_MAY = {
    S.OPEN: {S.CLOSED},
    S.IN_PROGRESS: {S.CLOSED},
    S.WAITING_ON_CUSTOMER: {S.CLOSED},
    S.RESOLVED: {S.OPEN, S.CLOSED},
    S.CLOSED: {S.OPEN},
}
MOVES = [
    pytest.param(a, b, id=f"{a.value}->{b.value}") for a, b in itertools.permutations(Status, 2)
]


@pytest.fixture
async def world(session) -> World:
    return await create_world(session)


async def update_as(db: Stack, who: Any, world: World, **fields: Any) -> dict[str, Any]:
    return await call(db, who, UPDATE_TICKET, {"input": {"id": ticket_id(world.ticket), **fields}})


def updated(body: dict[str, Any]) -> dict[str, Any]:
    payload = payload_of(body, "updateTicket")
    assert payload["userErrors"] == []
    ticket: dict[str, Any] = payload["ticket"]
    return ticket


async def put_in_status(session, world: World, status: Status) -> None:
    """Arrange: the world's ticket stands at `status`, with the timestamps that go with it."""
    ticket = world.ticket
    ticket.status = status
    if status in (S.RESOLVED, S.CLOSED):
        ticket.resolved_at = ticket.created_at
    if status is S.CLOSED:
        ticket.closed_at = ticket.created_at
    await session.commit()


# --- staff ---------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["agent", "admin"])
async def test_staff_change_every_field_with_one_history_entry_each(
    db: Stack, world: World, session, who: str
) -> None:
    staff = getattr(world, who)
    new_team = await create_team(session, world.org)
    await session.commit()
    before = await load_ticket(db, world.ticket)

    body = await update_as(
        db,
        staff,
        world,
        expectedVersion=before.version,
        title="Printer still on fire",
        description="Now the desk too.",
        priority="URGENT",
        teamId=global_id("Team", new_team.id),
        tags=["Hardware", "fire"],
        metadata={"crm": "A-1"},
        status="IN_PROGRESS",
    )

    ticket = updated(body)
    assert ticket["title"] == "Printer still on fire"
    assert (ticket["status"], ticket["priority"]) == ("IN_PROGRESS", "URGENT")
    assert ticket["tags"] == ["hardware", "fire"]
    assert ticket["team"] == {"id": global_id("Team", new_team.id)}
    assert ticket["version"] == before.version + 1
    after = await load_ticket(db, world.ticket)
    assert after.metadata_ == {"crm": "A-1"}
    assert after.updated_at > before.updated_at
    entries = await history_of(db, world.ticket)
    assert sorted(entries, key=lambda e: e.field or "") == [
        change(staff, "field_changed", "description", before.description, "Now the desk too."),
        change(
            staff,
            "field_changed",
            "metadata",
            f'{{"note":"{METADATA_MARKER}"}}',
            '{"crm":"A-1"}',
            internal=True,
        ),
        change(staff, "field_changed", "priority", "medium", "urgent"),
        change(staff, "field_changed", "status", "open", "in_progress"),
        change(staff, "field_changed", "tags", "[]", '["hardware","fire"]'),
        change(staff, "field_changed", "team", before.team_id, new_team.id),
        change(staff, "field_changed", "title", before.title, "Printer still on fire"),
    ]


async def test_sending_the_current_values_changes_nothing(db: Stack, world: World) -> None:
    before = await database_state(db)
    ticket = world.ticket

    body = await update_as(
        db,
        world.agent,
        world,
        title=f"  {ticket.title} ",
        description=ticket.description,
        status="OPEN",
        priority="MEDIUM",
        teamId=global_id("Team", ticket.team_id),  # type: ignore[arg-type]
        tags=[],
        metadata={"note": METADATA_MARKER},
    )

    assert updated(body)["version"] == ticket.version
    assert await database_state(db) == before
    assert await history_of(db, ticket) == []


async def test_null_team_routes_the_ticket_to_no_team(db: Stack, world: World) -> None:
    team_id = world.ticket.team_id

    body = await update_as(db, world.agent, world, teamId=None)

    assert updated(body)["team"] is None
    assert await history_of(db, world.ticket) == [
        change(world.agent, "field_changed", "team", team_id, None)
    ]


async def test_a_metadata_change_is_an_internal_entry(db: Stack, world: World) -> None:
    before = await load_ticket(db, world.ticket)

    updated(await update_as(db, world.admin, world, metadata={"crm": "B-2", "tier": 1}))

    assert await history_of(db, world.ticket) == [
        change(
            world.admin,
            "field_changed",
            "metadata",
            f'{{"note":"{METADATA_MARKER}"}}',
            '{"crm":"B-2","tier":1}',
            internal=True,
        )
    ]
    # Staff-only data is not part of the customer-visible "last changed".
    assert (await load_ticket(db, world.ticket)).updated_at == before.updated_at


@pytest.mark.parametrize(("current", "target"), MOVES)
async def test_staff_follow_the_workflow(
    db: Stack, world: World, session, current: Status, target: Status
) -> None:
    await put_in_status(session, world, current)
    before = await database_state(db)

    body = await update_as(db, world.agent, world, status=target.name)

    payload = payload_of(body, "updateTicket")
    if target in STAFF_MAY[current]:
        assert payload["userErrors"] == []
        assert payload["ticket"]["status"] == target.name
        assert await history_of(db, world.ticket) == [
            change(world.agent, "field_changed", "status", current.value, target.value)
        ]
        await assert_timestamps_follow(db, world, target)
    else:
        assert payload["ticket"] is None
        assert user_error_codes(payload) == [("status", "ILLEGAL_TRANSITION")]
        assert await database_state(db) == before


@pytest.mark.parametrize(("current", "target"), MOVES)
async def test_customers_may_only_close_or_reopen(
    db: Stack, world: World, session, current: Status, target: Status
) -> None:
    await put_in_status(session, world, current)
    before = await database_state(db)

    body = await update_as(db, world.customer, world, status=target.name)

    payload = payload_of(body, "updateTicket")
    if target in CUSTOMER_MAY[current]:
        assert payload["userErrors"] == []
        assert payload["ticket"]["status"] == target.name
        assert await history_of(db, world.ticket) == [
            change(world.customer, "field_changed", "status", current.value, target.value)
        ]
        await assert_timestamps_follow(db, world, target)
    else:
        assert payload["ticket"] is None
        assert user_error_codes(payload) == [("status", "ILLEGAL_TRANSITION")]
        assert await database_state(db) == before


async def assert_timestamps_follow(db: Stack, world: World, status: Status) -> None:
    ticket = await load_ticket(db, world.ticket)
    if status is S.RESOLVED:
        assert is_recent(ticket.resolved_at)
        assert ticket.closed_at is None
    elif status is S.CLOSED:
        assert is_recent(ticket.closed_at)
        assert ticket.resolved_at is not None
    else:
        assert (ticket.resolved_at, ticket.closed_at) == (None, None)


async def test_closing_an_unresolved_ticket_also_marks_it_resolved(db: Stack, world: World) -> None:
    updated(await update_as(db, world.agent, world, status="CLOSED"))

    ticket = await load_ticket(db, world.ticket)
    assert ticket.resolved_at == ticket.closed_at
    assert is_recent(ticket.closed_at)


async def test_an_illegal_transition_refuses_the_whole_update(
    db: Stack, world: World, session
) -> None:
    await put_in_status(session, world, S.CLOSED)
    before = await database_state(db)

    body = await update_as(db, world.agent, world, priority="HIGH", status="RESOLVED")

    assert user_error_codes(payload_of(body, "updateTicket")) == [("status", "ILLEGAL_TRANSITION")]
    assert await database_state(db) == before


# --- who may update ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fields",
    [
        {"title": "Mine now"},
        {"description": "More details"},
        {"priority": "URGENT"},
        {"teamId": None},
        {"tags": ["vip"]},
        {"metadata": {"crm": "x"}},
        {"priority": "URGENT", "status": "CLOSED"},
    ],
    ids=["title", "description", "priority", "team", "tags", "metadata", "priority-and-close"],
)
async def test_customers_cannot_change_anything_but_the_status(
    db: Stack, world: World, fields: dict[str, Any]
) -> None:
    before = await database_state(db)

    body = await update_as(db, world.customer, world, **fields)

    forbidden = sorted(name for name in fields if name != "status")
    assert refusal_of(body, "updateTicket") == [(name, "FORBIDDEN") for name in forbidden]
    assert await database_state(db) == before


async def test_customers_are_told_every_field_they_may_not_change(db: Stack, world: World) -> None:
    body = await update_as(
        db, world.customer, world, title="Mine", priority="LOW", teamId=None, tags=[]
    )

    assert refusal_of(body, "updateTicket") == [
        ("priority", "FORBIDDEN"),
        ("tags", "FORBIDDEN"),
        ("teamId", "FORBIDDEN"),
        ("title", "FORBIDDEN"),
    ]


@pytest.mark.parametrize("who", ["other_customer", "other_agent"])
async def test_a_ticket_of_someone_else_is_not_found(db: Stack, world: World, who: str) -> None:
    before = await database_state(db)

    body = await update_as(db, getattr(world, who), world, status="CLOSED")

    assert refusal_of(body, "updateTicket") == [("id", "NOT_FOUND")]
    assert world.ticket.title not in str(body)
    assert await database_state(db) == before


async def test_anonymous_must_authenticate(db: Stack, world: World) -> None:
    before = await database_state(db)

    response = await call_anonymously(
        db, UPDATE_TICKET, {"input": {"id": ticket_id(world.ticket), "status": "CLOSED"}}
    )

    assert_authentication_required(response)
    assert await database_state(db) == before


# --- optimistic concurrency ----------------------------------------------------------------


@pytest.mark.parametrize("who", ["agent", "customer"])
async def test_a_stale_expected_version_is_a_conflict(
    db: Stack, world: World, session, who: str
) -> None:
    loaded_version = world.ticket.version
    world.ticket.priority = Priority.HIGH  # someone else changed it since
    world.ticket.version += 1
    await session.commit()
    before = await database_state(db)

    body = await update_as(
        db, getattr(world, who), world, expectedVersion=loaded_version, status="CLOSED"
    )

    payload = payload_of(body, "updateTicket")
    assert payload["ticket"] is None
    assert user_error_codes(payload) == [("expectedVersion", "CONFLICT")]
    assert await database_state(db) == before


async def test_each_change_bumps_the_version(db: Stack, world: World) -> None:
    version = (await load_ticket(db, world.ticket)).version

    first = updated(await update_as(db, world.agent, world, expectedVersion=version, title="A"))
    second = updated(
        await update_as(db, world.agent, world, expectedVersion=first["version"], title="B")
    )
    stale = await update_as(db, world.agent, world, expectedVersion=first["version"], title="C")

    assert (first["version"], second["version"]) == (version + 1, version + 2)
    assert user_error_codes(payload_of(stale, "updateTicket")) == [("expectedVersion", "CONFLICT")]
    assert (await load_ticket(db, world.ticket)).title == "B"


async def test_of_two_concurrent_updates_of_one_version_one_wins(db: Stack, world: World) -> None:
    version = (await load_ticket(db, world.ticket)).version

    bodies = await asyncio.gather(
        update_as(db, world.agent, world, expectedVersion=version, priority="HIGH"),
        update_as(db, world.admin, world, expectedVersion=version, priority="LOW"),
    )

    payloads = [payload_of(body, "updateTicket") for body in bodies]
    outcomes = sorted(user_error_codes(p) for p in payloads)
    assert outcomes == [[], [("expectedVersion", "CONFLICT")]]
    winner = next(p["ticket"] for p in payloads if p["ticket"])
    stored = await load_ticket(db, world.ticket)
    assert (stored.version, stored.priority.name) == (version + 1, winner["priority"])
    assert len(await history_of(db, world.ticket)) == 1


# --- bad input -----------------------------------------------------------------------------

BAD_INPUT = [
    pytest.param({"title": ""}, [("title", "REQUIRED")], id="empty-title"),
    pytest.param({"title": " \t "}, [("title", "REQUIRED")], id="whitespace-title"),
    pytest.param({"title": "x" * 301}, [("title", "TOO_LONG")], id="301-char-title"),
    pytest.param({"title": MEGABYTE}, [("title", "TOO_LONG")], id="1mb-title"),
    pytest.param({"title": None}, [("title", "REQUIRED")], id="null-title"),
    pytest.param({"description": "x" * 20_001}, [("description", "TOO_LONG")], id="20001-desc"),
    pytest.param({"description": MEGABYTE}, [("description", "TOO_LONG")], id="1mb-description"),
    pytest.param({"status": None}, [("status", "REQUIRED")], id="null-status"),
    pytest.param({"priority": None}, [("priority", "REQUIRED")], id="null-priority"),
    pytest.param({"tags": ["no spaces"]}, [("tags", "INVALID")], id="invalid-tag"),
    pytest.param({"tags": ["x" * 51]}, [("tags", "TOO_LONG")], id="51-char-tag"),
    pytest.param({"tags": [f"t{i}" for i in range(21)]}, [("tags", "TOO_MANY")], id="21-tags"),
    pytest.param({"tags": None}, [("tags", "REQUIRED")], id="null-tags"),
    pytest.param({"metadata": {"blob": "x" * 16_400}}, [("metadata", "TOO_LONG")], id="big-meta"),
    pytest.param({"metadata": [1]}, [("metadata", "INVALID")], id="metadata-list"),
    pytest.param({"metadata": "text"}, [("metadata", "INVALID")], id="metadata-string"),
    pytest.param({"metadata": None}, [("metadata", "REQUIRED")], id="null-metadata"),
    pytest.param(
        {"title": "Fine", "priority": "HIGH", "tags": ["Bad Tag"]},
        [("tags", "INVALID")],
        id="one-bad-field-refuses-all",
    ),
]


@pytest.mark.parametrize(("fields", "expected"), BAD_INPUT)
async def test_bad_input_is_refused_and_changes_nothing(
    db: Stack, world: World, fields: dict[str, Any], expected: list[tuple[str, str]]
) -> None:
    before = await database_state(db)

    body = await update_as(db, world.agent, world, **fields)

    payload = payload_of(body, "updateTicket")
    assert payload["ticket"] is None
    assert user_error_codes(payload) == expected
    assert await database_state(db) == before


async def test_team_of_another_organization_is_not_found(db: Stack, world: World, session) -> None:
    foreign_team = await create_team(session, world.other_org)
    await session.commit()
    before = await database_state(db)

    body = await update_as(db, world.agent, world, teamId=global_id("Team", foreign_team.id))

    assert user_error_codes(payload_of(body, "updateTicket")) == [("teamId", "NOT_FOUND")]
    assert await database_state(db) == before


@pytest.mark.parametrize(
    "fields",
    [{"status": "DONE"}, {"priority": "urgent"}, {"expectedVersion": "one"}],
    ids=["unknown-status", "lower-case-priority", "version-not-int"],
)
async def test_wrong_variable_types_are_bad_user_input(
    db: Stack, world: World, fields: dict[str, Any]
) -> None:
    before = await database_state(db)

    body = await update_as(db, world.agent, world, **fields)

    assert body["data"] is None
    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert await database_state(db) == before


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("id", global_id("Customer", 1)),
        ("id", global_id("Ticket", 999_999)),
        ("teamId", global_id("Customer", 1)),
    ],
    ids=["customer-id-as-ticket", "missing-ticket", "customer-id-as-team"],
)
async def test_ids_of_the_wrong_type_are_not_found(
    db: Stack, world: World, field: str, value: str
) -> None:
    before = await database_state(db)

    body = await call(
        db,
        world.agent,
        UPDATE_TICKET,
        {"input": {"id": ticket_id(world.ticket), "priority": "HIGH", field: value}},
    )

    assert refusal_of(body, "updateTicket") == [(field, "NOT_FOUND")]
    assert await database_state(db) == before


@pytest.mark.parametrize("field", ["id", "teamId"])
async def test_malformed_ids_are_bad_user_input(db: Stack, world: World, field: str) -> None:
    before = await database_state(db)

    body = await call(
        db,
        world.agent,
        UPDATE_TICKET,
        {"input": {"id": ticket_id(world.ticket), "priority": "HIGH", field: "%%%"}},
    )

    assert_refused_at(body, "updateTicket", "BAD_USER_INPUT")
    assert await database_state(db) == before


# --- input the database or the JSON encoder cannot take --------------------------------------

READ_METADATA = "query Metadata($id: ID!) { ticket(id: $id) { metadata } }"


@pytest.mark.parametrize(
    "raw_metadata",
    ['{"n": 123456789012345678901234567890}', '{"a":' * 300 + "1" + "}" * 300],
    ids=["int-beyond-64-bit", "300-levels-deep"],
)
async def test_metadata_is_refused_or_readable_afterwards(
    db: Stack, world: World, raw_metadata: str
) -> None:
    before = await database_state(db)
    variables = {"input": {"id": ticket_id(world.ticket), "metadata": "RAW"}}

    response = await post_leniently(
        db, world.agent, operation_text(UPDATE_TICKET, variables, RAW=raw_metadata)
    )
    read = await post_leniently(
        db, world.agent, operation_text(READ_METADATA, {"id": ticket_id(world.ticket)})
    )

    assert read.status_code == 200, "the ticket's metadata can no longer be read"
    if payload_of(response.json(), "updateTicket")["userErrors"]:
        assert await database_state(db) == before
    else:
        assert read.json()["data"]["ticket"]["metadata"] == json.loads(raw_metadata)


async def test_a_title_that_is_not_unicode_is_refused(db: Stack, world: World) -> None:
    before = await database_state(db)
    variables = {"input": {"id": ticket_id(world.ticket), "title": "a\ud800"}}

    response = await post_leniently(db, world.agent, operation_text(UPDATE_TICKET, variables))

    assert_refused_as_bad_input(response.json(), "updateTicket", "title")
    assert await database_state(db) == before
