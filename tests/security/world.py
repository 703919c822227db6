"""A small seeded world for the security tests: two organizations, seven identities, and tickets
whose every text is a unique, searchable marker, so a leak shows up in the raw response text.

| ticket             | customer       | organization | holds                                   |
|--------------------|----------------|--------------|-----------------------------------------|
| `ticket`           | customer       | org          | a reply, an internal note, metadata     |
| `other_ticket`     | other_customer | org          | a public reply; assigned to the agent   |
| `other_org_ticket` | customer       | other_org    | nothing more                            |

`ticket`'s seeded history: created (public), response added (public), priority changed
(public), metadata changed (staff-only) and note added (staff-only). `other_ticket`'s: created,
routed to `team` and assigned to the agent (all public).

`ticket`'s files: one of the ticket itself (the customer's), one on the public reply and one on
the internal note (the agent's; its name and its bytes carry staff-only markers), and an
upload of the customer's not attached to anything yet. The three attached ones have their
`attachment_added` entries (the note's staff-only). `store_world_files` puts their bytes in
the app's storage for the tests that download.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from models import (
    Article,
    ArticleLink,
    Attachment,
    Base,
    Customer,
    KnowledgeBaseCategory,
    KnowledgeBaseChange,
    Organization,
    Priority,
    Status,
    SuggestionOpen,
    Team,
    TeamMember,
    TeamRole,
    Ticket,
    TicketHistory,
    TicketResponse,
)
from models.base import utcnow
from models.enums import ActorType, AuthorType, HistoryAction
from tests.conftest import Stack
from tests.factories import (
    INTERNAL_MARKER,
    METADATA_MARKER,
    add_response,
    create_customer,
    create_member,
    create_organization,
    create_team,
    create_ticket,
)
from tests.graphql import execute, global_id

# --- texts: each one unique, each a plain word that full-text search can match -------------

ORG_NAME = "Acmeorgname"
OTHER_ORG_NAME = "Globexorgname"
TEAM_NAME = "Billingteamname"
OTHER_TEAM_NAME = "Elsewhereteamname"

CUSTOMER_NAME = "Cora Ownercustomer"
CUSTOMER_EMAIL = "cora-customer-email@customer.example"
OTHER_CUSTOMER_NAME = "Otto Othercustomer"
OTHER_CUSTOMER_EMAIL = "otto-othercustomer-email@customer.example"

AGENT_NAME = "Agnes Agentperson"
AGENT_EMAIL = "agnes-staffemailmarker@acme.example"
AGENT2_NAME = "Aiden Secondagent"
AGENT2_EMAIL = "aiden-staffemailmarker@acme.example"
ADMIN_NAME = "Adam Adminperson"
ADMIN_EMAIL = "adam-staffemailmarker@acme.example"
OTHER_AGENT_NAME = "Olga Otheragent"
OTHER_AGENT_EMAIL = "olga-staffemailmarker@globex.example"
OTHER_ADMIN_NAME = "Oscar Otheradmin"
OTHER_ADMIN_EMAIL = "oscar-staffemailmarker@globex.example"
STAFF_EMAILS = (AGENT_EMAIL, AGENT2_EMAIL, ADMIN_EMAIL, OTHER_AGENT_EMAIL, OTHER_ADMIN_EMAIL)

OWN_TITLE = "Ownticketprinter is on fire"
OWN_DESCRIPTION = "Ownticketdescription smoke everywhere"
PUBLIC_REPLY = "Publicreplyword we are on it"
# Both the factories' marker and a plain word, so that search has something to find.
INTERNAL_NOTE_WORD = "quokkainternalnote"
INTERNAL_NOTE = f"{INTERNAL_MARKER} {INTERNAL_NOTE_WORD} customer seems to be lying"
METADATA = {"note": METADATA_MARKER, "crm": "zebrametadatamarker"}
METADATA_WORD = "zebrametadatamarker"
OTHER_TITLE = "Othercustomerticket billing mixup"
OTHER_DESCRIPTION = "Othercustomerdescription charged twice"
OTHER_REPLY = "Othercustomerreply refund coming"
OTHER_ORG_TITLE = "Otherorgticket vpn broken"
TICKET_FILE_NAME = "Ticketfilename-printer.png"
REPLY_FILE_NAME = "Replyfilename-manual.pdf"
PENDING_FILE_NAME = "Pendingfilename-draft.png"
# The internal note's file: its name and its content carry staff-only markers.
INTERNAL_FILE_WORD = "pangolininternalfile"
INTERNAL_FILE_NAME = f"INTERNAL-FILE-NAME-MARKER-c41d-{INTERNAL_FILE_WORD}.txt"
INTERNAL_FILE_CONTENT_MARKER = "INTERNAL-FILE-CONTENT-MARKER-9b2e"
FILE_BYTES = {
    TICKET_FILE_NAME: b"\x89PNG\r\n\x1a\n" + b"ticketfilebytes" * 10,
    REPLY_FILE_NAME: b"%PDF-1.4 replyfilebytes",
    PENDING_FILE_NAME: b"\x89PNG\r\n\x1a\n pendingbytes",
    INTERNAL_FILE_NAME: f"{INTERNAL_FILE_CONTENT_MARKER} the customer is lying".encode(),
}

# Texts only staff of `org` may ever read.
STAFF_ONLY_TEXTS = (
    INTERNAL_MARKER,
    INTERNAL_NOTE_WORD,
    INTERNAL_FILE_NAME,
    INTERNAL_FILE_WORD,
    INTERNAL_FILE_CONTENT_MARKER,
    METADATA_MARKER,
    METADATA_WORD,
    *STAFF_EMAILS,
)

IDENTITIES = (
    "anonymous",
    "customer",
    "other-customer",
    "agent",
    "other-agent",
    "admin",
    "other-admin",
)
CUSTOMERS = ("customer", "other-customer")

Person = Customer | TeamMember


@dataclass
class World:
    org: Organization
    other_org: Organization
    team: Team
    other_team: Team
    admin: TeamMember
    agent: TeamMember
    agent2: TeamMember
    other_agent: TeamMember
    other_admin: TeamMember
    customer: Customer
    other_customer: Customer
    ticket: Ticket
    public_reply: TicketResponse
    internal_note: TicketResponse
    public_history: TicketHistory
    internal_history: TicketHistory
    note_history: TicketHistory
    other_ticket: Ticket
    other_reply: TicketResponse
    other_org_ticket: Ticket
    ticket_file: Attachment
    reply_file: Attachment
    note_file: Attachment
    pending_file: Attachment
    reply_file_history: TicketHistory
    note_file_history: TicketHistory

    def person(self, identity: str) -> Person | None:
        """The caller behind an identity name (None: anonymous)."""
        if identity == "anonymous":
            return None
        found: Person = getattr(self, identity.replace("-", "_"))
        return found


def gid(row: Any) -> str:
    """The global id of a model row."""
    type_name = {
        "TicketResponse": "Response",
        "TicketHistory": "HistoryEntry",
    }.get(type(row).__name__, type(row).__name__)
    return global_id(type_name, row.id)


def history(
    ticket: Ticket,
    actor: Person,
    action: HistoryAction,
    field: str | None = None,
    old: str | None = None,
    new: str | None = None,
    *,
    internal: bool = False,
) -> TicketHistory:
    return TicketHistory(
        ticket_id=ticket.id,
        organization_id=ticket.organization_id,
        actor_type=ActorType.CUSTOMER if isinstance(actor, Customer) else ActorType.TEAM_MEMBER,
        actor_id=actor.id,
        action=action,
        field_name=field,
        old_value=old,
        new_value=new,
        is_internal=internal,
    )


async def build_world(session: AsyncSession) -> World:
    """Seed the world and commit it."""
    org = await create_organization(session, name=ORG_NAME)
    other_org = await create_organization(session, name=OTHER_ORG_NAME)
    team = await create_team(session, org, name=TEAM_NAME)
    other_team = await create_team(session, other_org, name=OTHER_TEAM_NAME)
    admin = await create_member(
        session, org, TeamRole.ADMIN, name=ADMIN_NAME, email=ADMIN_EMAIL, team_id=team.id
    )
    agent = await create_member(session, org, name=AGENT_NAME, email=AGENT_EMAIL, team_id=team.id)
    agent2 = await create_member(session, org, name=AGENT2_NAME, email=AGENT2_EMAIL)
    other_agent = await create_member(
        session, other_org, name=OTHER_AGENT_NAME, email=OTHER_AGENT_EMAIL
    )
    other_admin = await create_member(
        session, other_org, TeamRole.ADMIN, name=OTHER_ADMIN_NAME, email=OTHER_ADMIN_EMAIL
    )
    customer = await create_customer(session, name=CUSTOMER_NAME, email=CUSTOMER_EMAIL)
    other_customer = await create_customer(
        session, name=OTHER_CUSTOMER_NAME, email=OTHER_CUSTOMER_EMAIL
    )

    ticket = await create_ticket(
        session,
        org,
        customer,
        title=OWN_TITLE,
        description=OWN_DESCRIPTION,
        team_id=team.id,
        tags=["printer"],
        metadata_=METADATA,
    )
    public_reply = await add_response(session, ticket, agent, PUBLIC_REPLY)
    internal_note = await add_response(session, ticket, agent, INTERNAL_NOTE, internal=True)
    public_history = history(
        ticket, agent, HistoryAction.FIELD_CHANGED, "priority", "low", "medium"
    )
    internal_history = history(
        ticket,
        agent,
        HistoryAction.FIELD_CHANGED,
        "metadata",
        "{}",
        json.dumps(METADATA, sort_keys=True),
        internal=True,
    )
    note_history = history(
        ticket,
        agent,
        HistoryAction.NOTE_ADDED,
        "response",
        None,
        str(internal_note.id),
        internal=True,
    )
    session.add_all(
        [
            history(ticket, customer, HistoryAction.CREATED),
            history(
                ticket, agent, HistoryAction.RESPONSE_ADDED, "response", None, str(public_reply.id)
            ),
            public_history,
            internal_history,
            note_history,
        ]
    )

    other_ticket = await create_ticket(
        session,
        org,
        other_customer,
        title=OTHER_TITLE,
        description=OTHER_DESCRIPTION,
        priority=Priority.HIGH,
        assignee_id=agent.id,
        team_id=team.id,
    )
    other_reply = await add_response(session, other_ticket, agent, OTHER_REPLY)
    session.add_all(
        [
            history(other_ticket, other_customer, HistoryAction.CREATED),
            history(other_ticket, admin, HistoryAction.FIELD_CHANGED, "team", None, str(team.id)),
            history(other_ticket, admin, HistoryAction.ASSIGNED, "assignee", None, str(agent.id)),
        ]
    )

    other_org_ticket = await create_ticket(
        session, other_org, customer, title=OTHER_ORG_TITLE, status=Status.OPEN
    )
    session.add(history(other_org_ticket, customer, HistoryAction.CREATED))
    ticket_file = attachment(ticket, customer, TICKET_FILE_NAME, "image/png")
    reply_file = attachment(ticket, agent, REPLY_FILE_NAME, "application/pdf", public_reply)
    note_file = attachment(ticket, agent, INTERNAL_FILE_NAME, "text/plain", internal_note)
    pending_file = attachment(ticket, customer, PENDING_FILE_NAME, "image/png", attached=False)
    session.add_all([ticket_file, reply_file, note_file, pending_file])
    await session.flush()
    for row in (ticket_file, reply_file, note_file, pending_file):
        row.storage_key = f"{row.organization_id}/{row.id}/seeded"
    ticket_file_history, reply_file_history, note_file_history = (
        history(
            ticket,
            uploader,
            HistoryAction.ATTACHMENT_ADDED,
            "attachment",
            None,
            str(file.id),
            internal=file.is_internal,
        )
        for file, uploader in ((ticket_file, customer), (reply_file, agent), (note_file, agent))
    )
    session.add_all([ticket_file_history, reply_file_history, note_file_history])
    await session.commit()
    return World(
        org=org,
        other_org=other_org,
        team=team,
        other_team=other_team,
        admin=admin,
        agent=agent,
        agent2=agent2,
        other_agent=other_agent,
        other_admin=other_admin,
        customer=customer,
        other_customer=other_customer,
        ticket=ticket,
        public_reply=public_reply,
        internal_note=internal_note,
        public_history=public_history,
        internal_history=internal_history,
        note_history=note_history,
        other_ticket=other_ticket,
        other_reply=other_reply,
        other_org_ticket=other_org_ticket,
        ticket_file=ticket_file,
        reply_file=reply_file,
        note_file=note_file,
        pending_file=pending_file,
        reply_file_history=reply_file_history,
        note_file_history=note_file_history,
    )


def attachment(
    ticket: Ticket,
    uploader: Person,
    filename: str,
    content_type: str,
    response: TicketResponse | None = None,
    *,
    attached: bool = True,
) -> Attachment:
    data = FILE_BYTES[filename]
    now = utcnow()
    return Attachment(
        organization_id=ticket.organization_id,
        ticket_id=ticket.id,
        response_id=response.id if response is not None else None,
        uploader_type=AuthorType.CUSTOMER
        if isinstance(uploader, Customer)
        else AuthorType.TEAM_MEMBER,
        uploader_id=uploader.id,
        filename=filename,
        content_type=content_type,
        byte_size=len(data),
        checksum_sha256=hashlib.sha256(data).hexdigest(),
        storage_key="set-once-the-id-is-known",
        is_internal=response.is_internal if response is not None else False,
        uploaded_at=now,
        attached_at=now if attached else None,
        expires_at=now + dt.timedelta(days=1),
    )


async def store_world_files(db: Stack, world: World) -> None:
    """Put the bytes of the world's files into the app's attachment storage."""
    storage = db.app.state.runtime.get().attachment_files.storage
    for row in (world.ticket_file, world.reply_file, world.note_file, world.pending_file):

        async def body(data: bytes = FILE_BYTES[row.filename]) -> AsyncIterator[bytes]:
            yield data

        await storage.put_stream(row.storage_key, body())


async def empty_tables(engine: AsyncEngine) -> None:
    """Delete every row. For a world this small, DELETE takes a few milliseconds where the
    suite's TRUNCATE ... RESTART IDENTITY takes 100-200 ms on PostgreSQL; the modules that use
    this still TRUNCATE once at their end, so identities restart for the tests after them."""
    async with engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            await conn.execute(table.delete())


# --- calling the API ---------------------------------------------------------------------------


def token_of(db: Stack, person: Person | None) -> str | None:
    return None if person is None else db.token(person.user_id)


async def post(
    db: Stack, person: Person | None, document: str, variables: dict[str, Any] | None = None
) -> httpx.Response:
    """One operation as `person` (None: anonymous): the raw HTTP response."""
    async with db.client(token_of(db, person)) as client:
        return await client.post("/graphql", json={"query": document, "variables": variables or {}})


async def call(
    db: Stack, person: Person | None, document: str, variables: dict[str, Any] | None = None
) -> tuple[dict[str, Any], str]:
    """One operation as `person` that gets a GraphQL answer (HTTP 200): the parsed body and its
    raw text."""
    response = await post(db, person, document, variables)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body, response.text


async def call_ok(
    db: Stack, person: Person | None, document: str, variables: dict[str, Any] | None = None
) -> dict[str, Any]:
    """One operation that must succeed without any error; its data."""
    async with db.client(token_of(db, person)) as client:
        body = await execute(client, document, variables)
    assert "errors" not in body, body["errors"]
    data: dict[str, Any] = body["data"]
    return data


async def database_state(db: Stack) -> dict[str, Any]:
    """What a refused mutation must leave alone: every ticket's fields, the knowledge base,
    and the row counts."""
    async with db.sessionmaker() as session:
        tickets = (await session.scalars(select(Ticket).order_by(Ticket.id))).all()
        counts = {
            model.__tablename__: await session.scalar(select(func.count()).select_from(model))
            for model in (Ticket, TicketResponse, TicketHistory, Attachment)
        }
        attached = (
            await session.execute(
                select(Attachment.id, Attachment.attached_at, Attachment.response_id).order_by(
                    Attachment.id
                )
            )
        ).all()
        columns = (
            "title",
            "description",
            "status",
            "priority",
            "assignee_id",
            "team_id",
            "tags",
            "metadata_",
            "version",
            "updated_at",
        )
        # The knowledge base (issue 13): articles, categories and its logs.
        articles = await session.execute(
            select(
                Article.id, Article.title, Article.body, Article.state, Article.visibility,
                Article.category_id, Article.version, Article.slug,
            ).order_by(Article.id)
        )  # fmt: skip
        categories = await session.execute(
            select(
                KnowledgeBaseCategory.id, KnowledgeBaseCategory.name, KnowledgeBaseCategory.slug,
                KnowledgeBaseCategory.parent_id, KnowledgeBaseCategory.position,
            ).order_by(KnowledgeBaseCategory.id)
        )  # fmt: skip
        for model in (KnowledgeBaseChange, ArticleLink, SuggestionOpen):
            counts[model.__tablename__] = await session.scalar(
                select(func.count()).select_from(model)
            )
        return {
            "counts": counts,
            "tickets": {t.id: {c: getattr(t, c) for c in columns} for t in tickets},
            "attachments": [tuple(row) for row in attached],
            "articles": [tuple(row) for row in articles],
            "categories": [tuple(row) for row in categories],
        }
