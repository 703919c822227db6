"""ticketEvents over a real WebSocket: who receives what, and resume."""

from __future__ import annotations

import pytest

from tests.conftest import Stack
from tests.factories import INTERNAL_MARKER, World, create_world
from tests.graphql import execute, global_id
from tests.ws import GraphQLWebSocket, serving, subscribed

EVENTS = """
subscription Events($after: String, $ticketId: ID) {
  ticketEvents(after: $after, ticketId: $ticketId) {
    cursor kind
    ticket { number status }
    changes { action field isInternal }
    response { body isInternal author { ... on TeamMember { name } ... on Customer { name } } }
  }
}
"""
REPLY = """
mutation($id: ID!, $body: String!, $internal: Boolean!) {
  addResponse(input: {ticketId: $id, body: $body, internal: $internal}) { userErrors { code } }
}
"""
STATUS = """
mutation($id: ID!, $status: TicketStatus!) {
  updateTicket(input: {id: $id, status: $status}) { userErrors { code } }
}
"""


@pytest.fixture
async def world(session) -> World:
    return await create_world(session)


async def mutate(db: Stack, who, query: str, variables: dict) -> None:
    async with db.client(db.token(who.user_id)) as client:
        body = await execute(client, query, variables)
    assert "errors" not in body, body


async def test_internal_note_reaches_staff_and_never_the_customer(db: Stack, world: World) -> None:
    ticket = global_id("Ticket", world.ticket.id)
    async with (
        serving(db.app) as url,
        GraphQLWebSocket.connect(url, db.token(world.agent.user_id)) as agent,
        GraphQLWebSocket.connect(url, db.token(world.customer.user_id)) as customer,
    ):
        await agent.subscribe(EVENTS)
        await customer.subscribe(EVENTS)
        await subscribed(db.app, 2)

        await mutate(
            db, world.agent, REPLY, {"id": ticket, "body": INTERNAL_MARKER, "internal": True}
        )
        await mutate(
            db, world.agent, REPLY, {"id": ticket, "body": "Fixed now.", "internal": False}
        )

        note = await agent.next_data()
        reply = await agent.next_data()
        public = await customer.next_data()
        await customer.nothing_for(0.3)

    assert note["data"]["ticketEvents"]["kind"] == "NOTE_ADDED"
    assert note["data"]["ticketEvents"]["response"]["body"] == INTERNAL_MARKER
    assert reply["data"]["ticketEvents"]["kind"] == "RESPONSE_ADDED"
    assert public == reply
    assert INTERNAL_MARKER not in str(public)


async def test_other_organizations_and_customers_receive_nothing(db: Stack, world: World) -> None:
    ticket = global_id("Ticket", world.ticket.id)
    async with (
        serving(db.app) as url,
        GraphQLWebSocket.connect(url, db.token(world.other_agent.user_id)) as other_agent,
        GraphQLWebSocket.connect(url, db.token(world.other_customer.user_id)) as other_customer,
    ):
        await other_agent.subscribe(EVENTS)
        await other_customer.subscribe(EVENTS)
        await subscribed(db.app, 2)

        await mutate(db, world.agent, STATUS, {"id": ticket, "status": "IN_PROGRESS"})

        await other_agent.nothing_for(0.3)
        await other_customer.nothing_for(0.1)


async def test_resume_after_a_cursor_replays_in_order_then_goes_live(
    db: Stack, world: World
) -> None:
    ticket = global_id("Ticket", world.ticket.id)
    async with serving(db.app) as url:
        async with GraphQLWebSocket.connect(url, db.token(world.customer.user_id)) as first:
            await first.subscribe(EVENTS)
            await subscribed(db.app, 1)
            await mutate(db, world.agent, STATUS, {"id": ticket, "status": "IN_PROGRESS"})
            seen = (await first.next_data())["data"]["ticketEvents"]
        # While the customer is away: a public change, an internal note, another change.
        await mutate(db, world.agent, REPLY, {"id": ticket, "body": "An update", "internal": False})
        await mutate(
            db, world.agent, REPLY, {"id": ticket, "body": INTERNAL_MARKER, "internal": True}
        )
        await mutate(db, world.agent, STATUS, {"id": ticket, "status": "WAITING_ON_CUSTOMER"})

        async with GraphQLWebSocket.connect(url, db.token(world.customer.user_id)) as again:
            await again.subscribe(EVENTS, {"after": seen["cursor"]})
            await subscribed(db.app, 1)
            missed = [(await again.next_data())["data"]["ticketEvents"] for _ in range(2)]
            await mutate(
                db, world.agent, REPLY, {"id": ticket, "body": "Live again", "internal": False}
            )
            live = (await again.next_data())["data"]["ticketEvents"]
            await again.nothing_for(0.3)

    assert [e["kind"] for e in missed] == ["RESPONSE_ADDED", "UPDATED"]
    assert missed[1]["ticket"]["status"] == "WAITING_ON_CUSTOMER"
    cursors = [int(seen["cursor"]), *(int(e["cursor"]) for e in missed), int(live["cursor"])]
    assert cursors == sorted(cursors)
    assert len(set(cursors)) == 4
    assert live["response"]["body"] == "Live again"
    assert INTERNAL_MARKER not in str(missed)


METADATA_AND_STATUS = """
mutation($id: ID!) {
  updateTicket(input: {id: $id, priority: URGENT, metadata: {sla: "gold"}}) {
    userErrors { code }
  }
}
"""
HISTORY_IDS = "query($id: ID!) { ticket(id: $id) { history(last: 100) { nodes { id } } } }"


async def test_a_customers_cursor_is_made_of_what_they_may_see(db: Stack, world: World) -> None:
    # Staff change a visible field and staff-only metadata at once: one change, two entries.
    ticket = global_id("Ticket", world.ticket.id)
    async with (
        serving(db.app) as url,
        GraphQLWebSocket.connect(url, db.token(world.agent.user_id)) as agent,
        GraphQLWebSocket.connect(url, db.token(world.customer.user_id)) as customer,
    ):
        await agent.subscribe(EVENTS)
        await customer.subscribe(EVENTS)
        await subscribed(db.app, 2)
        await mutate(db, world.agent, METADATA_AND_STATUS, {"id": ticket})
        staff_event = (await agent.next_data())["data"]["ticketEvents"]
        customer_event = (await customer.next_data())["data"]["ticketEvents"]
        # Resuming after it replays nothing: the rest of that change is staff-only.
        async with GraphQLWebSocket.connect(url, db.token(world.customer.user_id)) as again:
            await again.subscribe(EVENTS, {"after": customer_event["cursor"]})
            await again.nothing_for(0.3)
    async with db.client(db.token(world.customer.user_id)) as client:
        visible = await execute(client, HISTORY_IDS, {"id": ticket})

    visible_ids = [node["id"] for node in visible["data"]["ticket"]["history"]["nodes"]]
    assert [c["isInternal"] for c in staff_event["changes"]] == [False, True]
    assert int(customer_event["cursor"]) < int(staff_event["cursor"])
    assert global_id("HistoryEntry", int(customer_event["cursor"])) == visible_ids[-1]


@pytest.mark.parametrize("ahead", [1, 10**12], ids=["next-id", "far-ahead"])
async def test_a_cursor_above_the_newest_change_is_refused(
    db: Stack, world: World, ahead: int
) -> None:
    ticket = global_id("Ticket", world.ticket.id)
    async with serving(db.app) as url:
        async with GraphQLWebSocket.connect(url, db.token(world.agent.user_id)) as first:
            await first.subscribe(EVENTS)
            await subscribed(db.app, 1)
            await mutate(db, world.agent, STATUS, {"id": ticket, "status": "IN_PROGRESS"})
            newest = int((await first.next_data())["data"]["ticketEvents"]["cursor"])
        async with GraphQLWebSocket.connect(url, db.token(world.agent.user_id)) as again:
            await again.subscribe(EVENTS, {"after": str(newest + ahead)})
            refused = await again.receive()
            assert (await again.receive())["type"] == "complete"
            # The newest cursor itself is fine: nothing to replay, then live.
            await again.subscribe(EVENTS, {"after": str(newest)})
            await again.nothing_for(0.2)
            await mutate(db, world.agent, STATUS, {"id": ticket, "status": "RESOLVED"})
            live = (await again.next_data())["data"]["ticketEvents"]

    assert refused["type"] == "next"
    assert refused["payload"]["data"] is None
    assert refused["payload"]["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "cursor of an event you received" in refused["payload"]["errors"][0]["message"]
    assert live["ticket"]["status"] == "RESOLVED"
