"""Run a compiled statement on PostgreSQL in one round trip, row security included.

Each statement becomes a session-local function, `pg_temp.hd_<digest>(params..., kind, actor,
organization)` (plpgsql), that first sets the row-security context with
`set_config(..., true)` and then returns the statement's JSON as text. Called outside an
explicit transaction, the call is its own transaction: the context lives exactly as long as
that one statement, and nothing is left on the connection for its next user. A call with a
cached prepared statement is one Bind/Execute/Sync exchange, where the reference path needs
BEGIN, set_config, its queries and ROLLBACK.

The function plans with `enable_sort = off`. Row security adds the policies' conditions to every
scan, and the planner, which cannot know what `current_setting()` will return, estimates that
they keep a handful of rows: an organization's 4,000 tickets look like 30, so a page of 50 was
planned as "read them all and sort" (3 ms) instead of reading the (organization_id, updated_at)
index backwards and stopping after 51 rows (0.1 ms). With sorting priced out, the planner takes
the index order wherever one exists and still sorts where none does. And `jit = off`: a sort
that cannot be avoided carries the penalty in its cost, which then passes `jit_above_cost`, and
PostgreSQL would spend a few hundred milliseconds compiling a plan that runs in one.

The function is created the first time a connection runs that statement (one more round trip
for CREATE, one for asyncpg's prepare); connections remember what they have made.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import asyncpg  # type: ignore[import-untyped]

from models.engine import normalize_database_url
from permissions.actor import Actor
from resolvers.compiled.sql import FALLBACK_SQLSTATE, CompiledStatement
from resolvers.compiled.writes import CompiledWrite

logger = logging.getLogger("helpdesk.compiled")
# A connection that has made this many functions drops them all (DISCARD TEMP) and starts
# over, so many distinct documents cannot grow a session's catalog without bound.
MAX_FUNCTIONS = 256

FALLBACK_FUNCTION = f"""
CREATE OR REPLACE FUNCTION pg_temp.hd_fallback(anyelement) RETURNS anyelement
LANGUAGE plpgsql AS $hd$
BEGIN
  RAISE EXCEPTION 'the compiled read path hands this request to the reference path'
    USING ERRCODE = '{FALLBACK_SQLSTATE}';
END $hd$;
"""


class FallBack(Exception):
    """The statement met a row it must not answer for (see resolvers/compiled/sql.py)."""


def function_ddl(statement: CompiledStatement) -> str:
    n = len(statement.types)
    arguments = ", ".join([*statement.types, "text", "text", "text"])
    return f"""
CREATE OR REPLACE FUNCTION pg_temp.{statement.function}({arguments}) RETURNS text
LANGUAGE plpgsql SET enable_sort = off SET jit = off AS $hd$
BEGIN
  PERFORM set_config('helpdesk.actor_kind', ${n + 1}, true),
          set_config('helpdesk.actor_id', ${n + 2}, true),
          set_config('helpdesk.organization_id', ${n + 3}, true);
  RETURN ({statement.sql})::text;
END $hd$;
"""


class CompiledConnection(asyncpg.Connection):  # type: ignore[misc]
    """A connection of the compiled path's own pool: it remembers its temporary functions and
    is handed back without a reset query (the path leaves no session state: its settings are
    transaction-local), so a compiled read costs exactly its one round trip."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.functions: set[str] = set()

    def get_reset_query(self) -> str:
        return ""


async def create_pool(database_url: str, max_size: int) -> Any:
    """The compiled path's pool (asyncpg, no SQLAlchemy: no greenlet switch per checkout),
    opening connections as they are needed."""
    url = normalize_database_url(database_url).set(drivername="postgresql")
    return await asyncpg.create_pool(
        url.render_as_string(hide_password=False),
        min_size=0,
        max_size=max_size,
        connection_class=CompiledConnection,
    )


async def run(pool: Any, statement: CompiledStatement, actor: Actor, values: dict[str, Any]) -> str:
    """The JSON text of `data`; FallBack when the reference path must answer instead."""
    result: str = await _call(
        pool, statement, lambda: function_ddl(statement), actor, values, row=False
    )
    return result


async def run_write(
    pool: Any, statement: CompiledWrite, actor: Actor, values: dict[str, Any]
) -> Any:
    """The row of a compiled write (resolvers/compiled/writes.py), committed when this returns;
    FallBack when it wrote nothing and the reference path must answer instead."""
    return await _call(pool, statement, lambda: statement.ddl, actor, values, row=True)


async def _call(
    pool: Any,
    statement: CompiledStatement | CompiledWrite,
    ddl: Callable[[], str],
    actor: Actor,
    values: dict[str, Any],
    *,
    row: bool,
) -> Any:
    values = {**statement.constants, **values}
    arguments = [values[name] for name in statement.names]
    arguments += [
        actor.kind.value,
        "" if actor.id is None else str(actor.id),
        "" if actor.organization_id is None else str(actor.organization_id),
    ]
    name = statement.function
    async with pool.acquire() as connection:
        known: set[str] = connection.functions
        try:
            for attempt in (1, 2):
                if name not in known:
                    if len(known) >= MAX_FUNCTIONS:
                        await connection.execute("DISCARD TEMP")
                        known.clear()
                    setup = ddl()
                    if not known:
                        setup = FALLBACK_FUNCTION + setup
                    await connection.execute(setup)
                    known.add(name)
                try:
                    if row:
                        return await connection.fetchrow(statement.call, *arguments)
                    return await connection.fetchval(statement.call, *arguments)
                except asyncpg.UndefinedFunctionError:
                    # The session lost its temporary functions (DISCARD): make them again.
                    known.clear()
                    if attempt == 2:
                        raise
            raise AssertionError("unreachable")
        except asyncpg.PostgresError as exc:
            if exc.sqlstate == FALLBACK_SQLSTATE:
                raise FallBack from None
            raise
        except BaseException:
            # A connection left mid-protocol (cancelled, broken) is not used again.
            connection.terminate()
            raise
