"""`addResponse`: public replies from customers and staff, internal notes from staff only."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from models import Status
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
    pk_of,
    post_leniently,
    refusal_of,
    ticket_id,
    user_error_codes,
)
from tests.conftest import Stack
from tests.factories import World, create_customer, create_member, create_ticket, create_world
from tests.graphql import assert_authentication_required, error_codes, global_id

ADD_RESPONSE = f"""
mutation AddResponse($input: AddResponseInput!) {{
  addResponse(input: $input) {{
    ticket {{ {TICKET_FIELDS} }}
    response {{ id body isInternal author {{ __typename ... on Customer {{ name }}
                                              ... on TeamMember {{ name }} }} }}
    userErrors {{ field message code }}
  }}
}}
"""


@pytest.fixture
async def world(session) -> World:
    return await create_world(session)


async def respond_as(db: Stack, who: Any, world: World, text: Any, **fields: Any) -> dict[str, Any]:
    variables = {"input": {"ticketId": ticket_id(world.ticket), "body": text, **fields}}
    return await call(db, who, ADD_RESPONSE, variables)


def added(body: dict[str, Any]) -> dict[str, Any]:
    payload = payload_of(body, "addResponse")
    assert payload["userErrors"] == []
    return payload


async def put_in_status(session, world: World, status: Status) -> None:
    world.ticket.status = status
    if status in (Status.RESOLVED, Status.CLOSED):
        world.ticket.resolved_at = world.ticket.created_at
    await session.commit()


# --- public replies ------------------------------------------------------------------------


async def test_customer_replies_to_their_ticket(db: Stack, world: World) -> None:
    before = await load_ticket(db, world.ticket)

    payload = added(await respond_as(db, world.customer, world, "  It is still smoking.  "))

    response = payload["response"]
    assert response["body"] == "It is still smoking."
    assert response["isInternal"] is False
    assert response["author"] == {"__typename": "Customer", "name": world.customer.name}
    assert payload["ticket"]["version"] == before.version + 1
    assert payload["ticket"]["status"] == "OPEN"
    assert await history_of(db, world.ticket) == [
        change(world.customer, "response_added", "response", None, pk_of(response["id"]))
    ]
    after = await load_ticket(db, world.ticket)
    assert after.updated_at > before.updated_at
    assert after.first_responded_at is None


@pytest.mark.parametrize("who", ["agent", "admin"])
async def test_staff_reply_publicly(db: Stack, world: World, who: str) -> None:
    staff = getattr(world, who)

    payload = added(await respond_as(db, staff, world, "Please unplug it."))

    response = payload["response"]
    assert response["author"] == {"__typename": "TeamMember", "name": staff.name}
    assert payload["ticket"]["firstRespondedAt"] is not None
    assert await history_of(db, world.ticket) == [
        change(staff, "response_added", "response", None, pk_of(response["id"]))
    ]


async def test_only_the_first_public_staff_reply_sets_first_responded_at(
    db: Stack, world: World
) -> None:
    added(await respond_as(db, world.agent, world, "Looking into it.", internal=True))
    added(await respond_as(db, world.customer, world, "Hello?"))
    assert (await load_ticket(db, world.ticket)).first_responded_at is None

    added(await respond_as(db, world.agent, world, "Please unplug it."))
    first = (await load_ticket(db, world.ticket)).first_responded_at
    added(await respond_as(db, world.admin, world, "Any news?"))

    assert is_recent(first)
    assert (await load_ticket(db, world.ticket)).first_responded_at == first


@pytest.mark.parametrize("status", [Status.WAITING_ON_CUSTOMER, Status.RESOLVED])
async def test_a_customer_reply_hands_the_ticket_back_to_staff(
    db: Stack, world: World, session, status: Status
) -> None:
    await put_in_status(session, world, status)

    payload = added(await respond_as(db, world.customer, world, "It broke again."))

    assert payload["ticket"]["status"] == "OPEN"
    assert payload["ticket"]["resolvedAt"] is None
    assert await history_of(db, world.ticket) == [
        change(
            world.customer, "response_added", "response", None, pk_of(payload["response"]["id"])
        ),
        change(world.customer, "field_changed", "status", status.value, "open"),
    ]


@pytest.mark.parametrize("status", [Status.OPEN, Status.IN_PROGRESS])
async def test_a_customer_reply_leaves_a_worked_ticket_alone(
    db: Stack, world: World, session, status: Status
) -> None:
    await put_in_status(session, world, status)

    payload = added(await respond_as(db, world.customer, world, "Any news?"))

    assert payload["ticket"]["status"] == status.name
    assert [entry.action for entry in await history_of(db, world.ticket)] == ["response_added"]


async def test_a_staff_reply_does_not_reopen_a_ticket_waiting_on_the_customer(
    db: Stack, world: World, session
) -> None:
    await put_in_status(session, world, Status.WAITING_ON_CUSTOMER)

    payload = added(await respond_as(db, world.agent, world, "Reminder: please answer."))

    assert payload["ticket"]["status"] == "WAITING_ON_CUSTOMER"
    assert [entry.action for entry in await history_of(db, world.ticket)] == ["response_added"]


async def test_simultaneous_replies_are_both_kept(
    db: Stack, world: World, request: pytest.FixtureRequest
) -> None:
    bodies = []
    for _ in range(3):  # a race is timing; three rounds make sure one is run
        bodies += await asyncio.gather(
            respond_as(db, world.customer, world, "Is anyone there?"),
            respond_as(db, world.agent, world, "Yes, looking at it."),
        )

    assert [payload_of(body, "addResponse")["userErrors"] for body in bodies] == [[]] * 6
    assert [entry.action for entry in await history_of(db, world.ticket)] == ["response_added"] * 6


@pytest.mark.parametrize("who", ["customer", "agent"])
async def test_a_closed_ticket_takes_no_public_reply(
    db: Stack, world: World, session, who: str
) -> None:
    await put_in_status(session, world, Status.CLOSED)
    before = await database_state(db)

    body = await respond_as(db, getattr(world, who), world, "Hello?")

    payload = payload_of(body, "addResponse")
    assert (payload["ticket"], payload["response"]) == (None, None)
    assert user_error_codes(payload) == [("ticketId", "TICKET_CLOSED")]
    assert await database_state(db) == before


# --- internal notes ------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["agent", "admin"])
async def test_staff_add_internal_notes_without_touching_the_ticket(
    db: Stack, world: World, who: str
) -> None:
    staff = getattr(world, who)
    before = await load_ticket(db, world.ticket)

    payload = added(await respond_as(db, staff, world, "Customer is a VIP.", internal=True))

    assert payload["response"]["isInternal"] is True
    assert await history_of(db, world.ticket) == [
        change(
            staff, "note_added", "response", None, pk_of(payload["response"]["id"]), internal=True
        )
    ]
    after = await load_ticket(db, world.ticket)
    assert (after.version, after.updated_at) == (before.version, before.updated_at)
    assert after.first_responded_at is None


async def test_staff_may_still_note_on_a_closed_ticket(db: Stack, world: World, session) -> None:
    await put_in_status(session, world, Status.CLOSED)

    payload = added(await respond_as(db, world.agent, world, "Closed as duplicate.", internal=True))

    assert payload["ticket"]["status"] == "CLOSED"


async def test_customers_cannot_add_internal_notes(db: Stack, world: World) -> None:
    before = await database_state(db)

    body = await respond_as(db, world.customer, world, "Psst.", internal=True)

    assert refusal_of(body, "addResponse") == [("internal", "FORBIDDEN")]
    assert await database_state(db) == before


# --- who may respond -----------------------------------------------------------------------


@pytest.mark.parametrize("internal", [False, True], ids=["reply", "note"])
@pytest.mark.parametrize("who", ["other_customer", "other_agent"])
async def test_a_ticket_of_someone_else_is_not_found(
    db: Stack, world: World, who: str, internal: bool
) -> None:
    before = await database_state(db)

    body = await respond_as(db, getattr(world, who), world, "Hi!", internal=internal)

    assert refusal_of(body, "addResponse") == [("ticketId", "NOT_FOUND")]
    assert await database_state(db) == before


async def test_anonymous_must_authenticate(db: Stack, world: World) -> None:
    before = await database_state(db)

    variables = {"input": {"ticketId": ticket_id(world.ticket), "body": "Hi!"}}

    response = await call_anonymously(db, ADD_RESPONSE, variables)

    assert_authentication_required(response)
    assert await database_state(db) == before


# --- bad input -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("", "REQUIRED"),
        (" \n\t ", "REQUIRED"),
        ("x" * 20_001, "TOO_LONG"),
        (MEGABYTE, "TOO_LONG"),
        ("a\x00b", "INVALID"),
    ],
    ids=["empty", "whitespace", "20001-chars", "1mb", "nul"],
)
@pytest.mark.parametrize("who", ["customer", "agent"])
async def test_a_bad_body_is_refused_and_changes_nothing(
    db: Stack, world: World, who: str, text: str, code: str
) -> None:
    before = await database_state(db)

    body = await respond_as(db, getattr(world, who), world, text)

    payload = payload_of(body, "addResponse")
    assert (payload["ticket"], payload["response"]) == (None, None)
    assert user_error_codes(payload) == [("body", code)]
    assert await database_state(db) == before


async def test_a_body_of_20000_characters_is_accepted(db: Stack, world: World) -> None:
    payload = added(await respond_as(db, world.customer, world, "y" * 20_000))

    assert len(payload["response"]["body"]) == 20_000


@pytest.mark.parametrize(
    "fields",
    [{"body": None}, {"body": 42}, {"internal": "yes"}, {"ticketId": "%%%"}],
    ids=["null-body", "number-body", "string-internal", "malformed-id"],
)
async def test_wrong_variable_types_are_bad_user_input(
    db: Stack, world: World, fields: dict[str, Any]
) -> None:
    before = await database_state(db)

    body = await respond_as(db, world.agent, world, "Hi!", **fields)

    assert error_codes(body) == ["BAD_USER_INPUT"]
    # A variable that does not coerce refuses the request (data: null); an id that is not
    # even a global id is refused where the field reads it (addResponse: null).
    assert body["data"] in (None, {"addResponse": None}), body
    assert await database_state(db) == before


@pytest.mark.parametrize(
    "ticket",
    [global_id("Customer", 1), global_id("Response", 1), global_id("Ticket", 999_999)],
    ids=["customer-id", "response-id", "missing-ticket"],
)
async def test_ids_that_are_not_tickets_are_not_found(db: Stack, world: World, ticket: str) -> None:
    before = await database_state(db)

    body = await respond_as(db, world.agent, world, "Hi!", ticketId=ticket)

    assert refusal_of(body, "addResponse") == [("ticketId", "NOT_FOUND")]
    assert await database_state(db) == before


@pytest.mark.parametrize("internal", [False, True], ids=["reply", "note"])
async def test_a_body_that_is_not_unicode_is_refused(
    db: Stack, world: World, internal: bool
) -> None:
    before = await database_state(db)
    variables = {
        "input": {"ticketId": ticket_id(world.ticket), "body": "a\udfff", "internal": internal}
    }

    response = await post_leniently(db, world.agent, operation_text(ADD_RESPONSE, variables))

    assert_refused_as_bad_input(response.json(), "addResponse", "body")
    assert await database_state(db) == before


# --- idempotency -------------------------------------------------------------------------


async def test_a_retried_reply_returns_the_first_response(db: Stack, world: World) -> None:
    first = added(await respond_as(db, world.customer, world, "Still broken.", idempotencyKey="k1"))
    state_after_first = await database_state(db)

    again = added(await respond_as(db, world.customer, world, "Still broken.", idempotencyKey="k1"))

    assert again["response"] == first["response"]
    assert again["ticket"]["id"] == first["ticket"]["id"]
    assert await database_state(db) == state_after_first


async def test_a_retry_after_the_ticket_closed_still_returns_the_first_response(
    db: Stack, world: World, session
) -> None:
    first = added(await respond_as(db, world.agent, world, "Fixed.", idempotencyKey="fix-1"))
    await put_in_status(session, world, Status.CLOSED)

    again = added(await respond_as(db, world.agent, world, "Fixed.", idempotencyKey="fix-1"))

    assert again["response"]["id"] == first["response"]["id"]


@pytest.mark.parametrize(
    "changed",
    [{"body": "Something else."}, {"internal": True}],
    ids=["other-body", "note-instead-of-reply"],
)
async def test_a_key_reused_for_another_request_is_refused(
    db: Stack, world: World, changed: dict[str, Any]
) -> None:
    added(await respond_as(db, world.agent, world, "First.", idempotencyKey="k1"))
    before = await database_state(db)
    fields = {"idempotencyKey": "k1", "internal": False} | changed
    text = fields.pop("body", "First.")

    body = await respond_as(db, world.agent, world, text, **fields)

    assert refusal_of(body, "addResponse") == [("idempotencyKey", "IDEMPOTENCY_KEY_REUSED")]
    assert await database_state(db) == before


async def test_a_key_reused_on_another_ticket_is_refused(db: Stack, world: World, session) -> None:
    other = await create_ticket(session, world.org, world.customer)
    await session.commit()
    added(await respond_as(db, world.customer, world, "Same words.", idempotencyKey="k1"))
    before = await database_state(db)

    body = await call(
        db,
        world.customer,
        ADD_RESPONSE,
        {"input": {"ticketId": ticket_id(other), "body": "Same words.", "idempotencyKey": "k1"}},
    )

    assert refusal_of(body, "addResponse") == [("idempotencyKey", "IDEMPOTENCY_KEY_REUSED")]
    assert await database_state(db) == before


async def test_the_same_key_of_other_authors_never_collides(
    db: Stack, world: World, session
) -> None:
    """Scoped per author: another customer, staff of the same and of another organization, and
    a customer and a team member with the same row id all use "k1" freely."""
    twin_customer = await create_customer(session, id=5000)
    twin_member = await create_member(session, world.org, id=5000)
    mine = await create_ticket(session, world.org, twin_customer)
    foreign = await create_ticket(session, world.other_org, world.customer)
    await session.commit()
    replies = [
        (world.customer, world.ticket),
        (world.agent, world.ticket),
        (world.admin, world.ticket),
        (twin_customer, mine),
        (twin_member, mine),
        (world.other_agent, foreign),
    ]

    ids = set()
    for author, ticket in replies:
        variables = {
            "input": {"ticketId": ticket_id(ticket), "body": "Hi.", "idempotencyKey": "k1"}
        }
        ids.add(added(await call(db, author, ADD_RESPONSE, variables))["response"]["id"])

    assert len(ids) == len(replies)


async def test_concurrent_retries_add_one_response(db: Stack, world: World) -> None:
    bodies = await asyncio.gather(
        *(
            respond_as(db, world.customer, world, "Double click.", idempotencyKey="dc")
            for _ in range(3)
        )
    )

    ids = {added(body)["response"]["id"] for body in bodies}
    assert len(ids) == 1
    assert [c.action for c in await history_of(db, world.ticket)] == ["response_added"]


@pytest.mark.parametrize(
    ("key", "code"), [("k" * 101, "TOO_LONG"), ("   ", "REQUIRED"), ("a\x00b", "INVALID")]
)
async def test_a_bad_key_is_refused(db: Stack, world: World, key: str, code: str) -> None:
    before = await database_state(db)

    body = await respond_as(db, world.customer, world, "Hi.", idempotencyKey=key)

    assert refusal_of(body, "addResponse") == [("idempotencyKey", code)]
    assert await database_state(db) == before
