"""Typed history of attachments (`AttachmentAdded`), and idempotent writes that carry files."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.mutation_helpers import history_of
from tests.attachments.conftest import PNG, Files
from tests.attachments.helpers import reply_with, uploaded
from tests.factories import World, create_world
from tests.graphql import global_id
from tests.ws import GraphQLWebSocket, serving, subscribed

SECRET_NAME = "INTERNAL-FILE-NAME-MARKER-typed.png"
TIMELINE = """
query($id: ID!) {
  ticket(id: $id) {
    history {
      nodes {
        __typename isInternal changedField
        ... on AttachmentAdded {
          attachment { id filename }
          response { id isInternal }
        }
      }
    }
  }
}
"""
REPLY = """
mutation($input: AddResponseInput!) {
  addResponse(input: $input) {
    response { id attachments { id } }
    userErrors { field code }
  }
}
"""
CREATE = """
mutation($input: CreateTicketInput!) {
  createTicket(input: $input) {
    ticket { id attachments { id } }
    userErrors { field code }
  }
}
"""


@pytest.fixture
async def world(session) -> World:
    return await create_world(session)


def file_entries(body: dict[str, Any]) -> list[dict[str, Any]]:
    assert "errors" not in body, body
    nodes = body["data"]["ticket"]["history"]["nodes"]
    return [n for n in nodes if n["__typename"] == "AttachmentAdded"]


async def test_attachment_added_names_the_file_and_its_message(files: Files, world: World):
    note_file = await uploaded(files, world.agent, PNG, ticket=world.ticket, filename=SECRET_NAME)
    public_file = await uploaded(files, world.agent, PNG + b"p", ticket=world.ticket)
    note = await reply_with(files, world.agent, world.ticket, [note_file], internal=True)
    reply = await reply_with(files, world.agent, world.ticket, [public_file])
    ticket = {"id": global_id("Ticket", world.ticket.id)}

    staff = file_entries(await files.call(world.admin, TIMELINE, ticket))
    customer_body = await files.call(world.customer, TIMELINE, ticket)
    customer = file_entries(customer_body)

    assert staff == [
        {
            "__typename": "AttachmentAdded",
            "isInternal": True,
            "changedField": None,
            "attachment": {"id": note_file, "filename": SECRET_NAME},
            "response": {"id": note["response"]["id"], "isInternal": True},
        },
        {
            "__typename": "AttachmentAdded",
            "isInternal": False,
            "changedField": None,
            "attachment": {"id": public_file, "filename": "screenshot.png"},
            "response": {"id": reply["response"]["id"], "isInternal": False},
        },
    ]
    # The customer meets the public file's entry only, and nothing of the note's.
    assert customer == staff[1:]
    assert SECRET_NAME not in str(customer_body)
    assert note_file not in str(customer_body)


async def test_a_new_tickets_own_files_have_no_response(files: Files, world: World):
    file_id = await uploaded(files, world.customer, PNG, organization_id=world.org.id)
    body = await files.call(
        world.customer,
        CREATE,
        {
            "input": {
                "organizationId": global_id("Organization", world.org.id),
                "title": "Printer",
                "attachmentIds": [file_id],
            }
        },
    )
    ticket_id = body["data"]["createTicket"]["ticket"]["id"]

    entries = file_entries(await files.call(world.agent, TIMELINE, {"id": ticket_id}))

    assert [(e["attachment"]["id"], e["response"], e["isInternal"]) for e in entries] == [
        (file_id, None, False)
    ]


async def test_events_carry_typed_attachment_entries(files: Files, world: World):
    events = """subscription { ticketEvents { changes {
      __typename ... on AttachmentAdded { attachment { filename } response { isInternal } }
    } } }"""
    note_file = await uploaded(files, world.agent, PNG, ticket=world.ticket, filename=SECRET_NAME)
    public_file = await uploaded(files, world.agent, PNG + b"e", ticket=world.ticket)
    async with (
        serving(files.app) as url,
        GraphQLWebSocket.connect(url, files.stack.token(world.agent.user_id)) as agent,
        GraphQLWebSocket.connect(url, files.stack.token(world.customer.user_id)) as customer,
    ):
        await agent.subscribe(events)
        await customer.subscribe(events)
        await subscribed(files.app, 2)
        await reply_with(files, world.agent, world.ticket, [note_file], internal=True)
        await reply_with(files, world.agent, world.ticket, [public_file])

        note = (await agent.next_data())["data"]["ticketEvents"]["changes"]
        reply = (await agent.next_data())["data"]["ticketEvents"]["changes"]
        public = (await customer.next_data())["data"]["ticketEvents"]["changes"]
        await customer.nothing_for(0.3)

    added = {"__typename": "AttachmentAdded"}
    assert added | {"attachment": {"filename": SECRET_NAME}, "response": {"isInternal": True}} in (
        note
    )
    expected = added | {
        "attachment": {"filename": "screenshot.png"},
        "response": {"isInternal": False},
    }
    assert expected in reply
    assert public == reply
    assert SECRET_NAME not in str(public)


def reply_input(world: World, files: list[str], key: str, body: str = "Here") -> dict[str, Any]:
    return {
        "input": {
            "ticketId": global_id("Ticket", world.ticket.id),
            "body": body,
            "idempotencyKey": key,
            "attachmentIds": files,
        }
    }


async def test_a_repeated_reply_with_files_returns_the_first(files: Files, world: World):
    file_id = await uploaded(files, world.customer, PNG, ticket=world.ticket)
    first = await files.call(world.customer, REPLY, reply_input(world, [file_id], "k1"))
    written = len(await history_of(files.stack, world.ticket))

    again = await files.call(world.customer, REPLY, reply_input(world, [file_id], "k1"))

    assert first["data"]["addResponse"]["userErrors"] == []
    assert again["data"]["addResponse"] == first["data"]["addResponse"]
    assert again["data"]["addResponse"]["response"]["attachments"] == [{"id": file_id}]
    assert len(await history_of(files.stack, world.ticket)) == written


async def test_a_reply_key_reused_with_other_files_is_refused(files: Files, world: World):
    first_file = await uploaded(files, world.customer, PNG, ticket=world.ticket)
    other_file = await uploaded(files, world.customer, PNG + b"o", ticket=world.ticket)
    await files.call(world.customer, REPLY, reply_input(world, [first_file], "k2"))
    written = len(await history_of(files.stack, world.ticket))

    reused = await files.call(world.customer, REPLY, reply_input(world, [other_file], "k2"))
    without = await files.call(world.customer, REPLY, reply_input(world, [], "k2"))

    for body in (reused, without):
        assert body["data"]["addResponse"] == {
            "response": None,
            "userErrors": [{"field": "idempotencyKey", "code": "IDEMPOTENCY_KEY_REUSED"}],
        }
    assert len(await history_of(files.stack, world.ticket)) == written
    rows = {row.id: row.attached_at for row in await files.rows()}
    assert [attached is None for attached in rows.values()] == [False, True]


def create_input(world: World, files: list[str], key: str) -> dict[str, Any]:
    return {
        "input": {
            "organizationId": global_id("Organization", world.org.id),
            "title": "Printer on fire",
            "idempotencyKey": key,
            "attachmentIds": files,
        }
    }


async def test_a_repeated_create_with_files_returns_the_first_ticket(files: Files, world: World):
    file_id = await uploaded(files, world.customer, PNG, organization_id=world.org.id)
    other_file = await uploaded(files, world.customer, PNG + b"c", organization_id=world.org.id)
    first = await files.call(world.customer, CREATE, create_input(world, [file_id], "t1"))

    again = await files.call(world.customer, CREATE, create_input(world, [file_id], "t1"))
    reused = await files.call(world.customer, CREATE, create_input(world, [other_file], "t1"))

    assert first["data"]["createTicket"]["userErrors"] == []
    assert again["data"]["createTicket"] == first["data"]["createTicket"]
    assert reused["data"]["createTicket"] == {
        "ticket": None,
        "userErrors": [{"field": "idempotencyKey", "code": "IDEMPOTENCY_KEY_REUSED"}],
    }
    assert [row.attached_at is None for row in await files.rows()] == [False, True]
