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

from schema.attachment import Attachment
from schema.attachment_mutations import AttachmentMutation
from schema.directory import DirectoryQuery
from schema.errors import MaskUnexpectedErrors
from schema.limits import QueryLimits, cost_extension, limit_extensions
from schema.node import NodeQuery
from schema.people import Customer, Organization, Team, TeamMember
from schema.stats import StatsQuery
from schema.subscriptions import Subscription
from schema.ticket import HistoryEntry, Response, Ticket, TicketQuery
from schema.ticket_mutations import TicketMutation
from schema.viewer import ViewerQuery


@strawberry.type(description="Read the helpdesk.")
class Query(ViewerQuery, NodeQuery, TicketQuery, StatsQuery, DirectoryQuery):
    pass


@strawberry.type(description="Change the helpdesk. Every change writes history.")
class Mutation(TicketMutation, AttachmentMutation):
    pass


class HelpdeskSchema(strawberry.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        # Expected errors (validation, permissions, NOT_FOUND) are answers, not incidents; the
        # unexpected ones are logged with their traceback by MaskUnexpectedErrors.
        return None


def create_schema(
    *, introspection: bool = True, limits: QueryLimits | None = None
) -> HelpdeskSchema:
    """Build the schema. Extensions are classes or factories, built per request."""
    limits = limits or QueryLimits()
    # The parser and validation LRU caches live at module level (keyed by maxsize), so a
    # factory still shares one cache across requests. Order matters: the token limit is a
    # parse option, the rules join before validation, and the cost is checked after it.
    extensions: list[type[SchemaExtension] | Callable[[], SchemaExtension]] = [
        MaskUnexpectedErrors,
        *limit_extensions(limits),
        lambda: ParserCache(maxsize=1024),
    ]
    if not introspection:
        extensions.append(DisableIntrospection)
    extensions += [lambda: ValidationCache(maxsize=1024), cost_extension(limits)]
    return HelpdeskSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=extensions,
        types=[
            Ticket,
            Response,
            HistoryEntry,
            Attachment,
            Customer,
            TeamMember,
            Team,
            Organization,
        ],
        config=StrawberryConfig(auto_camel_case=True),
    )


schema = create_schema()
