"""Render a compiled plan as one SQL statement that builds the whole `data` object as JSON.

Every row comes from a readable-statement builder of `permissions/` (`SOURCES`), wrapped as a
derived table: a plan has no way to name a bare table, so a visibility predicate cannot be left
out. Objects are `json_build_object`, to-one relations and connections correlated scalar
subqueries, pages windows with a literal LIMIT (size + 1: the extra row says more exist).

Wherever the answer could differ from the reference path (a row the reference would find but a
builder hides, a staff-only field this row does not allow, a missing ticket, which the
reference reports as an error), the statement calls `pg_temp.hd_fallback`, which raises
FALLBACK_SQLSTATE, and the request is answered by the reference path instead.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    ColumnElement,
    Select,
    String,
    Text,
    bindparam,
    case,
    func,
    literal_column,
    null,
    select,
)
from sqlalchemy import Enum as SAEnum
from sqlalchemy.dialects.postgresql import asyncpg as pg_asyncpg
from sqlalchemy.sql.selectable import Subquery

from permissions.actor import Actor, ActorKind
from permissions.people import (
    readable_customers,
    readable_members,
    readable_organizations,
    readable_teams,
    related_members,
    related_teams,
)
from permissions.ticket import readable_responses, readable_tickets
from resolvers.compiled.blocks import (
    ACTOR_ID,
    FALLBACK_SQLSTATE,
    ORGANIZATION_ID,
    fallback,
    global_id,
    iso,
    json_object,
    symbolic_actor,
    text_literal,
)
from resolvers.compiled.pages import Pages
from resolvers.compiled.plan import (
    FieldPlan,
    NodeArgs,
    NotCompilable,
    PageArgs,
    Selection,
    SlotArgs,
    TicketArgs,
    TicketPageArgs,
)
from resolvers.ticket import (
    RESPONSE_ORDER,
    TicketOrder,
    filtered_readable_tickets,
    ticket_sort_key,
)

__all__ = [
    "FALLBACK_SQLSTATE",
    "SOURCES",
    "TICKET_ORDER",
    "CompiledStatement",
    "compile_plan",
    "filter_parameter",
    "parameters",
    "supports",
]

TICKET_ORDER = ticket_sort_key(TicketOrder())
# The parameters `parameters()` (and a compiled write) fill per request; every other bind is a
# constant.
_REQUEST_PARAMETER = re.compile(r"hd_actor_id|hd_organization_id|s\d+_[a-z0-9_]+|w_[a-z_]+")


def filter_parameter(slot: int, name: str) -> str:
    """The parameter of a value `tickets(filter:)` compares with (see resolvers.ticket.Binder)."""
    return f"s{slot}_f_{name}"


def _parameter_type(column_type: Any) -> Any:
    """What a filter value is bound as: enums by their value."""
    if isinstance(column_type, SAEnum):
        return String()
    return column_type


# The only way a plan reaches rows: one builder per type, each taking the actor.
Builder = Callable[[Actor], Select[Any]]
SOURCES: dict[str, Builder] = {
    "Ticket": readable_tickets,
    "Response": readable_responses,
    "Customer": readable_customers,
    "TeamMember": related_members,
    "Team": related_teams,
    "Organization": readable_organizations,
}

# Objects asked for by id (`node`, `me`) are found as the directory finds them (resolvers/
# directory.py, schema/node.py): staff-only people and teams are not customers' to look up.
ROOT_SOURCES: dict[str, Builder] = {
    **SOURCES,
    "TeamMember": readable_members,
    "Team": readable_teams,
}


def _column(name: str) -> Callable[[Renderer, FieldPlan, Subquery], ColumnElement[Any]]:
    return lambda r, f, row: row.c[name]


def _upper(name: str) -> Callable[[Renderer, FieldPlan, Subquery], ColumnElement[Any]]:
    return lambda r, f, row: func.upper(row.c[name])


def _iso(name: str) -> Callable[[Renderer, FieldPlan, Subquery], ColumnElement[Any]]:
    return lambda r, f, row: iso(row.c[name])


def _id(type_name: str) -> Callable[[Renderer, FieldPlan, Subquery], ColumnElement[Any]]:
    return lambda r, f, row: global_id(type_name, row.c.id)


def _one(
    type_name: str, column: str, required: bool = False
) -> Callable[[Renderer, FieldPlan, Subquery], ColumnElement[Any]]:
    return lambda r, f, row: r.to_one(type_name, f, row, column, required)


FieldRenderer = Callable[["Renderer", FieldPlan, Subquery], ColumnElement[Any]]
_PAGE_INFO = frozenset({"hasNextPage", "hasPreviousPage", "startCursor", "endCursor"})
_CONNECTION = frozenset({"edges", "nodes", "pageInfo", "totalCount"})

FIELDS: dict[str, dict[str, FieldRenderer]] = {
    "Ticket": {
        "id": _id("Ticket"),
        "number": _column("number"),
        "title": _column("title"),
        "description": _column("description"),
        "status": _upper("status"),
        "priority": _upper("priority"),
        "tags": _column("tags"),
        "version": _column("version"),
        "createdAt": _iso("created_at"),
        "updatedAt": _iso("updated_at"),
        "firstRespondedAt": _iso("first_responded_at"),
        "resolvedAt": _iso("resolved_at"),
        "closedAt": _iso("closed_at"),
        "metadata": _column("metadata"),
        "organization": _one("Organization", "organization_id", required=True),
        "customer": _one("Customer", "customer_id", required=True),
        "assignee": _one("TeamMember", "assignee_id"),
        "team": _one("Team", "team_id"),
        "responses": lambda r, f, row: r.responses(f, row),
    },
    "Response": {
        "id": _id("Response"),
        "body": _column("body"),
        "isInternal": _column("is_internal"),
        "createdAt": _iso("created_at"),
        "editedAt": _iso("edited_at"),
        "author": lambda r, f, row: r.author(f, row),
    },
    "Customer": {
        "id": _id("Customer"),
        "name": _column("name"),
        "company": _column("company"),
        "avatarUrl": _column("avatar_url"),
        "createdAt": _iso("created_at"),
        "email": lambda r, f, row: r.customer_email(row),
    },
    "TeamMember": {
        "id": _id("TeamMember"),
        "name": _column("name"),
        "role": _upper("role"),
        "avatarUrl": _column("avatar_url"),
        "isActive": _column("is_active"),
        "email": lambda r, f, row: r.member_email(row),
        "team": _one("Team", "team_id"),
        "organization": _one("Organization", "organization_id", required=True),
    },
    "Team": {"id": _id("Team"), "name": _column("name")},
    "Organization": {"id": _id("Organization"), "name": _column("name"), "slug": _column("slug")},
}
# Connections and their parts have no renderer of their own (see Renderer.connection).
STRUCTURE = {
    "TicketConnection": _CONNECTION,
    "ResponseConnection": _CONNECTION,
    "TicketEdge": frozenset({"cursor", "node"}),
    "ResponseEdge": frozenset({"cursor", "node"}),
    "PageInfo": _PAGE_INFO,
    "TicketStats": frozenset(
        {
            "total",
            "open",
            "inProgress",
            "waitingOnCustomer",
            "highPriority",
            "unassigned",
            "byStatus",
            "byPriority",
        }
    ),
    "StatusCount": frozenset({"status", "count"}),
    "PriorityCount": frozenset({"priority", "count"}),
}
QUERY_FIELDS = frozenset({"ticket", "tickets", "node", "me", "ticketStats"})


def supports(type_name: str, field_name: str, kind: ActorKind) -> bool:
    """Whether the compiled path renders this field for this kind of actor. Fields that are
    refused to the whole kind (a customer's view of metadata or of a member's email) are the
    reference path's: it answers them with their FORBIDDEN errors."""
    if field_name == "__typename":
        return True
    if kind is ActorKind.CUSTOMER and (type_name, field_name) in (
        ("Ticket", "metadata"),
        ("TeamMember", "email"),
    ):
        return False
    if type_name == "Query":
        return field_name in QUERY_FIELDS
    return field_name in FIELDS.get(type_name, {}) or field_name in STRUCTURE.get(type_name, ())


@dataclass(frozen=True)
class CompiledStatement:
    """One rendered plan: SQL with $1..$n and, per position, the parameter's name and type."""

    sql: str
    names: tuple[str, ...]
    types: tuple[str, ...]
    # Values the renderer fixed (array subscripts, literal comparisons): the same every time.
    constants: dict[str, Any]
    # The session-local function that runs it (resolvers/compiled/run.py), named by its SQL.
    function: str = field(init=False)
    # Its call: the statement's parameters, then the actor's kind, id and organization.
    call: str = field(init=False)

    def __post_init__(self) -> None:
        function, call = session_function("hd", self.sql, len(self.types), "SELECT {}")
        object.__setattr__(self, "function", function)
        object.__setattr__(self, "call", call)


def session_function(prefix: str, text: str, parameters: int, select: str) -> tuple[str, str]:
    """The name of the session-local function that runs `text` (by its digest), and its call
    with the parameters, then the actor's kind, id and organization."""
    function = f"{prefix}_{hashlib.sha256(text.encode()).hexdigest()[:24]}"
    placeholders = ", ".join(f"${i}" for i in range(1, parameters + 4))
    return function, select.format(f"pg_temp.{function}({placeholders})")


class Renderer(Pages):
    def __init__(self, kind: ActorKind, args: Sequence[SlotArgs]) -> None:
        self.kind = kind
        self.actor = symbolic_actor(kind)
        self.args = args
        self._aliases = 0

    def source(self, type_name: str, by_id: bool = False) -> Subquery:
        """The readable rows of a type, as a derived table of its own."""
        builder = (ROOT_SOURCES if by_id else SOURCES).get(type_name)
        if builder is None:
            raise NotCompilable(f"no readable-statement builder for {type_name}")
        return self.checked_source(type_name, builder(self.actor))

    def checked_source(self, type_name: str, statement: Any) -> Subquery:
        if not isinstance(statement, Select) or statement.whereclause is None:
            raise NotCompilable(f"the builder for {type_name} has no visibility predicate")
        self._aliases += 1
        return statement.subquery(f"{type_name.lower()}_{self._aliases}")

    def render(self, root: Selection) -> Select[Any]:
        pairs: list[tuple[str, ColumnElement[Any]]] = []
        for f in root.fields:
            if f.name == "__typename":
                pairs.append((f.key, text_literal("Query")))
            elif f.name == "ticket":
                pairs.append((f.key, self.ticket(f)))
            elif f.name == "tickets":
                pairs.append((f.key, self.tickets(f)))
            elif f.name == "node":
                pairs.append((f.key, self.node(f)))
            elif f.name == "me":
                pairs.append((f.key, self.me(f)))
            elif f.name == "ticketStats":
                assert f.selection is not None
                pairs.append((f.key, self.ticket_stats(f.selection)))
            else:
                raise NotCompilable(f"Query.{f.name}")
        return select(json_object(pairs))

    def obj(self, selection: Selection, row: Subquery) -> ColumnElement[Any]:
        renderers = FIELDS[selection.type_name]
        pairs = [
            (
                f.key,
                text_literal(selection.type_name)
                if f.name == "__typename"
                else renderers[f.name](self, f, row),
            )
            for f in selection.fields
        ]
        return json_object(pairs)

    def to_one(
        self, type_name: str, f: FieldPlan, row: Subquery, column: str, required: bool
    ) -> ColumnElement[Any]:
        assert f.selection is not None
        related = self.source(type_name)
        key = row.c[column]
        # Correlated explicitly: a FROM that is not would silently join every row.
        found = (
            select(self.obj(f.selection, related))
            .where(related.c.id == key)
            .correlate(row)
            .scalar_subquery()
        )
        # Not found by its builder although the row points at it: the reference answers.
        missing = (
            fallback(JSON) if required else case((key.is_(None), null()), else_=fallback(JSON))
        )
        return func.coalesce(found, missing)

    def author(self, f: FieldPlan, row: Subquery) -> ColumnElement[Any]:
        by_type = {s.type_name: s for s in f.union}
        branches = []
        for author_type, type_name in (("customer", "Customer"), ("team_member", "TeamMember")):
            selection = by_type.get(type_name, Selection(type_name, ()))
            related = self.source(type_name)
            found = (
                select(self.obj(selection, related))
                .where(related.c.id == row.c.author_id)
                .correlate(row)
                .scalar_subquery()
            )
            branches.append(
                (
                    row.c.author_type == literal_column(f"'{author_type}'"),
                    func.coalesce(found, fallback(JSON)),
                )
            )
        return case((row.c.author_id.is_(None), null()), *branches, else_=fallback(JSON))

    def customer_email(self, row: Subquery) -> ColumnElement[Any]:
        if self.kind is not ActorKind.CUSTOMER:
            return row.c.email
        # CanSeeCustomerContact: a customer sees their own email only.
        return case((row.c.id == ACTOR_ID, row.c.email), else_=fallback(Text))

    def member_email(self, row: Subquery) -> ColumnElement[Any]:
        # CanSeeMemberContact: staff of the member's organization (customers never compile).
        return case((row.c.organization_id == ORGANIZATION_ID, row.c.email), else_=fallback(Text))

    def ticket(self, f: FieldPlan) -> ColumnElement[Any]:
        assert f.selection is not None
        assert f.slot is not None
        args = self.args[f.slot]
        assert not isinstance(args, PageArgs)
        row = self.source("Ticket")
        ticket_id = bindparam(f"s{f.slot}_ticket_id", type_=BigInteger)
        found = select(self.obj(f.selection, row)).where(row.c.id == ticket_id).scalar_subquery()
        # Not found is an error on the reference path (NOT_FOUND at its path).
        return func.coalesce(found, fallback(JSON))

    def by_id(self, type_name: str, selection: Selection, row_id: Any) -> ColumnElement[Any]:
        row = self.source(type_name, by_id=True)
        found = select(self.obj(selection, row)).where(row.c.id == row_id).scalar_subquery()
        # Not found is an error on the reference path (NOT_FOUND, or UNAUTHENTICATED for a
        # `me` whose row is gone).
        return func.coalesce(found, fallback(JSON))

    def node(self, f: FieldPlan) -> ColumnElement[Any]:
        assert f.slot is not None
        args = self.args[f.slot]
        assert isinstance(args, NodeArgs)
        selection = next((s for s in f.union if s.type_name == args.type_name), None)
        if selection is None:
            raise NotCompilable(f"node of type {args.type_name}")
        return self.by_id(
            args.type_name, selection, bindparam(f"s{f.slot}_node_id", type_=BigInteger)
        )

    def me(self, f: FieldPlan) -> ColumnElement[Any]:
        type_name = "Customer" if self.kind is ActorKind.CUSTOMER else "TeamMember"
        selection = next((s for s in f.union if s.type_name == type_name), None)
        return self.by_id(type_name, selection or Selection(type_name, ()), ACTOR_ID)

    def tickets(self, f: FieldPlan) -> ColumnElement[Any]:
        assert f.slot is not None
        args = self.args[f.slot]
        assert isinstance(args, TicketPageArgs)
        slot = f.slot

        def bind(name: str, value: Any, column: Any) -> Any:
            return bindparam(filter_parameter(slot, name), type_=_parameter_type(column.type))

        key = ticket_sort_key(args.order, args.pinned, bind)

        def source() -> Subquery:
            # resolvers.ticket.list_tickets' statement: readable_tickets narrowed by the filter,
            # with the order's sort value (and pin) as columns of their own.
            statement = filtered_readable_tickets(True, self.actor, args.filters, bind)
            sort = [key.expression.label("hd_sort")]
            if key.pin is not None:
                sort.append(key.pin.label("hd_pin"))
            return self.checked_source("Ticket", statement.add_columns(*sort))

        return self.connection(f, "Ticket", key, None, None, source)

    def responses(self, f: FieldPlan, ticket: Subquery) -> ColumnElement[Any]:
        return self.connection(f, "Response", RESPONSE_ORDER, ticket, "ticket_id")


def compile_plan(kind: ActorKind, root: Selection, args: Sequence[SlotArgs]) -> CompiledStatement:
    statement = Renderer(kind, args).render(root)
    compiled = statement.compile(dialect=pg_asyncpg.dialect())  # type: ignore[no-untyped-call]
    names, types = positional_parameters(compiled)
    return CompiledStatement(compiled.string, names, types, request_constants(compiled.params))


def positional_parameters(compiled: Any) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """A compiled statement's parameters in $1..$n order, and their PostgreSQL types."""
    names = tuple(compiled.positiontup or ())
    by_name = {compiled.bind_names[b]: b for b in compiled.binds.values()}
    type_of = compiled.dialect.type_compiler_instance.process
    return names, tuple(type_of(by_name[name].type) for name in names)


def request_constants(params: dict[str, Any]) -> dict[str, Any]:
    """Of a compiled statement's parameters, those the renderer fixed (not filled per request)."""
    return {name: value for name, value in params.items() if not _REQUEST_PARAMETER.fullmatch(name)}


def parameters(kind: ActorKind, actor: Actor, args: Sequence[SlotArgs]) -> dict[str, Any]:
    """The values of a compiled statement's parameters for this request."""
    values: dict[str, Any] = {"hd_actor_id": actor.id, "hd_organization_id": actor.organization_id}
    for slot, arg in enumerate(args):
        if isinstance(arg, PageArgs):
            for which, bound in (("after", arg.after), ("before", arg.before)):
                if bound is not None:
                    values[f"s{slot}_{which}_value"], values[f"s{slot}_{which}_id"] = bound
        if isinstance(arg, TicketPageArgs):
            values.update(arg.values)
            for which, pin in (("after", arg.after_pin), ("before", arg.before_pin)):
                if pin is not None:
                    values[f"s{slot}_{which}_pin"] = pin
        elif isinstance(arg, TicketArgs):
            values[f"s{slot}_ticket_id"] = arg.ticket_id
        elif isinstance(arg, NodeArgs):
            values[f"s{slot}_node_id"] = arg.row_id
    return values
