"""Leak hunt for administration (issue 11): an organization set up through the API with
markers in every staff-only place (a routing rule's name, a team's description, an invited
member's email, a customer the staff created, audit details), then every surface a customer
reaches is searched for them: a routed ticket with every field and history entry, ticket
events of routing, organizationEvents, the admin queries, node and nodes.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.conftest import Stack
from tests.security.test_leak_hunt import FRAGMENTS
from tests.security.world import World, build_world, call, call_ok, empty_tables, gid
from tests.ws import GraphQLWebSocket, serving, wait_until

RULE_SECRET = "Capybararoutingrule"
TEAM_SECRET = "Ocelotteamdescription"
INVITE_SECRET = "axolotl-invitee@staff.example"
CREATED_CUSTOMER = "Tapirwalkincustomer"
CREATED_EMAIL = "tapir-walkin@customer.example"
SECRETS = (RULE_SECRET, TEAM_SECRET, INVITE_SECRET, CREATED_CUSTOMER, CREATED_EMAIL)


def assert_clean(answer: Any) -> None:
    text = answer if isinstance(answer, str) else json.dumps(answer)
    for secret in SECRETS:
        assert secret not in text, f"{secret!r} leaked: {text}"


@pytest.fixture
async def world(backend: Stack) -> AsyncIterator[World]:
    async with backend.sessionmaker() as session:
        world = await build_world(session)
    try:
        yield world
    finally:
        await empty_tables(backend.engine)


async def set_up(db: Stack, world: World) -> dict[str, Any]:
    """The admin sets the organization up with a secret in every staff-only place."""
    team = await call_ok(
        db,
        world.admin,
        "mutation($i: CreateTeamInput!) { createTeam(input: $i) { team { id } } }",
        {"i": {"name": "Routedteam", "description": TEAM_SECRET}},
    )
    team_id = team["createTeam"]["team"]["id"]
    await call_ok(
        db,
        world.admin,
        """mutation($i: UpdateTeamMemberInput!) {
          updateTeamMember(input: $i) { member { id } } }""",
        {"i": {"id": gid(world.agent), "teamId": team_id}},
    )
    rule = await call_ok(
        db,
        world.admin,
        "mutation($i: RoutingRuleInput!) { createRoutingRule(input: $i) { rule { id } } }",
        {
            "i": {
                "name": RULE_SECRET,
                "titleWords": ["printer"],
                "setTeamId": team_id,
                "assignRoundRobin": True,
                "addTags": ["routed"],
                "setPriority": "HIGH",
            }
        },
    )
    await call_ok(
        db,
        world.admin,
        "mutation($i: InviteTeamMemberInput!) { inviteTeamMember(input: $i) { member { id } } }",
        {"i": {"email": INVITE_SECRET, "name": "Invitee"}},
    )
    await call_ok(
        db,
        world.agent,
        "mutation($i: CustomerInput!) { createCustomer(input: $i) { customer { id } } }",
        {"i": {"email": CREATED_EMAIL, "name": CREATED_CUSTOMER}},
    )
    return {"team": team_id, "rule": rule["createRoutingRule"]["rule"]["id"]}


OPEN = (
    """mutation($i: CreateTicketInput!) { createTicket(input: $i) {
      ticket { ...TicketFields
        team { id name description archivedAt }
        assignee { ... on TeamMember { name isPending invitedAt email } }
        routed: history(first: 20) { nodes { performedBy { __typename
          ... on SystemActor { kind routingRule { id name conditions { titleWords } } }
          ... on TeamMember { name email }
        } } }
      }
      userErrors { field message code }
    } }"""
    + FRAGMENTS
)
ADMIN_READS = (
    "query { customers { nodes { name email } } }",
    "query { routingRules { name } }",
    "query { auditLog { entries { action details } } }",
    "query { teams(includeArchived: true) { name description } }",
    "query { teamMembers(includeInactive: true) { name email isPending } }",
    "query { organizations { name slug visibility } }",
    "query { me { ... on Customer { name email } } }",
)


async def test_a_customer_meets_no_administration_secret(backend: Stack, world: World) -> None:
    ids = await set_up(backend, world)
    organization = gid(world.org)

    opened, text = await call(
        backend,
        world.customer,
        OPEN,
        {"i": {"title": "The printer is smoking", "organizationId": organization}},
    )
    assert opened.get("data"), opened
    ticket = opened["data"]["createTicket"]["ticket"]
    # It was routed: the customer sees the change, not who decided it.
    assert ticket["tags"] == ["routed"]
    assert ticket["priority"] == "HIGH"
    assert ticket["assignee"]["name"]
    assert_clean(text)
    for document in ADMIN_READS:
        _, answer = await call(backend, world.customer, document)
        assert_clean(answer)
    for node_id in (ids["rule"], ids["team"]):
        _, answer = await call(
            backend,
            world.customer,
            "query($id: ID!) { node(id: $id) { id ... on RoutingRule { name } "
            "... on Team { name description } } }",
            {"id": node_id},
        )
        assert_clean(answer)
    _, answer = await call(
        backend,
        world.other_customer,
        "query($ids: [ID!]!) { nodes(ids: $ids) { id ... on Customer { name email } } }",
        {"ids": [ticket["customer"]["id"], ids["rule"]]},
    )
    assert_clean(answer)


async def test_routing_events_and_organization_events_carry_no_secret(
    backend: Stack, world: World
) -> None:
    await set_up(backend, world)
    hub = backend.app.state.runtime.get().hub
    organization_hub = backend.app.state.runtime.get().organization_hub
    async with (
        serving(backend.app) as url,
        GraphQLWebSocket.connect(url, backend.token(world.customer.user_id)) as socket,
    ):
        await socket.subscribe(
            """subscription { ticketEvents { kind changes { __typename
              performedBy { __typename ... on SystemActor { kind routingRule { name } } }
              ... on TeamChanged { toTeam { name description } }
            } ticket { title team { description } } } }"""
        )
        await socket.subscribe("subscription { organizationEvents { action team { name } } }")
        refused = await socket.receive()
        await wait_until(lambda: hub.subscriber_count == 1)
        await call(
            backend,
            world.customer,
            "mutation($i: CreateTicketInput!) { createTicket(input: $i) { ticket { id } } }",
            {"i": {"title": "printer again", "organizationId": gid(world.org)}},
        )
        events = [await socket.receive() for _ in range(2)]
        await call_ok(
            backend,
            world.admin,
            "mutation($i: CreateTeamInput!) { createTeam(input: $i) { team { id } } }",
            {"i": {"name": "Latercreated", "description": TEAM_SECRET}},
        )
        await socket.nothing_for(0.5)

    assert refused["type"] == "error", refused
    assert organization_hub.subscriber_count == 0
    assert [e["type"] for e in events] == ["next", "next"]
    kinds = [e["payload"]["data"]["ticketEvents"]["kind"] for e in events]
    assert kinds[0] == "CREATED"
    assert_clean(events)
    assert_clean(refused)
