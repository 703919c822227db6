"""Alembic migrations: they build the models' schema exactly, and run down and up again."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect

from models import Base, migrate
from models.engine import create_engine
from tests.backends import Backend, configured_backends


@pytest.fixture(params=configured_backends(), ids=lambda b: b.name)
async def empty_engine(request: pytest.FixtureRequest, fresh_database):
    backend: Backend = request.param
    engine = create_engine(await fresh_database(backend))
    yield engine
    await engine.dispose()


async def table_names(engine) -> set[str]:
    async with engine.connect() as conn:
        return set(await conn.run_sync(lambda sync: inspect(sync).get_table_names()))


async def test_upgrade_builds_exactly_the_models(empty_engine) -> None:
    assert await migrate.current_revision(empty_engine) is None

    await migrate.upgrade(empty_engine)

    assert await migrate.current_revision(empty_engine) == migrate.head_revision()
    assert await migrate.pending_model_changes(empty_engine) == []
    assert set(Base.metadata.tables) <= await table_names(empty_engine)


async def test_downgrade_to_base_and_up_again(empty_engine) -> None:
    await migrate.upgrade(empty_engine)

    await migrate.downgrade(empty_engine, "base")
    assert await table_names(empty_engine) <= {"alembic_version"}

    await migrate.upgrade(empty_engine)
    assert await migrate.pending_model_changes(empty_engine) == []
