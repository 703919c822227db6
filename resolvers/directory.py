"""Organizations, teams and team members as the caller may list them."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession

from models import Base, Customer, Organization, RoutingRule, Team, TeamMember
from permissions import Actor
from permissions.admin import readable_rules
from permissions.people import (
    readable_customers,
    readable_members,
    readable_organizations,
    readable_teams,
)
from resolvers.errors import NotFoundError


async def list_organizations(session: AsyncSession, actor: Actor) -> Sequence[Organization]:
    """Where a customer may open a ticket; for staff, their own organization."""
    return (await session.scalars(readable_organizations(actor).order_by(Organization.name))).all()


async def list_teams(
    session: AsyncSession, actor: Actor, *, include_archived: bool = False
) -> Sequence[Team]:
    """The caller's organization's teams (staff only; empty for customers), without the
    archived ones unless asked."""
    statement = readable_teams(actor).order_by(Team.name)
    if not include_archived:
        statement = statement.where(Team.archived_at.is_(None))
    return (await session.scalars(statement)).all()


async def list_members(
    session: AsyncSession, actor: Actor, *, include_inactive: bool = False
) -> Sequence[TeamMember]:
    """The caller's organization's members (staff only; empty for customers)."""
    statement = readable_members(actor).order_by(TeamMember.name)
    if not include_inactive:
        statement = statement.where(TeamMember.is_active.is_(True))
    return (await session.scalars(statement)).all()


async def get_organization(
    session: AsyncSession, actor: Actor, organization_id: int
) -> Organization:
    """An organization the caller may see, else NotFoundError."""
    found = await session.scalar(
        readable_organizations(actor).where(Organization.id == organization_id)
    )
    if found is None:
        raise NotFoundError("organization not found")
    return found


async def visible_by_ids(
    session: AsyncSession, actor: Actor, model: type[Base], ids: Sequence[int]
) -> list[Any]:
    """Rows for `node(id)` / `nodes(ids)`, None for ids the caller may not see."""
    policies: dict[type[Base], Callable[[Actor], Select[Any]]] = {
        Organization: readable_organizations,
        Team: readable_teams,
        TeamMember: readable_members,
        Customer: readable_customers,
        RoutingRule: readable_rules,
    }
    id_column: Any = model.__table__.c.id
    found = {
        row.id: row
        for row in await session.scalars(policies[model](actor).where(id_column.in_(ids)))
    }
    return [found.get(i) for i in ids]
