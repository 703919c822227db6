"""No N+1 through files: a ticket list with every attachment path (the ticket's files, each
reply's, and the AttachmentAdded entries with their file and reply) costs the same number of SQL
statements for 3 tickets as for 12."""

from __future__ import annotations

import datetime as dt
import hashlib

from models import Attachment, HistoryAction, TeamRole, TicketHistory
from models.base import utcnow
from models.enums import ActorType, AuthorType
from tests.api.test_query_counts import counting_statements
from tests.conftest import Stack
from tests.factories import (
    add_response,
    create_customer,
    create_member,
    create_organization,
    create_ticket,
)
from tests.graphql import execute

FILES_QUEUE = """
query Files($first: Int!) {
  tickets(first: $first) {
    nodes {
      attachments { filename url uploadedBy { ... on Customer { name } } }
      responses(first: 5) { nodes { attachments { filename url } } }
      history(first: 10) {
        nodes {
          __typename
          ... on AttachmentAdded {
            attachment { filename uploadedBy { ... on Customer { name } } }
            response { body attachments { filename } }
          }
        }
      }
    }
  }
}
"""


async def seed(session, tickets: int):
    org = await create_organization(session)
    admin = await create_member(session, org, TeamRole.ADMIN)
    customers = [await create_customer(session) for _ in range(4)]
    now = utcnow()
    for n in range(tickets):
        customer = customers[n % 4]
        ticket = await create_ticket(session, org, customer)
        reply = await add_response(session, ticket, customer, f"screenshot {n}")
        data = f"file {n}".encode()
        for response_id in (None, reply.id):
            file = Attachment(
                organization_id=org.id,
                ticket_id=ticket.id,
                response_id=response_id,
                uploader_type=AuthorType.CUSTOMER,
                uploader_id=customer.id,
                filename=f"shot-{n}-{response_id}.png",
                content_type="image/png",
                byte_size=len(data),
                checksum_sha256=hashlib.sha256(data).hexdigest(),
                storage_key=f"{org.id}/{n}/{response_id}",
                uploaded_at=now,
                attached_at=now,
                expires_at=now + dt.timedelta(days=1),
            )
            session.add(file)
            await session.flush()
            session.add(
                TicketHistory(
                    ticket_id=ticket.id,
                    organization_id=org.id,
                    actor_type=ActorType.CUSTOMER,
                    actor_id=customer.id,
                    action=HistoryAction.ATTACHMENT_ADDED,
                    field_name="attachment",
                    new_value=str(file.id),
                )
            )
    await session.commit()
    return admin


async def statements_for(db: Stack, admin, first: int) -> int:
    async with db.client(db.token(admin.user_id)) as client:
        with counting_statements(db) as statements:
            body = await execute(client, FILES_QUEUE, {"first": first})
    assert "errors" not in body, body
    nodes = body["data"]["tickets"]["nodes"]
    assert len(nodes) == first
    for node in nodes:
        assert len(node["attachments"]) == 2
        entries = [e for e in node["history"]["nodes"] if e["__typename"] == "AttachmentAdded"]
        assert [e["response"] is None for e in entries] == [True, False]
        assert all(e["attachment"]["uploadedBy"]["name"] for e in entries)
    return len(statements)


async def test_file_paths_cost_the_same_for_3_and_12_tickets(db: Stack, session) -> None:
    admin = await seed(session, tickets=12)

    few = await statements_for(db, admin, 3)
    many = await statements_for(db, admin, 12)

    assert few == many, f"{few} statements for 3 tickets but {many} for 12"
    # Actor, page, and one per relation (9 on SQLite; PostgreSQL adds the statement that tells
    # row security who acts): one more per row or relation shows here.
    assert many <= 11, many
