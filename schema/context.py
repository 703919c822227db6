"""The typed request context: actor, database access, transactions and per-request DataLoaders."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, TypeAlias, TypeVar

import strawberry
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.dataloader import DataLoader

from models import (
    Article,
    Attachment,
    Customer,
    KnowledgeBaseCategory,
    Organization,
    RoutingRule,
    Team,
    TeamMember,
    TicketHistory,
    TicketResponse,
)
from models.engine import set_row_security
from permissions import Actor
from permissions.admin import named_rules
from permissions.ticket import response_visibility
from resolvers import attachment as attachments
from resolvers import knowledge_base
from resolvers import loaders as batch
from resolvers.errors import UserErrorCode, user_error
from resolvers.history import take_pending_events
from resolvers.knowledge_base_write import take_knowledge_base_changes
from resolvers.ticket import ChildPage, count_children, history_for_tickets, responses_for_tickets
from subscriptions.knowledge_base import notifier as knowledge_base_notifier
from subscriptions.organization import take_pending_organization_events

T = TypeVar("T")
# The id of the HTTP request or WebSocket connection being served (set by the server's
# middleware); errors and log lines carry it.
request_id: ContextVar[str | None] = ContextVar("helpdesk_request_id", default=None)
logger = logging.getLogger("helpdesk.context")
# Publishes committed envelopes: ticket events, and organization events (their own hub).
Publisher = Callable[[Sequence[Any]], Awaitable[None]]


async def _publish_nowhere(events: Sequence[Any]) -> None:
    return None


@dataclass
class Loaders:
    """One DataLoader per relation, made per request so nothing is cached across callers.

    The by-id loaders serve relations of objects the caller was already allowed to read; the
    per-ticket loaders apply the caller's response and history policies themselves.
    """

    customer: DataLoader[int, Customer | None]
    team_member: DataLoader[int, TeamMember | None]
    team: DataLoader[int, Team | None]
    organization: DataLoader[int, Organization | None]
    visible_response: DataLoader[int, TicketResponse | None]
    responses: DataLoader[tuple[int, ChildPage], list[TicketResponse]]
    history: DataLoader[tuple[int, ChildPage], list[TicketHistory]]
    response_count: DataLoader[int, int]
    history_count: DataLoader[int, int]
    response_attachments: DataLoader[int, list[Attachment]]
    ticket_attachments: DataLoader[int, list[Attachment]]
    visible_attachment: DataLoader[int, Attachment | None]
    # Routing rules as history entries name them (staff of the organization only).
    routing_rule: DataLoader[int, RoutingRule | None]
    kb_category: DataLoader[int, KnowledgeBaseCategory | None]
    visible_article: DataLoader[int, Article | None]
    response_articles: DataLoader[int, list[Article]]
    # Keyed by (ticket id, organization id, title and description, how many).
    ticket_suggestions: DataLoader[tuple[int, int, str, int], list[Article]]


@dataclass
class Scope:
    """Database access for one unit of work: an HTTP request, or one subscription event.

    Sibling resolvers and DataLoader batches run concurrently, but an AsyncSession may not be
    used by two tasks at once: every use of the session goes through the scope's lock. The
    session is opened on first use and closed with the scope.
    """

    sessionmaker: async_sessionmaker[AsyncSession]
    actor: Actor
    publish: Publisher = _publish_nowhere
    # SQLite allows one writer at a time and fails a transaction whose snapshot went stale, so
    # on SQLite the app serializes its write transactions in-process (None on PostgreSQL).
    write_gate: asyncio.Lock | None = None
    # Rows already loaded (a subscription event's people), handed to the loaders when the
    # resolution first needs them.
    primed: Any = None
    # The text-search configuration of knowledge-base search (KNOWLEDGE_BASE_LANGUAGE).
    search_language: str = "english"
    _session: AsyncSession | None = None
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _loaders: Loaders | None = None

    @property
    def loaders(self) -> Loaders:
        """Made on first use: many scopes (subscription events) never need a DataLoader."""
        if self._loaders is None:
            self._loaders = self._new_loaders()
            if self.primed is not None:
                self._prime(self._loaders, self.primed)
        return self._loaders

    @staticmethod
    def _prime(loaders: Loaders, change: Any) -> None:
        for key, customer in change.customers.items():
            loaders.customer.prime(key, customer)
        for key, member in change.members.items():
            loaders.team_member.prime(key, member)
        for key, team in change.teams.items():
            loaders.team.prime(key, team)
        for key, organization in change.organizations.items():
            loaders.organization.prime(key, organization)

    @asynccontextmanager
    async def db(self) -> AsyncIterator[AsyncSession]:
        """The scope's session, held exclusively for the duration of the block."""
        async with self._lock:
            if self._session is None:
                self._session = self.sessionmaker()
                act_as(self._session, self.actor)
            yield self._session

    async def run(self, use_case: Callable[[AsyncSession], Awaitable[T]]) -> T:
        """Run one read use case on the scope's session."""
        async with self.db() as session:
            return await use_case(session)

    async def write(self, use_case: Callable[[AsyncSession], Awaitable[T]]) -> T:
        """Run one write use case in its own transaction: commit, then publish its events.

        Any exception rolls the transaction back and drops the events it queued.
        """
        async with self._write_gate(), self.db() as session:
            try:
                result = await use_case(session)
                events: list[Any] = [*take_pending_events(session)]
                events += take_pending_organization_events(session.info)
                kb_changes = take_knowledge_base_changes(session)
                await session.commit()
            except IntegrityError:
                # A constraint the use case could not check first (a concurrent write got
                # there before us): the client's to retry, never INTERNAL.
                take_pending_events(session)
                take_pending_organization_events(session.info)
                take_knowledge_base_changes(session)
                await session.rollback()
                raise user_error(
                    None,
                    "this change conflicts with another one made at the same time; retry",
                    UserErrorCode.CONFLICT,
                ) from None
            except BaseException:
                take_pending_events(session)
                take_pending_organization_events(session.info)
                take_knowledge_base_changes(session)
                await session.rollback()
                raise
            finally:
                # What loaders cached before the write may be stale now.
                self._loaders = None
        await self.publish(events)
        if kb_changes:
            knowledge_base_notifier.notify(c.organization_id for c in kb_changes)
        return result

    @asynccontextmanager
    async def _write_gate(self) -> AsyncIterator[None]:
        if self.write_gate is None:
            yield
        else:
            async with self.write_gate:
                yield

    async def close(self) -> None:
        """Return the connection to the pool. Never raises: a connection left broken (a query
        cancelled mid-flight when a sibling field failed) is invalidated instead."""
        session, self._session = self._session, None
        if session is None:
            return
        try:
            await session.close()
        except Exception:
            logger.warning("discarding a broken database connection", exc_info=True)
            with contextlib.suppress(Exception):
                await session.invalidate()

    def _new_loaders(self) -> Loaders:
        return Loaders(
            customer=self._by_id(Customer),
            team_member=self._by_id(TeamMember),
            team=self._by_id(Team),
            organization=self._by_id(Organization),
            visible_response=DataLoader(self._load_visible_responses),
            responses=DataLoader(self._per_ticket(responses_for_tickets)),
            history=DataLoader(self._per_ticket(history_for_tickets)),
            response_count=self._count(TicketResponse),
            history_count=self._count(TicketHistory),
            response_attachments=self._grouped(attachments.attachments_for_responses),
            ticket_attachments=self._grouped(attachments.attachments_for_tickets),
            visible_attachment=DataLoader(self._load_visible_attachments),
            routing_rule=DataLoader(self._load_named_rules),
            kb_category=DataLoader(self._load_categories),
            visible_article=DataLoader(self._load_visible_articles),
            response_articles=self._grouped(knowledge_base.articles_for_responses),
            ticket_suggestions=DataLoader(self._load_ticket_suggestions),
        )

    async def _load_visible_articles(self, ids: list[int]) -> list[Article | None]:
        async with self.db() as session:
            found: list[Article | None] = await knowledge_base.articles_by_id(
                session, self.actor, ids
            )
            return found

    async def _load_categories(self, ids: list[int]) -> list[KnowledgeBaseCategory | None]:
        async with self.db() as session:
            return await knowledge_base.categories_by_id(session, self.actor, ids)

    async def _load_ticket_suggestions(
        self, keys: list[tuple[int, int, str, int]]
    ) -> list[list[Article]]:
        # One ranking statement per distinct page size (a list's tickets share one).
        found: dict[tuple[int, int, str, int], list[Article]] = {}
        by_size: dict[int, list[tuple[int, int, str, int]]] = {}
        for key in keys:
            by_size.setdefault(key[3], []).append(key)
        async with self.db() as session:
            for size, group in by_size.items():
                suggested = await knowledge_base.suggestions_for_tickets(
                    session,
                    self.actor,
                    [(t, o, text) for t, o, text, _ in group],
                    size,
                    self.search_language,
                )
                found.update({key: suggested[key[0]] for key in group})
        return [found[key] for key in keys]

    def _grouped(
        self, fetch: Callable[..., Awaitable[dict[int, list[Any]]]]
    ) -> DataLoader[int, list[Any]]:
        async def load(ids: list[int]) -> list[list[Any]]:
            async with self.db() as session:
                grouped = await fetch(session, self.actor, ids)
            return [grouped[i] for i in ids]

        return DataLoader(load)

    def _by_id(self, model: Any) -> DataLoader[int, Any]:
        async def load(ids: list[int]) -> list[Any]:
            async with self.db() as session:
                return await batch.rows_by_id(session, model, ids)

        return DataLoader(load)

    async def _load_visible_responses(self, ids: list[int]) -> list[TicketResponse | None]:
        async with self.db() as session:
            return await batch.rows_by_id(
                session, TicketResponse, ids, where=response_visibility(self.actor)
            )

    async def _load_named_rules(self, ids: list[int]) -> list[RoutingRule | None]:
        async with self.db() as session:
            found = {
                rule.id: rule
                for rule in await session.scalars(
                    named_rules(self.actor).where(RoutingRule.id.in_(ids))
                )
            }
        return [found.get(i) for i in ids]

    async def _load_visible_attachments(self, ids: list[int]) -> list[Attachment | None]:
        async with self.db() as session:
            return await attachments.attachments_by_id(session, self.actor, ids)

    def _per_ticket(
        self, fetch: Callable[..., Awaitable[dict[int, list[Any]]]]
    ) -> Callable[[list[tuple[int, ChildPage]]], Awaitable[list[list[Any]]]]:
        async def load(keys: list[tuple[int, ChildPage]]) -> list[list[Any]]:
            # One query per distinct window (all tickets of a list share one).
            by_window: dict[ChildPage, list[int]] = {}
            for ticket_id, window in keys:
                by_window.setdefault(window, []).append(ticket_id)
            found: dict[tuple[int, ChildPage], list[Any]] = {}
            async with self.db() as session:
                for window, ticket_ids in by_window.items():
                    grouped = await fetch(session, self.actor, ticket_ids, window)
                    found.update({(ticket_id, window): rows for ticket_id, rows in grouped.items()})
            return [found[key] for key in keys]

        return load

    def _count(self, model: Any) -> DataLoader[int, int]:
        async def load(ticket_ids: list[int]) -> list[int]:
            async with self.db() as session:
                counts = await count_children(session, self.actor, model, ticket_ids)
            return [counts[ticket_id] for ticket_id in ticket_ids]

        return DataLoader(load)


def act_as(session: AsyncSession, actor: Actor) -> None:
    """Row-level security (PostgreSQL) applies the actor's policies to this session too."""
    set_row_security(session, actor.kind.value, actor.id, actor.organization_id)


# The scope of the subscription event being resolved, if any (see Context.event_scope).
_event_scope: ContextVar[Scope | None] = ContextVar("helpdesk_event_scope", default=None)


@dataclass
class Context:
    """Per HTTP request, or per WebSocket connection (then `request` is the socket).

    Resolvers use `db`, `run`, `write` and `loaders`, which act on the current scope: the
    request's, or while a subscription event is resolved, that event's own short-lived scope.
    """

    sessionmaker: async_sessionmaker[AsyncSession]
    actor: Actor
    request: Request | WebSocket | None = None
    response: Response | WebSocket | None = None
    publish: Publisher = _publish_nowhere
    write_gate: asyncio.Lock | None = None
    # Strawberry fills this from the WebSocket connection_init payload.
    connection_params: dict[str, Any] | None = None
    # Connection-wide services for subscriptions (the event hub), set by the server.
    services: Any = None
    # When the WebSocket's token expires (epoch seconds), if it does.
    token_expires_at: float | None = None
    # A WebSocket's user, kept in step with the database by the server (server.access).
    access: Any = None
    # Set once the socket's user lost its rights: nothing more is sent on it.
    access_revoked: bool = False
    # The cursor of the ticket event being sent, for transports that remember where a
    # subscriber is (shared fan-out).
    event_cursor: str | None = None
    # Called once a subscription is registered with the event hub (it receives every change
    # committed from then on).
    on_live: Callable[[], None] | None = None
    # Resolving for a shared group of subscribers (server/fanout.py), not for one socket.
    shared_group: bool = False
    # The caller's rate-limit budget after this request (server.ratelimit.RateLimitState);
    # None when rate limiting is off.
    rate_limit: Any = None
    # The id the request's document is persisted under (APQ hash or allow-list id), if any:
    # a stable key for per-document caches and plans.
    document_id: str | None = None
    _scope: Scope | None = None

    @property
    def scope(self) -> Scope:
        event_scope = _event_scope.get()
        if event_scope is not None:
            return event_scope
        if self._scope is None or self._scope.actor is not self.actor:
            self._scope = self.new_scope()
        return self._scope

    def new_scope(self, primed: Any = None) -> Scope:
        language = getattr(self.services, "knowledge_base_language", "english")
        return Scope(self.sessionmaker, self.actor, self.publish, self.write_gate, primed, language)

    @property
    def loaders(self) -> Loaders:
        return self.scope.loaders

    def db(self) -> AbstractAsyncContextManager[AsyncSession]:
        return self.scope.db()

    async def run(self, use_case: Callable[[AsyncSession], Awaitable[T]]) -> T:
        return await self.scope.run(use_case)

    async def write(self, use_case: Callable[[AsyncSession], Awaitable[T]]) -> T:
        return await self.scope.write(use_case)

    async def close(self) -> None:
        if self._scope is not None:
            await self._scope.close()

    def live(self) -> None:
        """The subscription being resolved is registered with the event hub."""
        if self.on_live is not None:
            self.on_live()
            self.on_live = None

    def revoke_access(self) -> None:
        """The socket's user lost its rights: subscriptions stop before their next event."""
        self.access_revoked = True

    @contextmanager
    def event_scope(self, scope: Scope) -> Iterator[None]:
        """Resolve what is yielded inside the block in `scope` (a subscription event).

        Async generators run in their consumer's context, so a value set before `yield` is
        seen while that payload's fields resolve, and reset when the generator resumes.
        """
        token = _event_scope.set(scope)
        try:
            yield
        finally:
            _event_scope.reset(token)


Info: TypeAlias = strawberry.Info[Context, None]
