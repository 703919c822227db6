"""Building blocks of a compiled statement: JSON objects, literals, timestamps, global ids and
cursors written in SQL exactly as the reference path writes them in Python, and the fallback
call."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Text,
    bindparam,
    case,
    func,
    literal_column,
    null,
)
from sqlalchemy import cast as sql_cast
from sqlalchemy.sql.selectable import Subquery

from permissions.actor import Actor, ActorKind
from resolvers.compiled.plan import NotCompilable
from resolvers.pagination import SortKey

FALLBACK_SQLSTATE = "HDFB1"
MAX_KEYS = 50  # json_build_object takes at most 100 arguments
_NAME = re.compile(r"[_A-Za-z][_0-9A-Za-z]*")

# The actor's id and organization are bound parameters: a plan serves every actor of a kind.
ACTOR_ID = bindparam("hd_actor_id", type_=BigInteger)
ORGANIZATION_ID = bindparam("hd_organization_id", type_=BigInteger)


def symbolic_actor(kind: ActorKind) -> Actor:
    return Actor(kind=kind, id=cast(Any, ACTOR_ID), organization_id=cast(Any, ORGANIZATION_ID))


def text_literal(value: str) -> ColumnElement[Any]:
    assert re.fullmatch(r"[_0-9A-Za-z.:]*", value), value
    return literal_column(f"'{value}'::text")


def _key(value: str) -> ColumnElement[Any]:
    assert _NAME.fullmatch(value), value
    return literal_column(f"'{value}'")


def json_object(pairs: Sequence[tuple[str, ColumnElement[Any]]]) -> ColumnElement[Any]:
    if len(pairs) > MAX_KEYS:
        raise NotCompilable("too many fields in one object")
    return func.json_build_object(*[part for key, value in pairs for part in (_key(key), value)])


def fallback(type_: Any) -> ColumnElement[Any]:
    """Raises when evaluated: the reference path answers this request."""
    return func.pg_temp.hd_fallback(sql_cast(null(), type_))


def iso(column: Any) -> ColumnElement[Any]:
    """A timestamp as Python's isoformat() of the aware UTC value writes it."""
    utc = func.timezone(literal_column("'UTC'"), column)
    micros = func.to_char(utc, literal_column("'US'"))
    fraction = case(
        (micros == literal_column("'000000'"), literal_column("''")),
        else_=literal_column("'.'").op("||")(micros),
    )
    whole = func.to_char(utc, literal_column("'YYYY-MM-DD\"T\"HH24:MI:SS'"))
    return whole.op("||")(fraction).op("||")(literal_column("'+00:00'"))


def _base64(text: ColumnElement[Any]) -> ColumnElement[Any]:
    return func.encode(func.convert_to(text, literal_column("'UTF8'")), literal_column("'base64'"))


def global_id(type_name: str, column: Any) -> ColumnElement[Any]:
    return _base64(text_literal(f"{type_name}:").op("||")(sql_cast(column, Text)))


def sort_column(key: SortKey, rows: Subquery) -> ColumnElement[Any]:
    """A row's sort value: its own column, or the order's expression as `hd_sort`."""
    return rows.c.hd_sort if "hd_sort" in rows.c else rows.c[key.expression.name]


def cursor(key: SortKey, row: Subquery) -> ColumnElement[Any]:
    """resolvers.pagination.encode_cursor, in SQL: urlsafe base64 of [name, value, id]."""
    value = sort_column(key, row)
    rendered = (
        literal_column("'\"'").op("||")(iso(value)).op("||")(literal_column("'\"'"))
        if key.timestamp
        else sql_cast(value, Text)
    )
    text = (
        literal_column(f"'[\"{key.name}\",'")
        .op("||")(rendered)
        .op("||")(literal_column("','"))
        .op("||")(sql_cast(row.c.id, Text))
    )
    if "hd_pin" in row.c:
        # [name, value, id, pin] (resolvers.pagination.encode_cursor).
        text = text.op("||")(literal_column("','")).op("||")(sql_cast(row.c.hd_pin, Text))
    text = text.op("||")(literal_column("']'"))
    return func.translate(_base64(text), literal_column("E'+/\\n'"), literal_column("'-_'"))
