"""The permission matrix of DESIGN §4 as a table: one row per operation (or staff-only field),
one expected outcome per identity, each (row, identity) pair its own test. Mutation and
subscription cases start from a fresh world; read cases share one world per backend, which
they must leave exactly as seeded (checked when they are done).

Identities, in the column order of every row:

    anonymous | customer (owns `ticket`) | other customer | agent | agent of another org |
    admin | admin of another org

Outcomes:

- ALLOWED: no errors, the data is there (a mutation: no userErrors, and history was written).
- PUBLIC: no errors for anyone, anonymous callers included (the root may be null).
- UNAUTHENTICATED: over HTTP a 401 before anything runs; over a WebSocket the operation's error.
- NOT_FOUND / FORBIDDEN: a query root that is null with that one error at its path, no content
  text (nullable roots: siblings would still answer).
- USER_ERROR(code): the mutation's payload carries the code in userErrors (with no object and
  no top-level error); nothing changed. Mutations refuse only this way.
- FILTERED: no errors, the list is there, the hidden items are not.
- NULL_FORBIDDEN: the staff-only field is null with a FORBIDDEN error; nothing else is refused.

Subscriptions run over a real WebSocket: a refusal is the operation's error; ALLOWED means the
change made after subscribing arrives first; FILTERED means it does not: the first event to
arrive is a later change the identity may see (the sentinel).

Every refused mutation leaves the database exactly as it was. Whatever the row, an answer to a
customer or an anonymous caller never contains a staff-only text.
"""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from graphql import FieldNode, OperationDefinitionNode, build_schema, parse
from sqlalchemy.ext.asyncio import AsyncSession

from models import Customer, Status, TeamMember
from tests.conftest import Stack
from tests.graphql import error_codes
from tests.security.world import (
    ADMIN_EMAIL,
    ADMIN_NAME,
    AGENT2_EMAIL,
    AGENT_EMAIL,
    AGENT_NAME,
    CUSTOMER_EMAIL,
    CUSTOMER_NAME,
    CUSTOMERS,
    FILE_BYTES,
    IDENTITIES,
    INTERNAL_FILE_NAME,
    INTERNAL_NOTE_WORD,
    METADATA_WORD,
    ORG_NAME,
    OTHER_ADMIN_NAME,
    OTHER_AGENT_EMAIL,
    OTHER_AGENT_NAME,
    OTHER_CUSTOMER_EMAIL,
    OTHER_CUSTOMER_NAME,
    OTHER_DESCRIPTION,
    OTHER_ORG_NAME,
    OTHER_ORG_TITLE,
    OTHER_REPLY,
    OTHER_TEAM_NAME,
    OTHER_TITLE,
    OWN_DESCRIPTION,
    OWN_TITLE,
    PENDING_FILE_NAME,
    PUBLIC_REPLY,
    REPLY_FILE_NAME,
    STAFF_ONLY_TEXTS,
    TEAM_NAME,
    TICKET_FILE_NAME,
    Person,
    World,
    build_world,
    call_ok,
    database_state,
    empty_tables,
    gid,
    post,
    store_world_files,
)
from tests.ws import GraphQLWebSocket, serving, wait_until

# Texts no refusal may echo: every title, description, message, name and email of the world.
CONTENT_TEXTS = (
    OWN_TITLE,
    OWN_DESCRIPTION,
    PUBLIC_REPLY,
    OTHER_TITLE,
    OTHER_DESCRIPTION,
    OTHER_REPLY,
    OTHER_ORG_TITLE,
    CUSTOMER_NAME,
    CUSTOMER_EMAIL,
    OTHER_CUSTOMER_NAME,
    OTHER_CUSTOMER_EMAIL,
    AGENT_NAME,
    ADMIN_NAME,
    OTHER_AGENT_NAME,
    OTHER_ADMIN_NAME,
    *STAFF_ONLY_TEXTS,
)


# --- outcomes ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    kind: str
    code: str | None = None  # USER_ERROR: the expected userErrors code
    shows: tuple[str, ...] = ()  # texts the answer must contain
    hides: tuple[str, ...] = ()  # texts the answer must not contain
    count: int | None = None  # the value at the row's `count` path

    def __repr__(self) -> str:
        return self.kind if self.code is None else f"{self.kind}({self.code})"


UNAUTHENTICATED = Outcome("UNAUTHENTICATED")
NOT_FOUND = Outcome("NOT_FOUND")
FORBIDDEN = Outcome("FORBIDDEN")
ALLOWED = Outcome("ALLOWED")
PUBLIC = Outcome("PUBLIC")
REFUSALS = ("UNAUTHENTICATED", "NOT_FOUND", "FORBIDDEN")


def allowed(*shows: str, hides: tuple[str, ...] = (), count: int | None = None) -> Outcome:
    return Outcome("ALLOWED", shows=shows, hides=hides, count=count)


def filtered(*shows: str, hides: tuple[str, ...] = (), count: int | None = None) -> Outcome:
    return Outcome("FILTERED", shows=shows, hides=hides, count=count)


def user_error(code: str) -> Outcome:
    return Outcome("USER_ERROR", code=code)


# A mutation's refusals, as userErrors.
NOT_FOUND_INPUT = user_error("NOT_FOUND")
FORBIDDEN_INPUT = user_error("FORBIDDEN")


def null_forbidden(*hides: str, shows: tuple[str, ...] = ()) -> Outcome:
    return Outcome("NULL_FORBIDDEN", shows=shows, hides=hides)


def roles(
    anonymous: Outcome,
    customer: Outcome,
    other_customer: Outcome,
    agent: Outcome,
    other_agent: Outcome,
    admin: Outcome,
    other_admin: Outcome,
) -> dict[str, Outcome]:
    """One outcome per identity, in the column order of the table."""
    outcomes = (anonymous, customer, other_customer, agent, other_agent, admin, other_admin)
    return dict(zip(IDENTITIES, outcomes, strict=True))


# Common shapes: readable by the owner and the organization's staff, nobody else.
OWNER_AND_STAFF = roles(UNAUTHENTICATED, ALLOWED, NOT_FOUND, ALLOWED, NOT_FOUND, ALLOWED, NOT_FOUND)
STAFF_ONLY = roles(UNAUTHENTICATED, NOT_FOUND, NOT_FOUND, ALLOWED, NOT_FOUND, ALLOWED, NOT_FOUND)
# A change to the owner's ticket that the owner and the organization's staff may make.
OWNER_AND_STAFF_CHANGE = roles(
    UNAUTHENTICATED,
    ALLOWED,
    NOT_FOUND_INPUT,
    ALLOWED,
    NOT_FOUND_INPUT,
    ALLOWED,
    NOT_FOUND_INPUT,
)
# A staff-only change to the owner's ticket.
STAFF_CHANGE = roles(
    UNAUTHENTICATED,
    FORBIDDEN_INPUT,
    NOT_FOUND_INPUT,
    ALLOWED,
    NOT_FOUND_INPUT,
    ALLOWED,
    NOT_FOUND_INPUT,
)
# An admin-only change to the owner's ticket.
ADMIN_CHANGE = roles(
    UNAUTHENTICATED,
    FORBIDDEN_INPUT,
    NOT_FOUND_INPUT,
    FORBIDDEN_INPUT,
    NOT_FOUND_INPUT,
    ALLOWED,
    NOT_FOUND_INPUT,
)


# --- rows --------------------------------------------------------------------------------------

Variables = Callable[[World, Person | None], dict[str, Any]]
Arrange = Callable[[AsyncSession, World], Awaitable[None]]


@dataclass(frozen=True)
class Row:
    name: str
    document: str
    variables: Variables
    outcomes: dict[str, Outcome]
    arrange: Arrange | None = None
    count: tuple[str | int, ...] = ()  # where Outcome.count is read
    # An allowed mutation that changes no ticket (createAttachmentUpload) writes no history.
    writes_history: bool = True

    @property
    def is_mutation(self) -> bool:
        return self.document.lstrip().startswith("mutation")

    @property
    def root(self) -> str:
        """The root field the row asks for."""
        (operation,) = parse(self.document).definitions
        assert isinstance(operation, OperationDefinitionNode)
        field = operation.selection_set.selections[0]
        assert isinstance(field, FieldNode)
        return field.name.value

    def __repr__(self) -> str:
        return self.name


def none(world: World, me: Person | None) -> dict[str, Any]:
    return {}


def of_ticket(world: World, me: Person | None) -> dict[str, Any]:
    return {"id": gid(world.ticket)}


def node_of(attribute: str) -> Variables:
    return lambda world, me: {"id": gid(getattr(world, attribute))}


def ticket_input(**values: Any) -> Variables:
    """Mutation variables `{"input": values}`; a callable value is given (world, caller)."""

    def build(world: World, me: Person | None) -> dict[str, Any]:
        resolved = {k: v(world, me) if callable(v) else v for k, v in values.items()}
        return {"input": resolved}

    return build


def ticket_id(world: World, me: Person | None) -> str:
    return gid(world.ticket)


def member(attribute: str) -> Callable[[World, Person | None], str]:
    return lambda world, me: gid(getattr(world, attribute))


def myself_or_agent(world: World, me: Person | None) -> str:
    """To "take" a ticket: the caller's own member id; a customer (who has none) names the
    agent."""
    return gid(me) if isinstance(me, TeamMember) else gid(world.agent)


def assigned_to(attribute: str) -> Arrange:
    """Arrange: the owner's ticket is assigned to this member before the call."""

    async def arrange(session: AsyncSession, world: World) -> None:
        world.ticket.assignee_id = getattr(world, attribute).id
        await session.commit()

    return arrange


def closed() -> Arrange:
    async def arrange(session: AsyncSession, world: World) -> None:
        world.ticket.status = Status.CLOSED
        world.ticket.closed_at = world.ticket.resolved_at = world.ticket.created_at
        await session.commit()

    return arrange


NODE_FIELDS = """
  __typename id
  ... on Ticket { title }
  ... on Response { body }
  ... on HistoryEntry { field newValue }
  ... on Customer { name email }
  ... on TeamMember { name email }
  ... on Team { name }
  ... on Organization { name }
"""
NODE = f"query($id: ID!) {{ node(id: $id) {{ {NODE_FIELDS} }} }}"
NODES = f"query($ids: [ID!]!) {{ nodes(ids: $ids) {{ {NODE_FIELDS} }} }}"
ME = """
query { me { __typename ... on Customer { name email } ... on TeamMember { name email role } } }
"""
TICKET = "query($id: ID!) { ticket(id: $id) { id title } }"
TICKET_BY_NUMBER = """
query($org: ID!, $number: Int!) { ticketByNumber(organizationId: $org, number: $number) { title } }
"""
TICKETS = "query { tickets(first: 50) { totalCount nodes { title } } }"
FILTERED_TICKETS = """
query($filter: TicketFilter!) { tickets(filter: $filter) { totalCount nodes { title } } }
"""
SEARCH = """
query($search: String!) { tickets(filter: {search: $search}) { totalCount nodes { title } } }
"""
TICKET_STATS = "query { ticketStats { total open byStatus { status count } } }"
METRICS = "query { metrics(period: ALL_TIME) { ticketsCreated byTeam { team { name } count } } }"
ORGANIZATIONS = "query { organizations { name } }"
TEAMS = "query { teams { name } }"
TEAM_MEMBERS = "query { teamMembers(includeInactive: true) { name email } }"
RATE_LIMIT = "query { rateLimit { limit remaining resetAt cost } }"

METADATA_FIELD = "query($id: ID!) { ticket(id: $id) { title metadata } }"
RESPONSES = """
query($id: ID!) { ticket(id: $id) { responses { totalCount nodes { body isInternal } } } }
"""
HISTORY = """
query($id: ID!) {
  ticket(id: $id) {
    history { totalCount nodes { action field oldValue newValue isInternal response { body } } }
  }
}
"""
TYPED_HISTORY = """
query($id: ID!) {
  ticket(id: $id) {
    history {
      nodes {
        __typename changedField
        ... on PriorityChanged { fromPriority toPriority }
        ... on ResponseAdded { response { body } }
        ... on NoteAdded { response { body } }
        ... on MetadataChanged { fromMetadata toMetadata }
        ... on AttachmentAdded { attachment { filename } response { body } }
      }
    }
  }
}
"""
ASSIGNED_HISTORY = """
query($id: ID!) {
  ticket(id: $id) {
    history {
      nodes {
        __typename
        ... on Assigned { fromAssignee { name } toAssignee { name avatarUrl email } }
        ... on TeamChanged { fromTeam { name } toTeam { name } }
      }
    }
  }
}
"""
CUSTOMER_CONTACT = "query($id: ID!) { ticket(id: $id) { customer { name email } } }"
ASSIGNEE_CONTACT = "query($id: ID!) { ticket(id: $id) { assignee { name email } } }"
AUTHOR_CONTACT = """
query($id: ID!) {
  ticket(id: $id) { responses { nodes { body author { ... on TeamMember { name email } } } } }
}
"""
ACTOR_CONTACT = """
query($id: ID!) {
  ticket(id: $id) { history { nodes { field actor { ... on TeamMember { name email } } } } }
}
"""

CREATE = """
mutation($input: CreateTicketInput!) {
  createTicket(input: $input) { ticket { id title } userErrors { field code message } }
}
"""
UPDATE = """
mutation($input: UpdateTicketInput!) {
  updateTicket(input: $input) { ticket { id status } userErrors { field code message } }
}
"""
ADD_RESPONSE = """
mutation($input: AddResponseInput!) {
  addResponse(input: $input) {
    ticket { id } response { id isInternal } userErrors { field code message }
  }
}
"""
ASSIGN = """
mutation($input: AssignTicketInput!) {
  assignTicket(input: $input) { ticket { id assignee { id } } userErrors { field code message } }
}
"""
BULK = """
mutation($input: BulkUpdateTicketsInput!) {
  bulkUpdateTickets(input: $input) {
    tickets { id }
    results { ticketId ticket { id } userErrors { code } }
    userErrors { field code message }
  }
}
"""

U = UNAUTHENTICATED

QUERY_ROWS = [
    Row(
        "me",
        ME,
        none,
        roles(
            U,
            allowed(CUSTOMER_NAME, CUSTOMER_EMAIL),
            allowed(OTHER_CUSTOMER_NAME, OTHER_CUSTOMER_EMAIL),
            allowed(AGENT_NAME, AGENT_EMAIL),
            allowed(OTHER_AGENT_NAME, OTHER_AGENT_EMAIL),
            allowed(ADMIN_NAME, ADMIN_EMAIL),
            allowed(OTHER_ADMIN_NAME),
        ),
    ),
    Row(
        "node-ticket",
        NODE,
        node_of("ticket"),
        roles(U, allowed(OWN_TITLE), NOT_FOUND, allowed(OWN_TITLE), NOT_FOUND, ALLOWED, NOT_FOUND),
    ),
    Row("node-public-reply", NODE, node_of("public_reply"), OWNER_AND_STAFF),
    Row(
        "node-internal-note",
        NODE,
        node_of("internal_note"),
        roles(U, NOT_FOUND, NOT_FOUND, allowed(INTERNAL_NOTE_WORD), NOT_FOUND, ALLOWED, NOT_FOUND),
    ),
    Row("node-public-history", NODE, node_of("public_history"), OWNER_AND_STAFF),
    Row(
        "node-internal-history",
        NODE,
        node_of("internal_history"),
        roles(U, NOT_FOUND, NOT_FOUND, allowed(METADATA_WORD), NOT_FOUND, ALLOWED, NOT_FOUND),
    ),
    Row(
        "node-note-history",
        NODE,
        node_of("note_history"),
        STAFF_ONLY,
    ),
    Row(
        "node-customer",
        NODE,
        node_of("customer"),
        # The customer has a ticket with both organizations, so both staffs know them.
        roles(U, allowed(CUSTOMER_EMAIL), NOT_FOUND, ALLOWED, ALLOWED, ALLOWED, ALLOWED),
    ),
    Row(
        "node-team-member",
        NODE,
        node_of("agent2"),
        roles(U, NOT_FOUND, NOT_FOUND, allowed(AGENT2_EMAIL), NOT_FOUND, ALLOWED, NOT_FOUND),
    ),
    Row("node-team", NODE, node_of("team"), STAFF_ONLY),
    Row(
        "node-organization",
        NODE,
        node_of("org"),
        roles(U, ALLOWED, ALLOWED, ALLOWED, NOT_FOUND, ALLOWED, NOT_FOUND),
    ),
    Row(
        "node-other-org-ticket",
        NODE,
        node_of("other_org_ticket"),
        roles(U, ALLOWED, NOT_FOUND, NOT_FOUND, ALLOWED, NOT_FOUND, ALLOWED),
    ),
    Row(
        "nodes",
        NODES,
        lambda w, me: {
            "ids": [
                gid(o)
                for o in (
                    w.ticket,
                    w.internal_note,
                    w.internal_history,
                    w.other_ticket,
                    w.other_org_ticket,
                    w.agent,
                )
            ]
        },
        roles(
            U,
            filtered(
                OWN_TITLE,
                OTHER_ORG_TITLE,
                hides=(INTERNAL_NOTE_WORD, METADATA_WORD, OTHER_TITLE, AGENT_NAME),
            ),
            filtered(
                OTHER_TITLE,
                hides=(OWN_TITLE, INTERNAL_NOTE_WORD, METADATA_WORD, OTHER_ORG_TITLE, AGENT_NAME),
            ),
            filtered(
                OWN_TITLE,
                INTERNAL_NOTE_WORD,
                METADATA_WORD,
                OTHER_TITLE,
                AGENT_NAME,
                hides=(OTHER_ORG_TITLE,),
            ),
            filtered(
                OTHER_ORG_TITLE,
                hides=(OWN_TITLE, INTERNAL_NOTE_WORD, METADATA_WORD, OTHER_TITLE, AGENT_NAME),
            ),
            filtered(OWN_TITLE, INTERNAL_NOTE_WORD, OTHER_TITLE, hides=(OTHER_ORG_TITLE,)),
            filtered(OTHER_ORG_TITLE, hides=(OWN_TITLE, INTERNAL_NOTE_WORD, OTHER_TITLE)),
        ),
    ),
    Row("ticket", TICKET, of_ticket, OWNER_AND_STAFF),
    Row(
        "ticket-other-org",
        TICKET,
        node_of("other_org_ticket"),
        roles(U, ALLOWED, NOT_FOUND, NOT_FOUND, ALLOWED, NOT_FOUND, ALLOWED),
    ),
    Row(
        "ticketByNumber",
        TICKET_BY_NUMBER,
        lambda w, me: {"org": gid(w.org), "number": w.ticket.number},
        OWNER_AND_STAFF,
    ),
    Row(
        "ticketByNumber-other-org",
        TICKET_BY_NUMBER,
        lambda w, me: {"org": gid(w.other_org), "number": w.other_org_ticket.number},
        roles(U, ALLOWED, NOT_FOUND, NOT_FOUND, ALLOWED, NOT_FOUND, ALLOWED),
    ),
    Row(
        "tickets",
        TICKETS,
        none,
        roles(
            U,
            filtered(OWN_TITLE, OTHER_ORG_TITLE, hides=(OTHER_TITLE,), count=2),
            filtered(OTHER_TITLE, hides=(OWN_TITLE, OTHER_ORG_TITLE), count=1),
            filtered(OWN_TITLE, OTHER_TITLE, hides=(OTHER_ORG_TITLE,), count=2),
            filtered(OTHER_ORG_TITLE, hides=(OWN_TITLE, OTHER_TITLE), count=1),
            filtered(OWN_TITLE, OTHER_TITLE, hides=(OTHER_ORG_TITLE,), count=2),
            filtered(OTHER_ORG_TITLE, hides=(OWN_TITLE, OTHER_TITLE), count=1),
        ),
        count=("tickets", "totalCount"),
    ),
    Row(
        "tickets-filter-other-customer",
        FILTERED_TICKETS,
        lambda w, me: {"filter": {"customerId": gid(w.other_customer)}},
        roles(
            U,
            filtered(hides=(OTHER_TITLE,), count=0),
            filtered(OTHER_TITLE, count=1),
            filtered(OTHER_TITLE, count=1),
            filtered(hides=(OTHER_TITLE,), count=0),
            filtered(OTHER_TITLE, count=1),
            filtered(hides=(OTHER_TITLE,), count=0),
        ),
        count=("tickets", "totalCount"),
    ),
    Row(
        "tickets-filter-other-org",
        FILTERED_TICKETS,
        lambda w, me: {"filter": {"organizationId": gid(w.other_org)}},
        roles(
            U,
            filtered(OTHER_ORG_TITLE, count=1),
            filtered(hides=(OTHER_ORG_TITLE,), count=0),
            filtered(hides=(OTHER_ORG_TITLE,), count=0),
            filtered(OTHER_ORG_TITLE, count=1),
            filtered(hides=(OTHER_ORG_TITLE,), count=0),
            filtered(OTHER_ORG_TITLE, count=1),
        ),
        count=("tickets", "totalCount"),
    ),
    Row(
        "tickets-search-internal-note",
        SEARCH,
        lambda w, me: {"search": INTERNAL_NOTE_WORD},
        roles(
            U,
            filtered(hides=(OWN_TITLE,), count=0),
            filtered(hides=(OWN_TITLE,), count=0),
            filtered(OWN_TITLE, count=1),
            filtered(hides=(OWN_TITLE,), count=0),
            filtered(OWN_TITLE, count=1),
            filtered(hides=(OWN_TITLE,), count=0),
        ),
        count=("tickets", "totalCount"),
    ),
    Row(
        "tickets-search-other-customers-reply",
        SEARCH,
        lambda w, me: {"search": "Othercustomerreply"},
        roles(
            U,
            filtered(hides=(OTHER_TITLE,), count=0),
            filtered(OTHER_TITLE, count=1),
            filtered(OTHER_TITLE, count=1),
            filtered(hides=(OTHER_TITLE,), count=0),
            filtered(OTHER_TITLE, count=1),
            filtered(hides=(OTHER_TITLE,), count=0),
        ),
        count=("tickets", "totalCount"),
    ),
    Row(
        "ticketStats",
        TICKET_STATS,
        none,
        roles(
            U,
            filtered(count=2),
            filtered(count=1),
            filtered(count=2),
            filtered(count=1),
            filtered(count=2),
            filtered(count=1),
        ),
        count=("ticketStats", "total"),
    ),
    Row(
        "metrics",
        METRICS,
        none,
        roles(
            U,
            FORBIDDEN,
            FORBIDDEN,
            FORBIDDEN,
            FORBIDDEN,
            filtered(TEAM_NAME, hides=(OTHER_TEAM_NAME,), count=2),
            filtered(hides=(TEAM_NAME,), count=1),
        ),
        count=("metrics", "ticketsCreated"),
    ),
    Row(
        "organizations",
        ORGANIZATIONS,
        none,
        roles(
            U,
            allowed(ORG_NAME, OTHER_ORG_NAME),
            allowed(ORG_NAME, OTHER_ORG_NAME),
            filtered(ORG_NAME, hides=(OTHER_ORG_NAME,)),
            filtered(OTHER_ORG_NAME, hides=(ORG_NAME,)),
            filtered(ORG_NAME, hides=(OTHER_ORG_NAME,)),
            filtered(OTHER_ORG_NAME, hides=(ORG_NAME,)),
        ),
    ),
    Row(
        "teams",
        TEAMS,
        none,
        roles(
            U,
            FORBIDDEN,
            FORBIDDEN,
            filtered(TEAM_NAME, hides=(OTHER_TEAM_NAME,)),
            filtered(OTHER_TEAM_NAME, hides=(TEAM_NAME,)),
            filtered(TEAM_NAME, hides=(OTHER_TEAM_NAME,)),
            filtered(OTHER_TEAM_NAME, hides=(TEAM_NAME,)),
        ),
    ),
    Row("rateLimit", RATE_LIMIT, none, roles(*[PUBLIC] * 7)),
    Row(
        "teamMembers",
        TEAM_MEMBERS,
        none,
        roles(
            U,
            FORBIDDEN,
            FORBIDDEN,
            filtered(AGENT_EMAIL, AGENT2_EMAIL, ADMIN_EMAIL, hides=(OTHER_AGENT_EMAIL,)),
            filtered(OTHER_AGENT_EMAIL, hides=(AGENT_EMAIL, ADMIN_EMAIL)),
            filtered(AGENT_EMAIL, ADMIN_EMAIL, hides=(OTHER_AGENT_EMAIL,)),
            filtered(OTHER_AGENT_EMAIL, hides=(AGENT_EMAIL, ADMIN_EMAIL)),
        ),
    ),
]

STAFF_FIELD_ROWS = [
    Row(
        "Ticket.metadata",
        METADATA_FIELD,
        of_ticket,
        roles(
            U,
            null_forbidden(METADATA_WORD, shows=(OWN_TITLE,)),
            NOT_FOUND,
            allowed(METADATA_WORD),
            NOT_FOUND,
            allowed(METADATA_WORD),
            NOT_FOUND,
        ),
    ),
    Row(
        "Ticket.responses-internal-notes",
        RESPONSES,
        of_ticket,
        roles(
            U,
            filtered(PUBLIC_REPLY, hides=(INTERNAL_NOTE_WORD,), count=1),
            NOT_FOUND,
            allowed(PUBLIC_REPLY, INTERNAL_NOTE_WORD, count=2),
            NOT_FOUND,
            allowed(PUBLIC_REPLY, INTERNAL_NOTE_WORD, count=2),
            NOT_FOUND,
        ),
        count=("ticket", "responses", "totalCount"),
    ),
    Row(
        "Ticket.history-internal-entries",
        HISTORY,
        of_ticket,
        roles(
            U,
            filtered(
                "CREATED",
                "priority",
                PUBLIC_REPLY,
                hides=(METADATA_WORD, "metadata", "NOTE_ADDED", INTERNAL_NOTE_WORD),
                # created, reply, priority, and the ticket's and the reply's files
                count=5,
            ),
            NOT_FOUND,
            allowed(METADATA_WORD, "NOTE_ADDED", INTERNAL_NOTE_WORD, count=8),
            NOT_FOUND,
            allowed(METADATA_WORD, "NOTE_ADDED", count=8),
            NOT_FOUND,
        ),
        count=("ticket", "history", "totalCount"),
    ),
    Row(
        "HistoryEntry-typed-internal-entries",
        TYPED_HISTORY,
        of_ticket,
        roles(
            U,
            filtered(
                "PriorityChanged",
                '"fromPriority":"LOW"',
                PUBLIC_REPLY,
                TICKET_FILE_NAME,
                REPLY_FILE_NAME,
                "AttachmentAdded",
                hides=(
                    METADATA_WORD,
                    "MetadataChanged",
                    "NoteAdded",
                    "METADATA",
                    "NOTE",
                    INTERNAL_FILE_NAME,
                    PENDING_FILE_NAME,
                ),
            ),
            NOT_FOUND,
            allowed(
                METADATA_WORD,
                "MetadataChanged",
                "NoteAdded",
                INTERNAL_NOTE_WORD,
                INTERNAL_FILE_NAME,
                hides=(PENDING_FILE_NAME,),
            ),
            NOT_FOUND,
            allowed(METADATA_WORD, "NoteAdded", INTERNAL_NOTE_WORD, INTERNAL_FILE_NAME),
            NOT_FOUND,
        ),
    ),
    Row(
        "Assigned.to-contact",
        ASSIGNED_HISTORY,
        node_of("other_ticket"),  # routed to the team, assigned to the agent
        roles(
            U,
            NOT_FOUND,
            # The assignee's name, yes; their email, never.
            null_forbidden(AGENT_EMAIL, shows=(AGENT_NAME, TEAM_NAME, "Assigned")),
            allowed(AGENT_EMAIL, AGENT_NAME, TEAM_NAME),
            NOT_FOUND,
            allowed(AGENT_EMAIL, AGENT_NAME),
            NOT_FOUND,
        ),
    ),
    Row(
        "Customer.email-owner",
        CUSTOMER_CONTACT,
        of_ticket,
        roles(
            U,
            allowed(CUSTOMER_EMAIL),
            NOT_FOUND,
            allowed(CUSTOMER_EMAIL),
            NOT_FOUND,
            allowed(CUSTOMER_EMAIL),
            NOT_FOUND,
        ),
    ),
    Row(
        "Customer.email-other-customer",
        NODE,
        node_of("other_customer"),
        # Only the other customer has a ticket with `org`, none with `other_org`.
        roles(
            U,
            NOT_FOUND,
            allowed(OTHER_CUSTOMER_EMAIL),
            allowed(OTHER_CUSTOMER_EMAIL),
            NOT_FOUND,
            allowed(OTHER_CUSTOMER_EMAIL),
            NOT_FOUND,
        ),
    ),
    Row(
        "TeamMember.email-assignee",
        ASSIGNEE_CONTACT,
        node_of("other_ticket"),  # assigned to the agent
        roles(
            U,
            NOT_FOUND,
            null_forbidden(AGENT_EMAIL, shows=(AGENT_NAME,)),
            allowed(AGENT_EMAIL),
            NOT_FOUND,
            allowed(AGENT_EMAIL),
            NOT_FOUND,
        ),
    ),
    Row(
        "TeamMember.email-response-author",
        AUTHOR_CONTACT,
        of_ticket,
        roles(
            U,
            null_forbidden(AGENT_EMAIL, shows=(AGENT_NAME, PUBLIC_REPLY)),
            NOT_FOUND,
            allowed(AGENT_EMAIL),
            NOT_FOUND,
            allowed(AGENT_EMAIL),
            NOT_FOUND,
        ),
    ),
    Row(
        "TeamMember.email-history-actor",
        ACTOR_CONTACT,
        of_ticket,
        roles(
            U,
            null_forbidden(AGENT_EMAIL, shows=(AGENT_NAME,)),
            NOT_FOUND,
            allowed(AGENT_EMAIL),
            NOT_FOUND,
            allowed(AGENT_EMAIL),
            NOT_FOUND,
        ),
    ),
]

MUTATION_ROWS = [
    # createTicket: customers for themselves with any organization, staff for a customer.
    Row(
        "createTicket-for-myself",
        CREATE,
        ticket_input(organizationId=lambda w, me: gid(w.org), title="Newticket"),
        roles(
            U,
            ALLOWED,
            ALLOWED,
            user_error("REQUIRED"),  # which customer?
            NOT_FOUND_INPUT,  # not their organization
            user_error("REQUIRED"),
            NOT_FOUND_INPUT,
        ),
    ),
    Row(
        "createTicket-on-behalf-of-customer",
        CREATE,
        ticket_input(customerId=lambda w, me: gid(w.customer), title="Newticket"),
        roles(
            U,
            user_error("REQUIRED"),  # themselves, but which organization?
            FORBIDDEN_INPUT,
            ALLOWED,
            ALLOWED,  # the customer has a ticket with the other organization too
            ALLOWED,
            ALLOWED,
        ),
    ),
    Row(
        "createTicket-on-behalf-of-stranger",
        CREATE,
        ticket_input(customerId=lambda w, me: gid(w.other_customer), title="Newticket"),
        roles(
            U,
            FORBIDDEN_INPUT,
            user_error("REQUIRED"),
            ALLOWED,
            user_error("NOT_FOUND"),  # not a customer of theirs
            ALLOWED,
            user_error("NOT_FOUND"),
        ),
    ),
    Row(
        "createTicket-staff-fields",
        CREATE,
        ticket_input(
            organizationId=lambda w, me: gid(w.org),
            customerId=lambda w, me: gid(w.customer),
            title="Newticket",
            teamId=lambda w, me: gid(w.team),
            tags=["vip"],
            metadata={"source": "phone"},
        ),
        roles(
            U,
            FORBIDDEN_INPUT,
            FORBIDDEN_INPUT,
            ALLOWED,
            NOT_FOUND_INPUT,
            ALLOWED,
            NOT_FOUND_INPUT,
        ),
    ),
    Row(
        "createTicket-team-of-other-org",
        CREATE,
        ticket_input(
            customerId=lambda w, me: gid(w.customer),
            title="Newticket",
            teamId=lambda w, me: gid(w.other_team),
        ),
        roles(
            U,
            FORBIDDEN_INPUT,
            FORBIDDEN_INPUT,
            user_error("NOT_FOUND"),
            ALLOWED,  # their own team
            user_error("NOT_FOUND"),
            ALLOWED,
        ),
    ),
    # updateTicket: customers may only close and reopen.
    Row(
        "updateTicket-close",
        UPDATE,
        ticket_input(id=ticket_id, status="CLOSED"),
        OWNER_AND_STAFF_CHANGE,
    ),
    Row(
        "updateTicket-reopen",
        UPDATE,
        ticket_input(id=ticket_id, status="OPEN"),
        OWNER_AND_STAFF_CHANGE,
        arrange=closed(),
    ),
    Row(
        "updateTicket-status-staff-transition",
        UPDATE,
        ticket_input(id=ticket_id, status="IN_PROGRESS"),
        roles(
            U,
            user_error("ILLEGAL_TRANSITION"),
            NOT_FOUND_INPUT,
            ALLOWED,
            NOT_FOUND_INPUT,
            ALLOWED,
            NOT_FOUND_INPUT,
        ),
    ),
    Row(
        "updateTicket-staff-fields",
        UPDATE,
        ticket_input(id=ticket_id, priority="URGENT", tags=["escalated"]),
        STAFF_CHANGE,
    ),
    Row(
        "updateTicket-close-with-staff-field",
        UPDATE,
        ticket_input(id=ticket_id, status="CLOSED", priority="LOW"),
        STAFF_CHANGE,
    ),
    Row("updateTicket-title", UPDATE, ticket_input(id=ticket_id, title="Renamed"), STAFF_CHANGE),
    Row(
        "updateTicket-description",
        UPDATE,
        ticket_input(id=ticket_id, description="Rewritten"),
        STAFF_CHANGE,
    ),
    Row("updateTicket-priority", UPDATE, ticket_input(id=ticket_id, priority="HIGH"), STAFF_CHANGE),
    Row("updateTicket-team", UPDATE, ticket_input(id=ticket_id, teamId=None), STAFF_CHANGE),
    Row("updateTicket-tags", UPDATE, ticket_input(id=ticket_id, tags=["x"]), STAFF_CHANGE),
    Row(
        "updateTicket-metadata",
        UPDATE,
        ticket_input(id=ticket_id, metadata={"crm": "changed"}),
        STAFF_CHANGE,
    ),
    Row(
        "updateTicket-team-of-other-org",
        UPDATE,
        ticket_input(id=ticket_id, teamId=lambda w, me: gid(w.other_team)),
        roles(
            U,
            FORBIDDEN_INPUT,
            NOT_FOUND_INPUT,
            user_error("NOT_FOUND"),
            NOT_FOUND_INPUT,
            user_error("NOT_FOUND"),
            NOT_FOUND_INPUT,
        ),
    ),
    # addResponse: public replies by the owner and staff, internal notes by staff.
    Row(
        "addResponse-public",
        ADD_RESPONSE,
        ticket_input(ticketId=ticket_id, body="A public word"),
        OWNER_AND_STAFF_CHANGE,
    ),
    Row(
        "addResponse-with-idempotency-key",
        ADD_RESPONSE,
        ticket_input(ticketId=ticket_id, body="A keyed word", idempotencyKey="portal-1"),
        OWNER_AND_STAFF_CHANGE,
    ),
    Row(
        "addResponse-internal",
        ADD_RESPONSE,
        ticket_input(ticketId=ticket_id, body="A private word", internal=True),
        STAFF_CHANGE,
    ),
    Row(
        "addResponse-public-on-closed-ticket",
        ADD_RESPONSE,
        ticket_input(ticketId=ticket_id, body="Hello again"),
        roles(
            U,
            user_error("TICKET_CLOSED"),
            NOT_FOUND_INPUT,
            user_error("TICKET_CLOSED"),
            NOT_FOUND_INPUT,
            user_error("TICKET_CLOSED"),
            NOT_FOUND_INPUT,
        ),
        arrange=closed(),
    ),
    # assignTicket: agents take and release their own; admins assign anyone of the org.
    Row(
        "assignTicket-take",
        ASSIGN,
        ticket_input(ticketId=ticket_id, assigneeId=myself_or_agent),
        STAFF_CHANGE,
    ),
    Row(
        "assignTicket-release-own",
        ASSIGN,
        ticket_input(ticketId=ticket_id, assigneeId=None),
        STAFF_CHANGE,
        arrange=assigned_to("agent"),
    ),
    Row(
        "assignTicket-release-other",
        ASSIGN,
        ticket_input(ticketId=ticket_id, assigneeId=None),
        ADMIN_CHANGE,
        arrange=assigned_to("agent2"),
    ),
    Row(
        "assignTicket-assign-other",
        ASSIGN,
        ticket_input(ticketId=ticket_id, assigneeId=member("agent2")),
        ADMIN_CHANGE,
    ),
    Row(
        "assignTicket-take-over",
        ASSIGN,
        ticket_input(ticketId=ticket_id, assigneeId=myself_or_agent),
        ADMIN_CHANGE,
        arrange=assigned_to("agent2"),
    ),
    Row(
        "assignTicket-member-of-other-org",
        ASSIGN,
        ticket_input(ticketId=ticket_id, assigneeId=member("other_agent")),
        roles(
            U,
            FORBIDDEN_INPUT,
            NOT_FOUND_INPUT,
            FORBIDDEN_INPUT,
            NOT_FOUND_INPUT,
            user_error("NOT_FOUND"),
            NOT_FOUND_INPUT,
        ),
    ),
    # bulkUpdateTickets: admins, all or nothing, never across organizations.
    Row(
        "bulkUpdateTickets",
        BULK,
        ticket_input(
            ticketIds=lambda w, me: [gid(w.ticket), gid(w.other_ticket)], status="IN_PROGRESS"
        ),
        roles(
            U,
            FORBIDDEN_INPUT,
            FORBIDDEN_INPUT,
            FORBIDDEN_INPUT,
            FORBIDDEN_INPUT,
            ALLOWED,
            user_error("INVALID"),
        ),
    ),
    Row(
        "bulkUpdateTickets-across-orgs",
        BULK,
        ticket_input(
            ticketIds=lambda w, me: [gid(w.ticket), gid(w.other_org_ticket)], priority="LOW"
        ),
        roles(
            U,
            FORBIDDEN_INPUT,
            FORBIDDEN_INPUT,
            FORBIDDEN_INPUT,
            FORBIDDEN_INPUT,
            user_error("INVALID"),
            user_error("INVALID"),
        ),
    ),
    Row(
        "bulkUpdateTickets-assign-member-of-other-org",
        BULK,
        ticket_input(ticketIds=lambda w, me: [gid(w.ticket)], assigneeId=member("other_agent")),
        roles(
            U,
            FORBIDDEN_INPUT,
            FORBIDDEN_INPUT,
            FORBIDDEN_INPUT,
            FORBIDDEN_INPUT,
            user_error("INVALID"),
            user_error("INVALID"),
        ),
    ),
]

# --- attachments: visible exactly when what they are attached to is ----------------------------

ATTACHMENT_FIELDS = "filename contentType byteSize url uploadedBy { __typename }"
NODE_FILE = f"query($id: ID!) {{ node(id: $id) {{ ... on Attachment {{ {ATTACHMENT_FIELDS} }} }} }}"
TICKET_FILES = f"query($id: ID!) {{ ticket(id: $id) {{ attachments {{ {ATTACHMENT_FIELDS} }} }} }}"
RESPONSE_FILES = f"""
query($id: ID!) {{
  ticket(id: $id) {{ responses {{ nodes {{ isInternal attachments {{ {ATTACHMENT_FIELDS} }} }} }} }}
}}
"""
CREATE_UPLOAD = """
mutation($input: CreateAttachmentUploadInput!) {
  createAttachmentUpload(input: $input) {
    attachment { filename } uploadUrl userErrors { field code message }
  }
}
"""
FILE_ENTRY = """
query($id: ID!) {
  node(id: $id) {
    __typename
    ... on AttachmentAdded { isInternal attachment { filename } response { body } }
  }
}
"""
ATTACHMENT_ROWS = [
    Row(
        "node-reply-file-history",
        FILE_ENTRY,
        node_of("reply_file_history"),
        roles(
            U,
            allowed(REPLY_FILE_NAME, PUBLIC_REPLY, "AttachmentAdded"),
            NOT_FOUND,
            allowed(REPLY_FILE_NAME, PUBLIC_REPLY),
            NOT_FOUND,
            ALLOWED,
            NOT_FOUND,
        ),
    ),
    Row(
        "node-note-file-history",
        FILE_ENTRY,
        node_of("note_file_history"),
        roles(
            U,
            NOT_FOUND,
            NOT_FOUND,
            allowed(INTERNAL_FILE_NAME, INTERNAL_NOTE_WORD, "AttachmentAdded"),
            NOT_FOUND,
            allowed(INTERNAL_FILE_NAME),
            NOT_FOUND,
        ),
    ),
    Row(
        "node-ticket-file",
        NODE_FILE,
        node_of("ticket_file"),
        roles(
            U,
            allowed(TICKET_FILE_NAME),
            NOT_FOUND,
            allowed(TICKET_FILE_NAME),
            NOT_FOUND,
            ALLOWED,
            NOT_FOUND,
        ),
    ),
    Row("node-reply-file", NODE_FILE, node_of("reply_file"), OWNER_AND_STAFF),
    Row(
        "node-note-file",
        NODE_FILE,
        node_of("note_file"),
        roles(U, NOT_FOUND, NOT_FOUND, allowed(INTERNAL_FILE_NAME), NOT_FOUND, ALLOWED, NOT_FOUND),
    ),
    # Not attached yet: nobody can see it, not even its uploader.
    Row(
        "node-pending-file",
        NODE_FILE,
        node_of("pending_file"),
        roles(U, NOT_FOUND, NOT_FOUND, NOT_FOUND, NOT_FOUND, NOT_FOUND, NOT_FOUND),
    ),
    Row(
        "ticket-attachments",
        TICKET_FILES,
        of_ticket,
        roles(
            U,
            filtered(TICKET_FILE_NAME, REPLY_FILE_NAME, hides=(PENDING_FILE_NAME,), count=2),
            NOT_FOUND,
            allowed(INTERNAL_FILE_NAME, REPLY_FILE_NAME, hides=(PENDING_FILE_NAME,), count=3),
            NOT_FOUND,
            allowed(INTERNAL_FILE_NAME, count=3),
            NOT_FOUND,
        ),
        count=("ticket", "attachments", "__len__"),
    ),
    Row(
        "response-attachments",
        RESPONSE_FILES,
        of_ticket,
        roles(
            U,
            filtered(REPLY_FILE_NAME, hides=(TICKET_FILE_NAME,)),
            NOT_FOUND,
            allowed(INTERNAL_FILE_NAME, REPLY_FILE_NAME),
            NOT_FOUND,
            allowed(INTERNAL_FILE_NAME),
            NOT_FOUND,
        ),
    ),
]


def upload_of(**target: Any) -> Variables:
    return ticket_input(
        filename="new.png",
        contentType="image/png",
        byteSize=8,
        checksumSha256="ab" * 32,
        **target,
    )


ATTACHMENT_MUTATION_ROWS = [
    Row(
        "createAttachmentUpload-for-ticket",
        CREATE_UPLOAD,
        upload_of(ticketId=ticket_id),
        roles(
            U,
            ALLOWED,
            NOT_FOUND_INPUT,
            ALLOWED,
            NOT_FOUND_INPUT,
            ALLOWED,
            NOT_FOUND_INPUT,
        ),
        writes_history=False,
    ),
    Row(
        "createAttachmentUpload-for-new-ticket",
        CREATE_UPLOAD,
        upload_of(organizationId=lambda w, me: gid(w.org)),
        roles(
            U,
            ALLOWED,
            ALLOWED,
            ALLOWED,
            NOT_FOUND_INPUT,
            ALLOWED,
            NOT_FOUND_INPUT,
        ),
        writes_history=False,
    ),
    # The customer's own pending upload: only they may attach it.
    Row(
        "addResponse-with-pending-file",
        ADD_RESPONSE,
        ticket_input(
            ticketId=ticket_id,
            body="With a file",
            attachmentIds=lambda w, me: [gid(w.pending_file)],
        ),
        roles(
            U,
            ALLOWED,
            NOT_FOUND_INPUT,
            NOT_FOUND_INPUT,
            NOT_FOUND_INPUT,
            NOT_FOUND_INPUT,
            NOT_FOUND_INPUT,
        ),
    ),
    # An attached file cannot be attached again, by anyone.
    Row(
        "addResponse-with-attached-file",
        ADD_RESPONSE,
        ticket_input(
            ticketId=ticket_id, body="Again", attachmentIds=lambda w, me: [gid(w.reply_file)]
        ),
        roles(
            U,
            NOT_FOUND_INPUT,
            NOT_FOUND_INPUT,
            user_error("CONFLICT"),
            NOT_FOUND_INPUT,
            NOT_FOUND_INPUT,
            NOT_FOUND_INPUT,
        ),
    ),
    Row(
        "createTicket-with-pending-file",
        CREATE,
        ticket_input(
            organizationId=lambda w, me: gid(w.org),
            customerId=lambda w, me: None if isinstance(me, Customer) else gid(w.customer),
            title="Newticket",
            attachmentIds=lambda w, me: [gid(w.pending_file)],
        ),
        roles(
            U,
            # Uploaded for the existing ticket, not for a new one.
            NOT_FOUND_INPUT,
            NOT_FOUND_INPUT,
            NOT_FOUND_INPUT,
            NOT_FOUND_INPUT,
            NOT_FOUND_INPUT,
            NOT_FOUND_INPUT,
        ),
    ),
]

MUTATION_ROWS += ATTACHMENT_MUTATION_ROWS
READ_ROWS = QUERY_ROWS + STAFF_FIELD_ROWS + ATTACHMENT_ROWS


# --- checking a row ----------------------------------------------------------------------------


def at(data: Any, path: tuple[str | int, ...] | list[str | int]) -> Any:
    for key in path:
        data = len(data) if key == "__len__" else data[key]
    return data


def root_field(body: dict[str, Any]) -> str:
    data = body.get("data") or {}
    (name,) = data.keys()
    return str(name)


def check_texts(outcome: Outcome, identity: str, text: str) -> None:
    for shown in outcome.shows:
        assert shown in text, f"expected {shown!r} in {text}"
    for hidden in outcome.hides:
        assert hidden not in text, f"{hidden!r} leaked: {text}"
    if identity in (*CUSTOMERS, "anonymous"):
        for secret in STAFF_ONLY_TEXTS:
            assert secret not in text, f"staff-only {secret!r} reached {identity}: {text}"
    if outcome.kind in REFUSALS or outcome.kind == "USER_ERROR":
        for content in CONTENT_TEXTS:
            assert content not in text, f"a refusal echoed {content!r}: {text}"


def check_answer(row: Row, outcome: Outcome, identity: str, response: httpx.Response) -> None:
    text = response.text
    if outcome.kind == "UNAUTHENTICATED":
        # Like a bad token: 401 before anything runs.
        assert response.status_code == 401, text
        body = response.json()
        assert error_codes(body) == ["UNAUTHENTICATED"], body
        assert "data" not in body, body
        check_texts(outcome, identity, text)
        return
    assert response.status_code == 200, text
    body = response.json()
    codes = error_codes(body)
    if outcome.kind in REFUSALS:
        # Only queries refuse at the top level, and then only at their (nullable) root.
        assert not row.is_mutation, body
        assert codes == [outcome.kind], body
        assert body["errors"][0]["path"] == [row.root], body
        assert body["data"] == {row.root: None}, body
    elif outcome.kind == "NULL_FORBIDDEN":
        assert codes, body
        assert set(codes) == {"FORBIDDEN"}, body
        for error in body["errors"]:
            assert at(body["data"], error["path"]) is None, error
        assert body["data"][root_field(body)] is not None
    elif outcome.kind == "PUBLIC":
        assert codes == [], body
        assert row.root in body["data"], body
    else:
        assert codes == [], body
        payload = body["data"][root_field(body)]
        assert payload is not None
        if row.is_mutation:
            found = [e["code"] for e in payload["userErrors"]]
            if outcome.kind == "USER_ERROR":
                assert outcome.code in found, payload
                assert payload.get("ticket") is None, payload
                assert payload.get("attachment") is None, payload
            else:
                assert found == [], payload
    if outcome.count is not None:
        assert at(body["data"], row.count) == outcome.count, body
    check_texts(outcome, identity, text)


def case_id(row: Row | SubscriptionRow, identity: str) -> str:
    return f"{row.name}-{identity}"


@pytest.fixture(scope="class")
async def read_world(backend: Stack) -> AsyncIterator[World]:
    """One world for all read cases of a backend; they must leave it exactly as seeded."""
    async with backend.sessionmaker() as session:
        world = await build_world(session)
    seeded = await database_state(backend)
    try:
        yield world
        assert await database_state(backend) == seeded, "a query changed the database"
    finally:
        await empty_tables(backend.engine)


class TestReads:
    """Queries and staff-only fields. Reads change nothing, so the cases share one world."""

    @pytest.mark.parametrize(
        ("row", "identity"),
        [pytest.param(r, i, id=case_id(r, i)) for r in READ_ROWS for i in IDENTITIES],
    )
    async def test_read(self, backend: Stack, read_world: World, row: Row, identity: str) -> None:
        me = read_world.person(identity)

        response = await post(backend, me, row.document, row.variables(read_world, me))

        check_answer(row, row.outcomes[identity], identity, response)


@pytest.mark.parametrize(
    ("row", "identity"),
    [pytest.param(r, i, id=case_id(r, i)) for r in MUTATION_ROWS for i in IDENTITIES],
)
async def test_write(fresh: Stack, row: Row, identity: str) -> None:
    """Each mutation case on a fresh world: allowed ones write history, refused ones nothing."""
    async with fresh.sessionmaker() as session:
        world = await build_world(session)
        if row.arrange is not None:
            await row.arrange(session, world)
    me = world.person(identity)
    before = await database_state(fresh)

    response = await post(fresh, me, row.document, row.variables(world, me))

    outcome = row.outcomes[identity]
    check_answer(row, outcome, identity, response)
    after = await database_state(fresh)
    if outcome.kind == "ALLOWED" and row.writes_history:
        # A change was made, and it wrote history (DESIGN §5).
        assert after["counts"]["ticket_history"] > before["counts"]["ticket_history"]
    elif outcome.kind == "ALLOWED":
        assert after != before, "an allowed mutation changed nothing"
    else:
        assert after == before, "a refused mutation changed something"


# --- subscriptions -----------------------------------------------------------------------------

Trigger = Callable[[Stack, World], Awaitable[None]]


@dataclass(frozen=True)
class SubscriptionRow:
    name: str
    document: str
    variables: Variables
    outcomes: dict[str, Outcome]
    # The change that may or may not reach the subscriber (None: the first message is enough).
    trigger: Trigger | None = None
    count: tuple[str | int, ...] = ()

    def __repr__(self) -> str:
        return self.name


STATUS = """
mutation($id: ID!, $status: TicketStatus!) {
  updateTicket(input: {id: $id, status: $status}) { userErrors { code } }
}
"""
NOTE = """
mutation($id: ID!, $body: String!) {
  addResponse(input: {ticketId: $id, body: $body, internal: true}) { userErrors { code } }
}
"""
METADATA_UPDATE = """
mutation($id: ID!, $metadata: JSON!) {
  updateTicket(input: {id: $id, metadata: $metadata}) { userErrors { code } }
}
"""


async def as_staff(db: Stack, who: Person, document: str, variables: dict[str, Any]) -> None:
    data = await call_ok(db, who, document, variables)
    (payload,) = data.values()
    assert payload["userErrors"] == [], payload


async def public_change(db: Stack, world: World) -> None:
    await as_staff(db, world.admin, STATUS, {"id": gid(world.ticket), "status": "IN_PROGRESS"})


async def internal_note(db: Stack, world: World) -> None:
    await as_staff(db, world.agent, NOTE, {"id": gid(world.ticket), "body": INTERNAL_NOTE_WORD})


async def metadata_change(db: Stack, world: World) -> None:
    await as_staff(
        db, world.agent, METADATA_UPDATE, {"id": gid(world.ticket), "metadata": {"m": "x"}}
    )


async def sentinel(db: Stack, world: World, identity: str) -> None:
    """A public change the identity may see, on a ticket other than `ticket`: if it arrives
    first, the change before it was (rightly) not delivered."""
    if identity in ("customer", "other-agent", "other-admin"):
        ticket, staff = world.other_org_ticket, world.other_admin
    else:
        ticket, staff = world.other_ticket, world.admin
    await as_staff(db, staff, STATUS, {"id": gid(ticket), "status": "WAITING_ON_CUSTOMER"})


EVENTS = "subscription { ticketEvents { kind ticket { title } changes { field } } }"
TICKET_EVENTS = """
subscription($id: ID!) { ticketEvents(ticketId: $id) { kind ticket { title } } }
"""
LIVE_STATS = "subscription { ticketStats(intervalMs: 250) { total open } }"

# A change to `ticket` that the subscriber may not see is FILTERED: the first event that
# arrives is then the sentinel, on the ticket named here.
SILENT_CUSTOMER = filtered(OTHER_ORG_TITLE, hides=(OWN_TITLE,))
SILENT_OTHER_CUSTOMER = filtered(OTHER_TITLE, hides=(OWN_TITLE,))
SILENT_AGENT = filtered(OTHER_TITLE, hides=(OWN_TITLE,))
SILENT_OTHER_STAFF = filtered(OTHER_ORG_TITLE, hides=(OWN_TITLE,))

SUBSCRIPTION_ROWS = [
    SubscriptionRow(
        "ticketEvents-public-change",
        EVENTS,
        none,
        roles(
            U,
            allowed(OWN_TITLE, "UPDATED", "status"),
            SILENT_OTHER_CUSTOMER,
            allowed(OWN_TITLE, "UPDATED"),
            SILENT_OTHER_STAFF,
            allowed(OWN_TITLE, "UPDATED"),
            SILENT_OTHER_STAFF,
        ),
        trigger=public_change,
    ),
    SubscriptionRow(
        "ticketEvents-internal-note",
        EVENTS,
        none,
        roles(
            U,
            SILENT_CUSTOMER,
            SILENT_OTHER_CUSTOMER,
            allowed(OWN_TITLE, "NOTE_ADDED"),
            SILENT_OTHER_STAFF,
            allowed(OWN_TITLE, "NOTE_ADDED"),
            SILENT_OTHER_STAFF,
        ),
        trigger=internal_note,
    ),
    SubscriptionRow(
        "ticketEvents-metadata-change",
        EVENTS,
        none,
        roles(
            U,
            SILENT_CUSTOMER,
            SILENT_OTHER_CUSTOMER,
            allowed(OWN_TITLE, "metadata"),
            SILENT_OTHER_STAFF,
            allowed(OWN_TITLE, "metadata"),
            SILENT_OTHER_STAFF,
        ),
        trigger=metadata_change,
    ),
    SubscriptionRow(
        "ticketEvents-one-ticket",
        TICKET_EVENTS,
        of_ticket,
        roles(
            U,
            allowed(OWN_TITLE),
            NOT_FOUND,
            allowed(OWN_TITLE),
            NOT_FOUND,
            allowed(OWN_TITLE),
            NOT_FOUND,
        ),
        trigger=public_change,
    ),
    SubscriptionRow(
        "ticketStats-live",
        LIVE_STATS,
        none,
        roles(
            U,
            filtered(count=2),
            filtered(count=1),
            filtered(count=2),
            filtered(count=1),
            filtered(count=2),
            filtered(count=1),
        ),
        count=("ticketStats", "total"),
    ),
]


@pytest.fixture(scope="module")
async def ws_url(backend: Stack) -> AsyncIterator[str]:
    """One real server per backend for the subscription cases."""
    async with serving(backend.app) as url:
        yield url


@pytest.mark.parametrize(
    ("row", "identity"),
    [pytest.param(r, i, id=case_id(r, i)) for r in SUBSCRIPTION_ROWS for i in IDENTITIES],
)
async def test_subscription(fresh: Stack, ws_url: str, row: SubscriptionRow, identity: str) -> None:
    db = fresh
    async with db.sessionmaker() as session:
        world = await build_world(session)
    me = world.person(identity)
    outcome = row.outcomes[identity]
    hub = db.app.state.runtime.get().hub
    await wait_until(lambda: hub.subscriber_count == 0)
    token = None if me is None else db.token(me.user_id)

    async with GraphQLWebSocket.connect(ws_url, token) as socket:
        await socket.subscribe(row.document, row.variables(world, me))
        if outcome.kind in REFUSALS:
            message = await socket.receive()
        else:
            if row.trigger is not None:
                await wait_until(lambda: hub.subscriber_count == 1)
                await row.trigger(db, world)
                if outcome.kind == "FILTERED":
                    await sentinel(db, world, identity)
            message = await socket.receive()

    text = str(message)
    if outcome.kind in REFUSALS:
        assert message["type"] in ("error", "next"), message
        errors = message["payload"] if message["type"] == "error" else message["payload"]["errors"]
        assert [e["extensions"]["code"] for e in errors] == [outcome.kind], message
    else:
        assert message["type"] == "next", message
        assert "errors" not in message["payload"], message
        if outcome.count is not None:
            assert at(message["payload"]["data"], row.count) == outcome.count, message
    check_texts(outcome, identity, text)


def test_matrix_covers_every_operation() -> None:
    """Every root field of the exported schema (queries, mutations, subscriptions) has a row."""
    sdl = build_schema((Path(__file__).parents[2] / "schema.graphql").read_text())
    covered: set[str] = set()
    documents = [row.document for row in [*READ_ROWS, *MUTATION_ROWS, *SUBSCRIPTION_ROWS]]
    # The matrices of other domains live in modules of their own (test_permission_matrix_*.py),
    # each listing the documents of its rows in COVERED_DOCUMENTS.
    for path in sorted(Path(__file__).parent.glob("test_permission_matrix_*.py")):
        module = importlib.import_module(f"tests.security.{path.stem}")
        documents += module.COVERED_DOCUMENTS
    for document in documents:
        (operation,) = parse(document).definitions
        assert isinstance(operation, OperationDefinitionNode)
        covered |= {
            s.name.value for s in operation.selection_set.selections if isinstance(s, FieldNode)
        }
    roots = (sdl.query_type, sdl.mutation_type, sdl.subscription_type)
    expected = {name for root in roots if root is not None for name in root.fields}
    assert expected - covered == set()


# --- the download route ------------------------------------------------------------------------

# Who may download each of the world's files through a URL of their own.
DOWNLOADERS = {
    "ticket_file": {"customer", "agent", "admin"},
    "reply_file": {"customer", "agent", "admin"},
    "note_file": {"agent", "admin"},
    "pending_file": set(),
}
FILE_URL = "query($id: ID!) { node(id: $id) { ... on Attachment { url } } }"


def viewer_part(person: Person | None) -> str:
    if person is None:
        return "c0"
    return f"{'c' if isinstance(person, Customer) else 'm'}{person.id}"


@pytest.mark.parametrize(
    ("file", "identity"),
    [pytest.param(f, i, id=f"download-{f}-{i}") for f in DOWNLOADERS for i in IDENTITIES],
)
async def test_download(fresh: Stack, file: str, identity: str) -> None:
    """GET /attachments/<id>/<signature>: with a URL of one's own where the file is visible;
    otherwise no URL can be had, and one made from a staff URL for oneself is NOT_FOUND."""
    async with fresh.sessionmaker() as session:
        world = await build_world(session)
    await store_world_files(fresh, world)
    me = world.person(identity)
    row = getattr(world, file)

    async with fresh.client() as client:
        if identity in DOWNLOADERS[file]:
            data = await call_ok(fresh, me, FILE_URL, {"id": gid(row)})
            response = await client.get(data["node"]["url"])
            assert response.status_code == 200
            assert response.content == FILE_BYTES[row.filename]
            return
        refused = await post(fresh, me, FILE_URL, {"id": gid(row)})
        assert refused.status_code == (401 if me is None else 200), refused.text
        assert error_codes(refused.json()) == ["UNAUTHENTICATED" if me is None else "NOT_FOUND"], (
            refused.text
        )
        check_texts(NOT_FOUND, identity, refused.text)
        # The admin's genuine URL, re-aimed at this identity: the signature no longer holds.
        admin_url = (await call_ok(fresh, world.admin, FILE_URL, {"id": gid(world.ticket_file)}))[
            "node"
        ]["url"]
        base, _, signature = admin_url.rsplit("/", 2)
        expires, _, mac = signature.split(".")
        guesses = [f"{base}/{row.id}/{expires}.{viewer_part(me)}.{mac}"]
        if row.id != world.ticket_file.id:
            # The admin's signature for another file.
            guesses.append(f"{base}/{row.id}/{signature}")
        for guess in guesses:
            response = await client.get(guess)
            assert response.status_code == 404, guess
            assert FILE_BYTES[row.filename].decode(errors="replace") not in response.text
