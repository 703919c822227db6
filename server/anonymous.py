"""Which operations an anonymous HTTP caller may run, derived from the schema itself.

A root field is *public* when it carries no permission class that needs an authenticated
caller (`requires_authentication = True`: IsAuthenticated, IsStaff, IsAdmin, ...). An anonymous
request that selects any other root field is answered 401 before it runs, exactly like a
request with a bad token, so clients have one way to learn they must sign in. Nothing here
lists fields by name: a new field without such a permission class is public on its own.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable

import strawberry
from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    parse,
)
from strawberry.permission import PermissionExtension
from strawberry.types.base import StrawberryObjectDefinition
from strawberry.types.field import StrawberryField

# Bounded like the view's other pre-parse; a longer document is left to the schema's limits.
MAX_TOKENS = 10_000
# Documents up to this size are remembered (clients repeat theirs); longer ones are parsed each
# time, so anonymous callers cannot fill the cache with large documents.
CACHED_CHARACTERS = 8_192


class AuthenticationRequired(Exception):
    """An anonymous request for something that is not public."""

    message = "authentication required: send Authorization: Bearer <token>"


def _needs_authentication(field: StrawberryField) -> bool:
    permissions: list[object] = list(field.permission_classes)
    for extension in field.extensions:
        if isinstance(extension, PermissionExtension):
            permissions += extension.permissions
    return any(getattr(p, "requires_authentication", False) for p in permissions)


def protected_root_fields(schema: strawberry.Schema) -> dict[str, frozenset[str]]:
    """Per operation type ("query", "mutation", "subscription"), the GraphQL names of the root
    fields that need an authenticated caller."""
    protected: dict[str, frozenset[str]] = {}
    for operation, root in (
        ("query", schema.query),
        ("mutation", schema.mutation),
        ("subscription", schema.subscription),
    ):
        if root is None:
            continue
        definition = root.__strawberry_definition__  # type: ignore[attr-defined]
        assert isinstance(definition, StrawberryObjectDefinition)
        protected[operation] = frozenset(
            schema.config.name_converter.get_graphql_name(field)
            for field in definition.fields
            if _needs_authentication(field)
        )
    return protected


def root_fields(query: str, operation_name: str | None) -> tuple[str, frozenset[str]] | None:
    """(operation type, names of the root fields it selects) for the operation a request would
    run; None when the document does not parse or names no single operation (the schema then
    answers with its own error)."""
    if len(query) > CACHED_CHARACTERS:
        return _root_fields(query, operation_name)
    return _remembered_root_fields(query, operation_name)


def _root_fields(query: str, operation_name: str | None) -> tuple[str, frozenset[str]] | None:
    try:
        document = parse(query, no_location=True, max_tokens=MAX_TOKENS)
    except GraphQLError:
        return None
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is not None:
        operations = [o for o in operations if o.name and o.name.value == operation_name]
    if len(operations) != 1:
        return None
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    (operation,) = operations
    names = frozenset(_field_names(operation.selection_set, fragments, set()))
    return operation.operation.value, names


_remembered_root_fields = functools.lru_cache(maxsize=1024)(_root_fields)


def _field_names(
    selection_set: SelectionSetNode,
    fragments: dict[str, FragmentDefinitionNode],
    seen: set[str],
) -> Iterable[str]:
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            yield selection.name.value
        elif isinstance(selection, InlineFragmentNode):
            yield from _field_names(selection.selection_set, fragments, seen)
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            if name in fragments and name not in seen:
                seen.add(name)
                yield from _field_names(fragments[name].selection_set, fragments, seen)


class AnonymousAccess:
    """The check the HTTP view runs for callers without a token."""

    def __init__(self, schema: strawberry.Schema) -> None:
        self.protected = protected_root_fields(schema)

    def check(self, query: str | None, operation_name: str | None) -> None:
        """Raise AuthenticationRequired if the operation selects a root field that is not
        public."""
        if not isinstance(query, str) or not query:
            return
        found = root_fields(query, operation_name if isinstance(operation_name, str) else None)
        if found is None:
            return
        operation, names = found
        if names & self.protected.get(operation, frozenset()):
            raise AuthenticationRequired(AuthenticationRequired.message)
