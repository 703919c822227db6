"""Attaching: only your own uploaded, unattached files of the same ticket or organization;
history in the same transaction; visible exactly when the reply (or note) is."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import update

from models import Attachment
from server.attachments import cleanup_once
from tests.api.mutation_helpers import history_of, pk_of
from tests.attachments.conftest import PNG, Files
from tests.attachments.helpers import (
    TICKET_FILES,
    get,
    put_bytes,
    reply_with,
    start_upload,
    upload_input,
    uploaded,
)
from tests.factories import World, create_ticket, create_world
from tests.graphql import global_id
from tests.ws import GraphQLWebSocket, serving, wait_until

SECRET_NAME = "INTERNAL-FILE-NAME-MARKER.png"


@pytest.fixture
async def world(session) -> World:
    return await create_world(session)


def codes(payload) -> list[tuple[str | None, str]]:
    return [(e["field"], e["code"]) for e in payload["userErrors"]]


async def ticket_files(files: Files, who, world: World):
    return await files.call(who, TICKET_FILES, {"id": global_id("Ticket", world.ticket.id)})


async def test_a_notes_files_are_staff_only(files: Files, world: World):
    note_file = await uploaded(files, world.agent, PNG, ticket=world.ticket, filename=SECRET_NAME)
    public_file = await uploaded(files, world.agent, PNG + b"1", ticket=world.ticket)
    note = await reply_with(files, world.agent, world.ticket, [note_file], internal=True)
    reply = await reply_with(files, world.agent, world.ticket, [public_file])
    assert note["userErrors"] == reply["userErrors"] == []

    staff = await ticket_files(files, world.admin, world)
    customer = await ticket_files(files, world.customer, world)

    assert {a["id"] for a in staff["data"]["ticket"]["attachments"]} == {note_file, public_file}
    assert [a["id"] for a in customer["data"]["ticket"]["attachments"]] == [public_file]
    assert SECRET_NAME not in str(customer)
    # node(id) of the note's file does not exist for the customer.
    node = await files.call(
        world.customer, "query($id: ID!) { node(id: $id) { id } }", {"id": note_file}
    )
    assert node["errors"][0]["extensions"]["code"] == "NOT_FOUND"


async def test_other_customers_and_organizations_see_nothing(files: Files, world: World):
    mine = await uploaded(files, world.customer, PNG, ticket=world.ticket)
    await reply_with(files, world.customer, world.ticket, [mine])
    query = "query($id: ID!) { node(id: $id) { ... on Attachment { filename url } } }"

    for stranger in (world.other_customer, world.other_agent):
        body = await files.call(stranger, query, {"id": mine})
        assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"
        assert "filename" not in str(body.get("data"))


async def test_unattached_uploads_are_invisible_even_to_staff(files: Files, world: World):
    pending = await uploaded(files, world.customer, PNG, ticket=world.ticket)

    staff = await ticket_files(files, world.agent, world)
    node = await files.call(
        world.customer, "query($id: ID!) { node(id: $id) { id } }", {"id": pending}
    )

    assert staff["data"]["ticket"]["attachments"] == []
    assert node["errors"][0]["extensions"]["code"] == "NOT_FOUND"


async def test_someone_elses_upload_cannot_be_attached(files: Files, world: World):
    agents = await uploaded(files, world.agent, PNG, ticket=world.ticket)

    payload = await reply_with(files, world.admin, world.ticket, [agents])

    assert codes(payload) == [("attachmentIds", "NOT_FOUND")]
    assert payload["response"] is None
    assert [r.attached_at for r in await files.rows()] == [None]


async def test_a_file_for_another_ticket_cannot_be_attached(files: Files, world: World, session):
    other = await create_ticket(session, world.org, world.customer)
    await session.commit()
    file_id = await uploaded(files, world.customer, PNG, ticket=other)

    payload = await reply_with(files, world.customer, world.ticket, [file_id])

    assert codes(payload) == [("attachmentIds", "NOT_FOUND")]
    assert len(await history_of(files.stack, world.ticket)) == 0


async def test_a_file_is_attached_once(files: Files, world: World):
    file_id = await uploaded(files, world.customer, PNG, ticket=world.ticket)
    first = await reply_with(files, world.customer, world.ticket, [file_id])

    again = await reply_with(files, world.customer, world.ticket, [file_id])

    assert first["userErrors"] == []
    assert codes(again) == [("attachmentIds", "CONFLICT")]


async def test_a_file_not_uploaded_yet_cannot_be_attached(files: Files, world: World):
    payload = await start_upload(files, world.customer, upload_input(PNG, ticket=world.ticket))

    reply = await reply_with(files, world.customer, world.ticket, [payload["attachment"]["id"]])

    assert codes(reply) == [("attachmentIds", "INVALID")]
    assert "not been uploaded" in reply["userErrors"][0]["message"]


async def test_at_most_ten_files_per_reply(files: Files, world: World):
    ids = [
        await uploaded(files, world.customer, PNG + bytes([i]), ticket=world.ticket)
        for i in range(11)
    ]

    payload = await reply_with(files, world.customer, world.ticket, ids)

    assert codes(payload) == [("attachmentIds", "TOO_MANY")]
    assert all(row.attached_at is None for row in await files.rows())
    ok = await reply_with(files, world.customer, world.ticket, ids[:10])
    assert len(ok["response"]["attachments"]) == 10


async def test_a_wrong_kind_of_id_is_not_found(files: Files, world: World):
    payload = await reply_with(
        files, world.customer, world.ticket, [global_id("Ticket", world.ticket.id)]
    )

    assert codes(payload) == [("attachmentIds", "NOT_FOUND")]


async def test_attaching_writes_history_in_the_same_transaction(files: Files, world: World):
    note_file = await uploaded(files, world.agent, PNG, ticket=world.ticket)
    public_file = await uploaded(files, world.agent, PNG + b"x", ticket=world.ticket)
    await reply_with(files, world.agent, world.ticket, [note_file], internal=True)
    await reply_with(files, world.agent, world.ticket, [public_file])

    history = await history_of(files.stack, world.ticket)
    added = [(h.action, h.new, h.internal) for h in history if h.action == "attachment_added"]
    assert added == [
        ("attachment_added", str(pk_of(note_file)), True),
        ("attachment_added", str(pk_of(public_file)), False),
    ]
    query = (
        """query($id: ID!) { ticket(id: $id) { history { nodes { action field newValue } } } }"""
    )
    seen = await files.call(world.customer, query, {"id": global_id("Ticket", world.ticket.id)})
    entries = seen["data"]["ticket"]["history"]["nodes"]
    assert {"action": "ATTACHMENT_ADDED", "field": "attachment", "newValue": public_file} in entries
    assert note_file not in str(entries)


async def test_a_customer_opens_a_ticket_with_a_file(files: Files, world: World):
    file_id = await uploaded(files, world.customer, PNG, organization_id=world.org.id)
    mutation = """
    mutation($input: CreateTicketInput!) {
      createTicket(input: $input) {
        ticket { id attachments { id filename url } } userErrors { field code }
      }
    }"""

    body = await files.call(
        world.customer,
        mutation,
        {
            "input": {
                "organizationId": global_id("Organization", world.org.id),
                "title": "Broken",
                "attachmentIds": [file_id],
            }
        },
    )

    payload = body["data"]["createTicket"]
    assert payload["userErrors"] == []
    (attachment,) = payload["ticket"]["attachments"]
    assert attachment["id"] == file_id
    agent_view = await files.call(
        world.agent,
        "query($id: ID!) { ticket(id: $id) { attachments { url } } }",
        {"id": payload["ticket"]["id"]},
    )
    download = await get(files, agent_view["data"]["ticket"]["attachments"][0]["url"])
    assert download.content == PNG


async def test_a_refused_create_ticket_attaches_nothing(files: Files, world: World):
    file_id = await uploaded(files, world.customer, PNG, organization_id=world.org.id)
    mutation = """
    mutation($input: CreateTicketInput!) {
      createTicket(input: $input) { ticket { id } userErrors { field code } }
    }"""

    body = await files.call(
        world.customer,
        mutation,
        {
            "input": {
                "organizationId": global_id("Organization", world.other_org.id),
                "title": "Wrong org",
                "attachmentIds": [file_id],
            }
        },
    )

    assert body["data"]["createTicket"]["ticket"] is None
    assert [(r.attached_at, r.ticket_id) for r in await files.rows()] == [(None, None)]


async def test_events_carry_the_attachment_and_customers_never_get_internal_ones(
    files: Files, world: World
):
    events = """subscription { ticketEvents {
      kind changes { action newValue }
      response { isInternal attachments { filename } }
      ticket { attachments { filename } } } }"""
    note_file = await uploaded(files, world.agent, PNG, ticket=world.ticket, filename=SECRET_NAME)
    public_file = await uploaded(files, world.agent, PNG + b"p", ticket=world.ticket)
    async with (
        serving(files.app) as url,
        GraphQLWebSocket.connect(url, files.stack.token(world.agent.user_id)) as agent,
        GraphQLWebSocket.connect(url, files.stack.token(world.customer.user_id)) as customer,
    ):
        await agent.subscribe(events)
        await customer.subscribe(events)
        # Both subscriptions are live before the changes are made.
        hub = files.app.state.runtime.get().hub
        await wait_until(lambda: hub.subscriber_count == 2)
        await reply_with(files, world.agent, world.ticket, [note_file], internal=True)
        await reply_with(files, world.agent, world.ticket, [public_file])

        note = (await agent.next_data())["data"]["ticketEvents"]
        reply = (await agent.next_data())["data"]["ticketEvents"]
        public = (await customer.next_data())["data"]["ticketEvents"]
        await customer.nothing_for(0.3)

    assert {"action": "ATTACHMENT_ADDED", "newValue": note_file} in note["changes"]
    assert note["response"]["attachments"] == [{"filename": SECRET_NAME}]
    assert {"action": "ATTACHMENT_ADDED", "newValue": public_file} in reply["changes"]
    assert public == {**reply, "ticket": public["ticket"]}
    assert public["ticket"]["attachments"] == [{"filename": "screenshot.png"}]
    assert SECRET_NAME not in str(public)
    assert note_file not in str(public)


async def test_a_put_after_the_file_was_deleted_by_cleanup_is_not_found(files: Files, world: World):
    payload = await start_upload(files, world.customer, upload_input(PNG, ticket=world.ticket))
    async with files.stack.sessionmaker() as session:
        await session.execute(
            update(Attachment).values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
        )
        await session.commit()

    deleted = await cleanup_once(files.stack.sessionmaker, files.storage)

    assert deleted == 1
    assert await files.rows() == []
    response = await put_bytes(files, payload["uploadUrl"], PNG)
    assert response.status_code == 404
    assert await files.objects() == []
