"""Typed history: every change renders as its own entry type with decoded values, for staff and
(the public ones) for customers; ids and the deprecated text fields stay as they were; events
carry the same entries."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from graphql import parse, validate

from schema import schema
from tests.conftest import Stack
from tests.factories import World, create_team, create_world
from tests.graphql import execute, global_id
from tests.ws import GraphQLWebSocket, serving, wait_until

TIMELINE_FIELDS = """
fragment Timeline on HistoryEntry {
  __typename id changedField isInternal createdAt
  actor { __typename ... on TeamMember { name } ... on Customer { name } }
  ... on TitleChanged { fromTitle toTitle }
  ... on DescriptionChanged { fromDescription toDescription }
  ... on StatusChanged { fromStatus toStatus }
  ... on PriorityChanged { fromPriority toPriority }
  ... on Assigned { fromAssignee { name } toAssignee { name } }
  ... on TeamChanged { fromTeam { name } toTeam { name } }
  ... on TagsChanged { added removed }
  ... on MetadataChanged { fromMetadata toMetadata }
  ... on ResponseAdded { response { body } }
  ... on NoteAdded { response { body } }
}
"""
TIMELINE = (
    "query($id: ID!) { ticket(id: $id) { history(first: 50) { nodes { ...Timeline } } } }"
    + TIMELINE_FIELDS
)
DEPRECATED = """
query($id: ID!) {
  ticket(id: $id) { history(first: 50) { nodes { action field oldValue newValue } } }
}
"""
UPDATE = """
mutation($input: UpdateTicketInput!) { updateTicket(input: $input) { userErrors { code } } }
"""
ASSIGN = """
mutation($id: ID!, $to: ID) {
  assignTicket(input: {ticketId: $id, assigneeId: $to}) { userErrors { code } }
}
"""
REPLY = """
mutation($id: ID!, $body: String!, $internal: Boolean!) {
  addResponse(input: {ticketId: $id, body: $body, internal: $internal}) { userErrors { code } }
}
"""
CREATE = """
mutation($org: ID!) {
  createTicket(input: {organizationId: $org, title: "Fresh"}) { ticket { id } userErrors { code } }
}
"""


async def run(db: Stack, who: Any, document: str, variables: dict[str, Any]) -> dict[str, Any]:
    async with db.client(db.token(who.user_id)) as client:
        body = await execute(client, document, variables)
    assert "errors" not in body, body
    return body["data"]  # type: ignore[no-any-return]


async def mutate(db: Stack, who: Any, document: str, variables: dict[str, Any]) -> None:
    (payload,) = (await run(db, who, document, variables)).values()
    assert payload["userErrors"] == [], payload


def without_noise(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in e.items() if k not in ("id", "createdAt")} for e in entries]


@pytest.fixture
async def world(session) -> World:
    return await create_world(session)


async def a_busy_day(db: Stack, world: World, session) -> tuple[str, Any]:
    """Every kind of change to one ticket, each through the API."""
    data = await run(db, world.customer, CREATE, {"org": global_id("Organization", world.org.id)})
    ticket = data["createTicket"]["ticket"]["id"]
    team = await create_team(session, world.org, name="Hardware")
    await session.commit()
    await mutate(
        db,
        world.agent,
        UPDATE,
        {
            "input": {
                "id": ticket,
                "title": "Fresh, renamed",
                "description": "Now with details",
                "priority": "HIGH",
                "teamId": global_id("Team", team.id),
                "tags": ["printer", "urgent"],
                "metadata": {"crm": "A-1"},
            }
        },
    )
    await mutate(db, world.agent, UPDATE, {"input": {"id": ticket, "tags": ["printer", "vip"]}})
    await mutate(
        db, world.agent, ASSIGN, {"id": ticket, "to": global_id("TeamMember", world.agent.id)}
    )
    await mutate(db, world.agent, REPLY, {"id": ticket, "body": "On it", "internal": False})
    await mutate(db, world.agent, REPLY, {"id": ticket, "body": "Printer 7", "internal": True})
    await mutate(db, world.agent, UPDATE, {"input": {"id": ticket, "status": "IN_PROGRESS"}})
    await mutate(db, world.admin, ASSIGN, {"id": ticket, "to": None})
    return ticket, team


async def test_staff_read_every_change_as_its_typed_entry(db: Stack, world: World, session) -> None:
    ticket, _ = await a_busy_day(db, world, session)

    entries = without_noise(
        (await run(db, world.agent, TIMELINE, {"id": ticket}))["ticket"]["history"]["nodes"]
    )

    agent = {"__typename": "TeamMember", "name": world.agent.name}
    admin = {"__typename": "TeamMember", "name": world.admin.name}
    customer = {"__typename": "Customer", "name": world.customer.name}

    def entry(
        typename: str, field: str | None, actor: Any, internal: bool = False, **values: Any
    ) -> dict[str, Any]:
        return {
            "__typename": typename,
            "changedField": field,
            "isInternal": internal,
            "actor": actor,
            **values,
        }

    assert entries == [
        entry("Created", None, customer),
        # One update, one entry per field, in the order they are applied.
        entry("TitleChanged", "TITLE", agent, fromTitle="Fresh", toTitle="Fresh, renamed"),
        entry(
            "DescriptionChanged",
            "DESCRIPTION",
            agent,
            fromDescription="",
            toDescription="Now with details",
        ),
        entry("PriorityChanged", "PRIORITY", agent, fromPriority="MEDIUM", toPriority="HIGH"),
        entry("TeamChanged", "TEAM", agent, fromTeam=None, toTeam={"name": "Hardware"}),
        entry("TagsChanged", "TAGS", agent, added=["printer", "urgent"], removed=[]),
        entry(
            "MetadataChanged", "METADATA", agent, True, fromMetadata={}, toMetadata={"crm": "A-1"}
        ),
        entry("TagsChanged", "TAGS", agent, added=["vip"], removed=["urgent"]),
        entry(
            "Assigned", "ASSIGNEE", agent, fromAssignee=None, toAssignee={"name": world.agent.name}
        ),
        entry("ResponseAdded", None, agent, response={"body": "On it"}),
        entry("NoteAdded", None, agent, True, response={"body": "Printer 7"}),
        entry("StatusChanged", "STATUS", agent, fromStatus="OPEN", toStatus="IN_PROGRESS"),
        entry(
            "Assigned", "ASSIGNEE", admin, fromAssignee={"name": world.agent.name}, toAssignee=None
        ),
    ]


async def test_the_customer_reads_the_public_entries_with_names(
    db: Stack, world: World, session
) -> None:
    ticket, _ = await a_busy_day(db, world, session)

    entries = (await run(db, world.customer, TIMELINE, {"id": ticket}))["ticket"]["history"][
        "nodes"
    ]

    assert [e["__typename"] for e in entries] == [
        "Created",
        "TitleChanged",
        "DescriptionChanged",
        "PriorityChanged",
        "TeamChanged",
        "TagsChanged",
        "TagsChanged",
        "Assigned",
        "ResponseAdded",
        "StatusChanged",
        "Assigned",
    ]
    assigned = [e for e in entries if e["__typename"] == "Assigned"]
    assert [a["toAssignee"] for a in assigned] == [{"name": world.agent.name}, None]
    assert {"name": "Hardware"} in [e.get("toTeam") for e in entries]


async def test_the_deprecated_text_fields_still_answer_as_before(
    db: Stack, world: World, session
) -> None:
    ticket, team = await a_busy_day(db, world, session)

    entries = (await run(db, world.agent, DEPRECATED, {"id": ticket}))["ticket"]["history"]["nodes"]

    by_field = {(e["field"], e["newValue"]): e for e in entries}
    assert by_field[("status", "in_progress")] == {
        "action": "FIELD_CHANGED",
        "field": "status",
        "oldValue": "open",
        "newValue": "in_progress",
    }
    assert ("team", global_id("Team", team.id)) in by_field
    assert ("assignee", global_id("TeamMember", world.agent.id)) in by_field
    assert entries[0]["action"] == "CREATED"


async def test_entry_ids_stay_history_entry_ids_and_node_returns_the_typed_entry(
    db: Stack, world: World, session
) -> None:
    ticket, _ = await a_busy_day(db, world, session)
    entries = (await run(db, world.agent, TIMELINE, {"id": ticket}))["ticket"]["history"]["nodes"]
    status = next(e for e in entries if e["__typename"] == "StatusChanged")

    node = await run(
        db,
        world.agent,
        "query($id: ID!) { node(id: $id) { __typename id ... on StatusChanged { toStatus } } }",
        {"id": status["id"]},
    )

    assert base64.b64decode(status["id"]).decode().startswith("HistoryEntry:")
    assert node["node"] == {
        "__typename": "StatusChanged",
        "id": status["id"],
        "toStatus": "IN_PROGRESS",
    }


def test_one_document_may_select_every_entry_types_values() -> None:
    """No two typed fields share a response name with different types, so a timeline query
    needs no aliases (GraphQL refuses `from: TicketStatus!` beside `from: TeamMember`)."""
    errors = validate(schema._schema, parse(TIMELINE))

    assert errors == []


async def test_events_carry_the_typed_entries(db: Stack, world: World) -> None:
    ticket = global_id("Ticket", world.ticket.id)
    document = "subscription { ticketEvents { kind changes { ...Timeline } } }" + TIMELINE_FIELDS
    hub = db.app.state.runtime.get().hub
    async with (
        serving(db.app) as url,
        GraphQLWebSocket.connect(url, db.token(world.customer.user_id)) as socket,
    ):
        await socket.subscribe(document)
        await wait_until(lambda: hub.subscriber_count == 1)
        await mutate(
            db,
            world.agent,
            UPDATE,
            {"input": {"id": ticket, "status": "WAITING_ON_CUSTOMER", "priority": "LOW"}},
        )
        await mutate(
            db, world.admin, ASSIGN, {"id": ticket, "to": global_id("TeamMember", world.admin.id)}
        )
        update = (await socket.next_data())["data"]["ticketEvents"]
        assignment = (await socket.next_data())["data"]["ticketEvents"]

    assert update["kind"] == "UPDATED"
    assert [
        (c["__typename"], c.get("toPriority"), c.get("toStatus")) for c in update["changes"]
    ] == [
        ("PriorityChanged", "LOW", None),
        ("StatusChanged", None, "WAITING_ON_CUSTOMER"),
    ]
    (assigned,) = assignment["changes"]
    assert assigned["__typename"] == "Assigned"
    assert assigned["fromAssignee"] == {"name": world.agent.name}
    assert assigned["toAssignee"] == {"name": world.admin.name}
