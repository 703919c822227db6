"""Relay `node(id)` and `nodes(ids)`: any object by its global id, through the same policies."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession
from strawberry import relay

from models import (
    Customer,
    Organization,
    RoutingRule,
    Team,
    TeamMember,
    TicketHistory,
    TicketResponse,
)
from permissions import Actor
from permissions.fields import IsAuthenticated
from resolvers import attachment as attachments
from resolvers import directory, knowledge_base
from resolvers import ticket as tickets
from resolvers.errors import BadUserInputError, NotFoundError
from schema.context import Info
from schema.ids import row_id

MAX_NODES = 100

Fetch = Callable[[AsyncSession, Actor, Sequence[int]], Awaitable[list[Any]]]


def _directory(model: Any) -> Fetch:
    return lambda session, actor, ids: directory.visible_by_ids(session, actor, model, ids)


def _children(model: Any) -> Fetch:
    return lambda session, actor, ids: tickets.visible_children_by_id(session, actor, model, ids)


FETCHERS: dict[str, Fetch] = {
    "Ticket": tickets.tickets_by_id,
    "Response": _children(TicketResponse),
    "HistoryEntry": _children(TicketHistory),
    "Customer": _directory(Customer),
    "TeamMember": _directory(TeamMember),
    "Team": _directory(Team),
    "Organization": _directory(Organization),
    "Attachment": attachments.attachments_by_id,
    "RoutingRule": _directory(RoutingRule),
    "Article": knowledge_base.articles_by_id,
    "KnowledgeBaseCategory": knowledge_base.categories_by_id,
}


async def _resolve(info: Info, node_ids: Sequence[relay.GlobalID]) -> list[Any]:
    """Objects for global ids, None for those that do not exist or are not the caller's to see."""
    wanted: dict[str, list[int]] = {}
    for node_id in node_ids:
        pk = row_id(node_id.node_id)
        if node_id.type_name in FETCHERS and pk is not None:
            wanted.setdefault(node_id.type_name, []).append(pk)
    found: dict[tuple[str, int], Any] = {}
    ctx = info.context
    for type_name, ids in wanted.items():
        rows = await ctx.run(lambda s, t=type_name, i=ids: FETCHERS[t](s, ctx.actor, i))  # type: ignore[misc]
        found.update({(type_name, pk): row for pk, row in zip(ids, rows, strict=True)})
    return [found.get((n.type_name, row_id(n.node_id) or 0)) for n in node_ids]


@strawberry.type
class NodeQuery:
    @strawberry.field(
        description=(
            "Any object by its global id; null with a NOT_FOUND error when it is not yours to see."
        ),
        graphql_type=relay.Node | None,
        permission_classes=[IsAuthenticated],
    )
    async def node(self, info: Info, id: relay.GlobalID) -> Any:
        (found,) = await _resolve(info, [id])
        if found is None:
            raise NotFoundError("node not found")
        return found

    @strawberry.field(
        description=f"Objects by global ids (at most {MAX_NODES}); null where not yours to see.",
        graphql_type=list[relay.Node | None] | None,
        permission_classes=[IsAuthenticated],
    )
    async def nodes(self, info: Info, ids: list[relay.GlobalID]) -> list[Any]:
        if len(ids) > MAX_NODES:
            raise BadUserInputError(f"at most {MAX_NODES} ids at once")
        return await _resolve(info, ids)
