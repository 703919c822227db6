"""Customers: the staff directory, createCustomer / inviteCustomer, first sign-in and
self-signup, and which organizations a customer may use (PUBLIC or INVITE_ONLY)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from models import Customer
from tests.admin.helpers import (
    CREATE_CUSTOMER,
    INVITE_CUSTOMER,
    UPDATE_ORGANIZATION,
    admin_state,
    as_token,
    audit_actions,
    status_of,
    token_with_email,
)
from tests.api.mutation_helpers import call, payload_of
from tests.api.mutation_helpers import user_error_codes as codes
from tests.conftest import Stack
from tests.factories import World, create_customer, create_ticket, create_world
from tests.graphql import assert_refused_at, global_id

CUSTOMERS = """query Customers($search: String, $first: Int, $after: String) {
  customers(filter: {search: $search}, first: $first, after: $after) {
    nodes { id name email } pageInfo { hasNextPage endCursor }
  }
}"""
OPEN_TICKET = """mutation($input: CreateTicketInput!) {
  createTicket(input: $input) { ticket { id customer { id } } userErrors { field code } }
}"""
ORGANIZATIONS = "query Orgs { organizations { id visibility } }"
ME = "query Me { me { __typename ... on Customer { id name email } } }"


@pytest.fixture
async def world(session) -> World:
    return await create_world(session)


def names(body: dict) -> list[str]:
    return [n["name"] for n in body["data"]["customers"]["nodes"]]


async def test_staff_list_the_customers_their_organization_knows(
    db: Stack, world: World, session
) -> None:
    stranger = await create_customer(session, name="Stranger")
    await create_ticket(session, world.other_org, stranger)
    await session.commit()
    created = await call(
        db,
        world.agent,
        CREATE_CUSTOMER,
        {"input": {"email": "Walk.In@Example.com", "name": "Walk In", "company": "Acme"}},
    )

    listed = await call(db, world.agent, CUSTOMERS)
    searched = await call(db, world.admin, CUSTOMERS, {"search": "walk.in@"})
    first = await call(db, world.agent, CUSTOMERS, {"first": 1})
    rest = await call(
        db,
        world.agent,
        CUSTOMERS,
        {"first": 5, "after": first["data"]["customers"]["pageInfo"]["endCursor"]},
    )
    theirs = await call(db, world.other_agent, CUSTOMERS)

    customer = payload_of(created, "createCustomer")["customer"]
    assert customer["email"] == "walk.in@example.com"
    assert customer["company"] == "Acme"
    # The ticket's customer and the one created; never the other organization's.
    assert names(listed) == [world.customer.name, "Walk In"]
    assert names(searched) == ["Walk In"]
    assert names(first) == [world.customer.name]
    assert first["data"]["customers"]["pageInfo"]["hasNextPage"] is True
    assert names(rest) == ["Walk In"]
    assert names(theirs) == ["Stranger"]
    assert await audit_actions(db, world.org.id) == ["customer.created"]


async def test_customers_see_no_directory(db: Stack, world: World) -> None:
    body = await call(db, world.customer, CUSTOMERS)
    assert_refused_at(body, "customers", "FORBIDDEN")


async def test_staff_open_a_ticket_for_a_customer_they_just_created(
    db: Stack, world: World
) -> None:
    created = await call(
        db, world.agent, CREATE_CUSTOMER, {"input": {"email": "new@example.com", "name": "New"}}
    )
    customer_id = payload_of(created, "createCustomer")["customer"]["id"]

    opened = await call(
        db, world.agent, OPEN_TICKET, {"input": {"title": "Phoned in", "customerId": customer_id}}
    )
    # Another organization's staff still cannot open tickets for them.
    refused = await call(
        db, world.other_agent, OPEN_TICKET, {"input": {"title": "x", "customerId": customer_id}}
    )

    assert payload_of(opened, "createTicket")["ticket"]["customer"] == {"id": customer_id}
    assert codes(payload_of(refused, "createTicket")) == [("customerId", "NOT_FOUND")]


async def test_an_existing_customers_email_links_that_customer(db: Stack, world: World) -> None:
    body = await call(
        db,
        world.other_agent,
        CREATE_CUSTOMER,
        {"input": {"email": world.customer.email.upper(), "name": "Someone Else"}},
    )
    linked = payload_of(body, "createCustomer")["customer"]

    assert linked["id"] == global_id("Customer", world.customer.id)
    assert linked["name"] == world.customer.name
    async with db.sessionmaker() as s:
        assert await s.scalar(select(func.count()).select_from(Customer)) == 2


@pytest.mark.parametrize(
    ("data", "field", "code"),
    [
        ({"email": "nope", "name": "N"}, "email", "INVALID"),
        ({"email": "a@b.example", "name": ""}, "name", "REQUIRED"),
        ({"email": "a@b.example", "name": "N", "company": "c" * 201}, "company", "TOO_LONG"),
    ],
)
async def test_bad_customer_input_changes_nothing(
    db: Stack, world: World, data: dict, field: str, code: str
) -> None:
    before = await admin_state(db)
    body = await call(db, world.agent, INVITE_CUSTOMER, {"input": data})
    refused = await call(db, world.customer, CREATE_CUSTOMER, {"input": data})

    assert codes(payload_of(body, "inviteCustomer")) == [(field, code)]
    assert codes(payload_of(refused, "createCustomer")) == [(None, "FORBIDDEN")]
    assert await admin_state(db) == before


async def test_a_created_customer_claims_the_row_at_first_sign_in(db: Stack, world: World) -> None:
    await call(db, world.agent, INVITE_CUSTOMER, {"input": {"email": "x@example.com", "name": "X"}})

    me = await as_token(db, token_with_email(db, "idp|x", "X@example.com"), ME)

    assert me["data"]["me"]["name"] == "X"
    assert me["data"]["me"]["email"] == "x@example.com"


async def test_self_signup_is_off_by_default_and_makes_a_customer_when_on(
    db: Stack, world: World
) -> None:
    token = token_with_email(db, "idp|walkin", "walkin@example.com", name="Walk In")
    assert await status_of(db, token, ME) == (401, ["UNAUTHENTICATED"])
    # An email another subject's customer has is never handed over.
    taken = token_with_email(db, "idp|thief", world.customer.email)

    async with db.variant(customer_self_signup=True) as app:
        async with db.client(token, app=app) as client:
            me = (await client.post("/graphql", json={"query": ME})).json()
        async with db.client(taken, app=app) as client:
            thief = await client.post("/graphql", json={"query": ME})

    assert me["data"]["me"]["name"] == "Walk In"
    assert me["data"]["me"]["email"] == "walkin@example.com"
    assert thief.status_code == 401


async def test_an_invite_only_organization_serves_invited_customers_and_its_own(
    db: Stack, world: World, session
) -> None:
    newcomer = await create_customer(session)
    invited = await create_customer(session)
    await session.commit()
    org_id = global_id("Organization", world.org.id)
    made = await call(
        db, world.admin, UPDATE_ORGANIZATION, {"input": {"visibility": "INVITE_ONLY"}}
    )
    await call(db, world.agent, INVITE_CUSTOMER, {"input": {"email": invited.email, "name": "I"}})
    before = await admin_state(db)

    refused = await call(
        db, newcomer, OPEN_TICKET, {"input": {"title": "hi", "organizationId": org_id}}
    )
    hidden = await call(db, newcomer, ORGANIZATIONS)
    seen = await call(db, invited, ORGANIZATIONS)
    # A customer who already has tickets there keeps it.
    kept = await call(db, world.customer, ORGANIZATIONS)

    assert payload_of(made, "updateOrganization")["organization"]["visibility"] == "INVITE_ONLY"
    assert codes(payload_of(refused, "createTicket")) == [("organizationId", "NOT_FOUND")]
    assert await admin_state(db) == before
    assert org_id not in [o["id"] for o in hidden["data"]["organizations"]]
    assert org_id in [o["id"] for o in seen["data"]["organizations"]]
    assert org_id in [o["id"] for o in kept["data"]["organizations"]]
    opened = await call(
        db, invited, OPEN_TICKET, {"input": {"title": "hi", "organizationId": org_id}}
    )
    assert payload_of(opened, "createTicket")["ticket"] is not None
    assert await audit_actions(db, world.org.id) == ["organization.updated", "customer.invited"]


@pytest.mark.parametrize("who", ["agent", "customer"])
async def test_only_admins_change_the_organization(db: Stack, world: World, who: str) -> None:
    before = await admin_state(db)
    body = await call(
        db, getattr(world, who), UPDATE_ORGANIZATION, {"input": {"visibility": "INVITE_ONLY"}}
    )
    null = await call(db, world.admin, UPDATE_ORGANIZATION, {"input": {"name": None}})

    assert codes(payload_of(body, "updateOrganization")) == [(None, "FORBIDDEN")]
    assert codes(payload_of(null, "updateOrganization")) == [("name", "REQUIRED")]
    assert await admin_state(db) == before
