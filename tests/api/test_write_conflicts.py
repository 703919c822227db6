"""A constraint violation that a use case could not check first is a CONFLICT user error that
changed nothing, never INTERNAL (review, finding 6)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from models import Organization
from permissions import Actor
from resolvers.errors import UserErrorCode, UserInputError
from schema.context import Scope
from tests.conftest import Stack
from tests.factories import create_organization


async def test_a_unique_violation_is_a_conflict_and_changes_nothing(db: Stack, session) -> None:
    taken = await create_organization(session, slug="taken")
    await session.commit()
    published: list[Any] = []

    async def publish(events: Any) -> None:
        published.extend(events)

    async def add_two(s: Any) -> None:
        s.add(Organization(name="New", slug="fresh"))
        await s.flush()
        s.add(Organization(name="Clash", slug=taken.slug))
        await s.flush()

    scope = Scope(db.sessionmaker, Actor.anonymous(), publish)
    with pytest.raises(UserInputError) as refused:
        await scope.write(add_two)
    await scope.close()

    assert [e.code for e in refused.value.errors] == [UserErrorCode.CONFLICT]
    assert published == []
    count = await session.scalar(select(func.count()).select_from(Organization))
    assert count == 1


async def test_a_savepoint_released_before_a_failure_is_rolled_back_with_it(
    db: Stack, session
) -> None:
    # On SQLite a savepoint that was a transaction's first statement used to start (and, when
    # released, commit) a transaction of its own: the write below survived its rollback.
    async def write(s: Any) -> None:
        async with s.begin_nested():
            s.add(Organization(name="Half done", slug="half-done"))
        raise RuntimeError("a later step fails")

    scope = Scope(db.sessionmaker, Actor.anonymous())
    with pytest.raises(RuntimeError):
        await scope.write(write)
    await scope.close()

    count = await session.scalar(select(func.count()).select_from(Organization))
    assert count == 0
