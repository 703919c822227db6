"""Fixtures: one migrated database per backend per run, a running app, clean state per test."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from starlette.applications import Starlette

from models import Base, migrate
from models.engine import create_engine, create_sessionmaker
from server.app import create_app
from server.auth import issue_development_token
from server.settings import Settings
from tests.backends import Backend, configured_backends

TEST_SECRET = "test-secret-" + "x" * 40


@dataclass
class Stack:
    """A migrated database, the engine on it, and a running app for one backend."""

    backend: Backend
    database_url: str
    broadcast_url: str
    settings: Settings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    app: Starlette

    def token(self, subject: str, ttl: dt.timedelta = dt.timedelta(hours=1)) -> str:
        return issue_development_token(self.settings, subject, ttl)

    def client(self, token: str | None = None, app: Starlette | None = None) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app or self.app),
            base_url="http://test",
            headers=headers,
        )

    @asynccontextmanager
    async def variant(self, **overrides: Any) -> AsyncIterator[Starlette]:
        """Another running app on the same database, with some settings changed."""
        app = create_app(replace(self.settings, **overrides))
        async with app.router.lifespan_context(app):
            yield app


def make_settings(database_url: str, broadcast_url: str, tmp: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "broadcast_url": broadcast_url,
        "data_dir": tmp,
        "jwt_secret": TEST_SECRET,
        # Large enough that field limits (not the body limit) answer huge inputs; the body
        # limit has tests of its own.
        "max_body_bytes": 4 * 1024 * 1024,
        # The rate limiter has tests of its own; the suite sends bursts from few identities.
        "rate_limit_per_minute": 0,
        # Tests change who people are (deactivate, delete) between requests.
        "actor_cache_seconds": 0,
    }
    values.update(overrides)
    return Settings(**values)


async def _maintenance(maintenance_url: str, statement: str) -> None:
    url = make_url(maintenance_url)
    conn = await asyncpg.connect(
        host=url.host,
        port=url.port or 5432,
        user=url.username,
        password=url.password,
        database=url.database or "postgres",
    )
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


APP_ROLE = "helpdesk_app_test"


async def create_app_role(maintenance_url: str) -> None:
    """A plain login role for the app under test, so PostgreSQL row security applies to it
    (superusers, like the maintenance user, bypass it)."""
    await _maintenance(
        maintenance_url,
        f"""DO $$ BEGIN
          IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{APP_ROLE}') THEN
            CREATE ROLE {APP_ROLE} LOGIN NOSUPERUSER NOBYPASSRLS;
          END IF;
        END $$""",
    )


async def create_postgres_database(maintenance_url: str) -> tuple[str, str]:
    """A new, empty database; returns (its URL, its name)."""
    name = f"helpdesk_test_{uuid.uuid4().hex[:10]}"
    await _maintenance(maintenance_url, f'CREATE DATABASE "{name}"')
    url = make_url(maintenance_url).set(database=name)
    return url.render_as_string(hide_password=False), name


async def drop_postgres_database(maintenance_url: str, name: str) -> None:
    await _maintenance(maintenance_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
async def fresh_database(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """A factory of new, empty databases for the given backend, dropped at the end of the run."""
    created: list[tuple[str, str]] = []

    async def make(backend: Backend) -> str:
        if backend.is_postgres:
            url, name = await create_postgres_database(backend.database)
            created.append((backend.database, name))
            return url
        return f"sqlite:///{tmp_path_factory.mktemp('db') / 'helpdesk.db'}"

    yield make
    for maintenance, name in created:
        await drop_postgres_database(maintenance, name)


@pytest.fixture(scope="session", params=configured_backends(), ids=lambda b: b.name)
async def stack(
    request: pytest.FixtureRequest, fresh_database: Any, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Stack]:
    backend: Backend = request.param
    database_url = await fresh_database(backend)
    engine = create_engine(database_url)
    await migrate.upgrade(engine)
    app_database_url = database_url
    if backend.is_postgres:
        await create_app_role(backend.database)
        await migrate.grant_app_role(engine, APP_ROLE)
        app_database_url = (
            make_url(database_url).set(username=APP_ROLE).render_as_string(hide_password=False)
        )
    broadcast_url = backend.broadcast or "memory://"
    settings = make_settings(app_database_url, broadcast_url, tmp_path_factory.mktemp("data"))
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        yield Stack(
            backend=backend,
            database_url=database_url,
            broadcast_url=broadcast_url,
            settings=settings,
            engine=engine,
            sessionmaker=create_sessionmaker(engine),
            app=app,
        )
    await engine.dispose()


async def clear_tables(engine: AsyncEngine) -> None:
    tables = [table.name for table in reversed(Base.metadata.sorted_tables)]
    async with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            await conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                await conn.execute(text(f"DELETE FROM {table}"))


@pytest.fixture
async def db(stack: Stack) -> AsyncIterator[Stack]:
    """The stack, with every table emptied after the test."""
    try:
        yield stack
    finally:
        await clear_tables(stack.engine)


@pytest.fixture
async def session(db: Stack) -> AsyncIterator[AsyncSession]:
    """A session for arranging data; commit what the API should see."""
    async with db.sessionmaker() as session:
        yield session


@pytest.fixture(autouse=True)
def _ticket_locks_come_first(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Every write path takes its tickets' locks before its first write (resolvers/locks.py),
    or one ticket's events could reach subscribers out of order: any test that runs such a
    path fails."""
    yield
    late = [r.getMessage() for r in caplog.records if r.name == "helpdesk.locks"]
    assert late == [], late
