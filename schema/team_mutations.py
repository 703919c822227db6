"""Administering teams and members: admins create, change and archive teams and invite,
change, deactivate and reactivate members; an agent may change their own name and avatar."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry import relay

from models import Team as TeamModel
from models import TeamMember as TeamMemberModel
from models import Ticket as TicketModel
from permissions.fields import IsAuthenticated
from resolvers import member as members
from resolvers import team as teams
from resolvers.errors import UserErrorCode, user_error
from resolvers.ticket_write import UNSET as NOT_GIVEN
from schema.context import Info
from schema.enums import TeamRole
from schema.people import Team, TeamMember
from schema.ticket import Ticket
from schema.user_errors import UserError, given, input_id, optional_input_id, run_write


def _given(value: Any) -> Any:
    return given(value, NOT_GIVEN)


def _optional_id(value: relay.GlobalID | Any | None, type_name: str) -> Any:
    if value is strawberry.UNSET:
        return NOT_GIVEN
    return optional_input_id(value, type_name)


@strawberry.input(description="A new team.")
class CreateTeamInput:
    name: str = strawberry.field(description="Unique within your organization (at most 100).")
    description: str | None = strawberry.field(default=None, description="What the team does.")


@strawberry.input(description="Change a team. Only the fields you send change.")
class UpdateTeamInput:
    id: relay.GlobalID
    name: str | None = strawberry.UNSET
    description: str | None = strawberry.field(
        default=strawberry.UNSET, description="null clears it."
    )


@strawberry.input(description="Archive a team: it keeps its tickets and takes no new ones.")
class ArchiveTeamInput:
    id: relay.GlobalID


@strawberry.type
class TeamPayload:
    team: Team | None
    user_errors: list[UserError]


@strawberry.input(
    description=(
        "Invite a team member. They are pending until their first sign-in with a token whose "
        "verified email matches."
    )
)
class InviteTeamMemberInput:
    email: str = strawberry.field(description="Not already a team member's, anywhere.")
    name: str
    role: TeamRole = TeamRole.AGENT
    team_id: relay.GlobalID | None = None


@strawberry.input(
    description=(
        "Change a member. Admins: any field of anyone in the organization. Agents: their own "
        "name and avatarUrl."
    )
)
class UpdateTeamMemberInput:
    id: relay.GlobalID
    name: str | None = strawberry.UNSET
    role: TeamRole | None = strawberry.UNSET
    team_id: relay.GlobalID | None = strawberry.field(
        default=strawberry.UNSET, description="null: no team."
    )
    avatar_url: str | None = strawberry.field(
        default=strawberry.UNSET, description="An http(s) URL; null clears it."
    )


@strawberry.input(description="Deactivate a member; their open tickets are unassigned or moved.")
class DeactivateTeamMemberInput:
    id: relay.GlobalID
    reassign_to: relay.GlobalID | None = strawberry.field(
        default=None,
        description="An active member who takes the open tickets; omit to unassign them.",
    )


@strawberry.input(description="Let a deactivated member sign in again.")
class ReactivateTeamMemberInput:
    id: relay.GlobalID


@strawberry.type
class TeamMemberPayload:
    member: TeamMember | None
    user_errors: list[UserError]


@strawberry.type
class DeactivateTeamMemberPayload:
    member: TeamMember | None
    reassigned_tickets: list[Ticket] = strawberry.field(
        description="The open tickets that were the member's, now reassigned or unassigned."
    )
    user_errors: list[UserError]


def _required(value: Any, name: str) -> Any:
    if value is None:
        raise user_error(name, f"{name} cannot be null", UserErrorCode.REQUIRED)
    return _given(value)


@strawberry.type
class TeamMutation:
    @strawberry.mutation(description="Admins: a new team.", permission_classes=[IsAuthenticated])
    async def create_team(self, info: Info, input: CreateTeamInput) -> TeamPayload | None:
        ctx = info.context
        data = teams.TeamInput(name=input.name, description=input.description)
        team, errors = await run_write(info, lambda s: teams.create_team(s, ctx.actor, data))
        return TeamPayload(team=team, user_errors=errors)  # type: ignore[arg-type]

    @strawberry.mutation(description="Admins: rename a team.", permission_classes=[IsAuthenticated])
    async def update_team(self, info: Info, input: UpdateTeamInput) -> TeamPayload | None:
        ctx = info.context

        async def use_case(session: Any) -> TeamModel:
            data = teams.TeamInput(
                name=_required(input.name, "name"), description=_given(input.description)
            )
            return await teams.update_team(session, ctx.actor, input_id(input.id, "Team"), data)

        team, errors = await run_write(info, use_case)
        return TeamPayload(team=team, user_errors=errors)  # type: ignore[arg-type]

    @strawberry.mutation(
        description="Admins: archive a team.", permission_classes=[IsAuthenticated]
    )
    async def archive_team(self, info: Info, input: ArchiveTeamInput) -> TeamPayload | None:
        ctx = info.context
        team_id = input_id(input.id, "Team")
        team, errors = await run_write(info, lambda s: teams.archive_team(s, ctx.actor, team_id))
        return TeamPayload(team=team, user_errors=errors)  # type: ignore[arg-type]

    @strawberry.mutation(
        description="Admins: invite a team member (pending until they sign in).",
        permission_classes=[IsAuthenticated],
    )
    async def invite_team_member(
        self, info: Info, input: InviteTeamMemberInput
    ) -> TeamMemberPayload | None:
        ctx = info.context
        data = members.InviteMemberInput(
            email=input.email,
            name=input.name,
            role=input.role,
            team_id=optional_input_id(input.team_id, "Team"),
        )
        member, errors = await run_write(
            info, lambda s: members.invite_team_member(s, ctx.actor, data)
        )
        return TeamMemberPayload(member=member, user_errors=errors)  # type: ignore[arg-type]

    @strawberry.mutation(
        description="Change a member (admins), or your own name and avatar (agents).",
        permission_classes=[IsAuthenticated],
    )
    async def update_team_member(
        self, info: Info, input: UpdateTeamMemberInput
    ) -> TeamMemberPayload | None:
        ctx = info.context

        async def use_case(session: Any) -> members.MemberUpdated:
            data = members.MemberChanges(
                name=_required(input.name, "name"),
                role=_required(input.role, "role"),
                team_id=_optional_id(input.team_id, "Team"),
                avatar_url=_given(input.avatar_url),
            )
            member_id = input_id(input.id, "TeamMember")
            return await members.update_team_member(session, ctx.actor, member_id, data)

        done, errors = await run_write(info, use_case)
        if done is not None:
            _forget(info, done.member, revoke="your access changed" if done.role_changed else None)
        return TeamMemberPayload(
            member=None if done is None else done.member,  # type: ignore[arg-type]
            user_errors=errors,
        )

    @strawberry.mutation(
        description=(
            "Admins: deactivate a member. Their open tickets go to `reassignTo`, or to nobody; "
            "their open sockets close."
        ),
        permission_classes=[IsAuthenticated],
    )
    async def deactivate_team_member(
        self, info: Info, input: DeactivateTeamMemberInput
    ) -> DeactivateTeamMemberPayload | None:
        ctx = info.context
        member_id = input_id(input.id, "TeamMember")
        reassign_to = optional_input_id(input.reassign_to, "TeamMember")
        done, errors = await run_write(
            info, lambda s: members.deactivate_team_member(s, ctx.actor, member_id, reassign_to)
        )
        if done is not None:
            _forget(info, done.member, revoke="this team member account is deactivated")
        tickets: list[TicketModel] = [] if done is None else done.tickets
        return DeactivateTeamMemberPayload(
            member=None if done is None else done.member,  # type: ignore[arg-type]
            reassigned_tickets=tickets,  # type: ignore[arg-type]
            user_errors=errors,
        )

    @strawberry.mutation(
        description="Admins: let a deactivated member sign in again.",
        permission_classes=[IsAuthenticated],
    )
    async def reactivate_team_member(
        self, info: Info, input: ReactivateTeamMemberInput
    ) -> TeamMemberPayload | None:
        ctx = info.context
        member_id = input_id(input.id, "TeamMember")
        member, errors = await run_write(
            info, lambda s: members.reactivate_team_member(s, ctx.actor, member_id)
        )
        if member is not None:
            _forget(info, member)
        return TeamMemberPayload(member=member, user_errors=errors)  # type: ignore[arg-type]


def _forget(info: Info, member: TeamMemberModel, revoke: str | None = None) -> None:
    """This instance stops trusting its cached idea of the member at once, and with `revoke`
    closes the member's sockets before any event of the change reaches them (other instances
    act within ACTOR_CACHE_SECONDS, server/access.py). No await: nothing runs in between."""
    services = info.context.services
    if member.user_id is None or services is None:
        return
    services.directory.cache.forget(member.user_id)
    if revoke is not None:
        services.sockets.revoke_subject(member.user_id, revoke)
