"""PostgreSQL advisory locks that writers take, in one place so their key spaces never meet.

Every key is (class, 32-bit key): a class per purpose, so that a ticket's lock can never be
taken by accident as an idempotency key's. SQLite needs none: its writers are serialized.

Writers take a ticket's lock before anything that assigns their transaction an id (the first
row they change or lock). Transaction ids then follow each ticket's order of writes, which is
what lets events be read in (tx, id) order (resolvers/events.py) without a global lock.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Iterable
from typing import Any

from sqlalchemy import ColumnElement, Integer, cast, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

logger = logging.getLogger("helpdesk.locks")

_INT4 = 2**31


class LockClass(enum.IntEnum):
    TICKET = 1
    TICKET_IDEMPOTENCY_KEY = 2
    REPLY_IDEMPOTENCY_KEY = 3
    AUDIT_LOG = 4
    # One organization's knowledge-base writes take turns: its change log commits in id order.
    KNOWLEDGE_BASE = 5


def is_postgres(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def ticket_lock(ticket_id: Any) -> ColumnElement[object]:
    """An expression taking `ticket_id`'s lock: select it beside the row locked FOR UPDATE, so
    the lock is held before the row lock gives the transaction its id."""
    return func.pg_advisory_xact_lock(LockClass.TICKET.value, cast(ticket_id % _INT4, Integer))


def transaction_id_if_assigned() -> ColumnElement[object]:
    """Whether the transaction had an id before this statement locked anything. An uncorrelated
    subquery is an InitPlan, evaluated once before the first row: when the row turns out to be
    updated concurrently, PostgreSQL locks its newest version (which assigns the id) and
    re-evaluates the row's columns, and a plain function call would then see the id that the
    lock itself assigned."""
    return select(func.pg_current_xact_id_if_assigned()).scalar_subquery()


def check_lock_order(assigned: object, what: str) -> None:
    """Warn when a ticket lock came after the transaction already wrote something: then its
    events may reach subscribers out of that ticket's order (never lost, never duplicated)."""
    if assigned is not None:
        logger.warning(
            "%s locked a ticket after its transaction wrote; take ticket locks first", what
        )


async def lock_tickets(session: AsyncSession, ticket_ids: Iterable[int], what: str) -> None:
    """Take several tickets' locks at once, in id order (no deadlocks), before any write."""
    ids = sorted(set(ticket_ids))
    if not ids or not is_postgres(session):
        return
    # unnest yields the (sorted) ids in order; the aggregate makes every lock be taken.
    row = (
        await session.execute(
            text(
                "SELECT pg_current_xact_id_if_assigned(), count(*) FROM ("
                " SELECT pg_advisory_xact_lock(:class, (t.id % 2147483648)::int)"
                " FROM unnest(CAST(:ids AS bigint[])) AS t(id)"
                ") locked"
            ),
            {"class": LockClass.TICKET.value, "ids": ids},
        )
    ).one()
    check_lock_order(row[0], what)


async def lock_key(session: AsyncSession, lock_class: LockClass, key: str) -> None:
    """Concurrent requests with one idempotency key take turns (the second finds the first's
    result instead of racing it)."""
    if is_postgres(session):
        await session.execute(
            text("SELECT pg_advisory_xact_lock(:class, hashtext(:key))"),
            {"class": lock_class.value, "key": key},
        )


async def lock_audit_log(session: AsyncSession) -> None:
    """Writers of the audit log take turns from their entry to their commit, so entries
    commit in id order and organization events can be read back by id without gaps. Taken
    last (after every ticket and row lock), so it never waits inside another lock order.
    Admin actions are rare; nothing else takes it."""
    if is_postgres(session):
        await session.execute(
            text("SELECT pg_advisory_xact_lock(:class, 0)"), {"class": LockClass.AUDIT_LOG.value}
        )
