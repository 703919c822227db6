"""Compiled writes: a ticket's status/priority update, or a reply, in one PostgreSQL function.

The reads' design applied to the two hottest mutations. One call of a session-local plpgsql
function (resolvers/compiled/run.py) sets the row-security context, takes the ticket's lock and
its row through `readable_tickets` (so the write can only reach a ticket the actor may read, as
the reference's `get_ticket_for_update` does), changes the row, writes the history rows (and
the response), and renders the payload with the compiled read path's renderer. Called outside
an explicit transaction, the call is its own transaction: when it returns, it has committed.

Only the successful outcome is compiled. Wherever the reference use case would refuse (the
ticket is not found, a stale expectedVersion, a transition the actor may not make, a reply to a
closed ticket) or the payload could differ, the function raises FALLBACK_SQLSTATE: its
transaction rolls back, nothing is written, and the reference path (resolvers/ticket_write.py,
resolvers/responses.py, which stays the reference) answers the request from scratch.

The rules the function applies are passed in from the use cases' own Python: the statuses a
transition may start from (`workflow.can_transition`), the statuses a customer's reply reopens
(`REOPENED_BY_CUSTOMER_REPLY`), the actor's history type, the cleaned body. What stays in SQL
is the arithmetic of the change itself (timestamps, version), which tests/compiled/
test_write_differential.py compares row for row with the reference's.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, Select, bindparam, literal_column, select
from sqlalchemy.dialects.postgresql import asyncpg as pg_asyncpg

from models import Ticket
from permissions.actor import ActorKind
from permissions.ticket import readable_tickets
from resolvers.compiled.blocks import json_object, symbolic_actor, text_literal
from resolvers.compiled.plan import NotCompilable, Selection, SlotArgs
from resolvers.compiled.sql import (
    Renderer,
    positional_parameters,
    request_constants,
    session_function,
)
from resolvers.locks import ticket_lock

UPDATE_TICKET = "updateTicket"
ADD_RESPONSE = "addResponse"
_PLACEHOLDER = re.compile(r"\$(\d+)")

# The parameters each write's function takes besides those of its payload, with their types.
WRITE_PARAMETERS: dict[str, tuple[tuple[str, str], ...]] = {
    UPDATE_TICKET: (
        ("w_ticket_id", "BIGINT"),
        ("w_status", "TEXT"),
        ("w_priority", "TEXT"),
        ("w_expected_version", "INTEGER"),
        ("w_allowed_from", "TEXT[]"),
        ("w_actor_type", "TEXT"),
        ("w_actor_id", "BIGINT"),
    ),
    ADD_RESPONSE: (
        ("w_ticket_id", "BIGINT"),
        ("w_body", "TEXT"),
        ("w_internal", "BOOLEAN"),
        ("w_action", "TEXT"),
        ("w_reopen_from", "TEXT[]"),
        ("w_first_response", "BOOLEAN"),
        ("w_actor_type", "TEXT"),
        ("w_actor_id", "BIGINT"),
    ),
}


@dataclass(frozen=True)
class PayloadField:
    """One key of the mutation's payload: `ticket`, `response`, `userErrors` or
    `__typename`, with the selection of an object field."""

    key: str
    name: str
    selection: Selection | None = None


@dataclass(frozen=True)
class CompiledWrite:
    """One rendered write: its function's body and, per position, the parameter's name and
    type; the call returns (data, history ids, history actions, organization, customer,
    response)."""

    mutation: str
    body: str
    names: tuple[str, ...]
    types: tuple[str, ...]
    constants: dict[str, Any]
    function: str = field(init=False)
    call: str = field(init=False)

    def __post_init__(self) -> None:
        function, call = session_function("hd_w", self.body, len(self.types), "SELECT * FROM {}")
        object.__setattr__(self, "function", function)
        object.__setattr__(self, "call", call)

    @property
    def ddl(self) -> str:
        n = len(self.types)
        arguments = ", ".join([*self.types, "text", "text", "text"])
        return f"""
CREATE OR REPLACE FUNCTION pg_temp.{self.function}({arguments})
RETURNS TABLE(hd_data text, hd_history bigint[], hd_actions text[], hd_organization bigint,
              hd_customer bigint, hd_response bigint)
LANGUAGE plpgsql SET jit = off AS $hd$
#variable_conflict use_column
DECLARE
  v_ticket record;
  v_response bigint;
  v_changed_priority boolean := false;
  v_changed_status boolean := false;
  v_reopen boolean := false;
  v_history bigint[] := '{{}}';
  v_actions text[] := '{{}}';
BEGIN
  PERFORM set_config('helpdesk.actor_kind', ${n + 1}, true),
          set_config('helpdesk.actor_id', ${n + 2}, true),
          set_config('helpdesk.organization_id', ${n + 3}, true);
{self.body}
END $hd$;
"""


class _Parameters:
    """The function's parameters in order; SQL pieces refer to them as $k."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self.types: list[str] = []
        self.constants: dict[str, Any] = {}
        # Parameters the function computes itself (the new response's id): plpgsql variables.
        self.variables = {"w_response_id": "v_response"}

    def ref(self, name: str, type_: str) -> str:
        if name in self.variables:
            return self.variables[name]
        if name not in self.names:
            self.names.append(name)
            self.types.append(type_)
        elif self.types[self.names.index(name)] != type_:
            raise NotCompilable(f"parameter {name} bound as two types")
        return f"${self.names.index(name) + 1}"

    def embed(self, statement: Select[Any]) -> str:
        """A SQLAlchemy statement's SQL, its placeholders renumbered to the function's."""
        compiled = statement.compile(dialect=pg_asyncpg.dialect())  # type: ignore[no-untyped-call]
        names, types = positional_parameters(compiled)
        self.constants.update(request_constants(compiled.params))

        def renumber(match: re.Match[str]) -> str:
            position = int(match.group(1)) - 1
            return self.ref(names[position], types[position])

        return _PLACEHOLDER.sub(renumber, compiled.string)


def _locked_ticket(kind: ActorKind) -> Select[Any]:
    """The ticket the write changes, as `get_ticket_for_update` reads it: through
    `readable_tickets`, its advisory lock taken before its row lock."""
    ticket_id = bindparam("w_ticket_id", type_=BigInteger)
    return (
        readable_tickets(symbolic_actor(kind))
        .where(Ticket.id == ticket_id)
        .add_columns(ticket_lock(Ticket.id).label("hd_lock"))
        .with_for_update(of=Ticket)
    )


def _payload(
    kind: ActorKind, type_name: str, fields: Sequence[PayloadField], args: Sequence[SlotArgs]
) -> Select[Any]:
    renderer = Renderer(kind, args)
    pairs: list[tuple[str, ColumnElement[Any]]] = []
    for f in fields:
        if f.name == "__typename":
            pairs.append((f.key, text_literal(type_name)))
        elif f.name == "userErrors":
            # Only the successful outcome is compiled: it has no userErrors.
            pairs.append((f.key, literal_column("'[]'::json")))
        elif f.name == "ticket" and f.selection is not None:
            row_id = bindparam("w_ticket_id", type_=BigInteger)
            pairs.append((f.key, renderer.by_id("Ticket", f.selection, row_id)))
        elif f.name == "response" and f.selection is not None:
            row_id = bindparam("w_response_id", type_=BigInteger)
            pairs.append((f.key, renderer.by_id("Response", f.selection, row_id)))
        else:
            raise NotCompilable(f"{type_name}.{f.name}")
    return select(json_object(pairs))


_FALLBACK = "PERFORM pg_temp.hd_fallback(NULL::int);"


def _history(p: _Parameters, rows: str) -> str:
    """Insert the change's history rows (VALUES of (ord, keep, action, field, old, new,
    internal)), in order, into v_history / v_actions."""
    return f"""
  WITH written AS (
    INSERT INTO ticket_history (ticket_id, organization_id, actor_type, actor_id, action,
                                field_name, old_value, new_value, is_internal, created_at)
    SELECT v_ticket.id, v_ticket.organization_id, {p.ref("w_actor_type", "TEXT")},
           {p.ref("w_actor_id", "BIGINT")}, e.action, e.field, e.old, e.new, e.internal, now()
    FROM (VALUES {rows}) AS e(ord, keep, action, field, old, new, internal)
    WHERE e.keep ORDER BY e.ord
    RETURNING id, action)
  SELECT coalesce(array_agg(id ORDER BY id), '{{}}'),
         coalesce(array_agg(action ORDER BY id), '{{}}')
    INTO v_history, v_actions FROM written;"""


def _update_body(p: _Parameters, lock: str) -> str:
    status, priority = p.ref("w_status", "TEXT"), p.ref("w_priority", "TEXT")
    expected = p.ref("w_expected_version", "INTEGER")
    allowed_from = p.ref("w_allowed_from", "TEXT[]")
    history = _history(
        p,
        "(1, v_changed_priority, 'field_changed', 'priority', v_ticket.priority::text,"
        f" {priority}, false),"
        f" (2, v_changed_status, 'field_changed', 'status', v_ticket.status::text, {status},"
        " false)",
    )
    return f"""
  SELECT * INTO v_ticket FROM ({lock}) AS locked;
  IF NOT FOUND THEN {_FALLBACK} END IF;
  IF {expected} IS NOT NULL AND {expected} <> v_ticket.version THEN {_FALLBACK} END IF;
  v_changed_priority := {priority} IS NOT NULL AND {priority} <> v_ticket.priority;
  v_changed_status := {status} IS NOT NULL AND {status} <> v_ticket.status;
  IF v_changed_status AND NOT (v_ticket.status = ANY({allowed_from})) THEN {_FALLBACK} END IF;
  IF v_changed_priority OR v_changed_status THEN
    UPDATE tickets SET
      priority = CASE WHEN v_changed_priority THEN {priority} ELSE priority END,
      status = CASE WHEN v_changed_status THEN {status} ELSE status END,
      resolved_at = CASE
        WHEN NOT v_changed_status THEN resolved_at
        WHEN {status} = 'resolved' THEN now()
        WHEN {status} = 'closed' THEN coalesce(resolved_at, now())
        ELSE NULL END,
      closed_at = CASE
        WHEN NOT v_changed_status THEN closed_at
        WHEN {status} = 'closed' THEN now()
        ELSE NULL END,
      version = version + 1,
      updated_at = now()
    WHERE id = v_ticket.id;
{history}
  END IF;"""


def _reply_body(p: _Parameters, lock: str) -> str:
    body, internal = p.ref("w_body", "TEXT"), p.ref("w_internal", "BOOLEAN")
    action, reopen_from = p.ref("w_action", "TEXT"), p.ref("w_reopen_from", "TEXT[]")
    first_response = p.ref("w_first_response", "BOOLEAN")
    author_type, author_id = p.ref("w_actor_type", "TEXT"), p.ref("w_actor_id", "BIGINT")
    history = _history(
        p,
        f"(1, true, {action}, 'response', NULL::text, v_response::text, {internal}),"
        " (2, v_reopen, 'field_changed', 'status', v_ticket.status::text, 'open', false)",
    )
    return f"""
  SELECT * INTO v_ticket FROM ({lock}) AS locked;
  IF NOT FOUND THEN {_FALLBACK} END IF;
  IF NOT {internal} AND v_ticket.status = 'closed' THEN {_FALLBACK} END IF;
  INSERT INTO ticket_responses (ticket_id, author_type, author_id, body, is_internal, created_at)
    VALUES (v_ticket.id, {author_type}, {author_id}, {body}, {internal}, now())
    RETURNING id INTO v_response;
  v_reopen := NOT {internal} AND v_ticket.status = ANY({reopen_from});
  IF NOT {internal} THEN
    UPDATE tickets SET
      version = version + 1,
      updated_at = now(),
      first_responded_at = CASE
        WHEN {first_response} THEN coalesce(first_responded_at, now())
        ELSE first_responded_at END,
      status = CASE WHEN v_reopen THEN 'open' ELSE status END,
      resolved_at = CASE WHEN v_reopen THEN NULL ELSE resolved_at END,
      closed_at = CASE WHEN v_reopen THEN NULL ELSE closed_at END
    WHERE id = v_ticket.id;
  END IF;
{history}"""


def compile_write(
    kind: ActorKind,
    mutation: str,
    payload_type: str,
    payload: Sequence[PayloadField],
    args: Sequence[SlotArgs],
) -> CompiledWrite:
    p = _Parameters()
    for name, type_ in WRITE_PARAMETERS[mutation]:
        p.ref(name, type_)
    lock = p.embed(_locked_ticket(kind))
    if mutation == UPDATE_TICKET:
        body = _update_body(p, lock)
    elif mutation == ADD_RESPONSE:
        body = _reply_body(p, lock)
    else:
        raise NotCompilable(f"Mutation.{mutation}")
    data = p.embed(_payload(kind, payload_type, payload, args))
    body += f"""
  RETURN QUERY SELECT ({data})::text, v_history, v_actions, v_ticket.organization_id,
    v_ticket.customer_id, v_response;"""
    return CompiledWrite(mutation, body, tuple(p.names), tuple(p.types), p.constants)
