"""Who is calling: map an authentication subject to an Actor, and load the caller's profile."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models import Customer, TeamMember
from permissions import Actor
from resolvers.errors import ForbiddenError, UnauthenticatedError


async def actor_for_subject(session: AsyncSession, subject: str) -> Actor:
    """The Actor for a token's `sub`: a team member if one has it, else a customer.

    Raises UnauthenticatedError for an unknown subject and ForbiddenError for a deactivated
    team member.
    """
    member = await session.scalar(select(TeamMember).where(TeamMember.user_id == subject))
    if member is not None:
        if not member.is_active:
            raise ForbiddenError("this team member account is deactivated")
        return Actor.team_member(
            id=member.id,
            user_id=member.user_id,
            organization_id=member.organization_id,
            role=member.role,
            team_id=member.team_id,
        )
    customer = await session.scalar(select(Customer).where(Customer.user_id == subject))
    if customer is not None:
        return Actor.customer(id=customer.id, user_id=customer.user_id)
    raise UnauthenticatedError("no customer or team member has this token's subject")


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
