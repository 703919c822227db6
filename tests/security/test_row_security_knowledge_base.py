"""PostgreSQL row-level security on the knowledge-base tables, below the GraphQL layer: SQL
that forgot every policy still shows readers only published public articles of the
organizations open to them (an INVITE_ONLY one only to its staff and the customers it invited
or has tickets of), never the change log, and lets nobody but the organization's staff write.

PostgreSQL only, like tests/security/test_row_security.py (whose pattern this follows).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from models.engine import create_engine, create_sessionmaker, set_row_security
from tests.backends import POSTGRES_URL, configured_backends
from tests.conftest import Stack
from tests.security.kb_world import (
    CATEGORY_NAME,
    OTHER_ORG_ARTICLE,
    OTHER_ORG_DRAFT,
    PUBLIC_TITLE,
    KbWorld,
    build_knowledge_base,
)
from tests.security.world import World, build_world

if POSTGRES_URL:
    pytestmark = pytest.mark.parametrize(
        "stack",
        [b for b in configured_backends() if b.is_postgres],
        indirect=True,
        ids=lambda b: b.name,
    )

    @pytest.fixture
    async def seeded(db: Stack, session: AsyncSession) -> tuple[World, KbWorld]:
        world = await build_world(session)
        return world, await build_knowledge_base(session, world)

    @asynccontextmanager
    async def as_app(
        db: Stack, kind: str | None, actor_id: int | None = None, org_id: int | None = None
    ) -> AsyncIterator[AsyncSession]:
        engine = create_engine(db.settings.database_url)
        try:
            async with create_sessionmaker(engine)() as session:
                if kind is not None:
                    set_row_security(session, kind, actor_id, org_id)
                yield session
        finally:
            await engine.dispose()

    async def titles(session: AsyncSession) -> set[str]:
        return set((await session.scalars(text("SELECT title FROM kb_articles"))).all())

    async def count(session: AsyncSession, table: str) -> int:
        return int(await session.scalar(text(f"SELECT count(*) FROM {table}")) or 0)

    @pytest.mark.parametrize("kind", ["anonymous", "customer"])
    async def test_readers_see_only_published_public_articles(
        db: Stack, seeded: tuple[World, KbWorld], kind: str
    ) -> None:
        world, _ = seeded
        actor = world.customer.id if kind == "customer" else None
        async with as_app(db, kind, actor) as session:
            assert await titles(session) == {PUBLIC_TITLE, OTHER_ORG_ARTICLE}
            assert await count(session, "kb_changes") == 0
            assert await count(session, "kb_suggestion_opens") == 0
            # The customer's own ticket's public reply links the public article only.
            links = await count(session, "kb_article_links")
        assert links == (1 if kind == "customer" else 0)

    async def test_staff_see_their_organization_and_others_public(
        db: Stack, seeded: tuple[World, KbWorld]
    ) -> None:
        world, _ = seeded
        async with as_app(db, "agent", world.agent.id, world.org.id) as session:
            assert len(await titles(session)) == 5
            assert await count(session, "kb_changes") == 5
        async with as_app(db, "agent", world.other_agent.id, world.other_org.id) as session:
            assert await titles(session) == {PUBLIC_TITLE, OTHER_ORG_ARTICLE, OTHER_ORG_DRAFT}
            assert await count(session, "kb_changes") == 2

    async def categories(session: AsyncSession) -> set[str]:
        return set((await session.scalars(text("SELECT name FROM kb_categories"))).all())

    async def test_an_invite_only_organization_opens_to_its_staff_and_customers(
        db: Stack, seeded: tuple[World, KbWorld]
    ) -> None:
        """other_org turns INVITE_ONLY: its article and category vanish for anonymous
        callers, for org's staff and for other_customer (no ticket there, not invited); the
        customer with a ticket there and other_org's staff still read them; an invitation
        opens them to other_customer."""
        world, _ = seeded
        async with as_app(db, "system") as session:
            await session.execute(
                text("UPDATE organizations SET visibility = 'invite_only' WHERE id = :id"),
                {"id": world.other_org.id},
            )
            await session.commit()
        mine = {CATEGORY_NAME}
        both = {CATEGORY_NAME, "Elsewherecategory"}
        for kind, actor, org, expected_titles, expected_categories in (
            ("anonymous", None, None, {PUBLIC_TITLE}, mine),
            ("customer", world.other_customer.id, None, {PUBLIC_TITLE}, mine),
            ("customer", world.customer.id, None, {PUBLIC_TITLE, OTHER_ORG_ARTICLE}, both),
            ("agent", world.agent.id, world.org.id, None, mine),
            (
                "agent",
                world.other_agent.id,
                world.other_org.id,
                {PUBLIC_TITLE, OTHER_ORG_ARTICLE, OTHER_ORG_DRAFT},
                both,
            ),
        ):
            async with as_app(db, kind, actor, org) as session:
                seen = await titles(session)
                if expected_titles is None:  # org's own four, nothing of other_org
                    assert len(seen) == 4, seen
                    assert not seen & {OTHER_ORG_ARTICLE, OTHER_ORG_DRAFT}, seen
                else:
                    assert seen == expected_titles, (kind, actor)
                assert await categories(session) == expected_categories, (kind, actor)
        async with as_app(db, "system") as session:
            await session.execute(
                text(
                    "INSERT INTO organization_customers (organization_id, customer_id,"
                    " invited_at, created_at) VALUES (:org, :customer, now(), now())"
                ),
                {"org": world.other_org.id, "customer": world.other_customer.id},
            )
            await session.commit()
        async with as_app(db, "customer", world.other_customer.id) as session:
            assert await titles(session) == {PUBLIC_TITLE, OTHER_ORG_ARTICLE}
            assert await categories(session) == both
        # Another customer's invitation opens nothing to anonymous callers.
        async with as_app(db, "anonymous") as session:
            assert await titles(session) == {PUBLIC_TITLE}

    async def test_nobody_but_the_organizations_staff_writes(
        db: Stack, seeded: tuple[World, KbWorld]
    ) -> None:
        world, kb = seeded
        for kind, actor, org in (
            ("customer", world.customer.id, None),
            ("anonymous", None, None),
            ("agent", world.other_agent.id, world.other_org.id),
            (None, None, None),
        ):
            async with as_app(db, kind, actor, org) as session:
                changed = await session.execute(
                    text("UPDATE kb_articles SET title = 'x' WHERE id = :id"),
                    {"id": kb.public_article.id},
                )
                assert changed.rowcount == 0, kind
                with pytest.raises(DBAPIError, match="row-level security"):
                    await session.execute(
                        text(
                            "INSERT INTO kb_categories (organization_id, name, slug, position,"
                            " created_at, updated_at) VALUES (:org, 'x', 'x', 0, now(), now())"
                        ),
                        {"org": world.org.id},
                    )
        # Agents write articles, but categories are for admins.
        async with as_app(db, "agent", world.agent.id, world.org.id) as session:
            with pytest.raises(DBAPIError, match="row-level security"):
                await session.execute(
                    text(
                        "INSERT INTO kb_categories (organization_id, name, slug, position,"
                        " created_at, updated_at) VALUES (:org, 'x', 'x', 0, now(), now())"
                    ),
                    {"org": world.org.id},
                )
