"""Teams: admins create, rename, describe and archive them. Names are unique per organization
(case-insensitively); an archived team keeps its tickets and history but takes no new work."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from models import Team
from models.base import utcnow
from permissions import Actor
from resolvers.admin import TEAM_DESCRIPTION_MAX, TEAM_NAME_MAX, require_admin
from resolvers.audit import changes, record_admin_action
from resolvers.errors import UserErrorCode, UserInputError, user_error
from resolvers.ticket_write import UNSET, Unset
from resolvers.validation import Problems


@dataclass(frozen=True)
class TeamInput:
    name: str | Unset = UNSET
    description: str | Unset | None = UNSET


async def create_team(session: AsyncSession, actor: Actor, data: TeamInput) -> Team:
    """A new team of the admin's organization."""
    require_admin(actor, "create teams")
    assert actor.organization_id is not None
    problems = Problems()
    name = problems.text(
        "name", data.name if isinstance(data.name, str) else "", maximum=TEAM_NAME_MAX
    )
    description = _description(problems, data.description)
    if problems.errors:
        raise UserInputError(problems.errors)
    await _name_free(session, actor.organization_id, name, None)
    team = Team(organization_id=actor.organization_id, name=name, description=description)
    session.add(team)
    await session.flush()
    await record_admin_action(
        session,
        actor,
        actor.organization_id,
        "team.created",
        "team",
        team.id,
        {"name": name, "description": description},
    )
    return team


async def update_team(session: AsyncSession, actor: Actor, team_id: int, data: TeamInput) -> Team:
    """Rename a team or change its description."""
    require_admin(actor, "change teams")
    team = await _team(session, actor, team_id)
    problems = Problems()
    before: dict[str, Any] = {"name": team.name, "description": team.description}
    after = dict(before)
    if not isinstance(data.name, Unset):
        after["name"] = problems.text("name", data.name, maximum=TEAM_NAME_MAX)
    if not isinstance(data.description, Unset):
        after["description"] = _description(problems, data.description)
    if problems.errors:
        raise UserInputError(problems.errors)
    if after["name"] != team.name:
        await _name_free(session, team.organization_id, after["name"], team.id)
    diff = changes(before, after)
    if diff:
        team.name, team.description = after["name"], after["description"]
        await session.flush()
        await record_admin_action(
            session, actor, team.organization_id, "team.updated", "team", team.id, diff
        )
    return team


async def archive_team(session: AsyncSession, actor: Actor, team_id: int) -> Team:
    """Archive a team: its tickets keep it (and their history); it takes no new tickets, no
    routing rule sends work to it, and it cannot be set on a ticket or a member."""
    require_admin(actor, "archive teams")
    team = await _team(session, actor, team_id)
    if team.archived_at is not None:
        raise user_error("id", f"team {team.name!r} is already archived", UserErrorCode.ARCHIVED)
    team.archived_at = utcnow()
    await session.flush()
    await record_admin_action(
        session, actor, team.organization_id, "team.archived", "team", team.id, {"name": team.name}
    )
    return team


def _description(problems: Problems, value: str | Unset | None) -> str | None:
    if value is None or isinstance(value, Unset):
        return None
    return problems.text("description", value, maximum=TEAM_DESCRIPTION_MAX, required=False) or None


async def _team(session: AsyncSession, actor: Actor, team_id: int) -> Team:
    team = await session.scalar(
        select(Team)
        .where(Team.id == team_id, Team.organization_id == actor.organization_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if team is None:
        raise user_error("id", "no such team in your organization", UserErrorCode.NOT_FOUND)
    return team


async def _name_free(
    session: AsyncSession, organization_id: int, name: str, except_id: int | None
) -> None:
    statement = select(Team.id).where(
        Team.organization_id == organization_id, func.lower(Team.name) == name.lower()
    )
    if except_id is not None:
        statement = statement.where(Team.id != except_id)
    if await session.scalar(statement) is not None:
        raise user_error("name", f"a team named {name!r} already exists", UserErrorCode.TAKEN)
