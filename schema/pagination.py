"""Relay cursor connections built from a resolvers `Page`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

import strawberry

from resolvers.pagination import Page
from schema.context import Info

NodeT = TypeVar("NodeT")


@strawberry.type(description="Where a page sits in the whole list.")
class PageInfo:
    has_next_page: bool = strawberry.field(description="More items follow this page.")
    has_previous_page: bool = strawberry.field(description="More items precede this page.")
    start_cursor: str | None = strawberry.field(description="Cursor of the first item.")
    end_cursor: str | None = strawberry.field(description="Cursor of the last item.")


@strawberry.type(description="An item and its cursor.")
class Edge(Generic[NodeT]):
    cursor: str = strawberry.field(description="Pass as `after`/`before` to page from here.")
    node: NodeT = strawberry.field(description="The item.")


@strawberry.type(description="A page of items with cursors (Relay connection).")
class Connection(Generic[NodeT]):
    edges: list[Edge[NodeT]] = strawberry.field(description="The items with their cursors.")
    page_info: PageInfo = strawberry.field(description="Paging state.")
    count: strawberry.Private[Callable[[Info], Awaitable[int]] | None] = None

    @strawberry.field(description="The items of this page, without cursors.")
    def nodes(self) -> list[NodeT]:
        return [edge.node for edge in self.edges]

    @strawberry.field(description="How many items match, across all pages. Costs one query.")
    async def total_count(self, info: Info) -> int:
        if self.count is None:
            return len(self.edges)
        return await self.count(info)


def connection_from_page(
    page: Page[Any], count: Callable[[Info], Awaitable[int]] | None = None
) -> Connection[Any]:
    return Connection(
        edges=[Edge(cursor=c, node=n) for c, n in zip(page.cursors, page.items, strict=True)],
        page_info=PageInfo(
            has_next_page=page.has_next_page,
            has_previous_page=page.has_previous_page,
            start_cursor=page.cursors[0] if page.cursors else None,
            end_cursor=page.cursors[-1] if page.cursors else None,
        ),
        count=count,
    )
