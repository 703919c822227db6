"""The GraphQL schema, assembled from per-domain pieces."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable, Sequence
from contextlib import aclosing
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import (
    DisableIntrospection,
    ParserCache,
    SchemaExtension,
    ValidationCache,
)
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext, ExecutionResult

from schema.attachment import Attachment
from schema.attachment_mutations import AttachmentMutation
from schema.compiled import CompiledReads
from schema.compiled_writes import CompiledWrites
from schema.context import request_id
from schema.customer import CustomerMutation, CustomerQuery
from schema.directory import DirectoryQuery
from schema.errors import MaskUnexpectedErrors, finished_error
from schema.history import HISTORY_TYPES, HistoryEntry
from schema.knowledge_base import Article, Category, KnowledgeBaseQuery
from schema.knowledge_base_events import KnowledgeBaseSubscription
from schema.knowledge_base_mutations import KnowledgeBaseMutation
from schema.limits import QueryLimits, cost_extension, limit_extensions
from schema.node import NodeQuery
from schema.organization import OrganizationMutation, OrganizationQuery
from schema.organization_events import OrganizationSubscription
from schema.people import Customer, Organization, Team, TeamMember
from schema.ratelimit import RateLimitQuery
from schema.routing import RoutingMutation, RoutingQuery, RoutingRule
from schema.stats import StatsQuery
from schema.subscriptions import Subscription as TicketSubscription
from schema.team_mutations import TeamMutation
from schema.ticket import Response, Ticket, TicketQuery
from schema.ticket_mutations import TicketMutation
from schema.viewer import ViewerQuery


@strawberry.type(description="Read the helpdesk.")
class Query(
    ViewerQuery,
    NodeQuery,
    TicketQuery,
    StatsQuery,
    DirectoryQuery,
    CustomerQuery,
    RoutingQuery,
    OrganizationQuery,
    RateLimitQuery,
    KnowledgeBaseQuery,
):
    pass


@strawberry.type(description="Change the helpdesk. Every change writes history.")
class Mutation(
    TicketMutation,
    AttachmentMutation,
    TeamMutation,
    CustomerMutation,
    RoutingMutation,
    OrganizationMutation,
    KnowledgeBaseMutation,
):
    pass


@strawberry.type(name="Subscription")
class Subscription(TicketSubscription, OrganizationSubscription, KnowledgeBaseSubscription):
    pass


class HelpdeskSchema(strawberry.Schema):
    """The schema, whose results leave with finished errors on every transport (HTTP and both
    WebSocket protocols): codes, request ids, and suggestions only where they are allowed."""

    field_suggestions: bool = True

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        # Expected errors (validation, permissions, NOT_FOUND) are answers, not incidents; the
        # unexpected ones are logged with their traceback by MaskUnexpectedErrors.
        return None

    async def execute(self, *args: Any, **kwargs: Any) -> ExecutionResult:
        result = await super().execute(*args, **kwargs)
        self._finish(result)
        return result

    async def stream(self, *args: Any, **kwargs: Any) -> Any:
        results = await super().stream(*args, **kwargs)

        async def finished() -> AsyncGenerator[Any, None]:
            async with aclosing(results):
                async for result in results:
                    self._finish(result)
                    yield result

        return finished()

    def _finish(self, result: object) -> None:
        errors = getattr(result, "errors", None)
        if errors:
            rid = request_id.get()
            result.errors = [  # type: ignore[attr-defined]
                finished_error(e, request_id=rid, suggestions=self.field_suggestions)
                for e in errors
            ]


def create_schema(
    *,
    introspection: bool = True,
    limits: QueryLimits | None = None,
    field_suggestions: bool = True,
    observers: Sequence[type[SchemaExtension]] = (),
) -> HelpdeskSchema:
    """Build the schema. Extensions are classes or factories, built per request; `observers`
    (metrics, logs, tracing) come first, so that they see each operation whole."""
    limits = limits or QueryLimits()
    # The parser and validation LRU caches live at module level (keyed by maxsize), so a
    # factory still shares one cache across requests. Order matters: the token limit is a
    # parse option, the rules join before validation, and the cost is checked after it.
    extensions: list[type[SchemaExtension] | Callable[[], SchemaExtension]] = [
        *observers,
        MaskUnexpectedErrors,
        *limit_extensions(limits),
        lambda: ParserCache(maxsize=1024),
    ]
    if not introspection:
        extensions.append(DisableIntrospection)
    # The compiled read path comes last: it answers only what passed every check before it.
    extensions += [
        lambda: ValidationCache(maxsize=1024),
        cost_extension(limits),
        CompiledReads,
        CompiledWrites,
    ]
    built = HelpdeskSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=extensions,
        types=[
            Ticket,
            Response,
            HistoryEntry,
            *HISTORY_TYPES,
            Attachment,
            Customer,
            TeamMember,
            Team,
            Organization,
            RoutingRule,
            Article,
            Category,
        ],
        config=StrawberryConfig(auto_camel_case=True),
    )
    built.field_suggestions = field_suggestions
    return built


schema = create_schema()
