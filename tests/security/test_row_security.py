"""PostgreSQL row-level security, tested below the GraphQL layer: even SQL that forgot every
policy cannot cross organizations or read internal notes as a customer.

PostgreSQL only (SQLite has no row security); these tests exist only when the suite runs on
PostgreSQL, which CI always does.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from models import Attachment
from models.engine import create_engine, create_sessionmaker, set_row_security
from models.enums import AuthorType
from tests.backends import POSTGRES_URL, configured_backends
from tests.conftest import Stack
from tests.factories import INTERNAL_MARKER, World, create_world

if POSTGRES_URL:
    # Only the PostgreSQL stack: the fixture `stack` is re-parametrized for this module.
    pytestmark = pytest.mark.parametrize(
        "stack",
        [b for b in configured_backends() if b.is_postgres],
        indirect=True,
        ids=lambda b: b.name,
    )

    @pytest.fixture
    async def world(db: Stack, session) -> World:
        return await create_world(session)

    @asynccontextmanager
    async def as_app(
        db: Stack, kind: str | None, actor_id=None, org_id=None
    ) -> AsyncIterator[AsyncSession]:
        """A session on the application's own role (not a superuser), acting as someone."""
        engine = create_engine(db.settings.database_url)
        try:
            async with create_sessionmaker(engine)() as session:
                if kind is not None:
                    set_row_security(session, kind, actor_id, org_id)
                yield session
        finally:
            await engine.dispose()

    async def rows(session: AsyncSession, sql: str) -> list:
        return list(await session.execute(text(sql)))

    async def test_the_app_role_is_subject_to_row_security(db: Stack) -> None:
        async with as_app(db, None) as session:
            bypasses = await session.scalar(
                text("SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user")
            )
        assert bypasses is False

    async def test_customer_sees_only_own_public_rows(db: Stack, world: World) -> None:
        async with as_app(db, "customer", world.customer.id) as session:
            tickets = await rows(session, "SELECT id FROM tickets")
            bodies = [r.body for r in await rows(session, "SELECT body FROM ticket_responses")]
        async with as_app(db, "customer", world.other_customer.id) as session:
            others = await rows(session, "SELECT id FROM tickets")
            other_bodies = await rows(session, "SELECT body FROM ticket_responses")

        assert [t.id for t in tickets] == [world.ticket.id]
        assert bodies == ["We are on it."]
        assert INTERNAL_MARKER not in bodies
        assert others == []
        assert other_bodies == []

    async def test_staff_of_another_organization_see_nothing(db: Stack, world: World) -> None:
        org = world.other_org.id
        async with as_app(db, "agent", world.other_agent.id, org) as session:
            found = [
                await rows(session, f"SELECT id FROM {table}")
                for table in ("tickets", "ticket_responses", "ticket_history")
            ]
            updated = await session.execute(text("UPDATE tickets SET title = 'stolen'"))
        async with as_app(db, "agent", world.agent.id, world.org.id) as session:
            own = await rows(session, "SELECT body FROM ticket_responses ORDER BY id")

        assert found == [[], [], []]
        assert updated.rowcount == 0
        assert [r.body for r in own] == ["We are on it.", INTERNAL_MARKER]

    async def test_a_session_that_names_no_actor_sees_nothing(db: Stack, world: World) -> None:
        async with as_app(db, None) as session:
            counts = [
                await session.scalar(text(f"SELECT count(*) FROM {table}"))
                for table in ("tickets", "ticket_responses", "ticket_history")
            ]
        assert counts == [0, 0, 0]

    @pytest.mark.parametrize(
        ("who", "internal"),
        [("customer", True), ("other_customer", False)],
        ids=["internal-note-as-customer", "reply-on-someone-elses-ticket"],
    )
    async def test_customers_cannot_write_around_the_policies(
        db: Stack, world: World, who: str, internal: bool
    ) -> None:
        customer = getattr(world, who)
        async with as_app(db, "customer", customer.id) as session:
            with pytest.raises(DBAPIError):
                await session.execute(
                    text(
                        "INSERT INTO ticket_responses (ticket_id, author_type, author_id, body,"
                        " is_internal, created_at) VALUES (:t, 'customer', :a, 'x', :i, now())"
                    ),
                    {"t": world.ticket.id, "a": customer.id, "i": internal},
                )

    async def test_attachments_follow_their_messages(db: Stack, world: World, session) -> None:
        """A customer's raw SQL sees their own uploads and the public files of their ticket,
        never an internal note's; other organizations' staff see none at all."""
        now = dt.datetime.now(dt.UTC)

        def file(name: str, uploader: int, kind: AuthorType, **values) -> Attachment:
            return Attachment(
                organization_id=world.org.id,
                ticket_id=world.ticket.id,
                uploader_type=kind,
                uploader_id=uploader,
                filename=name,
                content_type="image/png",
                byte_size=1,
                checksum_sha256="0" * 64,
                storage_key=f"k/{name}",
                expires_at=now,
                **values,
            )

        session.add_all(
            [
                file(
                    "public.png",
                    world.agent.id,
                    AuthorType.TEAM_MEMBER,
                    response_id=world.public_reply.id,
                    attached_at=now,
                ),
                file(
                    "note.png",
                    world.agent.id,
                    AuthorType.TEAM_MEMBER,
                    response_id=world.internal_note.id,
                    attached_at=now,
                    is_internal=True,
                ),
                file("mine-pending.png", world.customer.id, AuthorType.CUSTOMER),
                file("agents-pending.png", world.agent.id, AuthorType.TEAM_MEMBER),
            ]
        )
        await session.commit()

        query = "SELECT filename FROM attachments ORDER BY filename"
        async with as_app(db, "customer", world.customer.id) as app:
            customer = [r.filename for r in await rows(app, query)]
        async with as_app(db, "customer", world.other_customer.id) as app:
            other_customer = await rows(app, query)
        async with as_app(db, "agent", world.other_agent.id, world.other_org.id) as app:
            other_org = await rows(app, query)
        async with as_app(db, "agent", world.agent.id, world.org.id) as app:
            staff = await rows(app, query)

        assert customer == ["mine-pending.png", "public.png"]
        assert other_customer == []
        assert other_org == []
        assert len(staff) == 4
