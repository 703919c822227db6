"""What a compiled operation asks for: selections by response key, and page arguments."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class NotCompilable(Exception):
    """The compiled path does not answer this request; the reference path does."""


@dataclass(frozen=True)
class Selection:
    """The fields asked of one object type, by response key, in document order."""

    type_name: str
    fields: tuple[FieldPlan, ...]


@dataclass(frozen=True)
class FieldPlan:
    key: str
    name: str
    selection: Selection | None = None
    # An abstract field (Response.author: Person): one selection per concrete type.
    union: tuple[Selection, ...] = ()
    # Index of the field's arguments in the request's resolved arguments (root fields and
    # connections), None for fields without arguments.
    slot: int | None = None


@dataclass(frozen=True)
class TicketArgs:
    """`ticket(id:)`: the row id."""

    ticket_id: int

    @property
    def shape(self) -> tuple[Any, ...]:
        return ()


@dataclass(frozen=True)
class PageArgs:
    """A connection page: its size, direction and decoded cursors (sort value, id)."""

    size: int
    backwards: bool
    after: tuple[Any, int] | None = None
    before: tuple[Any, int] | None = None

    @property
    def shape(self) -> tuple[Any, ...]:
        # The SQL differs by these (literal LIMIT, which cursor conditions); values are bound.
        return (self.size, self.backwards, self.after is not None, self.before is not None)


@dataclass(frozen=True)
class TicketPageArgs(PageArgs):
    """`tickets`: a page, the filter and order (resolvers.ticket), the ticket numbers a search
    pins first, the pins of the cursors, and the values the filter binds, by parameter name."""

    filters: Any = None
    order: Any = None
    pinned: frozenset[int] = frozenset()
    after_pin: int | None = None
    before_pin: int | None = None
    values: dict[str, Any] = field(default_factory=dict, compare=False)
    # What of the filter shapes the SQL besides its parameters (the assignee scope).
    filter_shape: tuple[Any, ...] = ()

    @property
    def shape(self) -> tuple[Any, ...]:
        return (*super().shape, tuple(self.values), self.filter_shape, bool(self.pinned))


@dataclass(frozen=True)
class NodeArgs:
    """`node(id:)`: the type named by the global id, and the row id."""

    type_name: str
    row_id: int

    @property
    def shape(self) -> tuple[Any, ...]:
        return (self.type_name,)


@dataclass(frozen=True)
class NoArgs:
    """`ticketStats` without a filter."""

    @property
    def shape(self) -> tuple[Any, ...]:
        return ()


SlotArgs = TicketArgs | PageArgs | TicketPageArgs | NodeArgs | NoArgs
