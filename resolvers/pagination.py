"""Keyset (cursor) pagination over an ordered SELECT.

A cursor encodes the sort key of a row and its id, so pages stay stable while rows are added,
and every page is an index range scan rather than an OFFSET.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import orjson
from sqlalchemy import ColumnElement, Select, literal, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from resolvers.errors import BadUserInputError
from resolvers.validation import utc_instant

T = TypeVar("T")

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100


@dataclass(frozen=True)
class PageRequest:
    first: int | None = None
    after: str | None = None
    last: int | None = None
    before: str | None = None

    def size(self) -> tuple[int, bool]:
        """(page size, backwards) after checking the arguments."""
        if self.first is not None and self.last is not None:
            raise BadUserInputError("pass either first or last, not both")
        for name, value in (("first", self.first), ("last", self.last)):
            if value is not None and not 0 <= value <= MAX_PAGE_SIZE:
                raise BadUserInputError(f"{name} must be between 0 and {MAX_PAGE_SIZE}")
        if self.last is not None:
            return self.last, True
        return (self.first if self.first is not None else DEFAULT_PAGE_SIZE), False


@dataclass
class Page(Generic[T]):
    items: list[T]
    cursors: list[str]
    has_next_page: bool
    has_previous_page: bool
    count: Callable[[], Awaitable[int]] | None = field(default=None, repr=False)


MAX_ID = 2**63 - 1


@dataclass(frozen=True)
class SortKey:
    """An ordering: its name (cursors carry it, so it names the direction too), a column or
    expression, the direction, and how the sort value reads from a row (a timestamp or an
    integer).

    `pin`, when given, is a leading 0/1 expression that sorts in the key's direction and puts
    some rows first (tickets named by number in a search); `pin_of` reads it from a row.
    """

    name: str
    expression: Any
    id_column: Any
    descending: bool
    value_of: Callable[[Any], Any]
    timestamp: bool = False
    pin: Any = None
    pin_of: Callable[[Any], int] | None = None

    def cursor_of(self, row: Any) -> str:
        pin = None if self.pin_of is None else self.pin_of(row)
        return encode_cursor(self, self.value_of(row), row.id, pin)


def encode_cursor(key: SortKey, value: Any, row_id: int, pin: int | None = None) -> str:
    if isinstance(value, dt.datetime):
        value = value.isoformat()
    parts = [key.name, value, row_id] if pin is None else [key.name, value, row_id, pin]
    return base64.urlsafe_b64encode(orjson.dumps(parts)).decode()


def decode_cursor(key: SortKey, cursor: str) -> tuple[Any, int, int | None]:
    """The sort value, id (and pin) in a cursor made for this ordering; BAD_USER_INPUT
    otherwise (a cursor of another list, field or direction, or one tampered with)."""
    try:
        name, value, row_id, *rest = orjson.loads(base64.urlsafe_b64decode(cursor.encode()))
        if name != key.name or not _is_id(row_id):
            raise ValueError("not this ordering")
        pin = rest[0] if rest else None
        if (pin is None) != (key.pin is None) or pin not in (None, 0, 1) or len(rest) > 1:
            raise ValueError("not this ordering")
        if key.timestamp:
            value = utc_instant(dt.datetime.fromisoformat(value))
        elif not _is_id(value) and not (isinstance(value, int) and 0 <= value <= MAX_ID):
            raise ValueError("value")
    except (ValueError, TypeError, KeyError, binascii.Error, orjson.JSONDecodeError):
        raise BadUserInputError("invalid cursor for this list and order") from None
    return value, row_id, pin


def _is_id(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_ID


def _after(key: SortKey, cursor: str, forward: bool) -> ColumnElement[bool]:
    value, row_id, pin = decode_cursor(key, cursor)
    columns = [key.expression, key.id_column]
    values = [literal(value, key.expression.type), literal(row_id, key.id_column.type)]
    if key.pin is not None:
        columns.insert(0, key.pin)
        values.insert(0, literal(pin, key.pin.type))
    row = tuple_(*columns)
    bound = tuple_(*values)
    # Moving forward in a descending order means smaller keys.
    return row < bound if key.descending == forward else row > bound


async def paginate(
    session: AsyncSession,
    statement: Select[Any],
    key: SortKey,
    request: PageRequest,
    count: Callable[[], Awaitable[int]] | None = None,
) -> Page[Any]:
    """One page of `statement` (a SELECT of ORM rows) in `key` order."""
    size, backwards = request.size()
    if request.after:
        statement = statement.where(_after(key, request.after, forward=True))
    if request.before:
        statement = statement.where(_after(key, request.before, forward=False))
    descending = key.descending != backwards
    columns = (
        [key.expression, key.id_column]
        if key.pin is None
        else [key.pin, key.expression, key.id_column]
    )
    order = [c.desc() if descending else c.asc() for c in columns]
    rows: Sequence[Any] = list(
        (await session.scalars(statement.order_by(*order).limit(size + 1))).all()
    )
    more = len(rows) > size
    rows = list(rows[:size])
    if backwards:
        rows.reverse()
    return Page(
        items=list(rows),
        cursors=[key.cursor_of(row) for row in rows],
        has_next_page=more if not backwards else request.before is not None,
        has_previous_page=more if backwards else request.after is not None,
        count=count,
    )


def page_from_window(rows: Sequence[Any], size: int, backwards: bool, key: SortKey) -> Page[Any]:
    """A first page from `size + 1` rows in ascending order (the extra row means: more exist)."""
    more = len(rows) > size
    if more:
        rows = rows[1:] if backwards else rows[:size]
    return Page(
        items=list(rows),
        cursors=[key.cursor_of(row) for row in rows],
        has_next_page=more and not backwards,
        has_previous_page=more and backwards,
    )
