"""A plan reaches rows only through the readable-statement builders of permissions/: without
one, or with one that filters nothing, there is no plan (the reference path answers)."""

from __future__ import annotations

import pytest
from graphql import parse
from sqlalchemy import select

from bench.run import W1
from models import TicketResponse
from permissions.actor import ActorKind
from resolvers.compiled import sql
from resolvers.compiled.plan import NotCompilable, TicketArgs
from schema import schema
from schema.compiled import build_plan, coerce_variables, resolve_slots
from tests.graphql import global_id


def _w1_statement(kind: ActorKind) -> sql.CompiledStatement:
    plan = build_plan(schema._schema, parse(W1), None, kind)
    args = resolve_slots(
        schema._schema,
        plan,
        coerce_variables(schema._schema, plan.operation, {"id": global_id("Ticket", 7)}),
    )
    assert args[0] == TicketArgs(7)
    return sql.compile_plan(kind, plan.root, args)


def test_every_table_a_plan_reads_comes_with_its_visibility_predicate() -> None:
    statement = _w1_statement(ActorKind.CUSTOMER)
    # Tickets by their customer (the actor), responses without internal notes.
    assert "tickets.customer_id = $" in statement.sql
    assert "ticket_responses.is_internal IS false" in statement.sql
    assert "hd_actor_id" in statement.names
    staff = _w1_statement(ActorKind.AGENT)
    assert "tickets.organization_id = $" in staff.sql
    assert "is_internal IS false" not in staff.sql


def test_no_plan_without_a_readable_builder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sql.SOURCES, "Response")
    with pytest.raises(NotCompilable, match="no readable-statement builder for Response"):
        _w1_statement(ActorKind.AGENT)


def test_no_plan_from_a_builder_without_a_predicate(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sql.SOURCES, "Response", lambda actor: select(TicketResponse))
    with pytest.raises(NotCompilable, match="no visibility predicate"):
        _w1_statement(ActorKind.CUSTOMER)


def test_fields_refused_to_a_whole_kind_are_left_to_the_reference() -> None:
    document = parse("query($id: ID!) { ticket(id: $id) { metadata } }")
    with pytest.raises(NotCompilable, match=r"Ticket\.metadata"):
        build_plan(schema._schema, document, None, ActorKind.CUSTOMER)
    assert build_plan(schema._schema, document, None, ActorKind.AGENT).slots
