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


async def test_0004_gives_existing_keys_to_whoever_created_the_ticket(empty_engine) -> None:
    from sqlalchemy import text

    await migrate.upgrade(empty_engine, "0003")
    async with empty_engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            await conn.execute(text("SELECT set_config('helpdesk.actor_kind', 'system', true)"))
        await conn.execute(
            text(
                "INSERT INTO organizations (id, name, slug, next_ticket_number, created_at) "
                "VALUES (1, 'Org', 'org', 3, CURRENT_TIMESTAMP)"
            )
        )
        await conn.execute(
            text(
                "INSERT INTO customers (id, user_id, email, name, created_at, updated_at) "
                "VALUES (5, 'c', 'c@example.com', 'C', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            )
        )
        for ticket, key, actor_type, actor in (
            (1, "k1", "customer", 5),
            (2, "k2", "team_member", 9),
        ):
            await conn.execute(
                text(
                    "INSERT INTO tickets (id, organization_id, number, title, description, status,"
                    " priority, customer_id, tags, metadata, version, created_at, updated_at,"
                    " idempotency_key) VALUES (:id, 1, :id, 't', '', 'open', 'medium', 5, '[]',"
                    " '{}', 1, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, :key)"
                ),
                {"id": ticket, "key": key},
            )
            await conn.execute(
                text(
                    "INSERT INTO ticket_history (ticket_id, organization_id, actor_type, actor_id,"
                    " action, is_internal, created_at) VALUES (:id, 1, :type, :actor, 'created',"
                    " false, CURRENT_TIMESTAMP)"
                ),
                {"id": ticket, "type": actor_type, "actor": actor},
            )

    await migrate.upgrade(empty_engine)

    async with empty_engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            await conn.execute(text("SELECT set_config('helpdesk.actor_kind', 'system', true)"))
        rows = (
            await conn.execute(text("SELECT id, idempotency_scope FROM tickets ORDER BY id"))
        ).all()
    assert [tuple(r) for r in rows] == [(1, "customer:5"), (2, "staff:1:9")]
