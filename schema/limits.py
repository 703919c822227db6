"""Query limits: depth, aliases, tokens and cost.

The depth and alias rules are built once, so the (cached) validation sees the same rule
classes on every request and the validation cache keeps working (shared TRAPS). Cost needs
the variables, so it is computed per request, after validation, from the parsed document.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (
    ASTValidationRule,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    ListValueNode,
    NullValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationRule,
    VariableNode,
)
from graphql.execution.values import VariableValues, get_variable_values
from graphql.type.definition import GraphQLType, get_named_type
from graphql.validation.validate import ValidationAbortedError
from strawberry.extensions import AddValidationRules, MaxTokensLimiter, SchemaExtension

from resolvers.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE

# Plain lists (organizations, teams, changes) have no page size; count them as this many.
LIST_ESTIMATE = 10
# `nodes(ids:)` takes at most this many ids (schema/node.py).
MAX_NODES = 100


@dataclass(frozen=True)
class QueryLimits:
    max_depth: int = 12
    max_aliases: int = 30
    max_tokens: int = 1_500
    max_cost: int = 10_000
    max_field_merges: int = 5_000


def limit_extensions(limits: QueryLimits) -> list[Callable[[], SchemaExtension]]:
    rules: list[type[ASTValidationRule]] = [document_size_rule(limits)]
    return [
        lambda: MaxTokensLimiter(limits.max_tokens),
        lambda: AddValidationRules(rules),
    ]


def document_size_rule(limits: QueryLimits) -> type[ASTValidationRule]:
    """One validation rule for depth, aliases and field merges, linear in the document's size.

    It runs first and aborts the validation of a document over a limit, so no other rule
    spends time on it. Strawberry's QueryDepthLimiter and MaxAliasesLimiter expand every
    fragment spread again at each use, so a few hundred bytes of fragments spreading
    fragments take seconds; here each fragment is measured once.
    """

    class DocumentSize(ValidationRule):
        def enter_document(self, node: DocumentNode, *_: Any) -> None:
            measure = _Shape(node)
            for definition in node.definitions:
                if not isinstance(definition, OperationDefinitionNode):
                    continue
                name = definition.name.value if definition.name else "anonymous"
                depth, aliases = measure.selection(definition.selection_set)
                if depth > limits.max_depth:
                    raise ValidationAbortedError(
                        f"'{name}' exceeds maximum operation depth of {limits.max_depth}",
                        extensions={"code": "GRAPHQL_VALIDATION_FAILED"},
                    )
                if aliases > limits.max_aliases:
                    raise ValidationAbortedError(
                        f"{aliases} aliases found. Allowed: {limits.max_aliases}",
                        extensions={"code": "GRAPHQL_VALIDATION_FAILED"},
                    )
            merges = field_merges(node, stop_above=limits.max_field_merges)
            if merges > limits.max_field_merges:
                raise ValidationAbortedError(
                    "the document selects the same fields too many times over (more than "
                    f"{limits.max_field_merges} field merges); select each field once",
                    extensions={
                        "code": "QUERY_TOO_COMPLEX",
                        "fieldMerges": {"limit": limits.max_field_merges},
                    },
                )

    return DocumentSize


def field_merges(document: DocumentNode, *, stop_above: int) -> int:
    """How much work checking that same-named fields can be merged may take: for every
    operation and fragment, the sum over response paths of the square of the number of field
    selections at that path (fragment spreads expanded where they are used).

    graphql-core's OverlappingFieldsCanBeMergedRule compares every pair of fields that share a
    response path, so it is quadratic in repeated fields: 450 copies of `responses { totalCount }`
    (11 KB, no aliases) cost seconds. This sum bounds its comparisons (times the depth), and
    counting stops as soon as it passes `stop_above`, so measuring costs at most that many steps
    beyond the document's own size. A document that selects each field once scores about its
    number of fields.
    """
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    total = 0
    for definition in document.definitions:
        if not isinstance(definition, OperationDefinitionNode | FragmentDefinitionNode):
            continue
        counts: dict[tuple[int, str], int] = {}
        paths: dict[tuple[int, str], int] = {}
        # Depth-first through the selections, with fragments expanded in place.
        pending: list[tuple[SelectionSetNode, int, frozenset[str]]] = [
            (definition.selection_set, -1, frozenset())
        ]
        while pending:
            selection_set, parent, spreading = pending.pop()
            for node in selection_set.selections:
                if isinstance(node, FieldNode):
                    key = (parent, (node.alias or node.name).value)
                    seen = counts.get(key, 0)
                    counts[key] = seen + 1
                    # From n to n + 1 selections at a path, the sum of squares grows by 2n + 1.
                    total += 2 * seen + 1
                    if total > stop_above:
                        return total
                    if node.selection_set is not None:
                        path = paths.setdefault(key, len(paths))
                        pending.append((node.selection_set, path, spreading))
                elif isinstance(node, InlineFragmentNode):
                    pending.append((node.selection_set, parent, spreading))
                elif isinstance(node, FragmentSpreadNode):
                    name = node.name.value
                    fragment = fragments.get(name)
                    # Every expansion counts, so that fragments that only spread fragments
                    # cannot make the count itself exponential.
                    total += 1
                    if total > stop_above:
                        return total
                    if fragment is not None and name not in spreading:
                        # Unknown and cyclic fragments are reported by the standard rules.
                        pending.append((fragment.selection_set, parent, spreading | {name}))
    return total


class _Shape:
    """Depth (introspection fields aside) and alias count of selections, fragments memoized."""

    def __init__(self, document: DocumentNode) -> None:
        self.fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        self.memo: dict[str, tuple[int, int]] = {}
        self.visiting: set[str] = set()

    def selection(self, selection_set: SelectionSetNode | None) -> tuple[int, int]:
        if selection_set is None:
            return 0, 0
        depth, aliases = 0, 0
        for node in selection_set.selections:
            if isinstance(node, FieldNode):
                inner_depth, inner_aliases = self.selection(node.selection_set)
                if not node.name.value.startswith("__"):
                    depth = max(depth, 1 + inner_depth)
                aliases += inner_aliases + (1 if node.alias else 0)
            elif isinstance(node, InlineFragmentNode):
                inner_depth, inner_aliases = self.selection(node.selection_set)
                depth, aliases = max(depth, inner_depth), aliases + inner_aliases
            elif isinstance(node, FragmentSpreadNode):
                inner_depth, inner_aliases = self.fragment(node.name.value)
                depth, aliases = max(depth, inner_depth), aliases + inner_aliases
        return depth, aliases

    def fragment(self, name: str) -> tuple[int, int]:
        if name in self.memo:
            return self.memo[name]
        fragment = self.fragments.get(name)
        if fragment is None or name in self.visiting:
            return 0, 0  # unknown or cyclic: the standard rules report those
        self.visiting.add(name)
        self.memo[name] = self.selection(fragment.selection_set)
        self.visiting.discard(name)
        return self.memo[name]


def cost_extension(limits: QueryLimits) -> Callable[[], SchemaExtension]:
    return lambda: CostLimit(limits.max_cost)


class CostLimit(SchemaExtension):
    """Refuses operations whose estimated cost is above the limit, and reports the cost.

    Each field costs 1; a connection multiplies what is under it by its page size (`first` or
    `last`, 20 by default), a plain list by 10, `nodes(ids)` by the number of ids.
    """

    def __init__(self, max_cost: int) -> None:
        self.max_cost = max_cost
        self.cost: int | None = None

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        # After ValidationCache has validated (it runs before this extension): only a valid
        # document is costed.
        if not context.pre_execution_errors and context.graphql_document is not None:
            try:
                operation = _operation(context.graphql_document, context.operation_name)
            except ValueError:
                operation = None
            if operation is not None:
                graphql_schema = context.schema._schema
                self.cost = estimate_cost(
                    graphql_schema,
                    context.graphql_document,
                    operation,
                    operation_variables(graphql_schema, operation, context.variables),
                )
                if self.cost > self.max_cost:
                    context.pre_execution_errors = [
                        GraphQLError(
                            f"query cost {self.cost} is above the limit of {self.max_cost}; "
                            "ask for smaller pages or fewer nested lists",
                            extensions={"code": "QUERY_TOO_COMPLEX", "cost": self.cost},
                        )
                    ]
        yield

    def get_results(self) -> dict[str, Any]:
        if self.cost is None:
            return {}
        return cost_result(self.cost, self.max_cost)


def cost_result(cost: int, max_cost: int) -> dict[str, Any]:
    """What a response says of its cost, under `extensions`."""
    return {"cost": {"requested": cost, "limit": max_cost}}


def estimate_cost(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation: OperationDefinitionNode,
    variables: Mapping[str, Any] | None,
) -> int:
    """The operation's estimated cost with these coerced variables (None: not known yet, so
    page sizes given by variables count as the largest)."""
    estimator = _CostEstimator(schema, document, variables)
    return estimator.selection(_root_type(schema, operation), operation.selection_set)


def _operation(document: Any, name: str | None) -> OperationDefinitionNode | None:
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if name is not None:
        operations = [o for o in operations if o.name is not None and o.name.value == name]
    if len(operations) != 1:
        raise ValueError("ambiguous operation")
    return operations[0]


def _root_type(schema: GraphQLSchema, operation: OperationDefinitionNode) -> GraphQLObjectType:
    root = schema.get_root_type(operation.operation)
    assert root is not None
    return root


def operation_variables(
    schema: GraphQLSchema, operation: OperationDefinitionNode, raw: Any
) -> Mapping[str, Any] | None:
    """The values the operation will run with: the request's variables coerced to their types,
    defaults filled in (a variable left out without a default is absent). None when they do not
    coerce: execution then refuses them anyway, and the estimate treats them as unknown."""
    inputs = raw if isinstance(raw, dict) else {}
    try:
        values = get_variable_values(
            schema, operation.variable_definitions or (), inputs, max_errors=1
        )
    except (GraphQLError, RecursionError):
        return None
    return values.coerced if isinstance(values, VariableValues) else None


class _CostEstimator:
    def __init__(
        self, schema: GraphQLSchema, document: Any, variables: Mapping[str, Any] | None
    ) -> None:
        self.schema = schema
        # None: the variables are not known before execution.
        self.variables = variables
        self.fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        self._visiting: set[str] = set()
        self._fragment_costs: dict[str, int] = {}

    def selection(self, parent: Any, selection_set: SelectionSetNode | None) -> int:
        if selection_set is None:
            return 0
        total = 0
        for node in selection_set.selections:
            if isinstance(node, FieldNode):
                total += self.field(parent, node)
            elif isinstance(node, InlineFragmentNode):
                condition = node.type_condition
                target = self.schema.get_type(condition.name.value) if condition else parent
                total += self.selection(target or parent, node.selection_set)
            elif isinstance(node, FragmentSpreadNode):
                name = node.name.value
                fragment = self.fragments.get(name)
                if fragment is None or name in self._visiting:
                    continue
                if name not in self._fragment_costs:
                    # Memoized: fragments spreading fragments twice per level would otherwise
                    # make costing exponential in the nesting.
                    self._visiting.add(name)
                    target = self.schema.get_type(fragment.type_condition.name.value) or parent
                    self._fragment_costs[name] = self.selection(target, fragment.selection_set)
                    self._visiting.discard(name)
                total += self._fragment_costs[name]
        return total

    def field(self, parent: Any, node: FieldNode) -> int:
        name = node.name.value
        fields = getattr(parent, "fields", None)
        definition = fields.get(name) if fields and not name.startswith("__") else None
        if definition is None:
            return 1
        child_type: GraphQLType = definition.type
        # A connection's page size already counts its items: its edges/nodes lists do not.
        in_connection = getattr(parent, "name", "").endswith("Connection")
        multiplier = 1 if in_connection else self.multiplier(node, child_type)
        return 1 + multiplier * self.selection(get_named_type(child_type), node.selection_set)

    def multiplier(self, node: FieldNode, field_type: GraphQLType) -> int:
        arguments = {a.name.value: a.value for a in node.arguments or ()}
        if node.name.value == "nodes" and "ids" in arguments:
            ids = self._value(arguments["ids"])
            return max(1, len(ids)) if isinstance(ids, list) else MAX_NODES
        if get_named_type(field_type).name.endswith("Connection"):
            for key in ("first", "last"):
                if key in arguments:
                    size = self._value(arguments[key])
                    if size is None and self._known(arguments[key]):
                        continue  # an explicit null means the default page
                    if isinstance(size, int) and not isinstance(size, bool):
                        return max(size, 1)
                    # Not known before execution: assume the largest page there is.
                    return MAX_PAGE_SIZE
            return DEFAULT_PAGE_SIZE
        inner = field_type.of_type if isinstance(field_type, GraphQLNonNull) else field_type
        return LIST_ESTIMATE if isinstance(inner, GraphQLList) else 1

    def _known(self, value: Any) -> bool:
        """Whether the value is known now: a literal, or a variable the request coerced."""
        return not isinstance(value, VariableNode) or self.variables is not None

    def _value(self, value: Any) -> Any:
        if isinstance(value, VariableNode):
            return None if self.variables is None else self.variables.get(value.name.value)
        if isinstance(value, NullValueNode):
            return None
        if isinstance(value, IntValueNode):
            return int(value.value)
        if isinstance(value, ListValueNode):
            return list(value.values)
        return None
