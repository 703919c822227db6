"""Listing organizations, teams and team members."""

from __future__ import annotations

from collections.abc import Sequence

import strawberry

from models import Organization as OrganizationModel
from models import Team as TeamModel
from models import TeamMember as TeamMemberModel
from permissions.fields import IsAuthenticated, IsStaff
from resolvers import directory
from schema.context import Info
from schema.people import Organization, Team, TeamMember


@strawberry.type
class DirectoryQuery:
    @strawberry.field(
        description=(
            "Organizations: for a customer, every organization they may open a ticket with; "
            "for staff, their own."
        ),
        graphql_type=list[Organization] | None,
        permission_classes=[IsAuthenticated],
    )
    async def organizations(self, info: Info) -> Sequence[OrganizationModel]:
        ctx = info.context
        return await ctx.run(lambda s: directory.list_organizations(s, ctx.actor))

    @strawberry.field(
        description="Your organization's teams (staff only); active ones unless asked.",
        graphql_type=list[Team] | None,
        permission_classes=[IsAuthenticated, IsStaff],
    )
    async def teams(self, info: Info, include_archived: bool = False) -> Sequence[TeamModel]:
        ctx = info.context
        return await ctx.run(
            lambda s: directory.list_teams(s, ctx.actor, include_archived=include_archived)
        )

    @strawberry.field(
        description="Your organization's team members (staff only); active ones unless asked.",
        graphql_type=list[TeamMember] | None,
        permission_classes=[IsAuthenticated, IsStaff],
    )
    async def team_members(
        self, info: Info, include_inactive: bool = False
    ) -> Sequence[TeamMemberModel]:
        ctx = info.context
        return await ctx.run(
            lambda s: directory.list_members(s, ctx.actor, include_inactive=include_inactive)
        )
