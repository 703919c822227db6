"""The typed request context: actor, database access and per-request DataLoaders."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, TypeAlias, TypeVar

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.dataloader import DataLoader

from models import Customer, Organization, Team, TeamMember, TicketResponse
from permissions import Actor
from resolvers import loaders as batch
from resolvers.ticket import responses_for_tickets

T = TypeVar("T")


@dataclass
class Loaders:
    """One DataLoader per relation, made per request so nothing is cached across callers."""

    customer: DataLoader[int, Customer | None]
    team_member: DataLoader[int, TeamMember | None]
    team: DataLoader[int, Team | None]
    organization: DataLoader[int, Organization | None]
    responses_by_ticket: DataLoader[int, list[TicketResponse]]


@dataclass
class Context:
    """Per HTTP request, or per WebSocket connection (then `request` is the socket)."""

    sessionmaker: async_sessionmaker[AsyncSession]
    actor: Actor
    request: Request | WebSocket | None = None
    response: Response | WebSocket | None = None
    # Strawberry fills this from the WebSocket connection_init payload.
    connection_params: dict[str, Any] | None = None
    _session: AsyncSession | None = None
    # Sibling resolvers and DataLoader batches run concurrently, but an AsyncSession may not be
    # used by two tasks at once: every use of the session goes through this lock.
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    loaders: Loaders = field(init=False)

    def __post_init__(self) -> None:
        self.loaders = Loaders(
            customer=self._by_id_loader(Customer),
            team_member=self._by_id_loader(TeamMember),
            team=self._by_id_loader(Team),
            organization=self._by_id_loader(Organization),
            responses_by_ticket=DataLoader(self._load_responses),
        )

    @asynccontextmanager
    async def db(self) -> AsyncIterator[AsyncSession]:
        """The request's session, held exclusively for the duration of the block."""
        async with self._lock:
            if self._session is None:
                self._session = self.sessionmaker()
            yield self._session

    async def run(self, use_case: Callable[[AsyncSession], Awaitable[T]]) -> T:
        """Run one use case on the request's session."""
        async with self.db() as session:
            return await use_case(session)

    async def close(self) -> None:
        """Return the connection to the pool; called once the response is built."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _by_id_loader(self, model: Any) -> DataLoader[int, Any]:
        async def load(ids: Sequence[int]) -> list[Any]:
            async with self.db() as session:
                return await batch.rows_by_id(session, model, ids)

        return DataLoader(load)

    async def _load_responses(self, ticket_ids: Sequence[int]) -> list[list[TicketResponse]]:
        async with self.db() as session:
            grouped = await responses_for_tickets(session, self.actor, ticket_ids)
        return [grouped[ticket_id] for ticket_id in ticket_ids]


Info: TypeAlias = strawberry.Info[Context, None]
