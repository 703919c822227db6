"""The event log without a global lock (PostgreSQL).

Writers on different tickets hold their row locks and write history at the same time; events
are read in (transaction, id) order and only below the oldest transaction of this database
still running, so a reader never moves past a change that commits later: resume stays exact.
A transaction of another database on the same server does not hold delivery back.

PostgreSQL only (SQLite's writers take turns; its log is plain id order); these tests exist
only when the suite runs on PostgreSQL, which CI always does.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

from models import Status, TeamRole
from models.engine import set_row_security
from permissions import Actor
from resolvers import events
from resolvers.ticket_write import TicketChanges, UpdateTicketInput, update_ticket
from schema.context import act_as
from tests.backends import POSTGRES_URL, configured_backends
from tests.conftest import Stack
from tests.factories import create_customer, create_member, create_organization, create_ticket

if POSTGRES_URL:
    pytestmark = pytest.mark.parametrize(
        "stack",
        [b for b in configured_backends() if b.is_postgres],
        indirect=True,
        ids=lambda b: b.name,
    )

    @asynccontextmanager
    async def app_session(db: Stack) -> AsyncIterator[AsyncSession]:
        """A session of the running app (its plain role, row security on)."""
        async with db.app.state.runtime.get().sessionmaker() as session:
            yield session

    async def system_changes(db: Stack, after: events.Position) -> events.ChangeList:
        async with app_session(db) as session:
            set_row_security(session, "system")
            return await events.load_changes(session, after=after)

    async def waiting(db: Stack) -> bool:
        async with app_session(db) as session:
            set_row_security(session, "system")
            return await events.undelivered(session)

    async def start(db: Stack) -> events.Position:
        async with app_session(db) as session:
            set_row_security(session, "system")
            return await events.latest_position(session)

    @pytest.fixture
    async def two_tickets(session):
        org = await create_organization(session)
        admin = await create_member(session, org, TeamRole.ADMIN)
        customer = await create_customer(session)
        first = await create_ticket(session, org, customer)
        second = await create_ticket(session, org, customer)
        await session.commit()
        actor = Actor.team_member(admin.id, admin.user_id, org.id, admin.role)
        return actor, first.id, second.id

    async def change_status(session: AsyncSession, actor: Actor, ticket_id: int) -> None:
        act_as(session, actor)
        await update_ticket(
            session,
            actor,
            UpdateTicketInput(ticket_id, TicketChanges(status=Status.IN_PROGRESS)),
        )
        await session.flush()

    async def test_writers_on_different_tickets_hold_their_locks_at_once(
        db: Stack, two_tickets, caplog: pytest.LogCaptureFixture
    ) -> None:
        actor, first, second = two_tickets
        before = await start(db)
        with caplog.at_level(logging.WARNING, logger="helpdesk.locks"):
            async with app_session(db) as slow, app_session(db) as fast:
                await change_status(slow, actor, first)  # holds its locks, not committed
                # The second writer is not kept waiting by the first (it used to be, by one
                # lock every writer took until commit).
                async with asyncio.timeout(5):
                    await change_status(fast, actor, second)
                    await fast.commit()
                # Committed, but behind a transaction that is still running: not delivered.
                assert list(await system_changes(db, before)) == []
                assert await waiting(db)
                await slow.commit()

        delivered = await system_changes(db, before)
        assert [c.ticket.id for c in delivered] == [first, second]
        positions = [c.position for c in delivered]
        assert positions == sorted(positions)
        assert not await waiting(db)
        assert caplog.records == []  # every write took its ticket lock before writing

    async def test_a_rolled_back_writer_leaves_no_gap_and_no_wait(db: Stack, two_tickets) -> None:
        actor, first, second = two_tickets
        before = await start(db)
        async with app_session(db) as doomed, app_session(db) as fast:
            await change_status(doomed, actor, first)
            await change_status(fast, actor, second)
            await fast.commit()
            await doomed.rollback()

        delivered = await system_changes(db, before)
        assert [c.ticket.id for c in delivered] == [second]
        assert not await waiting(db)

    async def test_writers_on_one_ticket_are_delivered_in_their_order(
        db: Stack, two_tickets
    ) -> None:
        actor, first, _ = two_tickets
        before = await start(db)
        async with app_session(db) as one, app_session(db) as other:
            await change_status(one, actor, first)
            # The second writer waits for the ticket, then changes it back.
            act_as(other, actor)
            following = asyncio.create_task(
                update_ticket(
                    other, actor, UpdateTicketInput(first, TicketChanges(status=Status.OPEN))
                )
            )
            await asyncio.sleep(0.3)
            assert not following.done()
            await one.commit()
            await following
            await other.commit()

        delivered = await system_changes(db, before)
        statuses = [[(r.old_value, r.new_value) for r in c.history] for c in delivered]
        assert statuses == [[("open", "in_progress")], [("in_progress", "open")]]

    async def test_a_writer_that_waited_for_a_ticket_does_not_warn(
        db: Stack, two_tickets, caplog: pytest.LogCaptureFixture
    ) -> None:
        """The second writer of a ticket waits for the first, then locks the row's newest
        version, which gives its transaction an id before the row is read again: that is not a
        write before the lock, and must not be reported as one."""
        actor, first, _ = two_tickets
        with caplog.at_level(logging.WARNING, logger="helpdesk.locks"):
            async with app_session(db) as one, app_session(db) as other:
                await change_status(one, actor, first)
                following = asyncio.create_task(change_status(other, actor, first))
                await asyncio.sleep(0.3)
                assert not following.done()
                await one.commit()
                await following
                await other.commit()
        assert [r.getMessage() for r in caplog.records] == []

    async def test_another_databases_transaction_does_not_hold_delivery_back(
        db: Stack, two_tickets
    ) -> None:
        actor, first, _ = two_tickets
        before = await start(db)
        url = make_url(db.database_url)
        other = await asyncpg.connect(
            host=url.host, port=url.port or 5432, user=url.username, database="postgres"
        )
        try:
            async with other.transaction():
                await other.execute("CREATE TEMP TABLE held (x int); INSERT INTO held VALUES (1)")
                async with app_session(db) as writer:
                    await change_status(writer, actor, first)
                    await writer.commit()
                delivered = await system_changes(db, before)
        finally:
            await other.close()

        assert [c.ticket.id for c in delivered] == [first]
