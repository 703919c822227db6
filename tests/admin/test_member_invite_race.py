"""Two invites of one email at once: the unique index on team_members.email settles it. One
member is created, the other invite is TAKEN (never CONFLICT or INTERNAL), and the loser
writes nothing (no member, no audit entry)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

import resolvers.member
from models import AuditEntry, TeamMember, TeamRole
from tests.admin.helpers import INVITE_MEMBER, admin_state
from tests.api.mutation_helpers import call, payload_of
from tests.api.mutation_helpers import user_error_codes as codes
from tests.backends import configured_backends
from tests.conftest import Stack
from tests.factories import World, create_member, create_world

Check = Callable[[AsyncSession, str], Coroutine[Any, Any, bool]]


@pytest.fixture
async def world(session) -> World:
    return await create_world(session)


async def members_with(db: Stack, address: str) -> list[tuple[int, str]]:
    async with db.sessionmaker() as session:
        rows = await session.execute(
            select(TeamMember.organization_id, TeamMember.email).where(
                func.lower(TeamMember.email) == address
            )
        )
        return [tuple(row) for row in rows]  # type: ignore[misc]


async def invited_count(db: Stack) -> int:
    async with db.sessionmaker() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.action == "member.invited")
        )
        return count or 0


def outcome(body: dict[str, Any]) -> str:
    payload = payload_of(body, "inviteTeamMember")
    errors = codes(payload)
    if errors:
        assert payload["member"] is None
        assert errors == [("email", "TAKEN")]
        return "TAKEN"
    assert payload["member"]["isPending"] is True
    return "created"


async def invite(db: Stack, admin: TeamMember, address: str) -> dict[str, Any]:
    return await call(db, admin, INVITE_MEMBER, {"input": {"email": address, "name": "Twin"}})


async def test_two_concurrent_invites_of_one_email_make_one_member(
    db: Stack, world: World, session
) -> None:
    other_admin = await create_member(session, world.other_org, TeamRole.ADMIN)
    await session.commit()

    # Admins of two organizations, in two spellings: the rule is global among team members.
    bodies = await asyncio.gather(
        invite(db, world.admin, "twin@example.com"),
        invite(db, other_admin, " Twin@Example.COM "),
    )

    assert sorted(outcome(body) for body in bodies) == ["TAKEN", "created"]
    assert len(await members_with(db, "twin@example.com")) == 1
    assert await invited_count(db) == 1


@pytest.mark.parametrize(
    "stack",
    [backend for backend in configured_backends() if backend.is_postgres],
    indirect=True,
    ids=lambda backend: backend.name,
)
async def test_both_invites_past_the_check_one_is_refused_by_the_index(
    db: Stack, world: World, session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Forces the race: both requests pass the "is it taken?" query before either inserts.
    PostgreSQL only: the embedded SQLite backend runs one write at a time (the write gate), so
    the two cannot be in flight together there (the next test covers its index)."""
    other_admin = await create_member(session, world.other_org, TeamRole.ADMIN)
    await session.commit()
    both_checked = asyncio.Barrier(2)
    real: Check = resolvers.member.member_email_taken

    async def check_then_wait(session: AsyncSession, address: str) -> bool:
        taken = await real(session, address)
        await asyncio.wait_for(both_checked.wait(), timeout=10)
        return taken

    monkeypatch.setattr(resolvers.member, "member_email_taken", check_then_wait)

    bodies = await asyncio.gather(
        invite(db, world.admin, "race@example.com"),
        invite(db, other_admin, "race@example.com"),
    )

    assert sorted(outcome(body) for body in bodies) == ["TAKEN", "created"]
    assert len(await members_with(db, "race@example.com")) == 1
    assert await invited_count(db) == 1


async def test_an_invite_that_missed_a_committed_member_is_taken_and_writes_nothing(
    db: Stack, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The check said free (the other invite committed right after it): the index refuses the
    insert, and the use case reports TAKEN with nothing changed. Both backends."""

    async def stale_check(session: AsyncSession, address: str) -> bool:
        return False

    monkeypatch.setattr(resolvers.member, "member_email_taken", stale_check)
    before = await admin_state(db)

    body = await invite(db, world.admin, world.other_agent.email.upper())

    assert outcome(body) == "TAKEN"
    assert await admin_state(db) == before
    assert await members_with(db, world.other_agent.email) == [
        (world.other_org.id, world.other_agent.email)
    ]
