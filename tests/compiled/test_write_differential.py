"""Compiled writes (schema/compiled_writes.py) against the reference use cases, as every identity.

Each case makes two identical tickets ("twins"), sends the mutation for one to the app, whose
compiled lane writes it (once the document is admitted), and for the other to a variant with
COMPILED_QUERIES=false, whose pipeline runs the reference use case. Then both must agree on
everything a client or subscriber can see: the HTTP answer, the ticket row, its history rows,
its responses, and the published event, with the twins' own ids and numbers mapped onto each
other and timestamps reduced to "as before", "null" or "written by this request".
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from starlette.applications import Starlette

from models import Priority, Status, Ticket, TicketHistory, TicketResponse
from schema.compiled import outcomes
from server.view import Resources
from subscriptions.events import TicketEventEnvelope
from tests.compiled.conftest import normalized
from tests.conftest import Stack, clear_tables
from tests.factories import add_response, create_ticket
from tests.graphql import global_id
from tests.security.world import IDENTITIES, World, build_world

EARLIER = dt.datetime(2026, 3, 1, 8, 30, 15, 123456, tzinfo=dt.UTC)
STATUSES = [s.value.upper() for s in Status]
PRIORITIES = [p.value.upper() for p in Priority]
_ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?\+00:00$")

UPDATES = [
    """mutation Update($id: ID!, $status: TicketStatus, $priority: TicketPriority,
                      $expected: Int) {
      updateTicket(input: {id: $id, status: $status, priority: $priority,
                           expectedVersion: $expected}) {
        ticket { id number status priority version updatedAt resolvedAt closedAt
                 firstRespondedAt }
        userErrors { field message code }
      }
    }""",
    """mutation ($id: ID!, $status: TicketStatus) {
      changed: updateTicket(input: {id: $id, status: $status}) {
        __typename
        userErrors { code }
        ticket { __typename status ...Seen
                 responses(last: 2) { totalCount nodes { body isInternal } } }
      }
    }
    fragment Seen on Ticket { version customer { name } assignee { name } team { name } }""",
]
REPLIES = [
    """mutation Reply($id: ID!, $body: String!, $internal: Boolean) {
      addResponse(input: {ticketId: $id, body: $body, internal: $internal}) {
        response { id body isInternal createdAt
                   author { __typename ... on TeamMember { name } ... on Customer { name } } }
        ticket { id status version updatedAt firstRespondedAt resolvedAt closedAt }
        userErrors { field message code }
      }
    }""",
    """mutation Reply($id: ID!, $body: String!) {
      addResponse(input: {ticketId: $id, body: $body}) {
        userErrors { code } __typename response { id } ticket { status responses { totalCount } }
      }
    }""",
]


@dataclass
class Writes:
    stack: Stack
    reference: Starlette
    world: World
    tokens: dict[str, str | None]
    published: list[TicketEventEnvelope]
    admitted: set[tuple[str, str]] = field(default_factory=set)
    written: int = 0


@pytest.fixture(scope="module")
async def writes(stack: Stack) -> AsyncIterator[Writes]:
    async with stack.sessionmaker() as session:
        world = await build_world(session)
    tokens = {}
    for identity in IDENTITIES:
        person = world.person(identity)
        tokens[identity] = None if person is None else stack.token(person.user_id)
    published: list[TicketEventEnvelope] = []
    original = Resources.publish

    async def publish(self: Resources, events: Any) -> None:
        published.extend(e for e in events if isinstance(e, TicketEventEnvelope))
        await original(self, events)

    Resources.publish = publish  # type: ignore[method-assign]
    try:
        async with stack.variant(compiled_queries=False) as reference:
            yield Writes(stack, reference, world, tokens, published)
    finally:
        Resources.publish = original  # type: ignore[method-assign]
    await clear_tables(stack.engine)


@dataclass(frozen=True)
class Start:
    """The twins' state before the write."""

    status: Status
    priority: Priority = Priority.MEDIUM
    responded: bool = False
    resolved: bool = False
    assigned: bool = False


async def _twins(writes: Writes, start: Start) -> tuple[Ticket, Ticket]:
    world = writes.world
    async with writes.stack.sessionmaker() as session:
        made = []
        for _ in range(2):
            ticket = await create_ticket(
                session,
                world.org,
                world.customer,
                title="Twin",
                status=start.status,
                priority=start.priority,
                team_id=world.team.id,
                assignee_id=world.agent.id if start.assigned else None,
                version=3,
                created_at=EARLIER,
                updated_at=EARLIER,
                first_responded_at=EARLIER if start.responded else None,
                resolved_at=EARLIER if start.resolved else None,
                closed_at=EARLIER if start.status is Status.CLOSED else None,
            )
            reply = await add_response(session, ticket, world.customer, "First words")
            reply.created_at = EARLIER
            made.append(ticket)
        await session.commit()
    return made[0], made[1]


def _when(value: Any, since: dt.datetime) -> Any:
    """A timestamp as what the comparison can hold equal: as before, null, or written now."""
    if isinstance(value, str) and _ISO.match(value):
        value = dt.datetime.fromisoformat(value)
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        if value == EARLIER:
            return "earlier"
        assert value >= since - dt.timedelta(seconds=1), value
        return "written"
    return value


# Where an int is one of the twin's own ids (or its number), not a version or a count.
ID_KEYS = frozenset({"number", "ids", "ticket", "cursor", "history", "response"})


def _mapped(value: Any, ids: dict[Any, Any], since: dt.datetime, key: str | None = None) -> Any:
    """`value` with the reference twin's ids replaced by the compiled twin's."""
    if isinstance(value, dict):
        return {k: _mapped(v, ids, since, k) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_mapped(v, ids, since, key) for v in value]
    if isinstance(value, str) and value in ids:
        return ids[value]
    if isinstance(value, str) and "#" in value:
        # Messages name the ticket by its number.
        for number in re.findall(r"#(\d+)", value):
            value = value.replace(f"#{number}", f"#{ids.get(int(number), number)}")
    if isinstance(value, int) and not isinstance(value, bool) and key in ID_KEYS:
        return ids.get(value, value)
    return _when(value, since)


async def _state(writes: Writes, ticket_id: int) -> dict[str, Any]:
    async with writes.stack.sessionmaker() as session:
        ticket = await session.get(Ticket, ticket_id)
        assert ticket is not None
        history = list(
            await session.scalars(
                select(TicketHistory)
                .where(TicketHistory.ticket_id == ticket_id)
                .order_by(TicketHistory.id)
            )
        )
        responses = list(
            await session.scalars(
                select(TicketResponse)
                .where(TicketResponse.ticket_id == ticket_id)
                .order_by(TicketResponse.id)
            )
        )
    columns = [c.key for c in Ticket.__mapper__.column_attrs]
    return {
        "ticket": {c: getattr(ticket, c) for c in columns if c not in ("id", "number")},
        "history": [
            {
                "ids": h.id,
                "actor": (h.actor_type, h.actor_id),
                "action": h.action,
                "field": h.field_name,
                "old": h.old_value,
                "new": h.new_value,
                "internal": h.is_internal,
                "at": h.created_at,
                "organization": h.organization_id,
            }
            for h in history
        ],
        "responses": [
            {
                "ids": r.id,
                "author": (r.author_type, r.author_id),
                "body": r.body,
                "internal": r.is_internal,
                "at": r.created_at,
                "edited": r.edited_at,
                "key": r.idempotency_key,
            }
            for r in responses
        ],
    }


async def _post(
    writes: Writes, app: Starlette, identity: str, body: dict[str, Any]
) -> httpx.Response:
    async with writes.stack.client(writes.tokens[identity], app=app) as client:
        return await client.post("/graphql", json=body)


async def compare(
    writes: Writes, identity: str, start: Start, query: str, variables: dict[str, Any]
) -> bool:
    """Write on both twins, one per path; both must agree. Whether the compiled write answered."""
    mine, theirs = await _twins(writes, start)
    admission = (query, identity)
    if admission not in writes.admitted:
        # The first request of a document is the pipeline's; it admits it for the lane.
        missing = {**variables, "id": global_id("Ticket", 999_999)}
        await _post(writes, writes.stack.app, identity, {"query": query, "variables": missing})
        writes.admitted.add(admission)
    since = dt.datetime.now(dt.UTC)
    writes.published.clear()
    before = outcomes["write"]
    compiled = await _post(
        writes,
        writes.stack.app,
        identity,
        {"query": query, "variables": {**variables, "id": global_id("Ticket", mine.id)}},
    )
    used = outcomes["write"] > before
    compiled_events = list(writes.published)
    writes.published.clear()
    reference = await _post(
        writes,
        writes.reference,
        identity,
        {"query": query, "variables": {**variables, "id": global_id("Ticket", theirs.id)}},
    )
    reference_events = list(writes.published)
    assert outcomes["write"] == before + used, "the reference variant never compiles"

    ours, others = await _state(writes, mine.id), await _state(writes, theirs.id)
    ids: dict[Any, Any] = {
        global_id("Ticket", theirs.id): global_id("Ticket", mine.id),
        theirs.id: mine.id,
        theirs.number: mine.number,
    }
    for kind, type_name in (("history", "HistoryEntry"), ("responses", "Response")):
        assert len(ours[kind]) == len(others[kind]), (kind, ours[kind], others[kind])
        for a, b in zip(ours[kind], others[kind], strict=True):
            ids[b["ids"]] = a["ids"]
            ids[str(b["ids"])] = str(a["ids"])
            ids[global_id(type_name, b["ids"])] = global_id(type_name, a["ids"])
    assert compiled.status_code == reference.status_code
    answer, expected = normalized(compiled.json()), normalized(reference.json())
    assert _mapped(answer, {}, since) == _mapped(expected, ids, since), (answer, expected)
    assert _mapped(ours, {}, since) == _mapped(others, ids, since)
    assert [_event(e) for e in compiled_events] == [
        _mapped(_event(e), ids, since) for e in reference_events
    ]
    writes.written += used
    if not writes.stack.backend.is_postgres:
        assert not used, "compiled writes are PostgreSQL's"
    return used


def _event(envelope: TicketEventEnvelope) -> dict[str, Any]:
    return {
        "cursor": envelope.cursor,
        "organization": envelope.organization_id,
        "ticket": envelope.ticket_id,
        "customer": envelope.customer_id,
        "kind": envelope.kind,
        "history": list(envelope.history_ids),
        "response": envelope.response_id,
        "internal": envelope.internal,
    }


# --- explicit cases: every transition, as staff and as a customer --------------------------


@pytest.mark.parametrize("identity", ["agent", "customer"])
async def test_every_status_transition_agrees(writes: Writes, identity: str) -> None:
    compiled = 0
    for current in Status:
        for target in Status:
            start = Start(current, resolved=current in (Status.RESOLVED, Status.CLOSED))
            compiled += await compare(
                writes, identity, start, UPDATES[0], {"status": target.value.upper()}
            )
    if writes.stack.backend.is_postgres:
        # Refused transitions are the reference's to answer; allowed ones are compiled.
        assert compiled >= 10, compiled


async def test_a_staff_reply_a_note_and_a_customer_reply_that_reopens_agree(
    writes: Writes,
) -> None:
    cases = [
        ("agent", Start(Status.WAITING_ON_CUSTOMER), {"body": "On it", "internal": False}),
        ("agent", Start(Status.OPEN, responded=True), {"body": "Again", "internal": False}),
        ("admin", Start(Status.OPEN), {"body": "  A note  ", "internal": True}),
        ("customer", Start(Status.RESOLVED, resolved=True), {"body": "Still broken"}),
        ("customer", Start(Status.WAITING_ON_CUSTOMER), {"body": "Here you go"}),
        ("customer", Start(Status.IN_PROGRESS), {"body": "Any news?"}),
    ]
    compiled = [await compare(writes, who, start, REPLIES[0], v) for who, start, v in cases]
    assert all(compiled) == writes.stack.backend.is_postgres, compiled


async def test_refusals_are_the_reference_paths(writes: Writes) -> None:
    """Each of these is refused by the use case: the compiled lane writes nothing for them
    and the pipeline answers with the reference's userErrors."""
    cases = [
        ("customer", Start(Status.OPEN), UPDATES[0], {"priority": "HIGH"}),
        ("customer", Start(Status.CLOSED), UPDATES[0], {"status": "RESOLVED"}),
        ("agent", Start(Status.CLOSED), UPDATES[0], {"status": "RESOLVED"}),
        ("agent", Start(Status.OPEN), UPDATES[0], {"status": "CLOSED", "expected": 2}),
        ("other-agent", Start(Status.OPEN), UPDATES[0], {"status": "CLOSED"}),
        ("other-customer", Start(Status.OPEN), UPDATES[0], {"status": "CLOSED"}),
        ("anonymous", Start(Status.OPEN), UPDATES[0], {"status": "CLOSED"}),
        ("agent", Start(Status.CLOSED), REPLIES[0], {"body": "Hello"}),
        ("agent", Start(Status.OPEN), REPLIES[0], {"body": "   "}),
        ("agent", Start(Status.OPEN), REPLIES[0], {"body": "x" * 20_001}),
        ("agent", Start(Status.OPEN), REPLIES[0], {"body": "NUL \x00 inside"}),
        ("customer", Start(Status.OPEN), REPLIES[0], {"body": "sneaky", "internal": True}),
        ("other-admin", Start(Status.OPEN), REPLIES[0], {"body": "Hello"}),
    ]
    for identity, start, query, variables in cases:
        assert not await compare(writes, identity, start, query, variables), (identity, variables)


async def test_no_change_writes_nothing_on_either_path(writes: Writes) -> None:
    for variables in ({"status": "OPEN"}, {"priority": "MEDIUM"}, {}):
        await compare(writes, "agent", Start(Status.OPEN), UPDATES[0], variables)


# --- generated cases ------------------------------------------------------------------------

starts = st.builds(
    Start,
    status=st.sampled_from(list(Status)),
    priority=st.sampled_from(list(Priority)),
    responded=st.booleans(),
    resolved=st.booleans(),
    assigned=st.booleans(),
)
update_variables = st.fixed_dictionaries(
    {},
    optional={
        "status": st.sampled_from(STATUSES),
        "priority": st.sampled_from(PRIORITIES),
        "expected": st.sampled_from([2, 3, 4]),
    },
)
reply_variables = st.fixed_dictionaries(
    {"body": st.sampled_from(["Thanks", "  spaced out  ", "", "ünïcødé ✓", "x" * 20_001])},
    optional={"internal": st.booleans()},
)
HYPOTHESIS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
    database=None,
)


@HYPOTHESIS
@given(
    identity=st.sampled_from(IDENTITIES),
    start=starts,
    query=st.sampled_from(UPDATES),
    variables=update_variables,
)
async def test_generated_updates_agree(
    writes: Writes, identity: str, start: Start, query: str, variables: dict[str, Any]
) -> None:
    if "$priority" not in query:
        variables = {k: v for k, v in variables.items() if k == "status"}
    await compare(writes, identity, start, query, variables)


@HYPOTHESIS
@given(
    identity=st.sampled_from(IDENTITIES),
    start=starts,
    query=st.sampled_from(REPLIES),
    variables=reply_variables,
)
async def test_generated_replies_agree(
    writes: Writes, identity: str, start: Start, query: str, variables: dict[str, Any]
) -> None:
    if "$internal" not in query:
        variables = {"body": variables["body"]}
    await compare(writes, identity, start, query, variables)


async def test_the_generated_cases_were_mostly_compiled(writes: Writes) -> None:
    """Runs last in this module: the comparisons above must have exercised compiled writes."""
    if writes.stack.backend.is_postgres:
        assert writes.written >= 40, writes.written
    else:
        assert writes.written == 0
