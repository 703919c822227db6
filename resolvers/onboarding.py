"""First sign-in: a token whose subject nobody has yet, but whose verified email matches a
pending (invited) team member or a customer staff created or invited, claims that row. With
customer self-signup on, any other verified email becomes a new customer."""

from __future__ import annotations

import logging

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from models import Customer, TeamMember
from models.base import utcnow
from resolvers.validation import storable_text

logger = logging.getLogger("helpdesk.onboarding")
NAME_MAX = 200


async def claim_identity(
    session: AsyncSession,
    subject: str,
    email: str,
    *,
    name: str | None = None,
    self_signup: bool = False,
) -> bool:
    """Give `subject` to the pending member or unclaimed customer with this (verified) email,
    or make a new customer when self-signup is on. True when the subject now belongs to
    someone; commits."""
    address = email.strip().lower()
    if not address or "@" not in address or len(address) > 320:
        return False
    now = utcnow()
    claimed = await session.execute(
        update(TeamMember)
        .where(
            TeamMember.user_id.is_(None),
            func.lower(TeamMember.email) == address,
            TeamMember.is_active.is_(True),
        )
        .values(user_id=subject, updated_at=now)
    )
    if claimed.rowcount:  # type: ignore[attr-defined]
        await session.commit()
        logger.info("an invited team member signed in for the first time")
        return True
    claimed = await session.execute(
        update(Customer)
        .where(Customer.user_id.is_(None), func.lower(Customer.email) == address)
        .values(user_id=subject, updated_at=now)
    )
    if claimed.rowcount:  # type: ignore[attr-defined]
        await session.commit()
        return True
    if not self_signup:
        await session.rollback()
        return False
    if await session.scalar(select(Customer.id).where(func.lower(Customer.email) == address)):
        # The email is another subject's customer already: never hand it over.
        await session.rollback()
        return False
    display = (name or "").strip()[:NAME_MAX]
    if not display or not storable_text(display):
        display = address.split("@")[0]
    session.add(
        Customer(user_id=subject, email=address, name=display, created_at=now, updated_at=now)
    )
    try:
        await session.commit()
    except IntegrityError:
        # A concurrent first request of the same subject made it.
        await session.rollback()
    return True
