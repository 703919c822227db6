"""Team members: admins invite, change, deactivate and reactivate them; an agent may change
their own name and avatar. An organization always keeps at least one active admin.

An invited member is pending (no auth subject) until their first authenticated request with a
matching verified email (resolvers/onboarding.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models import HistoryAction, Status, TeamMember, TeamRole, Ticket
from models.base import utcnow
from permissions import Actor
from permissions.admin import forbidden_member_edits
from resolvers.admin import (
    NAME_MAX,
    active_admin_count,
    add_member,
    assignable_member,
    avatar_url,
    email,
    lock_organization,
    member_email_taken,
    member_of,
    require_admin,
    team_for_assignment,
)
from resolvers.audit import changes, record_admin_action
from resolvers.errors import UnauthenticatedError, UserErrorCode, UserInputError, user_error
from resolvers.history import Entry, record_change
from resolvers.locks import lock_tickets
from resolvers.ticket_write import UNSET, Unset, touch
from resolvers.validation import Problems

OPEN_STATUSES = (Status.OPEN, Status.IN_PROGRESS, Status.WAITING_ON_CUSTOMER)


@dataclass(frozen=True)
class InviteMemberInput:
    email: str
    name: str
    role: TeamRole = TeamRole.AGENT
    team_id: int | None = None


async def invite_team_member(
    session: AsyncSession, actor: Actor, data: InviteMemberInput
) -> TeamMember:
    """A pending member of the admin's organization. An email that is already a member's (here
    or in another organization) is TAKEN."""
    require_admin(actor, "invite team members")
    assert actor.organization_id is not None
    problems = Problems()
    address = email(problems, "email", data.email)
    name = problems.text("name", data.name, maximum=NAME_MAX)
    if data.team_id is not None:
        await team_for_assignment(session, actor.organization_id, data.team_id, "teamId", problems)
    if problems.errors:
        raise UserInputError(problems.errors)
    if await member_email_taken(session, address):
        raise user_error("email", "this email is already a team member's", UserErrorCode.TAKEN)
    now = utcnow()
    member = TeamMember(
        organization_id=actor.organization_id,
        user_id=None,
        email=address,
        name=name,
        role=data.role,
        team_id=data.team_id,
        invited_at=now,
        created_at=now,
        updated_at=now,
    )
    await add_member(session, member, "email")
    await record_admin_action(
        session,
        actor,
        actor.organization_id,
        "member.invited",
        "team_member",
        member.id,
        {"email": address, "name": name, "role": data.role.value, "teamId": data.team_id},
    )
    return member


@dataclass(frozen=True)
class MemberChanges:
    name: str | Unset = UNSET
    role: TeamRole | Unset = UNSET
    team_id: int | Unset | None = UNSET
    avatar_url: str | Unset | None = UNSET

    def named(self) -> set[str]:
        names = {"name": self.name, "role": self.role, "teamId": self.team_id}
        names["avatarUrl"] = self.avatar_url
        return {name for name, value in names.items() if not isinstance(value, Unset)}


@dataclass(frozen=True)
class MemberUpdated:
    member: TeamMember
    # The role changed: the member's open sockets must not go on with the old rights.
    role_changed: bool


async def update_team_member(
    session: AsyncSession, actor: Actor, member_id: int, data: MemberChanges
) -> MemberUpdated:
    """Admins change anyone's name, role, team and avatar; an agent only their own name and
    avatar. Making the last active admin an agent is LAST_ADMIN."""
    if not actor.is_authenticated:
        raise UnauthenticatedError("authentication required")
    if not actor.is_staff:
        raise user_error(None, "only team members may do this", UserErrorCode.FORBIDDEN)
    problems = Problems()
    for name in sorted(forbidden_member_edits(actor, member_id, data.named())):
        problems.add(
            name,
            f"only admins may change {name} (agents: their own name and avatar)",
            UserErrorCode.FORBIDDEN,
        )
    if problems.errors:
        raise UserInputError(problems.errors)
    assert actor.organization_id is not None
    demotes = data.role is TeamRole.AGENT
    if demotes:
        await lock_organization(session, actor.organization_id)
    member = await member_of(session, actor, member_id)
    before: dict[str, Any] = {
        "name": member.name,
        "role": member.role.value,
        "teamId": member.team_id,
        "avatarUrl": member.avatar_url,
    }
    after = dict(before)
    if not isinstance(data.name, Unset):
        after["name"] = problems.text("name", data.name, maximum=NAME_MAX)
    if not isinstance(data.avatar_url, Unset):
        after["avatarUrl"] = avatar_url(problems, "avatarUrl", data.avatar_url)
    if not isinstance(data.role, Unset):
        after["role"] = data.role.value
    if not isinstance(data.team_id, Unset):
        after["teamId"] = data.team_id
        if data.team_id is not None and data.team_id != member.team_id:
            await team_for_assignment(
                session, member.organization_id, data.team_id, "teamId", problems
            )
    if problems.errors:
        raise UserInputError(problems.errors)
    if (
        member.role is TeamRole.ADMIN
        and after["role"] == TeamRole.AGENT.value
        and member.is_active
        and await active_admin_count(session, member.organization_id) <= 1
    ):
        raise user_error(
            "role", "the organization must keep at least one active admin", UserErrorCode.LAST_ADMIN
        )
    diff = changes(before, after)
    if diff:
        member.name = after["name"]
        member.avatar_url = after["avatarUrl"]
        member.role = TeamRole(after["role"])
        member.team_id = after["teamId"]
        member.updated_at = utcnow()
        await session.flush()
        await record_admin_action(
            session, actor, member.organization_id, "member.updated", "team_member", member.id, diff
        )
    return MemberUpdated(member, "role" in diff)


@dataclass(frozen=True)
class Deactivated:
    member: TeamMember
    tickets: list[Ticket]


async def deactivate_team_member(
    session: AsyncSession, actor: Actor, member_id: int, reassign_to: int | None = None
) -> Deactivated:
    """Deactivate a member: they can no longer sign in (open sockets close), and their open
    tickets go to `reassign_to` (an active member) or to nobody, with history. The last
    active admin cannot be deactivated (LAST_ADMIN)."""
    require_admin(actor, "deactivate team members")
    assert actor.organization_id is not None
    # Ticket locks before any row lock (resolvers/locks.py): the open tickets, read first.
    open_ids = list(
        await session.scalars(
            select(Ticket.id).where(
                Ticket.organization_id == actor.organization_id,
                Ticket.assignee_id == member_id,
                Ticket.status.in_(OPEN_STATUSES),
            )
        )
    )
    await lock_tickets(session, open_ids, "deactivating a team member")
    await lock_organization(session, actor.organization_id)
    member = await member_of(session, actor, member_id)
    if not member.is_active:
        raise user_error("id", "this member is already deactivated", UserErrorCode.INVALID)
    if reassign_to is not None:
        if reassign_to == member.id:
            raise user_error(
                "reassignTo",
                "choose someone other than the member deactivated",
                UserErrorCode.INVALID,
            )
        await assignable_member(session, member.organization_id, reassign_to, "reassignTo")
    if (
        member.role is TeamRole.ADMIN
        and await active_admin_count(session, member.organization_id) <= 1
    ):
        raise user_error(
            "id", "the organization must keep at least one active admin", UserErrorCode.LAST_ADMIN
        )
    member.is_active = False
    member.updated_at = utcnow()
    tickets = list(
        await session.scalars(
            select(Ticket)
            .where(
                Ticket.organization_id == member.organization_id,
                Ticket.assignee_id == member.id,
                Ticket.status.in_(OPEN_STATUSES),
            )
            .order_by(Ticket.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    )
    for ticket in tickets:
        entry = Entry(HistoryAction.ASSIGNED, "assignee", ticket.assignee_id, reassign_to)
        ticket.assignee_id = reassign_to
        touch(ticket, [entry])
        await record_change(session, actor, ticket, [entry])
    await session.flush()
    await record_admin_action(
        session,
        actor,
        member.organization_id,
        "member.deactivated",
        "team_member",
        member.id,
        {"reassignedTo": reassign_to, "tickets": [t.id for t in tickets]},
    )
    return Deactivated(member, tickets)


async def reactivate_team_member(session: AsyncSession, actor: Actor, member_id: int) -> TeamMember:
    """Let a deactivated member sign in again (their former tickets stay where they went).
    An active member stays as they are (nothing to record)."""
    require_admin(actor, "reactivate team members")
    member = await member_of(session, actor, member_id)
    if member.is_active:
        return member
    member.is_active = True
    member.updated_at = utcnow()
    await session.flush()
    await record_admin_action(
        session, actor, member.organization_id, "member.reactivated", "team_member", member.id
    )
    return member
