"""Random sequences of operations by random identities keep the invariants of DESIGN §4-5.

Hypothesis draws a whole list of operations (`strategies.operations`); the async test runs them
in order against the real app, on a world seeded afresh for every example, and after every step
checks:

(a) history: a successful mutation wrote exactly one history row per changed field (plus one per
    new response, one `created` per new ticket), with the right actor, old and new values, and
    touched only tickets it named; a refused or read-only request changed nothing at all;
(b) customers never receive internal data: no internal note, metadata or staff-only history in
    any answer to a customer, and what a customer can list or count matches the public rows;
(c) a ticket's version never decreases, and grows by exactly one per request that made a change
    customers can see (staff-only changes leave it and updatedAt alone);
(d) no answer is a 5xx or carries an error whose code is INTERNAL or undocumented.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
from hypothesis import event, example, given, target
from starlette.applications import Starlette

from tests.conftest import Stack
from tests.property.harness import (
    CUSTOMERS,
    META_MARKER,
    NOTE_MARKER,
    Answer,
    HistoryRow,
    Snapshot,
    World,
    app_client,
    assert_no_secrets,
    check_answer,
    encode_operation,
    fresh_world,
    gid,
    pk_of,
    post,
    snapshot,
)
from tests.property.profiles import budget
from tests.property.strategies import Op, Ref, operations

TICKET_SELECTION = """
  id version status priority title tags
  assignee { id } team { id }
  responses(first: 20) { totalCount nodes { id body isInternal } }
  history(first: 20) { totalCount nodes { action field oldValue newValue isInternal } }
"""
USER_ERRORS = "userErrors { field message code }"

DOCUMENTS = {
    "createTicket": f"""
mutation Op($input: CreateTicketInput!) {{
  createTicket(input: $input) {{ ticket {{ {TICKET_SELECTION} }} {USER_ERRORS} }}
}}""",
    "updateTicket": f"""
mutation Op($input: UpdateTicketInput!) {{
  updateTicket(input: $input) {{ ticket {{ {TICKET_SELECTION} }} {USER_ERRORS} }}
}}""",
    "addResponse": f"""
mutation Op($input: AddResponseInput!) {{
  addResponse(input: $input) {{
    ticket {{ {TICKET_SELECTION} }} response {{ id body isInternal }} {USER_ERRORS}
  }}
}}""",
    "assignTicket": f"""
mutation Op($input: AssignTicketInput!) {{
  assignTicket(input: $input) {{ ticket {{ {TICKET_SELECTION} }} {USER_ERRORS} }}
}}""",
    "bulkUpdateTickets": f"""
mutation Op($input: BulkUpdateTicketsInput!) {{
  bulkUpdateTickets(input: $input) {{
    tickets {{ {TICKET_SELECTION} }}
    results {{ ticketId ticket {{ id version }} {USER_ERRORS} }}
    {USER_ERRORS}
  }}
}}""",
    "view": f"""
query Op($id: ID!, $search: String!) {{
  ticket(id: $id) {{ {TICKET_SELECTION} metadata }}
  tickets(first: 50, filter: {{ search: $search }}) {{ totalCount nodes {{ id }} }}
  ticketStats {{ total open }}
}}""",
}

# History field name -> ticket column, for the fields whose changes are recorded.
RECORDED_FIELDS = {
    "title": "title",
    "description": "description",
    "status": "status",
    "priority": "priority",
    "team": "team_id",
    "tags": "tags",
    "metadata": "metadata_",
    "assignee": "assignee_id",
}
JSON_FIELDS = frozenset({"tags", "metadata"})


# --- rendering an operation ----------------------------------------------------------------


def resolve(value: Any, world: World, before: Snapshot, ticket_pk: int | None, actor: str) -> Any:
    if isinstance(value, Ref):
        if value.kind in ("ticket", "own_ticket"):
            pk = ticket_pk_of(value, world, before, actor)
            return gid("Ticket", pk) if pk else world.ticket_gid(value.key)  # type: ignore[arg-type]
        if value.kind == "team":
            return world.team_gid(value.key)
        if value.kind == "member":
            return world.member_gid(value.key, actor)
        if value.kind == "customer":
            return world.customer_gid(value.key)
        if value.kind == "org":
            return world.org_gid(value.key)
        if value.kind == "version":
            current = before.tickets[ticket_pk]["version"] if ticket_pk in before.tickets else 1
            if value.key == "current":
                return current
            if value.key == "stale":
                return current - 1
            return value.key
        raise AssertionError(value)
    if isinstance(value, list):
        return [resolve(v, world, before, ticket_pk, actor) for v in value]
    if isinstance(value, dict):
        return {k: resolve(v, world, before, ticket_pk, actor) for k, v in value.items()}
    return value


def ticket_pk_of(ref: Ref, world: World, before: Snapshot, actor: str) -> int | None:
    """The ticket a reference names, if it names an existing one."""
    if ref.kind == "own_ticket":
        assert isinstance(ref.key, int)
        visible = sorted(
            pk
            for pk, t in before.tickets.items()
            if t["customer_id"] == world.customers.get(actor)
            or t["organization_id"] == world.staff_org.get(actor)
        )
        return visible[ref.key % len(visible)] if visible else world.ticket_pk(ref.key)
    return world.ticket_pk(ref.key) if ref.kind == "ticket" else None


def targets(op: Op, world: World, before: Snapshot) -> set[int]:
    """The existing tickets the operation names."""
    refs = op.input.get("ticketIds", [op.input.get("id"), op.input.get("ticketId")])
    return {
        pk
        for ref in refs
        if isinstance(ref, Ref) and (pk := ticket_pk_of(ref, world, before, op.actor))
    }


def render(op: Op, world: World, before: Snapshot) -> tuple[str, dict[str, Any]]:
    named = targets(op, world, before)
    ticket_pk = next(iter(named)) if len(named) == 1 else None
    data = resolve(op.input, world, before, ticket_pk, op.actor)
    if op.action == "view":
        return DOCUMENTS["view"], {"id": data["id"], "search": NOTE_MARKER}
    return DOCUMENTS[op.action], {"input": data}


# --- the oracle ----------------------------------------------------------------------------


def as_text(value: Any) -> str | None:
    """A column value as history records it (enum values, ids as digits, JSON compact)."""
    if value is None:
        return None
    if isinstance(value, list | dict):
        return json.dumps(value, sort_keys=True, separators=(",", ":"))
    return str(value)


def same_value(field: str | None, recorded: str | None, expected: str | None) -> bool:
    if field in JSON_FIELDS and recorded is not None and expected is not None:
        # PostgreSQL's JSONB may spell a number differently (1e16 -> 10000000000000000).
        return bool(json.loads(recorded) == json.loads(expected))
    return recorded == expected


def payload_of(op: Op, answer: Answer) -> dict[str, Any] | None:
    data = (answer.body or {}).get("data") or {}
    payload: dict[str, Any] | None = data.get(op.action)
    return payload


def succeeded(op: Op, answer: Answer) -> bool:
    """The mutation reported success: a payload without userErrors (bulk: none per ticket)."""
    payload = payload_of(op, answer)
    if op.action == "view" or payload is None or payload["userErrors"]:
        return False
    return not any(r["userErrors"] for r in payload.get("results", []))


def outcome(op: Op, answer: Answer) -> str:
    """For the statistics (--hypothesis-show-statistics): ok, or why it was refused."""
    if succeeded(op, answer):
        return "ok"
    payload = payload_of(op, answer) or {}
    errors = payload.get("userErrors", []) + [
        e for r in payload.get("results", []) for e in r["userErrors"]
    ]
    reasons = sorted({str(c) for c in answer.codes} | {f"{e['code']}" for e in errors})
    return "refused " + ",".join(reasons)


def expected_entries(
    pk: int, before: Snapshot, after: Snapshot, new_responses: dict[int, tuple[int, bool, str]]
) -> list[tuple[str, str | None, str | None, str | None, bool]]:
    if pk not in before.tickets:
        return [("created", None, None, None, False)]
    old, new = before.tickets[pk], after.tickets[pk]
    entries = []
    for field, column in RECORDED_FIELDS.items():
        if old[column] != new[column]:
            action = "assigned" if field == "assignee" else "field_changed"
            entries.append(
                (action, field, as_text(old[column]), as_text(new[column]), field == "metadata")
            )
    for response_pk, (ticket_pk, internal, _) in new_responses.items():
        if ticket_pk == pk:
            action = "note_added" if internal else "response_added"
            entries.append((action, "response", None, str(response_pk), internal))
    return entries


def check_step(
    op: Op, world: World, before: Snapshot, after: Snapshot, answer: Answer, ok: bool
) -> set[int]:
    """Invariants (a) and (c) for one step; the tickets it changed."""
    what = f"{op!r}\n--> {answer.text[:3000]}"
    # Nothing is ever deleted or rewritten.
    assert set(before.tickets) <= set(after.tickets), what
    for pk, row in before.responses.items():
        assert after.responses.get(pk) == row, f"response {pk} changed: {what}"
    for pk, history_row in before.history.items():
        assert after.history.get(pk) == history_row, f"history {pk} changed: {what}"
    for pk, ticket in before.tickets.items():
        assert after.tickets[pk]["version"] >= ticket["version"], f"version went down: {what}"

    if not ok:
        assert after == before, f"a refused or read-only request changed the database: {what}"
        return set()

    new_history = {pk: row for pk, row in after.history.items() if pk not in before.history}
    new_responses = {pk: r for pk, r in after.responses.items() if pk not in before.responses}
    new_tickets = set(after.tickets) - set(before.tickets)
    changed = {pk for pk in before.tickets if after.tickets[pk] != before.tickets[pk]}
    written: dict[int, list[HistoryRow]] = {}
    for row in new_history.values():
        written.setdefault(row.ticket_id, []).append(row)
    touched = set(written) | changed | new_tickets | {t for t, _, _ in new_responses.values()}

    # Only what the operation named, and only what the caller may touch.
    if op.action == "createTicket":
        assert touched == new_tickets, f"create touched {touched}: {what}"
        assert len(new_tickets) <= 1, f"one create opened {new_tickets}: {what}"
    else:
        named = targets(op, world, before)
        assert touched <= named, f"touched {touched - named}, not named: {what}"
    for pk in touched:
        ticket = after.tickets[pk]
        if op.actor in CUSTOMERS:
            assert ticket["customer_id"] == world.customers[op.actor], f"not theirs: {what}"
        else:
            assert ticket["organization_id"] == world.staff_org[op.actor], f"other org: {what}"

    actor_row = world.actor_row(op.actor)
    for pk in touched:
        rows = written.get(pk, [])
        assert all(r.actor == actor_row for r in rows), f"wrong actor on history: {rows} {what}"
        recorded = sorted(rows, key=lambda r: (r.action, r.field or ""))
        expected = sorted(
            expected_entries(pk, before, after, new_responses), key=lambda e: (e[0], e[1] or "")
        )
        assert len(recorded) == len(expected), (
            f"ticket {pk}: {len(recorded)} history rows for {len(expected)} changes\n"
            f"recorded={recorded}\nexpected={expected}\n{what}"
        )
        for row, (action, field, old, new, internal) in zip(recorded, expected, strict=True):
            assert (row.action, row.field, row.internal) == (action, field, internal), (
                f"ticket {pk}: history {row} for change {(action, field, old, new)}: {what}"
            )
            differs = f"ticket {pk}: history {row} differs from {old!r} -> {new!r}: {what}"
            assert same_value(field, row.old, old), differs
            assert same_value(field, row.new, new), differs
        if op.actor in CUSTOMERS:
            fields = {r.field for r in rows}
            assert fields <= {None, "status", "response"}, f"customer changed {fields}: {what}"
        # (c) version: 1 for a new ticket; +1 for a request that made a change customers can
        # see (a public history entry); staff-only changes (metadata, internal notes) leave the
        # version and updated_at alone, so that a customer cannot tell they happened.
        version = after.tickets[pk]["version"]
        if pk in new_tickets:
            assert version == 1, what
        else:
            old_row = before.tickets[pk]
            public = any(not r.internal for r in rows)
            assert version == old_row["version"] + (1 if public else 0), (
                f"ticket {pk}: version {old_row['version']} -> {version}: {what}"
            )
            if not public:
                assert after.tickets[pk]["updated_at"] == old_row["updated_at"], (
                    f"ticket {pk}: a staff-only change moved updated_at: {what}"
                )
    # The payload shows the committed tickets.
    payload = payload_of(op, answer) or {}
    shown = payload.get("tickets") or ([payload["ticket"]] if payload.get("ticket") else [])
    for ticket_data in shown:
        pk = pk_of(ticket_data["id"])
        assert ticket_data["version"] == after.tickets[pk]["version"], f"stale payload: {what}"
        assert ticket_data["status"] == after.tickets[pk]["status"].name, f"stale payload: {what}"
    return touched


def check_view(op: Op, world: World, before: Snapshot, answer: Answer) -> None:
    """A read: what the caller may see is there, anything else does not exist for them
    (NOT_FOUND, never FORBIDDEN); a customer's only error is the staff-only `metadata`."""
    if op.action != "view" or op.actor in ("anonymous", "inactive"):
        return
    what = f"{op!r}\n--> {answer.text[:3000]}"
    data = (answer.body or {}).get("data") or {}
    pk = ticket_pk_of(op.input["id"], world, before, op.actor)
    ticket = before.tickets.get(pk) if pk else None
    visible = ticket is not None and (
        ticket["customer_id"] == world.customers.get(op.actor)
        or ticket["organization_id"] == world.staff_org.get(op.actor)
    )
    if not visible:
        assert data.get("ticket") is None, f"a ticket that is not theirs was shown: {what}"
        if ticket is not None:
            assert answer.codes == ["NOT_FOUND"], f"not theirs must be NOT_FOUND: {what}"
        return
    assert data["ticket"]["id"] == gid("Ticket", pk), what
    if op.actor in CUSTOMERS:
        assert data["ticket"]["metadata"] is None, what
        assert answer.codes == ["FORBIDDEN"], what
        assert [e["path"] for e in answer.errors] == [["ticket", "metadata"]], what
        assert data["tickets"]["totalCount"] == 0, f"a customer's search found a note: {what}"
    else:
        assert answer.errors == [], what
        assert data["ticket"]["metadata"] == ticket["metadata_"], what


# --- what customers can see ----------------------------------------------------------------

CUSTOMER_VIEW_PART = """
  t{n}: ticket(id: "{id}") {{
    id version status
    responses(first: 100) {{ totalCount nodes {{ id body isInternal }} }}
    history(first: 100) {{ totalCount nodes {{ action field oldValue newValue isInternal }} }}
  }}
"""


async def check_customer_view(
    db: Stack, client: httpx.AsyncClient, world: World, after: Snapshot, customer: str, pks: list
) -> None:
    """Invariant (b) from the customer's side: their tickets show only public replies and
    public history, counts agree with the public rows, searches and stats find nothing more."""
    customer_pk = world.customers[customer]
    parts = "".join(
        CUSTOMER_VIEW_PART.format(n=n, id=gid("Ticket", pk)) for n, pk in enumerate(pks)
    )
    document = f"""query View($note: String!, $meta: String!) {{
      {parts}
      notes: tickets(first: 10, filter: {{ search: $note }}) {{ totalCount nodes {{ id }} }}
      meta: tickets(first: 10, filter: {{ search: $meta }}) {{ totalCount nodes {{ id }} }}
      ticketStats {{ total }}
    }}"""
    response = await post(
        client,
        encode_operation(document, {"note": NOTE_MARKER, "meta": META_MARKER}),
        token=world.token(db, customer),
    )
    answer = check_answer(response, what=f"customer view of {customer}")
    assert_no_secrets(answer, what=f"customer view of {customer}")
    assert answer.errors == [], answer.text
    data = (answer.body or {})["data"]
    assert data["notes"]["totalCount"] == 0, f"search found an internal note: {answer.text}"
    assert data["meta"]["totalCount"] == 0, f"search found metadata: {answer.text}"
    own = [t for t in after.tickets.values() if t["customer_id"] == customer_pk]
    assert data["ticketStats"]["total"] == len(own), answer.text
    for n, pk in enumerate(pks):
        shown = data[f"t{n}"]
        public = [r for r in after.responses.values() if r[0] == pk and not r[1]]
        public_history = [h for h in after.history.values() if h.ticket_id == pk and not h.internal]
        assert shown["version"] == after.tickets[pk]["version"], answer.text
        assert shown["responses"]["totalCount"] == len(public), answer.text
        assert sorted(r["body"] for r in shown["responses"]["nodes"]) == sorted(
            r[2] for r in public
        ), answer.text
        assert shown["history"]["totalCount"] == len(public_history), answer.text
        assert len(shown["history"]["nodes"]) == len(public_history), answer.text


# --- the property --------------------------------------------------------------------------


def _role(actor: str) -> str:
    return "customer" if actor in CUSTOMERS else actor.removeprefix("other_").rstrip("2")


async def run_sequence(db: Stack, app: Starlette, ops: list[Op]) -> None:
    world = await fresh_world(db)
    async with app_client(app) as client:
        writes = 0
        for step, op in enumerate(ops):
            before = await snapshot(db)
            document, variables = render(op, world, before)
            response = await post(
                client, encode_operation(document, variables), token=world.token(db, op.actor)
            )
            what = f"step {step}: {op!r}\nvariables={variables!r}"
            answer = check_answer(response, what=what)  # (d)
            if op.actor in CUSTOMERS:
                assert_no_secrets(answer, what=what)  # (b)
            ok = succeeded(op, answer)
            if ok:
                assert answer.errors == [], f"a successful write reported errors: {what}"
            event(f"{op.action} by {_role(op.actor)}: {outcome(op, answer)}")
            writes += ok
            after = await snapshot(db)
            touched = check_step(op, world, before, after, answer, ok)  # (a), (c)
            check_view(op, world, before, answer)  # (b), and NOT_FOUND for what is not theirs
            world.tickets += sorted(set(after.tickets) - set(before.tickets))
            # (b) from the owners' side, for every ticket the step changed.
            owners: dict[str, list[int]] = {}
            for pk in sorted(touched):
                owners.setdefault(world.customer_of(after.tickets[pk]["customer_id"]), []).append(
                    pk
                )
            for customer, pks in owners.items():
                await check_customer_view(db, client, world, after, customer, pks)
        target(writes, label="successful writes")


@budget(20)
@given(ops=operations)
@example(
    ops=[
        Op(
            "agent",
            "addResponse",
            {"ticketId": Ref("ticket", 0), "body": f"{NOTE_MARKER} n", "internal": True},
        ),
        Op("admin", "updateTicket", {"id": Ref("ticket", 0), "metadata": {"secret": META_MARKER}}),
        Op("customer1", "updateTicket", {"id": Ref("ticket", 0), "status": "CLOSED"}),
        Op("customer1", "view", {"id": Ref("ticket", 0)}),
    ]
)
# Regression (found by this property on PostgreSQL, fixed in 52b68ef): metadata floats beyond
# 2**53 passed validation, JSONB stored them as numerics that came back as (inexact) integers,
# so history recorded another value than the one stored; past 2**63 every read of the ticket's
# metadata was an HTTP 500 (orjson cannot encode the integer). SQLite kept the float.
@example(
    ops=[
        Op(
            "agent",
            "updateTicket",
            {"id": Ref("ticket", 0), "metadata": {"": 3.130762008731519e16, "secret": META_MARKER}},
        ),
    ]
)
@example(
    ops=[
        Op("agent", "updateTicket", {"id": Ref("ticket", 0), "metadata": {"x": 1e20}}),
        Op("agent", "view", {"id": Ref("ticket", 0)}),
    ]
)
async def test_operation_sequences_keep_the_invariants(
    db: Stack, app: Starlette, ops: list[Op]
) -> None:
    await run_sequence(db, app, ops)
