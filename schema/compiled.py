"""The compiled read path, schema side: plan a query document, answer it from one SQL statement.

`CompiledReads` runs last among the schema's extensions, after parsing, validation, the query
limits and the cost check. For an HTTP query on PostgreSQL (COMPILED_QUERIES) whose every
selected field has a SQL translation (resolvers/compiled/sql.py), it renders the `data` object
in PostgreSQL and hands the JSON text to the response as an `orjson.Fragment`, so no Python
object is built per row. Anything else, and any request whose answer would carry an error, is
left to Strawberry's execution, the reference path, which then runs as if nothing happened.

Plans are cached per (document, operation name, actor kind); their SQL per page shape (sizes
are literal LIMITs); every value, the actor's ids included, is a bound parameter.
"""

from __future__ import annotations

import functools
import logging
from collections import Counter, OrderedDict
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Generic, Protocol, TypeVar

import orjson
from graphql import (
    DocumentNode,
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLUnionType,
    InlineFragmentNode,
    NamedTypeNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    get_named_type,
    is_abstract_type,
)
from graphql.execution.values import VariableValues, get_argument_values, get_variable_values
from graphql.utilities import get_operation_ast
from starlette.websockets import WebSocket
from strawberry import relay
from strawberry.extensions import SchemaExtension
from strawberry.types.arguments import convert_arguments

from permissions.actor import Actor, ActorKind
from resolvers.compiled import run as compiled_run
from resolvers.compiled.blocks import symbolic_actor
from resolvers.compiled.plan import (
    FieldPlan,
    NoArgs,
    NodeArgs,
    NotCompilable,
    PageArgs,
    Selection,
    SlotArgs,
    TicketArgs,
    TicketPageArgs,
)
from resolvers.compiled.sql import (
    CompiledStatement,
    compile_plan,
    filter_parameter,
    parameters,
    supports,
)
from resolvers.errors import DomainError
from resolvers.pagination import PageRequest, SortKey, decode_cursor
from resolvers.ticket import (
    RESPONSE_ORDER,
    TicketFilter,
    TicketOrder,
    filtered_readable_tickets,
    search_of,
    ticket_sort_key,
)
from schema import ids
from schema.context import Context
from schema.ids import decode_id
from schema.ticket import list_arguments

logger = logging.getLogger("helpdesk.compiled")

PLAN_CACHE_SIZE = 512
STATEMENTS_PER_PLAN = 64
# How requests were answered, for tests and metrics: "compiled", or why they fell back.
outcomes: Counter[str] = Counter()
SLOT_FIELDS = frozenset(
    {
        ("Query", "ticket"),
        ("Query", "tickets"),
        ("Query", "node"),
        ("Query", "ticketStats"),
        ("Ticket", "responses"),
    }
)


@dataclass(frozen=True)
class Slot:
    """A field with arguments, resolved per request."""

    name: str
    definition: GraphQLField
    node: FieldNode


@dataclass
class Plan:
    document: DocumentNode
    operation: OperationDefinitionNode
    root: Selection
    slots: tuple[Slot, ...]
    statements: OrderedDict[tuple[Any, ...], CompiledStatement] = field(default_factory=OrderedDict)
    # Set once the plan has answered a request that passed every check of the schema's
    # pipeline (parsing, validation, limits, cost): its document is known to pass them.
    admitted: bool = False

    def statement(self, kind: ActorKind, args: list[SlotArgs]) -> CompiledStatement:
        return statement_for(self.statements, args, lambda: compile_plan(kind, self.root, args))


S = TypeVar("S")


def statement_for(
    statements: OrderedDict[tuple[Any, ...], S], args: list[SlotArgs], make: Callable[[], S]
) -> S:
    """A plan's statement for these arguments' page shape, made once and kept (LRU)."""
    shape = tuple(arg.shape for arg in args)
    found = statements.get(shape)
    if found is None:
        found = statements[shape] = make()
        if len(statements) > STATEMENTS_PER_PLAN:
            statements.popitem(last=False)
    else:
        statements.move_to_end(shape)
    return found


class _Planner:
    def __init__(self, schema: GraphQLSchema, document: DocumentNode, kind: ActorKind) -> None:
        self.schema = schema
        self.kind = kind
        self.fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        self.slots: list[Slot] = []

    def _applies(self, condition: NamedTypeNode | None, object_type: GraphQLObjectType) -> bool:
        if condition is None:
            return True
        named = self.schema.get_type(condition.name.value)
        if named is object_type:
            return True
        return is_abstract_type(named) and self.schema.is_sub_type(named, object_type)

    def _collect(
        self, object_type: GraphQLObjectType, selection_sets: Iterable[SelectionSetNode]
    ) -> dict[str, list[FieldNode]]:
        grouped: dict[str, list[FieldNode]] = {}

        def visit(selection_set: SelectionSetNode) -> None:
            for selection in selection_set.selections:
                if selection.directives:
                    raise NotCompilable("directives")
                if isinstance(selection, FieldNode):
                    key = (selection.alias or selection.name).value
                    grouped.setdefault(key, []).append(selection)
                elif isinstance(selection, InlineFragmentNode):
                    if self._applies(selection.type_condition, object_type):
                        visit(selection.selection_set)
                elif isinstance(selection, FragmentSpreadNode):
                    fragment = self.fragments[selection.name.value]
                    if fragment.directives:
                        raise NotCompilable("directives")
                    if self._applies(fragment.type_condition, object_type):
                        visit(fragment.selection_set)

        for selection_set in selection_sets:
            visit(selection_set)
        return grouped

    def selection(
        self, object_type: GraphQLObjectType, selection_sets: list[SelectionSetNode]
    ) -> Selection:
        fields: list[FieldPlan] = []
        for key, nodes in self._collect(object_type, selection_sets).items():
            name = nodes[0].name.value
            if not supports(object_type.name, name, self.kind):
                raise NotCompilable(f"{object_type.name}.{name}")
            if name == "__typename":
                fields.append(FieldPlan(key, name))
                continue
            definition = object_type.fields[name]
            slot = None
            if (object_type.name, name) in SLOT_FIELDS:
                slot = len(self.slots)
                self.slots.append(Slot(name, definition, nodes[0]))
            elif nodes[0].arguments:
                raise NotCompilable(f"arguments of {object_type.name}.{name}")
            named = get_named_type(definition.type)
            subsets = [n.selection_set for n in nodes if n.selection_set is not None]
            if name == "node" and object_type is self.schema.query_type:
                fields.append(
                    FieldPlan(key, name, union=self._each_type(named, subsets), slot=slot)
                )
            elif isinstance(named, GraphQLUnionType):
                union = tuple(
                    self.selection(t, subsets) for t in self.schema.get_possible_types(named)
                )
                fields.append(FieldPlan(key, name, union=union, slot=slot))
            elif isinstance(named, GraphQLObjectType):
                fields.append(FieldPlan(key, name, self.selection(named, subsets), slot=slot))
            elif is_abstract_type(named):
                raise NotCompilable(f"interface {named.name}")
            else:
                fields.append(FieldPlan(key, name, slot=slot))
        return Selection(object_type.name, tuple(fields))

    def _each_type(
        self, abstract: Any, selection_sets: list[SelectionSetNode]
    ) -> tuple[Selection, ...]:
        """The selection for each object type `node` may return that the compiled path renders;
        for the others, node(id) of that type is the reference's."""
        selections = []
        for object_type in self.schema.get_possible_types(abstract):
            slots = len(self.slots)
            try:
                selections.append(self.selection(object_type, selection_sets))
            except NotCompilable:
                del self.slots[slots:]
        return tuple(selections)


def build_plan(
    schema: GraphQLSchema, document: DocumentNode, operation_name: str | None, kind: ActorKind
) -> Plan:
    """The plan of one operation for one kind of actor; NotCompilable when it has none."""
    operation = get_operation_ast(document, operation_name)
    if operation is None or operation.operation is not OperationType.QUERY:
        raise NotCompilable("not a query")
    if operation.directives or any(v.directives for v in operation.variable_definitions or ()):
        raise NotCompilable("directives")
    planner = _Planner(schema, document, kind)
    assert schema.query_type is not None
    root = planner.selection(schema.query_type, [operation.selection_set])
    return Plan(document, operation, root, tuple(planner.slots))


def _page(args: dict[str, Any], key: SortKey) -> PageArgs:
    request = PageRequest(
        args.get("first"), args.get("after"), args.get("last"), args.get("before")
    )
    size, backwards = request.size()
    after = decode_cursor(key, request.after)[:2] if request.after else None
    before = decode_cursor(key, request.before)[:2] if request.before else None
    return PageArgs(size, backwards, after, before)


def coerce_variables(
    schema: GraphQLSchema, operation: OperationDefinitionNode, variables: dict[str, Any] | None
) -> VariableValues:
    """The request's variables coerced to the operation's types, defaults filled in."""
    coerced = get_variable_values(schema, operation.variable_definitions or (), variables or {})
    if isinstance(coerced, list):
        raise NotCompilable("variables do not coerce")
    return coerced


@functools.cache
def _list_inputs(schema: GraphQLSchema) -> tuple[Any, list[Any]]:
    """The Strawberry schema, and the `filter` and `orderBy` arguments of `Query.tickets`."""
    strawberry_schema = schema._strawberry_schema  # type: ignore[attr-defined]
    query = strawberry_schema.get_type_by_name("Query")
    field = next(f for f in query.fields if f.python_name == "tickets")
    inputs = [a for a in field.arguments if a.python_name in ("filter", "order_by")]
    return strawberry_schema, inputs


@functools.cache
def _order_key(order: TicketOrder) -> SortKey:
    return ticket_sort_key(order)


def _list_arguments(
    schema: GraphQLSchema, args: dict[str, Any]
) -> tuple[TicketFilter, TicketOrder]:
    if args.get("filter") is None and args.get("orderBy") is None:
        return TicketFilter(), TicketOrder()
    strawberry_schema, inputs = _list_inputs(schema)
    try:
        # The input objects as Strawberry hands them to the resolver.
        converted = convert_arguments(
            {k: args.get(k) for k in ("filter", "orderBy")},
            inputs,
            scalar_registry=strawberry_schema.schema_converter.scalar_registry,
            config=strawberry_schema.config,
        )
    except Exception:  # a malformed id, say: Strawberry reports it its own way
        raise NotCompilable("filter arguments do not convert") from None
    return list_arguments(converted["filter"], converted["order_by"])


def _ticket_page(schema: GraphQLSchema, args: dict[str, Any], slot: int) -> TicketPageArgs:
    """`tickets` as its resolver reads it (schema.ticket.list_arguments, list_tickets), and the
    values its filter and order bind, under the names the renderer gives them."""
    filters, order = _list_arguments(schema, args)
    search = search_of(filters)
    pinned = frozenset(search.numbers) if search is not None else frozenset()
    key = ticket_sort_key(order, pinned) if pinned else _order_key(order)
    request = PageRequest(
        args.get("first"), args.get("after"), args.get("last"), args.get("before")
    )
    size, backwards = request.size()
    after = decode_cursor(key, request.after) if request.after else None
    before = decode_cursor(key, request.before) if request.before else None
    values: dict[str, Any] = {}

    def collect(name: str, value: Any, column: Any) -> Any:
        values[filter_parameter(slot, name)] = value.value if isinstance(value, Enum) else value
        return value

    if filters != TicketFilter():
        filtered_readable_tickets(True, symbolic_actor(ActorKind.AGENT), filters, collect)
    if pinned:
        ticket_sort_key(order, pinned, collect)
    return TicketPageArgs(
        size,
        backwards,
        None if after is None else after[:2],
        None if before is None else before[:2],
        filters=filters,
        order=order,
        pinned=pinned,
        after_pin=None if after is None else after[2],
        before_pin=None if before is None else before[2],
        values=values,
        filter_shape=(filters.assignee, order.field, order.descending),
    )


def resolve_slots(schema: GraphQLSchema, plan: Plan, coerced: Any) -> list[SlotArgs]:
    """The arguments of this request, checked the way the resolvers check them; anything they
    would refuse (NotCompilable, a GraphQLError or a DomainError) is the reference's to answer."""
    resolved: list[SlotArgs] = []
    for slot in plan.slots:
        args = get_argument_values(slot.definition, slot.node, coerced)
        if slot.name == "ticket":
            try:
                global_id = relay.GlobalID.from_id(args["id"])
            except Exception:
                raise NotCompilable("malformed id") from None
            resolved.append(TicketArgs(decode_id(global_id, "Ticket")))
        elif slot.name == "tickets":
            resolved.append(_ticket_page(schema, args, len(resolved)))
        elif slot.name == "node":
            global_id = _global_id(args["id"])
            row_id = ids.row_id(global_id.node_id)
            if row_id is None:
                raise NotCompilable("no row id")
            resolved.append(NodeArgs(global_id.type_name, row_id))
        elif slot.name == "ticketStats":
            if args.get("filter") is not None:
                raise NotCompilable("ticket filters")
            resolved.append(NoArgs())
        else:
            resolved.append(_page(args, RESPONSE_ORDER))
    return resolved


def _global_id(value: Any) -> relay.GlobalID:
    try:
        return relay.GlobalID.from_id(value)
    except Exception:  # Strawberry reports a malformed id its own way
        raise NotCompilable("malformed id") from None


class _Admittable(Protocol):
    admitted: bool


P = TypeVar("P", bound=_Admittable)


class PlanCache(Generic[P]):
    """Plans by (document, operation name, actor kind), made by `build` (queries here, writes
    in schema/compiled_writes.py); None for a document that has none."""

    def __init__(
        self,
        build: Callable[[GraphQLSchema, DocumentNode, str | None, ActorKind], P],
        size: int = PLAN_CACHE_SIZE,
    ) -> None:
        self.build = build
        self.size = size
        self._plans: OrderedDict[tuple[str, str | None, ActorKind], P | None] = OrderedDict()
        # The plan of each document with a single operation, by its text alone.
        self._sole: OrderedDict[tuple[str, ActorKind], P] = OrderedDict()

    def get(
        self,
        schema: GraphQLSchema,
        query: str,
        document: DocumentNode,
        operation_name: str | None,
        kind: ActorKind,
    ) -> P | None:
        key = (query, operation_name, kind)
        if key in self._plans:
            self._plans.move_to_end(key)
            return self._plans[key]
        try:
            plan: P | None = self.build(schema, document, operation_name, kind)
        except NotCompilable as exc:
            outcomes[f"not compilable: {exc}"] += 1
            plan = None
        self._plans[key] = plan
        if len(self._plans) > self.size:
            self._plans.popitem(last=False)
        operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
        if plan is not None and len(operations) == 1:
            self._sole[(query, kind)] = plan
            if len(self._sole) > self.size:
                self._sole.popitem(last=False)
        return plan

    def admitted(self, query: str, operation_name: str | None, kind: ActorKind) -> P | None:
        """The plan of a document that has already passed the whole pipeline, if any. Plans
        are keyed by the operation that runs: without an operation name, a document's only
        operation, as execution picks it."""
        if operation_name is None:
            plan = self._sole.get((query, kind))
        else:
            plan = self._plans.get((query, operation_name, kind))
        if plan is None or not plan.admitted:
            return None
        return plan


plans: PlanCache[Plan] = PlanCache(build=build_plan)


class CompiledReads(SchemaExtension):
    """Answers compilable HTTP queries from one SQL statement; leaves the rest to execution."""

    async def on_execute(self) -> AsyncIterator[None]:
        execution = self.execution_context
        data = await self._compiled()
        if data is not None:
            execution.result = ExecutionResult(data=orjson.Fragment(data))  # type: ignore[arg-type]
        yield

    async def _compiled(self) -> str | None:
        execution = self.execution_context
        context = execution.context
        if not isinstance(context, Context) or execution.query is None:
            return None
        services = context.services
        pool = getattr(services, "compiled_pool", None)
        actor = context.actor
        if pool is None or isinstance(context.request, WebSocket):
            return None
        if not actor.is_authenticated or execution.graphql_document is None:
            return None
        graphql_schema = execution.schema._schema
        plan = plans.get(
            graphql_schema,
            execution.query,
            execution.graphql_document,
            execution.operation_name,
            actor.kind,
        )
        if plan is None:
            outcomes["fallback: not compilable"] += 1
            return None
        try:
            coerced = coerce_variables(graphql_schema, plan.operation, execution.variables)
        except NotCompilable:
            outcomes["fallback: NotCompilable"] += 1
            return None
        text = await answer(graphql_schema, plan, coerced, actor, pool)
        if text is not None:
            plan.admitted = True
        return text


async def answer(
    graphql_schema: GraphQLSchema,
    plan: Plan,
    coerced: VariableValues,
    actor: Actor,
    pool: Any,
    outcome: str = "compiled",
) -> str | None:
    """The JSON text of `data` for this request, or None when the reference path must answer."""
    try:
        args = resolve_slots(graphql_schema, plan, coerced)
        statement = plan.statement(actor.kind, args)
        text = await compiled_run.run(pool, statement, actor, parameters(actor.kind, actor, args))
    except (NotCompilable, GraphQLError, DomainError, compiled_run.FallBack) as exc:
        outcomes[f"fallback: {type(exc).__name__}"] += 1
        return None
    except Exception:
        # The reference path meets the same fault and reports it as it always does.
        logger.warning("compiled read failed; the reference path answers", exc_info=True)
        outcomes["fallback: failure"] += 1
        return None
    outcomes[outcome] += 1
    return text
