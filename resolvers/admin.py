"""What every administration use case shares: the admin check, email and name rules, and
looking up the organization's teams and members."""

from __future__ import annotations

import re

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from models import Organization, Team, TeamMember, TeamRole
from permissions import Actor
from permissions.admin import may_administer
from resolvers.errors import UnauthenticatedError, UserErrorCode, user_error
from resolvers.validation import Problems

EMAIL_MAX = 320
NAME_MAX = 200
TEAM_NAME_MAX = 100
TEAM_DESCRIPTION_MAX = 1000
AVATAR_URL_MAX = 2048
# Deliberately loose: one @, something on each side, a dot in the domain, no spaces.
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def require_admin(actor: Actor, what: str) -> None:
    """Refuse (FORBIDDEN, whole request) unless the actor administers their organization."""
    if not actor.is_authenticated:
        raise UnauthenticatedError("authentication required")
    if not may_administer(actor):
        raise user_error(None, f"only organization admins may {what}", UserErrorCode.FORBIDDEN)


def email(problems: Problems, field: str, value: str) -> str:
    """A normalized (trimmed, lower-case) email address."""
    cleaned = problems.text(field, value, maximum=EMAIL_MAX).lower()
    if cleaned and len(cleaned) <= EMAIL_MAX and not EMAIL_PATTERN.match(cleaned):
        problems.add(field, f"{field} is not an email address", UserErrorCode.INVALID)
    return cleaned


def avatar_url(problems: Problems, field: str, value: str | None) -> str | None:
    if value is None:
        return None
    cleaned = problems.text(field, value, maximum=AVATAR_URL_MAX)
    if cleaned and not cleaned.startswith(("https://", "http://")):
        problems.add(field, f"{field} must be an http(s) URL", UserErrorCode.INVALID)
    return cleaned or None


async def team_for_assignment(
    session: AsyncSession, organization_id: int, team_id: int, field: str, problems: Problems
) -> Team | None:
    """A team of the organization that takes work: NOT_FOUND or ARCHIVED otherwise."""
    team = await session.scalar(
        select(Team).where(Team.id == team_id, Team.organization_id == organization_id)
    )
    if team is None:
        problems.add(field, "no such team in this organization", UserErrorCode.NOT_FOUND)
    elif team.archived_at is not None:
        problems.add(field, f"team {team.name!r} is archived", UserErrorCode.ARCHIVED)
        return None
    return team


async def member_of(
    session: AsyncSession, actor: Actor, member_id: int, field: str = "id"
) -> TeamMember:
    """A member of the actor's organization, loaded for change (NOT_FOUND otherwise)."""
    member = await session.scalar(
        select(TeamMember)
        .where(TeamMember.id == member_id, TeamMember.organization_id == actor.organization_id)
        .execution_options(populate_existing=True)
    )
    if member is None:
        raise user_error(field, "no such team member in your organization", UserErrorCode.NOT_FOUND)
    return member


async def assignable_member(
    session: AsyncSession, organization_id: int, member_id: int, field: str
) -> TeamMember:
    """A member of the organization who may be given tickets: NOT_FOUND when there is no such
    member here, INVALID when they are pending (invited, never signed in) or deactivated.
    The row is share-locked, so a concurrent deactivation waits for this write (PostgreSQL)."""
    member = await session.scalar(
        select(TeamMember)
        .where(TeamMember.id == member_id, TeamMember.organization_id == organization_id)
        .with_for_update(read=True)
    )
    if member is None:
        raise user_error(field, "no such team member in your organization", UserErrorCode.NOT_FOUND)
    if not member.is_active:
        raise user_error(
            field, "this team member is deactivated: reactivate them first", UserErrorCode.INVALID
        )
    if member.is_pending:
        raise user_error(
            field,
            "this team member has not signed in yet: tickets go to them once they have",
            UserErrorCode.INVALID,
        )
    return member


async def lock_organization(session: AsyncSession, organization_id: int) -> None:
    """Changes that count the organization's admins take turns (one active admin always
    remains). Taken after any ticket locks (resolvers/locks.py)."""
    await session.execute(
        select(Organization.id).where(Organization.id == organization_id).with_for_update()
    )


async def active_admin_count(session: AsyncSession, organization_id: int) -> int:
    count = await session.scalar(
        select(func.count())
        .select_from(TeamMember)
        .where(
            TeamMember.organization_id == organization_id,
            TeamMember.role == TeamRole.ADMIN,
            TeamMember.is_active.is_(True),
        )
    )
    return int(count or 0)


async def member_email_taken(session: AsyncSession, address: str) -> bool:
    """Whether a team member of any organization has this (normalized) email."""
    taken = await session.scalar(
        select(TeamMember.id).where(func.lower(TeamMember.email) == address).limit(1)
    )
    return taken is not None


async def add_member(session: AsyncSession, member: TeamMember, field: str) -> None:
    """Insert a new member. The check before is not enough: a concurrent invite of the same
    email may commit in between, and the unique index on team_members.email refuses the second
    one (PostgreSQL waits for the first to commit). That is TAKEN, with nothing written: the
    savepoint keeps the transaction usable and the use case's error rolls it back."""
    try:
        async with session.begin_nested():
            session.add(member)
            await session.flush()
    except IntegrityError:
        if not await member_email_taken(session, member.email):
            raise
        raise user_error(
            field, "this email is already a team member's", UserErrorCode.TAKEN
        ) from None
