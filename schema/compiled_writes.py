"""Compiled writes, schema side: plan `updateTicket` / `addResponse` documents, run them as one
function call (resolvers/compiled/writes.py), publish their event.

A mutation document is compiled when its one root field is `updateTicket` changing only
`status` / `priority` (with or without `expectedVersion`), or `addResponse` with a body and
`internal` (no idempotency key, files or articles), and its payload asks for `ticket`,
`response`, `userErrors` and `__typename`, with fields the compiled read path renders. The
input is converted by Strawberry exactly as for the resolver, and checked with the use cases'
own rules before anything is sent; whatever they would refuse, the reference path answers.

Only the compiled lane (server/compiled_lane.py) runs compiled writes, and only for documents
that have passed the whole pipeline once (`CompiledWrites` admits them as they execute there),
so the first request of every mutation document is the reference path's.
"""

from __future__ import annotations

import functools
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import asyncpg  # type: ignore[import-untyped]
from graphql import (
    DocumentNode,
    FieldNode,
    GraphQLField,
    GraphQLObjectType,
    GraphQLSchema,
    OperationDefinitionNode,
    OperationType,
    get_named_type,
)
from graphql.execution.values import VariableValues, get_argument_values
from graphql.utilities import get_operation_ast
from strawberry.extensions import SchemaExtension
from strawberry.types.arguments import convert_arguments
from strawberry.types.graphql import OperationType as StrawberryOperationType

from models.enums import HistoryAction, Status
from permissions.actor import Actor, ActorKind
from permissions.ticket import forbidden_updates, may_add_internal_note
from resolvers.compiled import run as compiled_run
from resolvers.compiled.plan import NotCompilable, SlotArgs
from resolvers.compiled.sql import parameters
from resolvers.compiled.writes import (
    ADD_RESPONSE,
    UPDATE_TICKET,
    CompiledWrite,
    PayloadField,
    compile_write,
)
from resolvers.errors import DomainError, UserInputError
from resolvers.validation import BODY_MAX, Problems
from resolvers.workflow import REOPENED_BY_CUSTOMER_REPLY, can_transition
from schema.compiled import PlanCache, _Planner, outcomes, resolve_slots, statement_for
from schema.context import Context
from schema.user_errors import input_id
from subscriptions.events import TicketEventEnvelope, kind_of

# The mutations compiled, by field name: the Strawberry resolver's name.
MUTATIONS = {UPDATE_TICKET: "update_ticket", ADD_RESPONSE: "add_response"}
PAYLOAD_FIELDS = frozenset({"ticket", "response", "userErrors", "__typename"})
UPDATABLE = frozenset({"status", "priority"})


@dataclass
class WritePlan:
    document: DocumentNode
    operation: OperationDefinitionNode
    mutation: str
    key: str
    node: FieldNode
    definition: GraphQLField
    payload_type: str
    payload: tuple[PayloadField, ...]
    slots: tuple[Any, ...]
    statements: OrderedDict[tuple[Any, ...], CompiledWrite] = field(default_factory=OrderedDict)
    admitted: bool = False

    def statement(self, kind: ActorKind, args: list[SlotArgs]) -> CompiledWrite:
        return statement_for(
            self.statements,
            args,
            lambda: compile_write(kind, self.mutation, self.payload_type, self.payload, args),
        )


def build_write_plan(
    schema: GraphQLSchema, document: DocumentNode, operation_name: str | None, kind: ActorKind
) -> WritePlan:
    """The plan of one mutation operation for one kind of actor; NotCompilable without one."""
    operation = get_operation_ast(document, operation_name)
    if operation is None or operation.operation is not OperationType.MUTATION:
        raise NotCompilable("not a mutation")
    if operation.directives or any(v.directives for v in operation.variable_definitions or ()):
        raise NotCompilable("directives")
    assert schema.mutation_type is not None
    planner = _Planner(schema, document, kind)
    roots = planner._collect(schema.mutation_type, [operation.selection_set])
    if len(roots) != 1:
        raise NotCompilable("one mutation per document")
    ((key, nodes),) = roots.items()
    node = nodes[0]
    if len(nodes) != 1 or node.name.value not in MUTATIONS or node.selection_set is None:
        raise NotCompilable(f"Mutation.{node.name.value}")
    definition = schema.mutation_type.fields[node.name.value]
    payload_type = get_named_type(definition.type)
    assert isinstance(payload_type, GraphQLObjectType)
    payload: list[PayloadField] = []
    for part_key, parts in planner._collect(payload_type, [node.selection_set]).items():
        name = parts[0].name.value
        if name not in PAYLOAD_FIELDS:
            raise NotCompilable(f"{payload_type.name}.{name}")
        selection = None
        if name in ("ticket", "response"):
            named = get_named_type(payload_type.fields[name].type)
            assert isinstance(named, GraphQLObjectType)
            subsets = [p.selection_set for p in parts if p.selection_set is not None]
            selection = planner.selection(named, subsets)
        payload.append(PayloadField(part_key, name, selection))
    return WritePlan(
        document,
        operation,
        node.name.value,
        key,
        node,
        definition,
        payload_type.name,
        tuple(payload),
        tuple(planner.slots),
    )


write_plans: PlanCache[WritePlan] = PlanCache(build=build_write_plan)


@functools.cache
def _input_argument(schema: GraphQLSchema, mutation: str) -> tuple[Any, list[Any]]:
    """The Strawberry schema, and the `input` argument of the mutation's resolver."""
    strawberry_schema = schema._strawberry_schema  # type: ignore[attr-defined]
    mutation_type = strawberry_schema.get_type_by_name("Mutation")
    resolver = next(f for f in mutation_type.fields if f.python_name == MUTATIONS[mutation])
    return strawberry_schema, [a for a in resolver.arguments if a.python_name == "input"]


def _input(schema: GraphQLSchema, plan: WritePlan, coerced: VariableValues) -> Any:
    """The `input` object as Strawberry hands it to the resolver."""
    args = get_argument_values(plan.definition, plan.node, coerced)
    strawberry_schema, arguments = _input_argument(schema, plan.mutation)
    try:
        converted = convert_arguments(
            {"input": args.get("input")},
            arguments,
            scalar_registry=strawberry_schema.schema_converter.scalar_registry,
            config=strawberry_schema.config,
        )
    except Exception:  # a malformed id, say: Strawberry reports it its own way
        raise NotCompilable("input does not convert") from None
    return converted["input"]


@functools.cache
def _allowed_from(is_staff: bool, target: Status) -> tuple[str, ...]:
    """The statuses `workflow.can_transition` lets this kind of actor move to `target` from."""
    actor = Actor(kind=ActorKind.AGENT if is_staff else ActorKind.CUSTOMER, id=0)
    return tuple(s.value for s in Status if s is not target and can_transition(actor, s, target))


def _update_values(actor: Actor, given: Any) -> dict[str, Any]:
    """resolvers.ticket_write.update_ticket's input, for the changes the function makes."""
    try:
        changes = given.changes()
    except UserInputError:
        raise NotCompilable("a null change") from None
    names = changes.named_fields()
    if not names <= UPDATABLE or forbidden_updates(actor, names):
        raise NotCompilable("changes the compiled write does not make")
    status = None if names.isdisjoint({"status"}) else Status(changes.status.value)
    priority = None if names.isdisjoint({"priority"}) else changes.priority.value
    return {
        "w_ticket_id": input_id(given.id, "Ticket"),
        "w_status": None if status is None else status.value,
        "w_priority": priority,
        "w_expected_version": given.expected_version,
        "w_allowed_from": list(_allowed_from(actor.is_staff, status)) if status else [],
    }


def _reply_values(actor: Actor, given: Any) -> dict[str, Any]:
    """resolvers.responses.add_response's input and rules, for the reply the function adds."""
    if given.idempotency_key is not None or given.attachment_ids or given.article_ids:
        raise NotCompilable("a reply the compiled write does not make")
    if given.internal and not may_add_internal_note(actor):
        raise NotCompilable("refused: an internal note")
    problems = Problems()
    body = problems.text("body", given.body, maximum=BODY_MAX)
    if problems.errors:
        raise NotCompilable("refused: the body")
    action = HistoryAction.NOTE_ADDED if given.internal else HistoryAction.RESPONSE_ADDED
    reopens = actor.is_customer and not given.internal
    return {
        "w_ticket_id": input_id(given.ticket_id, "Ticket"),
        "w_body": body,
        "w_internal": given.internal,
        "w_action": action.value,
        "w_reopen_from": sorted(s.value for s in REOPENED_BY_CUSTOMER_REPLY) if reopens else [],
        "w_first_response": actor.is_staff and not given.internal,
    }


def _envelope(row: Any, ticket_id: int) -> TicketEventEnvelope | None:
    """The event of what the function wrote (resolvers.history.record_change's envelope)."""
    history = tuple(row["hd_history"])
    if not history:
        return None
    internal = all(a == HistoryAction.NOTE_ADDED.value for a in row["hd_actions"])
    return TicketEventEnvelope(
        cursor=max(history),
        organization_id=row["hd_organization"],
        ticket_id=ticket_id,
        customer_id=row["hd_customer"],
        kind=kind_of(HistoryAction(a) for a in row["hd_actions"]),
        history_ids=history,
        response_id=row["hd_response"],
        internal=internal,
    )


@dataclass(frozen=True)
class WriteAnswer:
    """The payload's JSON text, and the committed change's event (None when nothing changed)."""

    payload: str
    event: TicketEventEnvelope | None


async def answer_write(
    graphql_schema: GraphQLSchema,
    plan: WritePlan,
    coerced: VariableValues,
    actor: Actor,
    pool: Any,
) -> WriteAnswer | None:
    """Make the write and return its answer, or None: nothing was written and the reference
    path must answer. A failure whose outcome is unknown (the connection broke) is raised."""
    try:
        given = _input(graphql_schema, plan, coerced)
        if plan.mutation == UPDATE_TICKET:
            values = _update_values(actor, given)
        else:
            values = _reply_values(actor, given)
        values["w_actor_type"] = actor.actor_type.value
        values["w_actor_id"] = actor.id
        args = resolve_slots(graphql_schema, plan, coerced)  # type: ignore[arg-type]
        statement = plan.statement(actor.kind, args)
        values.update(parameters(actor.kind, actor, args))
    except (NotCompilable, DomainError) as exc:
        outcomes[f"write fallback: {exc}"] += 1
        return None
    try:
        row = await compiled_run.run_write(pool, statement, actor, values)
    except compiled_run.FallBack:
        outcomes["write fallback: FallBack"] += 1
        return None
    except asyncpg.PostgresError:
        # Reported by the server, so its transaction rolled back: nothing was written, and the
        # reference path meets the same condition and reports it as it always does.
        outcomes["write fallback: failure"] += 1
        return None
    outcomes["write"] += 1
    return WriteAnswer(row["hd_data"], _envelope(row, values["w_ticket_id"]))


class CompiledWrites(SchemaExtension):
    """Admits the mutation documents the compiled lane may write for: those that reached
    execution, so passed parsing, validation, limits and cost. Answers nothing itself."""

    def on_execute(self) -> Iterator[None]:
        execution = self.execution_context
        context = execution.context
        if (
            isinstance(context, Context)
            and getattr(context.services, "compiled_writes", False)
            and context.actor.is_authenticated
            and execution.query is not None
            and execution.graphql_document is not None
            # Only mutations: a query's document would take a write plan cache slot.
            and execution.operation_type is StrawberryOperationType.MUTATION
        ):
            plan = write_plans.get(
                execution.schema._schema,
                execution.query,
                execution.graphql_document,
                execution.operation_name,
                context.actor.kind,
            )
            if plan is not None:
                plan.admitted = True
        yield
