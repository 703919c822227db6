"""Routing rules: admins manage them; every new ticket is matched in order, each matching
rule's changes are history written by the rule, and round robin is fair under concurrent
creates."""

from __future__ import annotations

import asyncio
import collections

import pytest
from sqlalchemy import select

from models import Team, TeamMember, TeamRole, Ticket, TicketHistory
from tests.admin.helpers import (
    ARCHIVE_TEAM,
    CREATE_RULE,
    DELETE_RULE,
    REORDER_RULES,
    UPDATE_RULE,
    admin_state,
    audit_actions,
)
from tests.api.mutation_helpers import call, payload_of, pk_of
from tests.api.mutation_helpers import user_error_codes as codes
from tests.conftest import Stack
from tests.factories import World, create_customer, create_member, create_team, create_world
from tests.graphql import assert_refused_at, global_id

RULES = "query Rules { routingRules { id name position } }"
OPEN_TICKET = """mutation($input: CreateTicketInput!) {
  createTicket(input: $input) {
    ticket {
      id priority tags team { id } assignee { id }
      history { nodes {
        __typename
        actor { __typename }
        performedBy {
          __typename
          ... on SystemActor { kind routingRule { id name } }
          ... on Customer { id }
        }
      } }
    }
    userErrors { field code }
  }
}"""


@pytest.fixture
async def world(session) -> World:
    return await create_world(session)


async def rule(db: Stack, admin: TeamMember, **settings) -> dict:
    body = await call(db, admin, CREATE_RULE, {"input": settings})
    payload = payload_of(body, "createRoutingRule")
    assert payload["userErrors"] == [], payload
    return payload["rule"]


async def open_ticket(db: Stack, world: World, **values) -> dict:
    data = {"organizationId": global_id("Organization", world.org.id), **values}
    body = await call(db, world.customer, OPEN_TICKET, {"input": data})
    ticket = payload_of(body, "createTicket")["ticket"]
    assert ticket is not None, body
    return ticket


async def test_admins_manage_rules_in_order(db: Stack, world: World, session) -> None:
    team = await create_team(session, world.org, name="Billing")
    await session.commit()
    team_id = global_id("Team", team.id)

    first = await rule(db, world.admin, name="Refunds", titleWords=["Refund"], setTeamId=team_id)
    second = await rule(db, world.admin, name="Urgent", priorities=["URGENT"], addTags=["vip"])
    renamed = await call(
        db,
        world.admin,
        UPDATE_RULE,
        {"input": {"id": second["id"], "rule": {"name": "Hot", "setPriority": "HIGH"}}},
    )
    reordered = await call(
        db, world.admin, REORDER_RULES, {"input": {"ruleIds": [second["id"], first["id"]]}}
    )
    deleted = await call(db, world.admin, DELETE_RULE, {"input": {"id": first["id"]}})
    listed = await call(db, world.admin, RULES)

    assert first["conditions"]["titleWords"] == ["refund"]
    assert first["setTeam"] == {"id": team_id}
    assert (first["position"], second["position"]) == (1, 2)
    updated = payload_of(renamed, "updateRoutingRule")["rule"]
    assert (updated["name"], updated["setPriority"], updated["addTags"]) == ("Hot", "HIGH", ["vip"])
    assert [r["id"] for r in payload_of(reordered, "reorderRoutingRules")["rules"]] == [
        second["id"],
        first["id"],
    ]
    assert payload_of(deleted, "deleteRoutingRule")["userErrors"] == []
    assert listed["data"]["routingRules"] == [{"id": second["id"], "name": "Hot", "position": 1}]
    assert await audit_actions(db, world.org.id) == [
        "routing_rule.created",
        "routing_rule.created",
        "routing_rule.updated",
        "routing_rule.reordered",
        "routing_rule.deleted",
    ]


async def test_bad_rules_change_nothing(db: Stack, world: World, session) -> None:
    archived = await create_team(session, world.org, name="Old")
    other = await create_team(session, world.other_org, name="Theirs")
    await session.commit()
    await call(db, world.admin, ARCHIVE_TEAM, {"input": {"id": global_id("Team", archived.id)}})
    existing = await rule(db, world.admin, name="Taken", addTags=["a"])
    before = await admin_state(db)

    cases = [
        ({"name": "No action"}, [(None, "REQUIRED")]),
        ({"addTags": ["x"]}, [("name", "REQUIRED")]),
        ({"name": "taken", "addTags": ["x"]}, [("name", "TAKEN")]),
        ({"name": "T", "setTeamId": global_id("Team", other.id)}, [("setTeamId", "NOT_FOUND")]),
        ({"name": "T", "setTeamId": global_id("Team", archived.id)}, [("setTeamId", "ARCHIVED")]),
        ({"name": "T", "addTags": ["Not A Tag!"]}, [("addTags", "INVALID")]),
        ({"name": "T", "addTags": ["x"], "titleWords": [""]}, [("titleWords", "REQUIRED")]),
        ({"name": "T", "addTags": None}, [("addTags", "REQUIRED")]),
    ]
    for settings, expected in cases:
        body = await call(db, world.admin, CREATE_RULE, {"input": settings})
        assert codes(payload_of(body, "createRoutingRule")) == expected, settings
    incomplete = await call(db, world.admin, REORDER_RULES, {"input": {"ruleIds": []}})
    twice = await call(
        db, world.admin, REORDER_RULES, {"input": {"ruleIds": [existing["id"], existing["id"]]}}
    )
    assert codes(payload_of(incomplete, "reorderRoutingRules")) == [("ruleIds", "INVALID")]
    assert codes(payload_of(twice, "reorderRoutingRules")) == [("ruleIds", "INVALID")]
    assert await admin_state(db) == before


@pytest.mark.parametrize("who", ["agent", "customer", "other_agent"])
async def test_only_admins_of_the_organization_manage_rules(
    db: Stack, world: World, who: str
) -> None:
    existing = await rule(db, world.admin, name="R", addTags=["a"])
    before = await admin_state(db)
    caller = getattr(world, who)

    created = await call(db, caller, CREATE_RULE, {"input": {"name": "X", "addTags": ["b"]}})
    updated = await call(
        db, caller, UPDATE_RULE, {"input": {"id": existing["id"], "rule": {"name": "Y"}}}
    )
    deleted = await call(db, caller, DELETE_RULE, {"input": {"id": existing["id"]}})
    listed = await call(db, caller, RULES)

    for body, name in (
        (created, "createRoutingRule"),
        (updated, "updateRoutingRule"),
        (deleted, "deleteRoutingRule"),
    ):
        assert codes(payload_of(body, name)) == [(None, "FORBIDDEN")]
    assert_refused_at(listed, "routingRules", "FORBIDDEN")
    assert await admin_state(db) == before


async def test_another_organizations_admin_cannot_see_or_change_a_rule(
    db: Stack, world: World, session
) -> None:
    other_admin = await create_member(session, world.other_org, TeamRole.ADMIN)
    await session.commit()
    existing = await rule(db, world.admin, name="R", addTags=["a"])
    before = await admin_state(db)

    updated = await call(
        db, other_admin, UPDATE_RULE, {"input": {"id": existing["id"], "rule": {"name": "Y"}}}
    )
    node = await call(
        db, other_admin, "query($id: ID!) { node(id: $id) { id } }", {"id": existing["id"]}
    )
    listed = await call(db, other_admin, RULES)

    assert codes(payload_of(updated, "updateRoutingRule")) == [("id", "NOT_FOUND")]
    assert node["data"]["node"] is None
    assert listed["data"]["routingRules"] == []
    assert await admin_state(db) == before


async def test_a_new_ticket_is_routed_and_assigned_with_the_rule_as_actor(
    db: Stack, world: World, session
) -> None:
    team = await create_team(session, world.org, name="Billing")
    agent = await create_member(session, world.org, team_id=team.id)
    await session.commit()
    billing = await rule(
        db,
        world.admin,
        name="Billing",
        titleWords=["invoice"],
        setTeamId=global_id("Team", team.id),
        assignRoundRobin=True,
        addTags=["billing"],
    )
    await rule(db, world.admin, name="Never", priorities=["LOW"], setPriority="URGENT")

    routed = await open_ticket(db, world, title="Wrong INVOICE amount", priority="HIGH")
    plain = await open_ticket(db, world, title="Hello")

    assert routed["team"] == {"id": global_id("Team", team.id)}
    assert routed["assignee"] == {"id": global_id("TeamMember", agent.id)}
    assert routed["tags"] == ["billing"]
    assert routed["priority"] == "HIGH"
    entries = routed["history"]["nodes"]
    assert [e["__typename"] for e in entries] == [
        "Created",
        "TeamChanged",
        "TagsChanged",
        "Assigned",
    ]
    assert entries[0]["performedBy"] == {
        "__typename": "Customer",
        "id": global_id("Customer", world.customer.id),
    }
    # Customers see that routing did it, never which rule.
    for entry in entries[1:]:
        assert entry["actor"] is None
        assert entry["performedBy"] == {
            "__typename": "SystemActor",
            "kind": "ROUTING_RULE",
            "routingRule": None,
        }
    assert (plain["team"], plain["assignee"], plain["tags"]) == (None, None, [])
    # Staff see the rule, also once it is deleted.
    await call(db, world.admin, DELETE_RULE, {"input": {"id": billing["id"]}})
    staff = await call(
        db,
        world.agent,
        """query($id: ID!) { ticket(id: $id) { history { nodes { performedBy {
          ... on SystemActor { kind routingRule { name } } } } } } }""",
        {"id": routed["id"]},
    )
    performers = [e["performedBy"] for e in staff["data"]["ticket"]["history"]["nodes"]]
    assert performers[1:] == [{"kind": "ROUTING_RULE", "routingRule": {"name": "Billing"}}] * 3
    async with db.sessionmaker() as s:
        actors = set(
            await s.execute(
                select(TicketHistory.actor_type, TicketHistory.actor_id).where(
                    TicketHistory.ticket_id == pk_of(routed["id"]),
                    TicketHistory.action != "created",
                )
            )
        )
    assert {(str(t), i) for t, i in actors} == {("routing_rule", pk_of(billing["id"]))}


async def test_conditions_combine_and_stop_processing_ends_the_list(
    db: Stack, world: World, session
) -> None:
    customer = await create_customer(session, company="Acme Corp")
    await session.commit()
    world.customer = customer
    await rule(
        db,
        world.admin,
        name="Acme urgent",
        companies=["ACME corp"],
        priorities=["URGENT"],
        addTags=["acme"],
        stopProcessing=True,
    )
    await rule(db, world.admin, name="Everything", addTags=["seen"])
    await rule(db, world.admin, name="Off", addTags=["off"], enabled=False)

    both = await open_ticket(db, world, title="Down", priority="URGENT")
    only_company = await open_ticket(db, world, title="Down", priority="LOW")

    assert both["tags"] == ["acme"]
    assert only_company["tags"] == ["seen"]


async def test_round_robin_skips_deactivated_pending_and_archived(
    db: Stack, world: World, session
) -> None:
    team = await create_team(session, world.org)
    first = await create_member(session, world.org, team_id=team.id)
    await create_member(session, world.org, team_id=team.id, is_active=False)
    await create_member(session, world.org, team_id=team.id, user_id=None)
    third = await create_member(session, world.org, team_id=team.id)
    await session.commit()
    await rule(
        db, world.admin, name="RR", setTeamId=global_id("Team", team.id), assignRoundRobin=True
    )

    assignees = [(await open_ticket(db, world, title=f"t{i}"))["assignee"] for i in range(4)]
    await call(db, world.admin, ARCHIVE_TEAM, {"input": {"id": global_id("Team", team.id)}})
    after_archive = await open_ticket(db, world, title="late")

    ids = [global_id("TeamMember", m.id) for m in (first, third)]
    assert [a["id"] for a in assignees] == [ids[0], ids[1], ids[0], ids[1]]
    assert (after_archive["team"], after_archive["assignee"]) == (None, None)


async def test_round_robin_is_fair_under_concurrent_creates(
    db: Stack, world: World, session
) -> None:
    team = await create_team(session, world.org)
    agents = [await create_member(session, world.org, team_id=team.id) for _ in range(3)]
    await session.commit()
    await rule(
        db, world.admin, name="RR", setTeamId=global_id("Team", team.id), assignRoundRobin=True
    )

    tickets = await asyncio.gather(*(open_ticket(db, world, title=f"c{i}") for i in range(12)))

    counts = collections.Counter(t["assignee"]["id"] for t in tickets)
    assert counts == {global_id("TeamMember", a.id): 4 for a in agents}
    async with db.sessionmaker() as s:
        position = await s.scalar(select(Team.last_assigned_member_id).where(Team.id == team.id))
        assigned = await s.scalars(select(Ticket.assignee_id).where(Ticket.team_id == team.id))
    assert position in {a.id for a in agents}
    assert len(list(assigned)) == 12
