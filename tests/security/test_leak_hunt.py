"""Leak hunt: seed every kind of staff-only and foreign data with unique markers, then walk every
surface a customer can reach and look for the markers in the raw text of each answer.

Seeded (see tests/security/world.py, plus the API changes in `stir`):

- internal notes: one from the factories, one written through the API;
- staff-only history: seeded metadata and note entries, a metadata change and an internal note
  through the API, and a mixed change (status + metadata in one update);
- ticket metadata, staff emails;
- another customer's ticket, description, replies (one through the API), name and email;
- files: the internal note's file (a marker in its name and in its bytes), one uploaded through
  the API onto an internal note, and an unattached upload.

DESIGN §1: none of it may reach the customer through a field, a nested field, a list, a count,
a search hit, a history entry, an error message or a subscription event.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from models import Attachment, Status, Ticket, TicketHistory, TicketResponse
from tests.conftest import Stack
from tests.graphql import error_codes, global_id
from tests.security.world import (
    AGENT2_EMAIL,
    AGENT2_NAME,
    AGENT_NAME,
    INTERNAL_FILE_NAME,
    INTERNAL_NOTE_WORD,
    METADATA_WORD,
    OTHER_CUSTOMER_EMAIL,
    OTHER_CUSTOMER_NAME,
    OTHER_DESCRIPTION,
    OTHER_REPLY,
    OTHER_TITLE,
    OWN_TITLE,
    PUBLIC_REPLY,
    REPLY_FILE_NAME,
    STAFF_ONLY_TEXTS,
    TICKET_FILE_NAME,
    World,
    build_world,
    call,
    call_ok,
    gid,
    store_world_files,
)
from tests.ws import GraphQLWebSocket, serving, wait_until

# --- markers written through the API ------------------------------------------------------------

API_NOTE_WORD = "wombatapinote"
API_NOTE = f"API-NOTE-MARKER-51d8 {API_NOTE_WORD} refund fraud suspected"
API_META_WORD = "narwhalapimeta"
API_METADATA = {"risk": f"API-METADATA-MARKER-0be4 {API_META_WORD}"}
MIXED_META_WORD = "okapimixedmeta"
MIXED_METADATA = {"risk": f"MIXED-METADATA-MARKER-77aa {MIXED_META_WORD}"}
API_PUBLIC_REPLY = "Apipublicreply please restart the printer"
OTHER_API_WORD = "walrusothercustomer"
OTHER_API_REPLY = f"OTHER-CUSTOMER-REPLY-MARKER-3e9c {OTHER_API_WORD}"

# Everything the customer may never read, as it appears in raw answers.
SECRETS = (
    *STAFF_ONLY_TEXTS,
    API_NOTE,
    API_NOTE_WORD,
    "API-NOTE-MARKER-51d8",
    "API-METADATA-MARKER-0be4",
    API_META_WORD,
    "MIXED-METADATA-MARKER-77aa",
    MIXED_META_WORD,
    OTHER_TITLE,
    OTHER_DESCRIPTION,
    OTHER_REPLY,
    OTHER_API_REPLY,
    OTHER_API_WORD,
    OTHER_CUSTOMER_NAME,
    OTHER_CUSTOMER_EMAIL,
)
# Shapes that only internal items produce.
INTERNAL_SHAPES = (
    '"isInternal": true',
    '"NOTE_ADDED"',
    '"field": "metadata"',
    "metadata",
    "Metadata",
    '"METADATA"',
    '"NoteAdded"',
)

# One plain word per secret text, for search (PostgreSQL full-text matches whole words).
SEARCH_WORDS = (
    INTERNAL_NOTE_WORD,
    API_NOTE_WORD,
    METADATA_WORD,
    API_META_WORD,
    MIXED_META_WORD,
    OTHER_API_WORD,
    "Othercustomerticket",
    "Othercustomerdescription",
    "Othercustomerreply",
    "staffemailmarker",
    "INTERNAL-NOTE-MARKER-7f3a",
    "API-NOTE-MARKER-51d8",
)


def assert_clean(answer: Any, *, allow_metadata_key: bool = False) -> None:
    """No marker, and nothing shaped like an internal item, anywhere in the answer."""
    text = answer if isinstance(answer, str) else json.dumps(answer)
    normalized = json.dumps(json.loads(text)) if isinstance(answer, str) else text
    for secret in SECRETS:
        assert secret not in normalized, f"{secret!r} leaked: {normalized}"
    for shape in INTERNAL_SHAPES:
        if shape in ("metadata", "Metadata") and allow_metadata_key:
            continue
        assert shape not in normalized, f"{shape!r} leaked: {normalized}"


# --- fixtures ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
async def ws_url(backend: Stack) -> AsyncIterator[str]:
    async with serving(backend.app) as url:
        yield url


@pytest.fixture
async def world(fresh: Stack) -> World:
    async with fresh.sessionmaker() as session:
        return await build_world(session)


# --- changes through the API ---------------------------------------------------------------------

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
UPDATE = """
mutation($input: UpdateTicketInput!) { updateTicket(input: $input) { userErrors { code } } }
"""


async def mutate(db: Stack, who: Any, document: str, variables: dict[str, Any]) -> None:
    data = await call_ok(db, who, document, variables)
    (payload,) = data.values()
    assert payload["userErrors"] == [], payload


async def public_reply(db: Stack, world: World) -> None:
    variables = {"id": gid(world.ticket), "body": API_PUBLIC_REPLY, "internal": False}
    await mutate(db, world.agent, REPLY, variables)


async def internal_note(db: Stack, world: World) -> None:
    variables = {"id": gid(world.ticket), "body": API_NOTE, "internal": True}
    await mutate(db, world.agent, REPLY, variables)


async def metadata_change(db: Stack, world: World) -> None:
    variables = {"input": {"id": gid(world.ticket), "metadata": API_METADATA}}
    await mutate(db, world.agent, UPDATE, variables)


async def mixed_change(db: Stack, world: World) -> None:
    """One update: a public status change and a staff-only metadata change."""
    variables = {
        "input": {"id": gid(world.ticket), "status": "IN_PROGRESS", "metadata": MIXED_METADATA}
    }
    await mutate(db, world.agent, UPDATE, variables)


async def set_status(db: Stack, world: World, status: str) -> None:
    await mutate(db, world.admin, UPDATE, {"input": {"id": gid(world.ticket), "status": status}})


async def stir(db: Stack, world: World) -> None:
    """Public and internal changes, in an order where internal ones come last on purpose."""
    await mutate(db, world.agent, ASSIGN, {"id": gid(world.ticket), "to": gid(world.agent)})
    await public_reply(db, world)
    await internal_note(db, world)
    await metadata_change(db, world)
    await mixed_change(db, world)
    await mutate(
        db,
        world.other_customer,
        REPLY,
        {"id": gid(world.other_ticket), "body": OTHER_API_REPLY, "internal": False},
    )


@dataclass
class Counts:
    """What the database holds for the customer's ticket, with and without internal items."""

    public_responses: int
    internal_responses: int
    public_history: int
    internal_history: int


async def counts_of(db: Stack, ticket: Ticket) -> Counts:
    async with db.sessionmaker() as session:

        async def count(model: Any, internal: bool) -> int:
            statement = select(func.count()).where(
                model.ticket_id == ticket.id, model.is_internal.is_(internal)
            )
            return int(await session.scalar(statement) or 0)

        return Counts(
            await count(TicketResponse, False),
            await count(TicketResponse, True),
            await count(TicketHistory, False),
            await count(TicketHistory, True),
        )


async def internal_ids(db: Stack) -> list[str]:
    """Global ids of every internal note and staff-only history entry in the database."""
    async with db.sessionmaker() as session:
        notes = await session.scalars(
            select(TicketResponse.id).where(TicketResponse.is_internal.is_(True))
        )
        entries = await session.scalars(
            select(TicketHistory.id).where(TicketHistory.is_internal.is_(True))
        )
        files = await session.scalars(
            select(Attachment.id).where(
                Attachment.is_internal.is_(True) | Attachment.attached_at.is_(None)
            )
        )
        return (
            [global_id("Response", i) for i in notes]
            + [global_id("HistoryEntry", i) for i in entries]
            + [global_id("Attachment", i) for i in files]
        )


async def foreign_ids(db: Stack, world: World) -> list[str]:
    """Global ids of the other customer's ticket, replies, history and profile."""
    async with db.sessionmaker() as session:
        replies = await session.scalars(
            select(TicketResponse.id).where(TicketResponse.ticket_id == world.other_ticket.id)
        )
        entries = await session.scalars(
            select(TicketHistory.id).where(TicketHistory.ticket_id == world.other_ticket.id)
        )
        return [
            gid(world.other_ticket),
            gid(world.other_customer),
            *(global_id("Response", i) for i in replies),
            *(global_id("HistoryEntry", i) for i in entries),
        ]


# --- documents -----------------------------------------------------------------------------------

PERSON = """
fragment PersonFields on Person {
  __typename
  ... on Node { id }
  ... on Customer { name company avatarUrl createdAt }
  ... on TeamMember {
    name role avatarUrl isActive team { id name } organization { id name slug }
  }
}
"""
TICKET_FIELDS = """
fragment TicketFields on Ticket {
  id number title description status priority tags version createdAt updatedAt
  firstRespondedAt resolvedAt closedAt
  organization { id name slug }
  customer { id name company avatarUrl email createdAt }
  assignee { ...PersonFields }
  team { id name }
  attachments { id filename contentType byteSize }
  responses(first: 20) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges {
      cursor
      node { id body isInternal createdAt editedAt author { ...PersonFields } }
    }
  }
  history(first: 20) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges {
      cursor
      node { ...HistoryFields }
    }
  }
}
"""
# Every field of every typed history entry (a customer must never meet MetadataChanged or
# NoteAdded at all; the deprecated generic fields are still served).
HISTORY_FIELDS = """
fragment HistoryFields on HistoryEntry {
  __typename id isInternal createdAt changedField action field oldValue newValue
  actor { ...PersonFields }
  response { id body isInternal author { ...PersonFields } }
  ... on TitleChanged { fromTitle toTitle }
  ... on DescriptionChanged { fromDescription toDescription }
  ... on StatusChanged { fromStatus toStatus }
  ... on PriorityChanged { fromPriority toPriority }
  ... on Assigned { fromAssignee { ...PersonFields } toAssignee { ...PersonFields } }
  ... on TeamChanged { fromTeam { id name } toTeam { id name } }
  ... on TagsChanged { added removed }
  ... on MetadataChanged { fromMetadata toMetadata }
  ... on NoteAdded { response { id body } }
  ... on ResponseAdded { response { id body } }
  ... on AttachmentAdded {
    attachment { id filename contentType byteSize url uploadedBy { ...PersonFields } }
    response { id body isInternal attachments { id filename url } }
  }
}
"""
FRAGMENTS = PERSON + HISTORY_FIELDS + TICKET_FIELDS
TICKETS = (
    """
query {
  tickets(first: 2) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { ...TicketFields } }
  }
}
"""
    + FRAGMENTS
)
ONE_TICKET = "query($id: ID!) { ticket(id: $id) { ...TicketFields } }" + FRAGMENTS
# The same with every staff-only field a customer could ask for.
STAFF_FIELDS = """
query($id: ID!) {
  ticket(id: $id) {
    title metadata
    assignee { name email }
    customer { email }
    responses { nodes { body author { ... on TeamMember { name email } } } }
    history {
      nodes {
        field
        actor { ... on TeamMember { name email } }
        response { body author { ... on TeamMember { email } } }
      }
    }
  }
  me { ... on Customer { email } ... on TeamMember { email } }
}
"""
PAGE = """
query($id: ID!, $after: String, $first: Int, $last: Int) {
  ticket(id: $id) {
    %s(first: $first, after: $after, last: $last) {
      totalCount pageInfo { hasNextPage hasPreviousPage endCursor startCursor }
      nodes { %s }
    }
  }
}
"""
SEARCH = """
query($search: String!) {
  tickets(filter: {search: $search}) { totalCount nodes { id title } }
  ticketStats(filter: {search: $search}) { total }
}
"""
STATS = """
query {
  ticketStats {
    total open inProgress waitingOnCustomer highPriority unassigned
    byStatus { status count }
    byPriority { priority count }
  }
}
"""
NODE = """
query($id: ID!) {
  node(id: $id) {
    __typename
    ... on Node { id }
    ... on Response { body isInternal author { ... on TeamMember { email } } }
    ... on HistoryEntry { action field oldValue newValue isInternal response { body } }
    ... on Ticket { title description metadata }
    ... on Customer { name email }
    ... on TeamMember { name email }
    ... on Attachment { filename contentType url }
  }
}
"""
NODES = """
query($ids: [ID!]!) {
  nodes(ids: $ids) {
    __typename
    ... on Node { id }
    ... on Response { body isInternal }
    ... on HistoryEntry { field oldValue newValue isInternal }
    ... on Ticket { title }
    ... on Customer { name email }
    ... on TeamMember { email }
    ... on Attachment { filename url }
  }
}
"""


# --- queries -------------------------------------------------------------------------------------


async def test_ticket_list_with_every_field_shows_no_internal_item(
    fresh: Stack, world: World
) -> None:
    await stir(fresh, world)
    counts = await counts_of(fresh, world.ticket)
    assert counts.internal_responses == 2
    assert counts.internal_history >= 4

    body, text = await call(fresh, world.customer, TICKETS)

    assert "errors" not in body, body
    assert_clean(text)
    connection = body["data"]["tickets"]
    assert connection["totalCount"] == 2
    (own,) = [e["node"] for e in connection["edges"] if e["node"]["title"] == OWN_TITLE]
    assert own["responses"]["totalCount"] == counts.public_responses == 2
    assert [e["node"]["body"] for e in own["responses"]["edges"]] == [
        PUBLIC_REPLY,
        API_PUBLIC_REPLY,
    ]
    assert own["history"]["totalCount"] == counts.public_history
    assert len(own["history"]["edges"]) == counts.public_history
    assert own["responses"]["pageInfo"]["hasNextPage"] is False
    assert own["history"]["pageInfo"]["hasNextPage"] is False
    # The public files' entries are there, with their files; the note's is not.
    assert [
        e["node"]["attachment"]["filename"]
        for e in own["history"]["edges"]
        if e["node"]["__typename"] == "AttachmentAdded"
    ] == [TICKET_FILE_NAME, REPLY_FILE_NAME]

    # The same query as staff does carry the markers: the hunt looks where they are.
    staff_body, staff_text = await call(fresh, world.agent, TICKETS)
    assert "errors" not in staff_body
    assert API_NOTE in staff_text
    assert API_META_WORD in staff_text
    assert INTERNAL_FILE_NAME in staff_text


async def test_staff_only_fields_are_refused_without_their_values(
    fresh: Stack, world: World
) -> None:
    await stir(fresh, world)

    body, text = await call(fresh, world.customer, STAFF_FIELDS, {"id": gid(world.ticket)})

    assert set(error_codes(body)) == {"FORBIDDEN"}
    for error in body["errors"]:
        value: Any = body["data"]
        for key in error["path"]:
            value = value[key]
        assert value is None, error
        assert error["path"][-1] in ("metadata", "email"), error
    assert body["data"]["ticket"]["customer"]["email"] is not None  # their own
    assert_clean(text, allow_metadata_key=True)


async def test_paging_through_responses_and_history_skips_internal_items(
    fresh: Stack, world: World
) -> None:
    await stir(fresh, world)  # the newest response and the newest entries are internal
    counts = await counts_of(fresh, world.ticket)
    seen: dict[str, list[Any]] = {}
    for name, fields in (("responses", "body isInternal"), ("history", "field newValue")):
        page = PAGE % (name, fields)
        seen[name] = []
        after = None
        while True:
            variables = {"id": gid(world.ticket), "first": 1, "after": after}
            body, text = await call(fresh, world.customer, page, variables)
            assert "errors" not in body, body
            assert_clean(text)
            connection = body["data"]["ticket"][name]
            seen[name] += connection["nodes"]
            if not connection["pageInfo"]["hasNextPage"]:
                break
            after = connection["pageInfo"]["endCursor"]
    assert len(seen["responses"]) == counts.public_responses
    assert len(seen["history"]) == counts.public_history

    # The latest ones, counted from the end.
    latest_reply, text = await call(
        fresh, world.customer, PAGE % ("responses", "body"), {"id": gid(world.ticket), "last": 1}
    )
    assert_clean(text)
    assert latest_reply["data"]["ticket"]["responses"]["nodes"] == [{"body": API_PUBLIC_REPLY}]
    assert latest_reply["data"]["ticket"]["responses"]["pageInfo"]["hasPreviousPage"] is True
    latest_entry, text = await call(
        fresh,
        world.customer,
        PAGE % ("history", "field newValue"),
        {"id": gid(world.ticket), "last": 1},
    )
    assert_clean(text)
    assert latest_entry["data"]["ticket"]["history"]["nodes"] == [
        {"field": "status", "newValue": "in_progress"}
    ]


@pytest.mark.parametrize("word", SEARCH_WORDS)
async def test_search_finds_nothing_by_a_secret_word(fresh: Stack, world: World, word: str) -> None:
    await stir(fresh, world)

    body, text = await call(fresh, world.customer, SEARCH, {"search": word})

    assert "errors" not in body, body
    assert body["data"]["tickets"] == {"totalCount": 0, "nodes": []}
    assert body["data"]["ticketStats"] == {"total": 0}
    assert_clean(text)


async def test_search_words_are_found_by_those_who_may_read_them(
    fresh: Stack, world: World
) -> None:
    """The control for the search hunt: the words do match, for staff and their owner."""
    await stir(fresh, world)
    for who, word in (
        (world.agent, INTERNAL_NOTE_WORD),
        (world.agent, API_NOTE_WORD),
        (world.other_customer, OTHER_API_WORD),
        (world.other_customer, "Othercustomerreply"),
        (world.other_customer, "Othercustomerticket"),
    ):
        data = await call_ok(fresh, who, SEARCH, {"search": word})
        assert data["tickets"]["totalCount"] == 1, (who.name, word)


async def test_search_by_the_number_of_someone_elses_ticket_finds_nothing(
    fresh: Stack, world: World
) -> None:
    await stir(fresh, world)
    assert world.other_ticket.number != world.ticket.number

    body, text = await call(
        fresh, world.customer, SEARCH, {"search": f"#{world.other_ticket.number}"}
    )

    assert body["data"]["tickets"]["totalCount"] == 0
    assert_clean(text)


async def test_ticket_stats_count_only_the_customers_own_tickets(
    fresh: Stack, world: World
) -> None:
    await stir(fresh, world)
    async with fresh.sessionmaker() as session:
        own = (
            await session.scalars(select(Ticket).where(Ticket.customer_id == world.customer.id))
        ).all()
    open_statuses = (Status.OPEN, Status.IN_PROGRESS, Status.WAITING_ON_CUSTOMER)
    expected = {
        "total": len(own),
        "open": sum(t.status is Status.OPEN for t in own),
        "inProgress": sum(t.status is Status.IN_PROGRESS for t in own),
        "waitingOnCustomer": sum(t.status is Status.WAITING_ON_CUSTOMER for t in own),
        "highPriority": sum(
            t.status in open_statuses and t.priority.value in ("high", "urgent") for t in own
        ),
        "unassigned": sum(t.status in open_statuses and t.assignee_id is None for t in own),
    }

    body, text = await call(fresh, world.customer, STATS)

    assert "errors" not in body, body
    stats = body["data"]["ticketStats"]
    assert {k: stats[k] for k in expected} == expected
    assert sum(s["count"] for s in stats["byStatus"]) == len(own)
    assert sum(p["count"] for p in stats["byPriority"]) == len(own)
    assert_clean(text)


async def test_node_and_nodes_do_not_reveal_internal_or_foreign_objects(
    fresh: Stack, world: World
) -> None:
    await stir(fresh, world)
    hidden = [
        *await internal_ids(fresh),
        *await foreign_ids(fresh, world),
        gid(world.agent),
        gid(world.team),
    ]
    assert len(hidden) >= 12

    for node_id in hidden:
        body, text = await call(fresh, world.customer, NODE, {"id": node_id})
        assert body["data"] == {"node": None}, body
        assert error_codes(body) == ["NOT_FOUND"], body
        assert_clean(text)

    body, text = await call(fresh, world.customer, NODES, {"ids": hidden})
    assert "errors" not in body, body
    assert body["data"]["nodes"] == [None] * len(hidden)
    assert_clean(text)


async def test_node_of_the_customers_own_ticket_holds_no_internal_item(
    fresh: Stack, world: World
) -> None:
    await stir(fresh, world)
    document = "query($id: ID!) { node(id: $id) { ... on Ticket { ...TicketFields } } }"

    body, text = await call(fresh, world.customer, document + FRAGMENTS, {"id": gid(world.ticket)})

    assert "errors" not in body, body
    assert body["data"]["node"]["title"] == OWN_TITLE
    assert_clean(text)


async def test_refusals_do_not_echo_what_they_refuse(fresh: Stack, world: World) -> None:
    await stir(fresh, world)
    other = gid(world.other_ticket)
    attempts = [
        ("query($id: ID!) { ticket(id: $id) { title } }", {"id": other}, "NOT_FOUND"),
        (
            "query($org: ID!, $n: Int!) { ticketByNumber(organizationId: $org, number: $n) "
            "{ title } }",
            {"org": gid(world.org), "n": world.other_ticket.number},
            "NOT_FOUND",
        ),
        (
            UPDATE,
            {"input": {"id": other, "status": "CLOSED", "title": OTHER_TITLE}},
            "NOT_FOUND",
        ),
        (REPLY, {"id": other, "body": "hello", "internal": False}, "NOT_FOUND"),
        (ASSIGN, {"id": other, "to": None}, "NOT_FOUND"),
        (REPLY, {"id": gid(world.ticket), "body": "x", "internal": True}, "FORBIDDEN"),
        (
            UPDATE,
            {"input": {"id": gid(world.ticket), "metadata": {"peek": True}}},
            "FORBIDDEN",
        ),
        (
            "query { teamMembers { name email } }",
            {},
            "FORBIDDEN",
        ),
    ]
    for document, variables, code in attempts:
        body, text = await call(fresh, world.customer, document, variables)
        # Queries refuse at their root; mutations in their userErrors.
        (payload,) = body["data"].values()
        refusals = error_codes(body) or [e["code"] for e in payload["userErrors"]]
        assert refusals == [code], body
        assert_clean(text)
        assert OWN_TITLE not in text


async def test_a_wrong_cursor_beside_a_right_one_gets_a_clean_error(
    fresh: Stack, world: World
) -> None:
    """A cursor of `responses` passed to `history` is refused with BAD_USER_INPUT. The
    request must still end in a GraphQL answer: here the sibling `responses` connection is
    still counting on the request's session when the refusal ends the operation."""
    await stir(fresh, world)
    first = await call_ok(
        fresh,
        world.customer,
        "query($id: ID!) { ticket(id: $id) { responses(first: 1) { pageInfo { endCursor } } } }",
        {"id": gid(world.ticket)},
    )
    cursor = first["ticket"]["responses"]["pageInfo"]["endCursor"]
    document = """
    query($id: ID!, $after: String) {
      ticket(id: $id) {
        responses(first: 1, after: $after) { totalCount nodes { body } }
        history(first: 1, after: $after) { totalCount nodes { field } }
      }
    }
    """
    transport = httpx.ASGITransport(app=fresh.app, raise_app_exceptions=False)
    headers = {"Authorization": f"Bearer {fresh.token(world.customer.user_id)}"}
    async with httpx.AsyncClient(
        transport=transport, base_url="http://test", headers=headers
    ) as client:
        response = await client.post(
            "/graphql",
            json={"query": document, "variables": {"id": gid(world.ticket), "after": cursor}},
        )

    assert response.status_code == 200, response.text
    assert error_codes(response.json()) == ["BAD_USER_INPUT"], response.text
    assert_clean(response.text)


async def test_customers_mutation_payloads_hold_no_internal_item(
    fresh: Stack, world: World
) -> None:
    await stir(fresh, world)
    reply = (
        """
    mutation($id: ID!) {
      addResponse(input: {ticketId: $id, body: "Thanks, still broken"}) {
        ticket { ...TicketFields }
        response { id body isInternal author { ...PersonFields } }
        userErrors { field code message }
      }
    }
    """
        + FRAGMENTS
    )
    close = (
        """
    mutation($id: ID!) {
      updateTicket(input: {id: $id, status: CLOSED}) {
        ticket { ...TicketFields } userErrors { field code message }
      }
    }
    """
        + FRAGMENTS
    )
    create = (
        """
    mutation($org: ID!) {
      createTicket(input: {organizationId: $org, title: "Another one"}) {
        ticket { ...TicketFields } userErrors { field code message }
      }
    }
    """
        + FRAGMENTS
    )

    for document, variables in (
        (reply, {"id": gid(world.ticket)}),
        (close, {"id": gid(world.ticket)}),
        (create, {"org": gid(world.org)}),
    ):
        body, text = await call(fresh, world.customer, document, variables)
        assert "errors" not in body, body
        (payload,) = body["data"].values()
        assert payload["userErrors"] == [], payload
        assert_clean(text)


def without_link_signatures(value: Any) -> Any:
    """The view with each attachment `url` cut to the file it names: a signed link carries its
    expiry, so two views a second apart differ there and nowhere else."""
    if isinstance(value, dict):
        return {
            k: v.rsplit("/", 1)[0]
            if k == "url" and isinstance(v, str)
            else without_link_signatures(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [without_link_signatures(v) for v in value]
    return value


async def customers_view(db: Stack, world: World) -> dict[str, Any]:
    data = await call_ok(db, world.customer, ONE_TICKET, {"id": gid(world.ticket)})
    ticket: dict[str, Any] = without_link_signatures(data["ticket"])
    return ticket


async def test_an_internal_note_does_not_change_the_customers_view(
    fresh: Stack, world: World
) -> None:
    """README: "An internal note does not even change the ticket's updatedAt or version.\""""
    before = await customers_view(fresh, world)

    await internal_note(fresh, world)

    assert await customers_view(fresh, world) == before


async def test_a_metadata_change_does_not_change_the_customers_view(
    fresh: Stack, world: World
) -> None:
    """Metadata is staff-only; that it changed is staff-only too (DESIGN §1: not through a
    field). `version` is a field the customer reads."""
    before = await customers_view(fresh, world)

    await metadata_change(fresh, world)

    assert await customers_view(fresh, world) == before


# --- subscriptions -------------------------------------------------------------------------------

EVENTS = (
    """
subscription($after: String, $ticketId: ID, $filter: TicketEventFilter) {
  ticketEvents(after: $after, ticketId: $ticketId, filter: $filter) {
    cursor kind occurredAt
    ticket { ...TicketFields }
    changes { ...HistoryFields }
    response { id body isInternal author { ...PersonFields } attachments { filename url } }
  }
}
"""
    + FRAGMENTS
)
LIVE_STATS = """
subscription {
  ticketStats(intervalMs: 250) {
    total open inProgress waitingOnCustomer highPriority unassigned
    byStatus { status count }
  }
}
"""


async def no_subscribers(db: Stack) -> Any:
    hub = db.app.state.runtime.get().hub
    await wait_until(lambda: hub.subscriber_count == 0)
    return hub


async def events_until_sentinel(socket: GraphQLWebSocket, sentinel: str) -> list[dict[str, Any]]:
    """Events up to and including the first one that sets `ticket`'s status to `sentinel`."""
    events = []
    while True:
        message = await socket.next_data()
        assert "errors" not in message, message
        event = message["data"]["ticketEvents"]
        events.append(event)
        if event["ticket"]["title"] == OWN_TITLE and any(
            c["field"] == "status" and c["newValue"] == sentinel for c in event["changes"]
        ):
            return events


async def test_live_events_bring_the_customer_only_public_changes(
    fresh: Stack, world: World, ws_url: str
) -> None:
    hub = await no_subscribers(fresh)
    async with (
        GraphQLWebSocket.connect(ws_url, fresh.token(world.customer.user_id)) as customer,
        GraphQLWebSocket.connect(ws_url, fresh.token(world.agent.user_id)) as agent,
    ):
        await customer.subscribe(EVENTS)
        await agent.subscribe(EVENTS)
        await wait_until(lambda: hub.subscriber_count == 2)

        await stir(fresh, world)
        await set_status(fresh, world, "WAITING_ON_CUSTOMER")  # the sentinel

        received = await events_until_sentinel(customer, "waiting_on_customer")
        staff_received = await events_until_sentinel(agent, "waiting_on_customer")

    assert_clean(received)
    assert [e["kind"] for e in received] == ["ASSIGNED", "RESPONSE_ADDED", "UPDATED", "UPDATED"]
    mixed = received[2]
    assert [c["field"] for c in mixed["changes"]] == ["status"]
    assert received[1]["response"]["body"] == API_PUBLIC_REPLY
    # Staff received the same stream with the internal changes: the markers were there to leak.
    assert [e["kind"] for e in staff_received] == [
        "ASSIGNED",
        "RESPONSE_ADDED",
        "NOTE_ADDED",
        "UPDATED",
        "UPDATED",
        "RESPONSE_ADDED",
        "UPDATED",
    ]
    assert API_NOTE in json.dumps(staff_received)
    assert MIXED_META_WORD in json.dumps(staff_received)


async def test_resume_does_not_replay_internal_changes(
    fresh: Stack, world: World, ws_url: str
) -> None:
    await no_subscribers(fresh)
    token = fresh.token(world.customer.user_id)
    async with GraphQLWebSocket.connect(ws_url, token) as first:
        await first.subscribe(EVENTS)
        hub = fresh.app.state.runtime.get().hub
        await wait_until(lambda: hub.subscriber_count == 1)
        await mutate(fresh, world.agent, ASSIGN, {"id": gid(world.ticket), "to": gid(world.agent)})
        seen = (await first.next_data())["data"]["ticketEvents"]
    assert seen["kind"] == "ASSIGNED"
    await wait_until(lambda: hub.subscriber_count == 0)

    # While the customer is away: public and internal changes.
    await public_reply(fresh, world)
    await internal_note(fresh, world)
    await metadata_change(fresh, world)
    await mixed_change(fresh, world)

    async with GraphQLWebSocket.connect(ws_url, token) as again:
        await again.subscribe(EVENTS, {"after": seen["cursor"]})
        await wait_until(lambda: hub.subscriber_count == 1)
        await set_status(fresh, world, "WAITING_ON_CUSTOMER")
        resumed = await events_until_sentinel(again, "waiting_on_customer")

    assert_clean(resumed)
    assert [e["kind"] for e in resumed] == ["RESPONSE_ADDED", "UPDATED", "UPDATED"]
    assert [c["field"] for c in resumed[1]["changes"]] == ["status"]
    cursors = [int(seen["cursor"]), *(int(e["cursor"]) for e in resumed)]
    assert cursors == sorted(set(cursors))


async def test_resume_from_the_beginning_replays_no_internal_change(
    fresh: Stack, world: World, ws_url: str
) -> None:
    """`after: "0"` replays the whole log of the customer's tickets: the seeded staff-only
    entries, the API's internal changes and the other customer's ticket must all stay out."""
    hub = await no_subscribers(fresh)
    await stir(fresh, world)
    async with GraphQLWebSocket.connect(ws_url, fresh.token(world.customer.user_id)) as socket:
        await socket.subscribe(EVENTS, {"after": "0"})
        await wait_until(lambda: hub.subscriber_count == 1)
        await set_status(fresh, world, "WAITING_ON_CUSTOMER")
        replayed = await events_until_sentinel(socket, "waiting_on_customer")

    assert_clean(replayed)
    assert {e["ticket"]["title"] for e in replayed} <= {OWN_TITLE, "Otherorgticket vpn broken"}
    assert len(replayed) >= 5


async def test_a_customer_filtering_for_notes_receives_none(
    fresh: Stack, world: World, ws_url: str
) -> None:
    hub = await no_subscribers(fresh)
    async with GraphQLWebSocket.connect(ws_url, fresh.token(world.customer.user_id)) as socket:
        await socket.subscribe(
            EVENTS,
            {"ticketId": gid(world.ticket), "filter": {"kinds": ["NOTE_ADDED", "UPDATED"]}},
        )
        await wait_until(lambda: hub.subscriber_count == 1)
        await internal_note(fresh, world)
        await metadata_change(fresh, world)
        await set_status(fresh, world, "WAITING_ON_CUSTOMER")
        received = await events_until_sentinel(socket, "waiting_on_customer")

    assert_clean(received)
    assert len(received) == 1


async def test_subscribing_to_someone_elses_ticket_echoes_nothing(
    fresh: Stack, world: World, ws_url: str
) -> None:
    async with GraphQLWebSocket.connect(ws_url, fresh.token(world.customer.user_id)) as socket:
        await socket.subscribe(EVENTS, {"ticketId": gid(world.other_ticket)})
        message = await socket.receive()

    errors = message["payload"] if message["type"] == "error" else message["payload"]["errors"]
    assert [e["extensions"]["code"] for e in errors] == ["NOT_FOUND"], message
    assert_clean(message)


async def test_live_stats_do_not_move_on_internal_changes(
    fresh: Stack, world: World, ws_url: str
) -> None:
    await no_subscribers(fresh)
    async with GraphQLWebSocket.connect(ws_url, fresh.token(world.customer.user_id)) as socket:
        await socket.subscribe(LIVE_STATS)
        initial = (await socket.next_data())["data"]["ticketStats"]

        await internal_note(fresh, world)
        await metadata_change(fresh, world)
        # Longer than the interval: an update caused by the internal changes would be sent now.
        await asyncio.sleep(0.4)
        await set_status(fresh, world, "WAITING_ON_CUSTOMER")
        update = (await socket.next_data())["data"]["ticketStats"]

    assert_clean([initial, update])
    assert initial["waitingOnCustomer"] == 0
    # The first update after the internal changes is the public one.
    assert update["waitingOnCustomer"] == 1
    assert update["open"] == initial["open"] - 1


ASSIGNEE_CONTACT = """
query($id: ID!) {
  ticket(id: $id) {
    assignee { name avatarUrl email }
    history {
      nodes {
        ... on Assigned {
          fromAssignee { name avatarUrl email }
          toAssignee { __typename id name avatarUrl email }
        }
      }
    }
  }
}
"""
ASSIGNEE_EVENTS = """
subscription {
  ticketEvents(filter: { kinds: [ASSIGNED] }) {
    changes { ... on Assigned { toAssignee { name avatarUrl email } } }
  }
}
"""


async def assign(db: Stack, world: World, who: Any) -> None:
    await mutate(db, world.admin, ASSIGN, {"id": gid(world.ticket), "to": gid(who)})


async def test_a_customer_reads_assignees_names_but_never_their_emails(
    fresh: Stack, world: World
) -> None:
    """Assigned entries resolve to TeamMember: the name and picture, yes; the email is refused
    by the field's own permission, wherever the member is met."""
    await assign(fresh, world, world.agent)
    await assign(fresh, world, world.agent2)

    body, text = await call(fresh, world.customer, ASSIGNEE_CONTACT, {"id": gid(world.ticket)})

    assert set(error_codes(body)) == {"FORBIDDEN"}
    assert {tuple(e["path"][-1:]) for e in body["errors"]} == {("email",)}
    entries = [e for e in body["data"]["ticket"]["history"]["nodes"] if e]
    assert [(e["fromAssignee"], e["toAssignee"]["name"]) for e in entries] == [
        (None, AGENT_NAME),
        ({"name": AGENT_NAME, "avatarUrl": None, "email": None}, AGENT2_NAME),
    ]
    assert all(e["toAssignee"]["email"] is None for e in entries)
    assert_clean(text, allow_metadata_key=True)
    # The control: staff read the same entries with the emails.
    staff = await call_ok(fresh, world.agent, ASSIGNEE_CONTACT, {"id": gid(world.ticket)})
    assert AGENT2_EMAIL in json.dumps(staff)


async def test_live_assignment_events_carry_no_staff_email(
    fresh: Stack, world: World, ws_url: str
) -> None:
    hub = await no_subscribers(fresh)
    async with GraphQLWebSocket.connect(ws_url, fresh.token(world.customer.user_id)) as socket:
        await socket.subscribe(ASSIGNEE_EVENTS)
        await wait_until(lambda: hub.subscriber_count == 1)
        await assign(fresh, world, world.agent)
        message = await socket.next_data()

    (change,) = message["data"]["ticketEvents"]["changes"]
    assert change["toAssignee"] == {"name": AGENT_NAME, "avatarUrl": None, "email": None}
    assert [e["extensions"]["code"] for e in message["errors"]] == ["FORBIDDEN"]
    assert_clean(message, allow_metadata_key=True)


# --- attachments ---------------------------------------------------------------------------------

API_FILE_WORD = "capybaraapifile"
API_FILE_NAME = f"API-FILE-NAME-MARKER-e7f1-{API_FILE_WORD}.txt"
API_FILE_BYTES = b"API-FILE-CONTENT-MARKER-a3c0 the refund was fraudulent"
FILE_SECRETS = (API_FILE_NAME, API_FILE_WORD, "API-FILE-CONTENT-MARKER-a3c0")
UPLOAD = """
mutation($input: CreateAttachmentUploadInput!) {
  createAttachmentUpload(input: $input) { attachment { id } uploadUrl userErrors { code } }
}
"""
NOTE_WITH_FILE = """
mutation($id: ID!, $files: [ID!]) {
  addResponse(input: {ticketId: $id, body: "See file", internal: true, attachmentIds: $files}) {
    userErrors { code }
  }
}
"""
FILES_OF = (
    """
query($id: ID!) {
  ticket(id: $id) {
    attachments { id filename contentType byteSize url uploadedBy { ...PersonFields } }
    responses { nodes { isInternal attachments { id filename contentType byteSize url } } }
    history { nodes { action field newValue } }
  }
}
"""
    + PERSON
)
FILE_URL = "query($id: ID!) { node(id: $id) { ... on Attachment { url } } }"


def assert_bytes_clean(content: bytes) -> None:
    text = content.decode(errors="replace")
    for secret in (*SECRETS, *FILE_SECRETS):
        assert secret not in text, f"{secret!r} leaked: {text[:500]}"


async def internal_file_through_the_api(db: Stack, world: World) -> str:
    """The agent uploads a file and attaches it to an internal note; its global id."""
    started = await call_ok(
        db,
        world.agent,
        UPLOAD,
        {
            "input": {
                "ticketId": gid(world.ticket),
                "filename": API_FILE_NAME,
                "contentType": "text/plain",
                "byteSize": len(API_FILE_BYTES),
                "checksumSha256": hashlib.sha256(API_FILE_BYTES).hexdigest(),
            }
        },
    )
    payload = started["createAttachmentUpload"]
    async with db.client() as client:
        assert (await client.put(payload["uploadUrl"], content=API_FILE_BYTES)).status_code == 200
    file_id: str = payload["attachment"]["id"]
    await mutate(db, world.agent, NOTE_WITH_FILE, {"id": gid(world.ticket), "files": [file_id]})
    return file_id


async def test_a_customer_never_sees_an_internal_file(fresh: Stack, world: World) -> None:
    await store_world_files(fresh, world)
    api_file = await internal_file_through_the_api(fresh, world)

    body, text = await call(fresh, world.customer, FILES_OF, {"id": gid(world.ticket)})
    _, staff_text = await call(fresh, world.agent, FILES_OF, {"id": gid(world.ticket)})

    assert "errors" not in body, body
    assert_clean(text)
    for secret in FILE_SECRETS:
        assert secret not in text
    # They were there to leak.
    assert API_FILE_NAME in staff_text
    assert world.note_file.filename in staff_text
    assert api_file not in text
    files = body["data"]["ticket"]["attachments"]
    assert {f["filename"] for f in files} == {
        "Ticketfilename-printer.png",
        "Replyfilename-manual.pdf",
    }
    async with fresh.client() as client:
        for file in files:
            download = await client.get(file["url"])
            assert download.status_code == 200
            assert_bytes_clean(download.content)


def _mangled(url: str, attachment_pk: int, viewer: str | None = None) -> list[str]:
    """Ways to aim a customer's genuine URL at another file or another viewer."""
    base, attachment_id, signature = url.rsplit("/", 2)
    expires, own_viewer, mac = signature.split(".")
    return [
        f"{base}/{attachment_pk}/{signature}",
        f"{base}/{attachment_pk}/{expires}.{viewer or own_viewer}.{mac}",
        f"{base}/{attachment_id}/{expires}.{viewer or own_viewer}.{mac}",
        f"{base}/{attachment_pk}/garbage",
        f"{base}/{attachment_pk}/{expires}.{own_viewer}.{'A' * 43}",
    ]


async def test_guessed_download_urls_never_serve_an_internal_file(
    fresh: Stack, world: World
) -> None:
    await store_world_files(fresh, world)
    api_file = await internal_file_through_the_api(fresh, world)
    data = await call_ok(fresh, world.customer, FILE_URL, {"id": gid(world.reply_file)})
    url = data["node"]["url"]
    targets = [
        world.note_file.id,
        world.pending_file.id,
        int(base64.b64decode(api_file).split(b":")[1]),
    ]

    async with fresh.client(fresh.token(world.customer.user_id)) as client:
        for target in targets:
            for guess in _mangled(url, target, viewer=f"m{world.agent.id}"):
                if guess == url:
                    continue
                for method, headers in (("GET", {}), ("HEAD", {}), ("GET", {"Range": "bytes=0-"})):
                    response = await client.request(method, guess, headers=headers)
                    assert response.status_code == 404, (guess, response.status_code)
                    assert_bytes_clean(response.content)


async def test_live_events_never_carry_an_internal_file(
    fresh: Stack, world: World, ws_url: str
) -> None:
    hub = await no_subscribers(fresh)
    async with GraphQLWebSocket.connect(ws_url, fresh.token(world.customer.user_id)) as customer:
        await customer.subscribe(EVENTS)
        await wait_until(lambda: hub.subscriber_count == 1)

        await internal_file_through_the_api(fresh, world)
        await set_status(fresh, world, "WAITING_ON_CUSTOMER")  # the sentinel

        received = await events_until_sentinel(customer, "waiting_on_customer")

    assert_clean(received)
    for secret in FILE_SECRETS:
        assert secret not in json.dumps(received)
    assert [e["kind"] for e in received] == ["UPDATED"]
