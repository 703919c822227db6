"""Batch reads used by the per-request DataLoaders: one query per relation per request."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from models.base import Base

ModelT = TypeVar("ModelT", bound=Base)


async def rows_by_id(
    session: AsyncSession,
    model: type[ModelT],
    ids: Sequence[int],
    *,
    where: ColumnElement[bool] | None = None,
) -> list[ModelT | None]:
    """Rows of `model` for `ids`, in the same order, None where a row is missing.

    Only for relations of objects the caller was already allowed to read (a ticket's customer,
    assignee, team, organization); never as a way to look up an id the caller supplied.
    """
    id_column: Any = model.__table__.c.id
    statement = select(model).where(id_column.in_(ids))
    if where is not None:
        statement = statement.where(where)
    rows = await session.scalars(statement)
    found = {row.id: row for row in rows}  # type: ignore[attr-defined]
    return [found.get(i) for i in ids]
