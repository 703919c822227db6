"""`ticket(id)`: customers see their own tickets without internal notes; staff see their org's."""

from __future__ import annotations

import pytest

from tests.conftest import Stack
from tests.factories import INTERNAL_MARKER, METADATA_MARKER, World, create_world
from tests.graphql import (
    assert_authentication_required,
    assert_refused_at,
    error_codes,
    execute,
    global_id,
    post_anonymously,
)

TICKET = """
query Ticket($id: ID!) {
  ticket(id: $id) {
    id number title status priority
    customer { name }
    assignee { name }
    responses { nodes { body isInternal author { __typename ... on TeamMember { name } } } }
  }
}
"""

METADATA = "query Ticket($id: ID!) { ticket(id: $id) { metadata } }"


@pytest.fixture
async def world(session) -> World:
    return await create_world(session)


def subject(world: World, who: str) -> str:
    return getattr(world, who).user_id


async def query_ticket(db: Stack, world: World, who: str, ticket_id: str | None = None) -> dict:
    async with db.client(db.token(subject(world, who))) as client:
        return await execute(
            client, TICKET, {"id": ticket_id or global_id("Ticket", world.ticket.id)}
        )


async def test_customer_sees_own_ticket_without_internal_notes(db: Stack, world: World) -> None:
    body = await query_ticket(db, world, "customer")

    assert "errors" not in body
    ticket = body["data"]["ticket"]
    assert ticket["number"] == world.ticket.number
    assert [r["body"] for r in ticket["responses"]["nodes"]] == ["We are on it."]
    assert INTERNAL_MARKER not in str(body)


@pytest.mark.parametrize("who", ["agent", "admin"])
async def test_staff_see_internal_notes(db: Stack, world: World, who: str) -> None:
    body = await query_ticket(db, world, who)

    assert "errors" not in body
    responses = body["data"]["ticket"]["responses"]["nodes"]
    assert [(r["body"], r["isInternal"]) for r in responses] == [
        ("We are on it.", False),
        (INTERNAL_MARKER, True),
    ]
    assert responses[1]["author"] == {"__typename": "TeamMember", "name": world.agent.name}


@pytest.mark.parametrize("who", ["other_customer", "other_agent"])
async def test_ticket_of_someone_else_is_not_found(db: Stack, world: World, who: str) -> None:
    body = await query_ticket(db, world, who)

    assert_refused_at(body, "ticket", "NOT_FOUND")
    assert world.ticket.title not in str(body)


async def test_a_ticket_not_found_leaves_its_siblings_alone(db: Stack, world: World) -> None:
    """A Relay refetch of an id the caller may not see gets null there, and `me` still answers."""
    document = """
    query($id: ID!, $mine: ID!) {
      me { __typename }
      theirs: ticket(id: $id) { title }
      mine: ticket(id: $mine) { number }
      node(id: $id) { id }
    }
    """
    variables = {
        "id": global_id("Ticket", world.ticket.id),
        "mine": global_id("Ticket", world.ticket.id),
    }
    async with db.client(db.token(world.other_customer.user_id)) as client:
        body = await execute(client, document, variables)

    assert body["data"] == {
        "me": {"__typename": "Customer"},
        "theirs": None,
        "mine": None,
        "node": None,
    }
    assert sorted((e["path"][0], e["extensions"]["code"]) for e in body["errors"]) == [
        ("mine", "NOT_FOUND"),
        ("node", "NOT_FOUND"),
        ("theirs", "NOT_FOUND"),
    ]


async def test_anonymous_must_authenticate(db: Stack, world: World) -> None:
    async with db.client() as client:
        response = await post_anonymously(
            client, TICKET, {"id": global_id("Ticket", world.ticket.id)}
        )

    assert_authentication_required(response)
    assert world.ticket.title not in response.text


@pytest.mark.parametrize(
    "ticket_id",
    [
        global_id("Ticket", 999_999),
        global_id("Customer", 1),
        global_id("Ticket", "abc"),  # type: ignore[arg-type]
    ],
    ids=["missing", "other-type", "non-numeric"],
)
async def test_unknown_ids_are_not_found(db: Stack, world: World, ticket_id: str) -> None:
    body = await query_ticket(db, world, "agent", ticket_id)

    assert_refused_at(body, "ticket", "NOT_FOUND")


async def test_malformed_id_is_bad_user_input(db: Stack, world: World) -> None:
    body = await query_ticket(db, world, "agent", "not base64 at all!")

    assert_refused_at(body, "ticket", "BAD_USER_INPUT")


async def test_metadata_is_staff_only(db: Stack, world: World) -> None:
    async with db.client(db.token(world.customer.user_id)) as client:
        as_customer = await execute(client, METADATA, {"id": global_id("Ticket", world.ticket.id)})
    async with db.client(db.token(world.agent.user_id)) as client:
        as_agent = await execute(client, METADATA, {"id": global_id("Ticket", world.ticket.id)})

    assert as_customer["data"] == {"ticket": {"metadata": None}}
    assert error_codes(as_customer) == ["FORBIDDEN"]
    assert METADATA_MARKER not in str(as_customer)
    assert as_agent["data"] == {"ticket": {"metadata": {"note": METADATA_MARKER}}}
