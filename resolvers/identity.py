"""Who is calling: map an authentication subject to an Actor, and load the caller's profile."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models import Customer, TeamMember
from permissions import Actor
from resolvers.errors import DomainError, ForbiddenError, UnauthenticatedError


async def actor_for_subject(session: AsyncSession, subject: str) -> Actor:
    """The Actor for a token's `sub`: a team member if one has it, else a customer.

    Raises UnauthenticatedError for an unknown subject and ForbiddenError for a deactivated
    team member.
    """
    member = await session.scalar(select(TeamMember).where(TeamMember.user_id == subject))
    if member is not None:
        return _member_actor(member)
    customer = await session.scalar(select(Customer).where(Customer.user_id == subject))
    if customer is not None:
        return Actor.customer(id=customer.id, user_id=customer.user_id)
    raise _unknown()


async def actors_for_subjects(
    session: AsyncSession, subjects: Collection[str]
) -> dict[str, Actor | DomainError]:
    """`actor_for_subject` for many subjects in two queries: each subject's Actor, or the
    error that subject would get (unknown, deactivated)."""
    found: dict[str, Actor | DomainError] = {}
    wanted = list(subjects)
    for start in range(0, len(wanted), _BATCH):
        chunk = wanted[start : start + _BATCH]
        for member in await session.scalars(
            select(TeamMember).where(TeamMember.user_id.in_(chunk))
        ):
            assert member.user_id is not None
            try:
                found[member.user_id] = _member_actor(member)
            except DomainError as exc:
                found[member.user_id] = exc
        rest = [subject for subject in chunk if subject not in found]
        if rest:
            for customer in await session.scalars(
                select(Customer).where(Customer.user_id.in_(rest))
            ):
                assert customer.user_id is not None
                found[customer.user_id] = Actor.customer(id=customer.id, user_id=customer.user_id)
    return {subject: found.get(subject) or _unknown() for subject in wanted}


_BATCH = 500


def _member_actor(member: TeamMember) -> Actor:
    if not member.is_active:
        raise ForbiddenError("this team member account is deactivated")
    return Actor.team_member(
        id=member.id,
        user_id=member.user_id,
        organization_id=member.organization_id,
        role=member.role,
        team_id=member.team_id,
    )


def _unknown() -> UnauthenticatedError:
    return UnauthenticatedError("no customer or team member has this token's subject")


async def load_profile(session: AsyncSession, actor: Actor) -> Customer | TeamMember:
    """The caller's own customer or team member row."""
    if not actor.is_authenticated:
        raise UnauthenticatedError("authentication required")
    profile: Customer | TeamMember | None
    if actor.is_customer:
        profile = await session.get(Customer, actor.id)
    else:
        profile = await session.get(TeamMember, actor.id)
    if profile is None:
        # The row was deleted after the token was resolved.
        raise UnauthenticatedError("the account behind this token no longer exists")
    return profile
