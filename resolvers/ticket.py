"""Ticket reads: one ticket, the filtered and ordered list, and per-ticket responses and history.

Every read starts from `permissions.ticket.readable_tickets`, so what a caller may not see is
neither returned, counted, nor matched by a search.
"""

from __future__ import annotations

import datetime as dt
import enum
import re
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, case, exists, false, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from models import Priority, Status, Ticket, TicketHistory, TicketResponse
from permissions import Actor
from permissions.ticket import history_visibility, readable_tickets, response_visibility
from resolvers.errors import BadUserInputError, NotFoundError
from resolvers.locks import check_lock_order, is_postgres, ticket_lock, transaction_id_if_assigned
from resolvers.pagination import Page, PageRequest, SortKey, paginate

PRIORITY_RANK = {Priority.LOW: 0, Priority.MEDIUM: 1, Priority.HIGH: 2, Priority.URGENT: 3}
SEARCH_MAX = 200


class TicketOrderField(enum.StrEnum):
    UPDATED_AT = "updated_at"
    CREATED_AT = "created_at"
    PRIORITY = "priority"
    NUMBER = "number"


@dataclass(frozen=True)
class TicketOrder:
    field: TicketOrderField = TicketOrderField.UPDATED_AT
    descending: bool = True


class AssigneeScope(enum.StrEnum):
    ME = "me"
    UNASSIGNED = "unassigned"
    MEMBER = "member"


@dataclass(frozen=True)
class TicketFilter:
    statuses: Sequence[Status] = ()
    priorities: Sequence[Priority] = ()
    assignee: AssigneeScope | None = None
    assignee_id: int | None = None
    team_ids: Sequence[int] = ()
    customer_id: int | None = None
    organization_id: int | None = None
    tags: Sequence[str] = field(default_factory=tuple)
    created_after: dt.datetime | None = None
    created_before: dt.datetime | None = None
    updated_after: dt.datetime | None = None
    updated_before: dt.datetime | None = None
    search: str | None = None


async def get_ticket(session: AsyncSession, actor: Actor, ticket_id: int) -> Ticket:
    """The ticket with this id if the actor may read it; NotFoundError otherwise."""
    ticket = await session.scalar(readable_tickets(actor).where(Ticket.id == ticket_id))
    if ticket is None:
        raise NotFoundError("ticket not found")
    return ticket


async def get_ticket_for_update(session: AsyncSession, actor: Actor, ticket_id: int) -> Ticket:
    """Like get_ticket, locking the row until commit (PostgreSQL; SQLite writers are serialized
    already), so that concurrent writers to one ticket take turns instead of failing on its
    version, and each sees the other's result."""
    statement = readable_tickets(actor).where(Ticket.id == ticket_id)
    if not is_postgres(session):
        ticket = await session.scalar(
            statement.with_for_update().execution_options(populate_existing=True)
        )
    else:
        # The ticket's advisory lock is taken while the row is read, before the row lock gives
        # the transaction its id (resolvers/locks.py), in the same round trip.
        row = (
            await session.execute(
                statement.add_columns(ticket_lock(Ticket.id), transaction_id_if_assigned())
                .with_for_update(of=Ticket)
                .execution_options(populate_existing=True)
            )
        ).first()
        ticket = None if row is None else row[0]
        if row is not None:
            check_lock_order(row[2], "a ticket write")
    if ticket is None:
        raise NotFoundError("ticket not found")
    return ticket


async def get_ticket_by_number(
    session: AsyncSession, actor: Actor, organization_id: int, number: int
) -> Ticket:
    """An organization's ticket by its number (#1042), if the actor may read it."""
    ticket = await session.scalar(
        readable_tickets(actor).where(
            Ticket.organization_id == organization_id, Ticket.number == number
        )
    )
    if ticket is None:
        raise NotFoundError("ticket not found")
    return ticket


def _is_postgres(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "postgresql"


# Every value a filter or an order compares with goes through a Binder: as is for the
# reference path, as a named bound parameter for the compiled one (resolvers/compiled/), which
# renders the same conditions once per filter shape and binds the values per request.
Binder = Callable[[str, Any, Any], Any]


def as_is(name: str, value: Any, column: Any) -> Any:
    return value


def _tag_condition(postgres: bool, tag: Any) -> ColumnElement[bool]:
    if postgres:
        return Ticket.tags.op("@>")(func.jsonb_build_array(tag))
    each = func.json_each(Ticket.tags).table_valued("value")
    return exists(select(1).select_from(each).where(each.c.value == tag))


def _like(text: str) -> str:
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


NUMBER_REFERENCE = re.compile(r"(?<![\w#])#(\d{1,9})\b")
BARE_NUMBER = re.compile(r"\d{1,9}")


@dataclass(frozen=True)
class Search:
    """A search text split into ticket numbers (`#41`, or a search that is just `41`) and the
    words to look for. `#41 export` finds ticket 41 and the tickets about "export"."""

    numbers: frozenset[int]
    words: str

    @classmethod
    def parse(cls, text: str) -> Search:
        text = text.strip()
        if len(text) > SEARCH_MAX:
            raise BadUserInputError(f"search must be at most {SEARCH_MAX} characters")
        if BARE_NUMBER.fullmatch(text):
            # A bare number is a ticket number, and also a word (an error code, an order).
            return cls(frozenset({int(text)}), text)
        numbers = frozenset(int(n) for n in NUMBER_REFERENCE.findall(text))
        return cls(numbers, " ".join(NUMBER_REFERENCE.sub(" ", text).split()))


def search_of(filters: TicketFilter) -> Search | None:
    """The parsed search of a filter, if it has one."""
    if filters.search is None or not filters.search.strip():
        return None
    return Search.parse(filters.search)


def _numbers(bind: Binder, name: str, numbers: Collection[int]) -> list[Any]:
    return [bind(f"{name}_{i}", n, Ticket.number) for i, n in enumerate(sorted(set(numbers)))]


def _search_condition(
    postgres: bool, actor: Actor, search: Search, bind: Binder
) -> ColumnElement[bool]:
    """Ticket numbers, and words in the title, description and the responses the actor may read
    (never internal notes for customers). PostgreSQL full-text search; a case-insensitive
    substring match elsewhere."""
    conditions: list[ColumnElement[bool]] = []
    if search.numbers:
        conditions.append(Ticket.number.in_(_numbers(bind, "search_number", search.numbers)))
    if search.words:
        conditions.append(_text_condition(postgres, actor, search.words, bind))
    return or_(*conditions)


def _text_condition(postgres: bool, actor: Actor, text: str, bind: Binder) -> ColumnElement[bool]:
    ticket_match: ColumnElement[bool]
    response_match: ColumnElement[bool]
    if postgres:
        query = func.websearch_to_tsquery(
            "english", bind("search_words", text, TicketResponse.body)
        )
        ticket_match = func.to_tsvector("english", Ticket.title + " " + Ticket.description).op(
            "@@"
        )(query)
        response_match = func.to_tsvector("english", TicketResponse.body).op("@@")(query)
    else:
        pattern = _like(text)
        ticket_match = or_(
            func.lower(Ticket.title).like(pattern, escape="\\"),
            func.lower(Ticket.description).like(pattern, escape="\\"),
        )
        response_match = func.lower(TicketResponse.body).like(pattern, escape="\\")
    in_responses = exists(
        select(1).where(
            TicketResponse.ticket_id == Ticket.id, response_visibility(actor), response_match
        )
    )
    return or_(ticket_match, in_responses)


def filtered_tickets(
    session: AsyncSession, actor: Actor, filters: TicketFilter
) -> Select[tuple[Ticket]]:
    """The readable tickets matching the filter, unordered."""
    return filtered_readable_tickets(_is_postgres(session), actor, filters)


def filtered_readable_tickets(
    postgres: bool, actor: Actor, filters: TicketFilter, bind: Binder = as_is
) -> Select[tuple[Ticket]]:
    """`readable_tickets` narrowed by the filter, every compared value passed through `bind`."""
    statement = readable_tickets(actor)
    conditions: list[ColumnElement[bool]] = []

    def each(name: str, values: Sequence[Any], column: Any) -> list[Any]:
        return [bind(f"{name}_{i}", v, column) for i, v in enumerate(values)]

    if filters.statuses:
        conditions.append(Ticket.status.in_(each("status", filters.statuses, Ticket.status)))
    if filters.priorities:
        conditions.append(
            Ticket.priority.in_(each("priority", filters.priorities, Ticket.priority))
        )
    if filters.assignee is AssigneeScope.ME:
        conditions.append(Ticket.assignee_id == actor.id if actor.is_staff else false())
    elif filters.assignee is AssigneeScope.UNASSIGNED:
        conditions.append(Ticket.assignee_id.is_(None))
    elif filters.assignee is AssigneeScope.MEMBER:
        conditions.append(
            Ticket.assignee_id == bind("assignee_id", filters.assignee_id, Ticket.assignee_id)
        )
    if filters.team_ids:
        conditions.append(Ticket.team_id.in_(each("team", filters.team_ids, Ticket.team_id)))
    if filters.customer_id is not None:
        conditions.append(
            Ticket.customer_id == bind("customer_id", filters.customer_id, Ticket.customer_id)
        )
    if filters.organization_id is not None:
        conditions.append(
            Ticket.organization_id
            == bind("organization_id", filters.organization_id, Ticket.organization_id)
        )
    conditions += [
        _tag_condition(postgres, tag) for tag in each("tag", filters.tags, TicketResponse.body)
    ]
    for name, column, bound, after in (
        ("created_after", Ticket.created_at, filters.created_after, True),
        ("created_before", Ticket.created_at, filters.created_before, False),
        ("updated_after", Ticket.updated_at, filters.updated_after, True),
        ("updated_before", Ticket.updated_at, filters.updated_before, False),
    ):
        if bound is not None:
            value = bind(name, bound, column)
            conditions.append(column >= value if after else column < value)
    search = search_of(filters)
    if search is not None:
        conditions.append(_search_condition(postgres, actor, search, bind))
    return statement.where(and_(*conditions)) if conditions else statement  # type: ignore[return-value]


def ticket_sort_key(
    order: TicketOrder, pinned_numbers: Collection[int] = (), bind: Binder = as_is
) -> SortKey:
    """The keyset order of a ticket list. Cursors name the field and the direction, so a
    cursor of one order is refused by another. Tickets named by number in a search
    (`pinned_numbers`) come first, in the same order among themselves."""
    priority_rank = case(
        {priority.value: rank for priority, rank in PRIORITY_RANK.items()},
        value=Ticket.priority,
    )
    expression, value_of = {
        TicketOrderField.UPDATED_AT: (Ticket.updated_at, lambda t: t.updated_at),
        TicketOrderField.CREATED_AT: (Ticket.created_at, lambda t: t.created_at),
        TicketOrderField.NUMBER: (Ticket.number, lambda t: t.number),
        TicketOrderField.PRIORITY: (priority_rank, lambda t: PRIORITY_RANK[t.priority]),
    }[order.field]
    direction = "desc" if order.descending else "asc"
    pin: Any = None
    pin_of: Callable[[Ticket], int] | None = None
    if pinned_numbers:
        # 1 sorts first in a descending order, 0 in an ascending one.
        first, rest = (1, 0) if order.descending else (0, 1)
        numbers = sorted(set(pinned_numbers))
        pin = case((Ticket.number.in_(_numbers(bind, "pin", numbers)), first), else_=rest)
        pin_of = lambda t: first if t.number in numbers else rest  # noqa: E731
    return SortKey(
        f"tickets.{order.field.value}.{direction}" + (".pinned" if pin is not None else ""),
        expression,
        Ticket.id,
        order.descending,
        value_of,
        timestamp=order.field in (TicketOrderField.UPDATED_AT, TicketOrderField.CREATED_AT),
        pin=pin,
        pin_of=pin_of,
    )


async def list_tickets(
    session: AsyncSession,
    actor: Actor,
    filters: TicketFilter,
    order: TicketOrder,
    page: PageRequest,
) -> Page[Ticket]:
    """A page of the tickets the actor may read: a customer's own, or their organization's queue."""
    statement = filtered_tickets(session, actor, filters)

    async def count() -> int:
        total = await session.scalar(select(func.count()).select_from(statement.subquery()))
        return int(total or 0)

    search = search_of(filters)
    key = ticket_sort_key(order, search.numbers if search is not None else ())
    return await paginate(session, statement, key, page, count)


@dataclass(frozen=True)
class ChildPage:
    """The arguments of one `Ticket.responses` / `Ticket.history` selection."""

    first: int | None = None
    last: int | None = None


async def responses_for_tickets(
    session: AsyncSession, actor: Actor, ticket_ids: Sequence[int], window: ChildPage = ChildPage()
) -> dict[int, list[TicketResponse]]:
    """Responses of already-authorized tickets, oldest first, without what the actor may not see.

    With `first`/`last`, only that many per ticket, still in one query (a window function).
    """
    return await _children(
        session,
        TicketResponse,
        select(TicketResponse).where(
            TicketResponse.ticket_id.in_(ticket_ids), response_visibility(actor)
        ),
        (TicketResponse.created_at, TicketResponse.id),
        ticket_ids,
        window,
    )


async def history_for_tickets(
    session: AsyncSession, actor: Actor, ticket_ids: Sequence[int], window: ChildPage = ChildPage()
) -> dict[int, list[TicketHistory]]:
    """History of already-authorized tickets, oldest first, without staff-only entries for
    customers."""
    return await _children(
        session,
        TicketHistory,
        select(TicketHistory).where(
            TicketHistory.ticket_id.in_(ticket_ids), history_visibility(actor)
        ),
        (TicketHistory.id,),
        ticket_ids,
        window,
    )


async def _children(
    session: AsyncSession,
    model: Any,
    statement: Select[Any],
    order: tuple[Any, ...],
    ticket_ids: Sequence[int],
    window: ChildPage,
) -> dict[int, list[Any]]:
    grouped: dict[int, list[Any]] = {ticket_id: [] for ticket_id in ticket_ids}
    limit = window.first if window.first is not None else window.last
    if limit is not None:
        descending = window.last is not None
        position = (
            func.row_number()
            .over(
                partition_by=model.ticket_id,
                order_by=[c.desc() if descending else c.asc() for c in order],
            )
            .label("position")
        )
        ranked = statement.add_columns(position).subquery()
        statement = (
            select(model).join(ranked, model.id == ranked.c.id).where(ranked.c.position <= limit)
        )
    rows = await session.scalars(statement.order_by(model.ticket_id, *order))
    for row in rows:
        grouped[row.ticket_id].append(row)
    return grouped


async def count_children(
    session: AsyncSession, actor: Actor, model: Any, ticket_ids: Sequence[int]
) -> dict[int, int]:
    """How many responses (or history entries) the actor can see on each ticket."""
    visibility = (
        response_visibility(actor) if model is TicketResponse else history_visibility(actor)
    )
    rows = await session.execute(
        select(model.ticket_id, func.count())
        .where(model.ticket_id.in_(ticket_ids), visibility)
        .group_by(model.ticket_id)
    )
    counts = {ticket_id: 0 for ticket_id in ticket_ids}
    counts.update({ticket_id: int(n) for ticket_id, n in rows})
    return counts


RESPONSE_ORDER = SortKey(
    "responses.created_at",
    TicketResponse.created_at,
    TicketResponse.id,
    False,
    lambda r: r.created_at,
    timestamp=True,
)
HISTORY_ORDER = SortKey("history.id", TicketHistory.id, TicketHistory.id, False, lambda h: h.id)


async def page_responses(
    session: AsyncSession, actor: Actor, ticket_id: int, page: PageRequest
) -> Page[TicketResponse]:
    """A cursor page of one already-authorized ticket's visible responses, oldest first."""
    statement = select(TicketResponse).where(
        TicketResponse.ticket_id == ticket_id, response_visibility(actor)
    )
    return await paginate(session, statement, RESPONSE_ORDER, page)


async def page_history(
    session: AsyncSession, actor: Actor, ticket_id: int, page: PageRequest
) -> Page[TicketHistory]:
    """A cursor page of one already-authorized ticket's visible history, oldest first."""
    statement = select(TicketHistory).where(
        TicketHistory.ticket_id == ticket_id, history_visibility(actor)
    )
    return await paginate(session, statement, HISTORY_ORDER, page)


async def visible_children_by_id(
    session: AsyncSession, actor: Actor, model: Any, ids: Sequence[int]
) -> list[Any]:
    """Responses or history entries by id for `node(id)`: on readable tickets, and visible."""
    visibility = (
        response_visibility(actor) if model is TicketResponse else history_visibility(actor)
    )
    readable_ids = readable_tickets(actor).with_only_columns(Ticket.id).scalar_subquery()
    rows = await session.scalars(
        select(model).where(model.id.in_(ids), model.ticket_id.in_(readable_ids), visibility)
    )
    found = {row.id: row for row in rows}
    return [found.get(i) for i in ids]


async def tickets_by_id(
    session: AsyncSession, actor: Actor, ids: Sequence[int]
) -> list[Ticket | None]:
    """Readable tickets by id for `nodes(ids)`, None for the others."""
    found = {
        t.id: t for t in await session.scalars(readable_tickets(actor).where(Ticket.id.in_(ids)))
    }
    return [found.get(i) for i in ids]
