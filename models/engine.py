"""Engine and session factory for PostgreSQL (asyncpg) and SQLite (aiosqlite)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Connection, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session


def normalize_database_url(url: str) -> URL:
    """Accept postgres://, postgresql:// and sqlite:/// URLs and pick the async driver."""
    parsed = make_url(
        url.replace("postgres://", "postgresql://", 1) if url.startswith("postgres://") else url
    )
    backend = parsed.get_backend_name()
    if backend == "postgresql" and parsed.drivername != "postgresql+asyncpg":
        parsed = parsed.set(drivername="postgresql+asyncpg")
    elif backend == "sqlite" and parsed.drivername != "sqlite+aiosqlite":
        parsed = parsed.set(drivername="sqlite+aiosqlite")
    elif backend not in ("postgresql", "sqlite"):
        raise ValueError(f"unsupported database {backend!r}: use postgresql:// or sqlite:///")
    return parsed


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # The driver would begin a transaction only before the first INSERT/UPDATE/DELETE, and an
    # outermost SAVEPOINT then starts one of its own, which its RELEASE commits: a savepoint
    # (Session.begin_nested) as a transaction's first write committed on its own, even if the
    # transaction later rolled back. So the driver begins nothing, and `_sqlite_begin` emits
    # a real BEGIN whenever SQLAlchemy starts a transaction (SQLAlchemy's documented recipe).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    # SQLite leaves foreign keys off unless asked; WAL lets readers run beside a writer.
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def _sqlite_begin(connection: Any) -> None:
    connection.exec_driver_sql("BEGIN")


def create_engine(
    url: str, *, pool_size: int = 10, max_overflow: int = 10, echo: bool = False
) -> AsyncEngine:
    """Create the async engine for a database URL."""
    parsed = normalize_database_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    kwargs: dict[str, Any] = {"echo": echo}
    if parsed.get_backend_name() == "postgresql":
        # Each round trip is costly (syscalls dominate CPU per request here), so no ping at
        # checkout and no second rollback at checkin (sessions always end their transaction).
        # A dropped connection is detected on use: SQLAlchemy invalidates the pool, the request
        # answers UNAVAILABLE, and the next ones reconnect.
        kwargs.update(
            pool_size=pool_size,
            max_overflow=max_overflow,
            pool_pre_ping=False,
            pool_reset_on_return=None,
        )
    engine = create_async_engine(parsed, **kwargs)
    if parsed.get_backend_name() == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_on_connect)
        event.listen(engine.sync_engine, "begin", _sqlite_begin)
    return engine


ROW_SECURITY = "helpdesk_row_security"
SYSTEM = ("system", "", "")


class RowSecuritySession(Session):
    """A session that tells PostgreSQL, at the start of every transaction, who is acting.

    The row-level security policies (migration 0003) read these settings; a session that was
    never told (see `set_row_security`) sees no tickets, responses or history at all.
    """


@event.listens_for(RowSecuritySession, "after_begin")
def _tell_postgres_who_acts(session: Session, transaction: Any, connection: Connection) -> None:
    if connection.dialect.name != "postgresql":
        return
    kind, actor_id, organization_id = session.info.get(ROW_SECURITY, ("", "", ""))
    connection.execute(
        text(
            "SELECT set_config('helpdesk.actor_kind', :kind, true),"
            " set_config('helpdesk.actor_id', :actor, true),"
            " set_config('helpdesk.organization_id', :org, true)"
        ),
        {"kind": kind, "actor": actor_id, "org": organization_id},
    )


def set_row_security(
    session: AsyncSession,
    kind: str,
    actor_id: int | None = None,
    organization_id: int | None = None,
) -> None:
    """Declare who acts in this session (before its first statement): 'system' (everything),
    'customer', 'agent' or 'admin' (what the policies allow them)."""
    session.info[ROW_SECURITY] = (
        kind,
        "" if actor_id is None else str(actor_id),
        "" if organization_id is None else str(organization_id),
    )


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded objects usable after commit (resolvers return them)."""
    return async_sessionmaker(
        engine, expire_on_commit=False, autoflush=False, sync_session_class=RowSecuritySession
    )
