"""The GraphQL schema, assembled from per-domain pieces."""

from __future__ import annotations

from collections.abc import Callable

import strawberry
from graphql import GraphQLError
from strawberry.extensions import (
    DisableIntrospection,
    ParserCache,
    SchemaExtension,
    ValidationCache,
)
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext

from schema.errors import MaskUnexpectedErrors
from schema.ticket import TicketQuery
from schema.viewer import ViewerQuery


@strawberry.type(description="Read the helpdesk.")
class Query(ViewerQuery, TicketQuery):
    pass


class HelpdeskSchema(strawberry.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        # Expected errors (validation, permissions, NOT_FOUND) are answers, not incidents; the
        # unexpected ones are logged with their traceback by MaskUnexpectedErrors.
        return None


def create_schema(*, introspection: bool = True) -> HelpdeskSchema:
    """Build the schema. Extensions are classes, built once per schema where they hold caches."""
    # Strawberry builds extensions per request; the parser and validation LRU caches live at
    # module level (keyed by maxsize), so a factory still shares one cache across requests.
    extensions: list[type[SchemaExtension] | Callable[[], SchemaExtension]] = [
        MaskUnexpectedErrors,
        lambda: ParserCache(maxsize=1024),
        lambda: ValidationCache(maxsize=1024),
    ]
    if not introspection:
        extensions.append(DisableIntrospection)
    return HelpdeskSchema(
        query=Query,
        extensions=extensions,
        config=StrawberryConfig(auto_camel_case=True),
    )


schema = create_schema()
