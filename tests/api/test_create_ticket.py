"""`createTicket`: customers open tickets for themselves, staff on behalf of their customers."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from models import Customer, Ticket
from tests.api.mutation_helpers import (
    MEGABYTE,
    TICKET_FIELDS,
    assert_refused_as_bad_input,
    call,
    call_anonymously,
    change,
    count_rows,
    database_state,
    history_of,
    load_ticket,
    operation_text,
    payload_of,
    pk_of,
    post_leniently,
    refusal_of,
    user_error_codes,
)
from tests.conftest import Stack
from tests.factories import World, create_team, create_world
from tests.graphql import (
    assert_authentication_required,
    assert_refused_at,
    error_codes,
    global_id,
)

CREATE_TICKET_TEMPLATE = """
mutation CreateTicket($input: CreateTicketInput!) {
  createTicket(input: $input) {
    ticket { %s organization { id } }
    userErrors { field message code }
  }
}
"""
CREATE_TICKET = CREATE_TICKET_TEMPLATE % f"{TICKET_FIELDS} metadata"
# Customers may not read metadata (FORBIDDEN); they ask for everything else.
CREATE_TICKET_AS_CUSTOMER = CREATE_TICKET_TEMPLATE % TICKET_FIELDS


@pytest.fixture
async def world(session) -> World:
    return await create_world(session)


def for_customer(world: World, customer: Customer | None = None, **fields: Any) -> dict[str, Any]:
    """Staff input: a ticket on behalf of the world's customer."""
    return {
        "title": "Printer on fire",
        "customerId": global_id("Customer", (customer or world.customer).id),
        **fields,
    }


def with_organization(world: World, **fields: Any) -> dict[str, Any]:
    """Customer input: a ticket with the world's organization."""
    return {
        "title": "Printer on fire",
        "organizationId": global_id("Organization", world.org.id),
        **fields,
    }


async def create_as(db: Stack, who: Any, fields: dict[str, Any]) -> dict[str, Any]:
    document = CREATE_TICKET_AS_CUSTOMER if isinstance(who, Customer) else CREATE_TICKET
    return await call(db, who, document, {"input": fields})


def created_ticket(body: dict[str, Any]) -> dict[str, Any]:
    payload = payload_of(body, "createTicket")
    assert payload["userErrors"] == []
    ticket: dict[str, Any] = payload["ticket"]
    return ticket


# --- who may open tickets ------------------------------------------------------------------


async def test_customer_opens_a_ticket_for_themself(db: Stack, world: World) -> None:
    body = await create_as(
        db,
        world.customer,
        {
            "title": "  Printer on fire  ",
            "description": "Smoke everywhere.",
            "organizationId": global_id("Organization", world.org.id),
            "priority": "HIGH",
        },
    )

    ticket = created_ticket(body)
    assert ticket["title"] == "Printer on fire"
    assert (ticket["status"], ticket["priority"], ticket["version"]) == ("OPEN", "HIGH", 1)
    assert ticket["customer"] == {"name": world.customer.name}
    assert ticket["organization"] == {"id": global_id("Organization", world.org.id)}
    assert ticket["assignee"] is None
    assert ticket["team"] is None
    assert ticket["firstRespondedAt"] is None
    stored = await load_ticket(db, pk_of(ticket["id"]))
    assert (stored.customer_id, stored.organization_id) == (world.customer.id, world.org.id)
    assert await history_of(db, stored) == [change(world.customer, "created")]


@pytest.mark.parametrize("who", ["agent", "admin"])
async def test_staff_open_a_ticket_on_behalf_of_a_customer(
    db: Stack, world: World, who: str
) -> None:
    staff = getattr(world, who)
    team_id = global_id("Team", world.ticket.team_id or 0)

    body = await create_as(
        db,
        staff,
        for_customer(
            world,
            teamId=team_id,
            tags=["Billing", " vip ", "billing"],
            metadata={"crm": "A-1"},
            priority="URGENT",
        ),
    )

    ticket = created_ticket(body)
    assert ticket["customer"] == {"name": world.customer.name}
    assert ticket["team"] == {"id": team_id}
    assert ticket["tags"] == ["billing", "vip"]
    assert ticket["metadata"] == {"crm": "A-1"}
    assert ticket["priority"] == "URGENT"
    assert await history_of(db, pk_of(ticket["id"])) == [change(staff, "created")]


async def test_staff_may_name_their_own_organization(db: Stack, world: World) -> None:
    body = await create_as(
        db, world.agent, for_customer(world, organizationId=global_id("Organization", world.org.id))
    )

    ticket = created_ticket(body)
    assert ticket["organization"] == {"id": global_id("Organization", world.org.id)}


async def test_anonymous_must_authenticate(db: Stack, world: World) -> None:
    before = await database_state(db)

    response = await call_anonymously(db, CREATE_TICKET, {"input": with_organization(world)})

    assert_authentication_required(response)
    assert await database_state(db) == before


async def test_customer_cannot_open_a_ticket_for_someone_else(db: Stack, world: World) -> None:
    before = await database_state(db)

    body = await create_as(
        db,
        world.customer,
        {**with_organization(world), "customerId": global_id("Customer", world.other_customer.id)},
    )

    assert refusal_of(body, "createTicket") == [("customerId", "FORBIDDEN")]
    assert await database_state(db) == before


@pytest.mark.parametrize("field", ["teamId", "tags", "metadata"])
async def test_customer_cannot_set_staff_only_fields(db: Stack, world: World, field: str) -> None:
    value = {
        "teamId": global_id("Team", world.ticket.team_id or 0),
        "tags": ["vip"],
        "metadata": {"crm": "A-1"},
    }[field]
    before = await database_state(db)

    body = await create_as(db, world.customer, with_organization(world, **{field: value}))

    assert refusal_of(body, "createTicket") == [(field, "FORBIDDEN")]
    assert await database_state(db) == before


async def test_customer_is_told_every_staff_only_field_at_once(db: Stack, world: World) -> None:
    fields = with_organization(
        world, teamId=global_id("Team", world.ticket.team_id or 0), tags=["vip"], metadata={}
    )

    body = await create_as(db, world.customer, fields)

    assert refusal_of(body, "createTicket") == [
        ("teamId", "FORBIDDEN"),
        ("tags", "FORBIDDEN"),
        ("metadata", "FORBIDDEN"),
    ]


async def test_customer_must_choose_an_organization(db: Stack, world: World) -> None:
    before = await database_state(db)

    body = await create_as(db, world.customer, {"title": "Printer on fire"})

    payload = payload_of(body, "createTicket")
    assert payload["ticket"] is None
    assert user_error_codes(payload) == [("organizationId", "REQUIRED")]
    assert await database_state(db) == before


async def test_staff_must_say_which_customer(db: Stack, world: World) -> None:
    before = await database_state(db)

    body = await create_as(db, world.agent, {"title": "Printer on fire"})

    assert user_error_codes(payload_of(body, "createTicket")) == [("customerId", "REQUIRED")]
    assert await database_state(db) == before


@pytest.mark.parametrize(
    ("who", "customer"),
    [("agent", "other_customer"), ("other_agent", "customer")],
    ids=["customer-without-tickets", "customer-of-another-organization"],
)
async def test_staff_open_tickets_only_for_customers_of_their_organization(
    db: Stack, world: World, who: str, customer: str
) -> None:
    before = await database_state(db)

    body = await create_as(db, getattr(world, who), for_customer(world, getattr(world, customer)))

    payload = payload_of(body, "createTicket")
    assert payload["ticket"] is None
    assert user_error_codes(payload) == [("customerId", "NOT_FOUND")]
    assert await database_state(db) == before


async def test_staff_cannot_open_a_ticket_in_another_organization(db: Stack, world: World) -> None:
    before = await database_state(db)

    body = await create_as(
        db,
        world.agent,
        for_customer(world, organizationId=global_id("Organization", world.other_org.id)),
    )

    assert refusal_of(body, "createTicket") == [("organizationId", "NOT_FOUND")]
    assert await database_state(db) == before


async def test_customer_naming_an_unknown_organization_gets_not_found(
    db: Stack, world: World
) -> None:
    before = await database_state(db)

    body = await create_as(
        db, world.customer, {"title": "Help", "organizationId": global_id("Organization", 999)}
    )

    assert refusal_of(body, "createTicket") == [("organizationId", "NOT_FOUND")]
    assert await database_state(db) == before


async def test_team_of_another_organization_is_not_found(db: Stack, world: World, session) -> None:
    foreign_team = await create_team(session, world.other_org)
    await session.commit()
    before = await database_state(db)

    body = await create_as(
        db, world.agent, for_customer(world, teamId=global_id("Team", foreign_team.id))
    )

    assert user_error_codes(payload_of(body, "createTicket")) == [("teamId", "NOT_FOUND")]
    assert await database_state(db) == before


# --- numbers and idempotency ---------------------------------------------------------------


async def test_ticket_numbers_increase_per_organization(db: Stack, world: World) -> None:
    def in_org(org_id: int) -> dict[str, Any]:
        return {"title": "Help", "organizationId": global_id("Organization", org_id)}

    numbers = []
    for org in (world.org, world.other_org, world.org, world.other_org, world.org):
        ticket = created_ticket(await create_as(db, world.customer, in_org(org.id)))
        numbers.append(ticket["number"])

    # The world already holds ticket #1 of its organization.
    assert numbers == [2, 1, 3, 2, 4]


@pytest.mark.parametrize("who", ["customer", "agent"])
async def test_a_retried_create_returns_the_first_ticket(db: Stack, world: World, who: str) -> None:
    creator = getattr(world, who)
    fields = (with_organization(world) if who == "customer" else for_customer(world)) | {
        "idempotencyKey": "retry-7f1c"
    }
    first = created_ticket(await create_as(db, creator, fields))
    tickets_after_first = await count_rows(db, Ticket)

    again = created_ticket(await create_as(db, creator, fields))

    assert again == first
    assert await count_rows(db, Ticket) == tickets_after_first
    assert await history_of(db, pk_of(first["id"])) == [change(creator, "created")]
    # The retry did not use up a ticket number either.
    fresh = created_ticket(await create_as(db, creator, fields | {"idempotencyKey": "other"}))
    assert fresh["number"] == first["number"] + 1


async def test_concurrent_retries_create_one_ticket(db: Stack, world: World) -> None:
    fields = with_organization(world) | {"idempotencyKey": "double-click"}

    bodies = await asyncio.gather(*(create_as(db, world.customer, fields) for _ in range(2)))

    first, second = [created_ticket(body) for body in bodies]
    assert first["id"] == second["id"]
    assert await count_rows(db, Ticket) == 2  # the world's ticket and this one
    assert await history_of(db, pk_of(first["id"])) == [change(world.customer, "created")]


async def test_concurrent_retries_use_up_no_ticket_number(
    db: Stack, world: World, request: pytest.FixtureRequest
) -> None:
    numbers = []
    for attempt in range(5):  # a race is timing; five rounds make sure one is lost
        fields = with_organization(world) | {"idempotencyKey": f"double-click-{attempt}"}
        bodies = await asyncio.gather(*(create_as(db, world.customer, fields) for _ in range(2)))
        numbers.append(created_ticket(bodies[0])["number"])

    following = created_ticket(await create_as(db, world.customer, with_organization(world)))

    assert [*numbers, following["number"]] == list(range(2, 8))


async def test_an_idempotency_key_is_per_customer(db: Stack, world: World) -> None:
    mine = created_ticket(
        await create_as(db, world.customer, with_organization(world) | {"idempotencyKey": "k1"})
    )

    theirs = created_ticket(
        await create_as(
            db, world.other_customer, with_organization(world) | {"idempotencyKey": "k1"}
        )
    )

    assert theirs["id"] != mine["id"]
    assert theirs["customer"] == {"name": world.other_customer.name}


async def test_another_organizations_staff_may_use_a_customers_key(
    db: Stack, world: World, session
) -> None:
    # The customer also writes to the other organization, so its staff may open tickets for
    # them there. A key the customer used with the first organization lives in a ticket row
    # security hides from that staff: reusing it was a uniqueness violation (INTERNAL).
    from tests.factories import create_ticket

    await create_ticket(session, world.other_org, world.customer)
    await session.commit()
    mine = created_ticket(
        await create_as(db, world.customer, with_organization(world, idempotencyKey="shared"))
    )

    theirs = created_ticket(
        await create_as(db, world.other_agent, for_customer(world, idempotencyKey="shared"))
    )
    ours = created_ticket(
        await create_as(db, world.agent, for_customer(world, idempotencyKey="shared"))
    )

    assert len({mine["id"], theirs["id"], ours["id"]}) == 3
    assert theirs["organization"] == {"id": global_id("Organization", world.other_org.id)}
    # Each sender's retry still finds its own ticket.
    again = created_ticket(
        await create_as(db, world.other_agent, for_customer(world, idempotencyKey="shared"))
    )
    assert again["id"] == theirs["id"]


@pytest.mark.parametrize(
    "changed",
    [
        pytest.param({"title": "Another problem"}, id="title"),
        pytest.param({"description": "More details"}, id="description"),
        pytest.param({"priority": "URGENT"}, id="priority"),
        pytest.param("other organization", id="organization"),
    ],
)
async def test_a_key_reused_for_another_request_is_refused(
    db: Stack, world: World, changed: Any
) -> None:
    fields = with_organization(world, idempotencyKey="once")
    first = created_ticket(await create_as(db, world.customer, fields))
    before = await database_state(db)
    other = (
        fields | {"organizationId": global_id("Organization", world.other_org.id)}
        if changed == "other organization"
        else fields | changed
    )

    payload = payload_of(await create_as(db, world.customer, other), "createTicket")

    assert payload["ticket"] is None
    assert user_error_codes(payload) == [("idempotencyKey", "IDEMPOTENCY_KEY_REUSED")]
    assert await database_state(db) == before
    # The same request is still a retry.
    assert created_ticket(await create_as(db, world.customer, fields))["id"] == first["id"]


async def test_a_retry_with_the_same_values_spelled_differently_is_a_retry(
    db: Stack, world: World
) -> None:
    fields = for_customer(world, idempotencyKey="spelled", tags=["Billing", "vip"])
    first = created_ticket(await create_as(db, world.agent, fields))

    again = created_ticket(
        await create_as(
            db, world.agent, fields | {"title": "  Printer on fire ", "tags": ["billing", " VIP"]}
        )
    )

    assert again["id"] == first["id"]


# --- bad input -----------------------------------------------------------------------------

BAD_INPUT = [
    pytest.param({"title": ""}, [("title", "REQUIRED")], id="empty-title"),
    pytest.param({"title": "  \t\n "}, [("title", "REQUIRED")], id="whitespace-title"),
    pytest.param({"title": "x" * 301}, [("title", "TOO_LONG")], id="301-char-title"),
    pytest.param({"title": MEGABYTE}, [("title", "TOO_LONG")], id="1mb-title"),
    pytest.param({"title": "a\x00b"}, [("title", "INVALID")], id="nul-in-title"),
    pytest.param({"description": "x" * 20_001}, [("description", "TOO_LONG")], id="20001-desc"),
    pytest.param({"description": MEGABYTE}, [("description", "TOO_LONG")], id="1mb-description"),
    pytest.param({"tags": ["Not Valid!"]}, [("tags", "INVALID")], id="invalid-tag"),
    pytest.param({"tags": ["-leading-dash"]}, [("tags", "INVALID")], id="tag-leading-dash"),
    pytest.param({"tags": [""]}, [("tags", "INVALID")], id="empty-tag"),
    pytest.param({"tags": ["x" * 51]}, [("tags", "TOO_LONG")], id="51-char-tag"),
    pytest.param({"tags": [f"t{i}" for i in range(21)]}, [("tags", "TOO_MANY")], id="21-tags"),
    pytest.param({"metadata": {"blob": "x" * 16_400}}, [("metadata", "TOO_LONG")], id="big-meta"),
    pytest.param({"metadata": {"blob": MEGABYTE}}, [("metadata", "TOO_LONG")], id="1mb-meta"),
    pytest.param({"metadata": [1, 2]}, [("metadata", "INVALID")], id="metadata-list"),
    pytest.param({"metadata": "text"}, [("metadata", "INVALID")], id="metadata-string"),
    pytest.param({"metadata": 42}, [("metadata", "INVALID")], id="metadata-number"),
    pytest.param({"idempotencyKey": "k" * 101}, [("idempotencyKey", "TOO_LONG")], id="long-key"),
    pytest.param({"idempotencyKey": "  "}, [("idempotencyKey", "REQUIRED")], id="blank-key"),
    pytest.param(
        {"title": "", "tags": ["Bad Tag"]},
        [("title", "REQUIRED"), ("tags", "INVALID")],
        id="every-problem-at-once",
    ),
]


@pytest.mark.parametrize(("fields", "expected"), BAD_INPUT)
async def test_bad_input_is_refused_and_changes_nothing(
    db: Stack, world: World, fields: dict[str, Any], expected: list[tuple[str, str]]
) -> None:
    before = await database_state(db)

    body = await create_as(db, world.agent, for_customer(world, **fields))

    payload = payload_of(body, "createTicket")
    assert payload["ticket"] is None
    assert user_error_codes(payload) == expected
    assert all(len(error["message"]) < 200 for error in payload["userErrors"])
    assert await database_state(db) == before


# Metadata the database cannot store or the API cannot give back (as JSON) on both backends.
UNSTORABLE_METADATA = [
    pytest.param('{"note": "a\\u0000b"}', id="nul-in-value"),
    pytest.param('{"a\\u0000b": 1}', id="nul-in-key"),
    pytest.param('{"note": "\\ud800"}', id="lone-surrogate"),
    pytest.param('{"n": NaN}', id="nan"),
    pytest.param('{"n": 1e400}', id="infinity"),
    pytest.param('{"n": 123456789012345678901234567890}', id="int-beyond-64-bit"),
    pytest.param('{"a":' * 300 + "1" + "}" * 300, id="300-levels-deep"),
]


@pytest.mark.parametrize("raw_metadata", UNSTORABLE_METADATA)
async def test_metadata_that_cannot_be_stored_and_read_back_is_refused(
    db: Stack, world: World, raw_metadata: str
) -> None:
    before = await database_state(db)
    operation = operation_text(
        CREATE_TICKET, {"input": for_customer(world, metadata="RAW")}, RAW=raw_metadata
    )

    response = await post_leniently(db, world.agent, operation)

    assert response.status_code == 200, response.text
    payload = payload_of(response.json(), "createTicket")
    assert [error["field"] for error in payload["userErrors"]] == ["metadata"]
    assert await database_state(db) == before


@pytest.mark.parametrize("field", ["title", "description", "idempotencyKey"])
async def test_text_that_is_not_unicode_is_refused(db: Stack, world: World, field: str) -> None:
    before = await database_state(db)
    operation = operation_text(CREATE_TICKET, {"input": for_customer(world, **{field: "a\ud800"})})

    response = await post_leniently(db, world.agent, operation)

    assert_refused_as_bad_input(response.json(), "createTicket", field)
    assert await database_state(db) == before


async def test_a_request_nested_too_deeply_gets_a_json_error(db: Stack, world: World) -> None:
    before = await database_state(db)
    deep = '{"a":' * 3000 + "1" + "}" * 3000
    operation = operation_text(
        CREATE_TICKET, {"input": for_customer(world, metadata="DEEP")}, DEEP=deep
    )

    response = await post_leniently(db, world.agent, operation)

    assert response.status_code in (200, 400, 413), response.text
    assert response.json()["errors"]
    assert await database_state(db) == before


async def test_limits_are_inclusive(db: Stack, world: World) -> None:
    body = await create_as(
        db,
        world.agent,
        for_customer(
            world,
            title="t" * 300,
            description="d" * 20_000,
            tags=[f"t{i}" for i in range(20)],
            metadata={"blob": "x" * 16_000},
        ),
    )

    ticket = created_ticket(body)
    assert len(ticket["title"]) == 300
    assert len(ticket["description"]) == 20_000
    assert len(ticket["tags"]) == 20


async def test_wrong_enum_value_is_bad_user_input(db: Stack, world: World) -> None:
    before = await database_state(db)

    body = await create_as(db, world.agent, for_customer(world, priority="SUPER_URGENT"))

    assert body["data"] is None
    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert await database_state(db) == before


@pytest.mark.parametrize(
    "fields",
    [
        {"customerId": global_id("Ticket", 1)},
        {"teamId": global_id("Customer", 1)},
        {"organizationId": global_id("Team", 1)},
        {"customerId": global_id("Customer", "abc")},  # type: ignore[arg-type]
    ],
    ids=["ticket-as-customer", "customer-as-team", "team-as-organization", "non-numeric"],
)
async def test_ids_of_the_wrong_type_are_not_found(
    db: Stack, world: World, fields: dict[str, Any]
) -> None:
    before = await database_state(db)

    body = await create_as(db, world.agent, for_customer(world) | fields)

    (field,) = fields
    assert refusal_of(body, "createTicket") == [(field, "NOT_FOUND")]
    assert await database_state(db) == before


@pytest.mark.parametrize("field", ["customerId", "organizationId", "teamId"])
async def test_malformed_ids_are_bad_user_input(db: Stack, world: World, field: str) -> None:
    before = await database_state(db)

    body = await create_as(db, world.agent, for_customer(world) | {field: "not base64 at all!"})

    assert_refused_at(body, "createTicket", "BAD_USER_INPUT")
    assert await database_state(db) == before
