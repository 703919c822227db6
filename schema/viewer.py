"""The caller: `me`."""

from __future__ import annotations

import strawberry

from models import Customer, TeamMember
from permissions.fields import IsAuthenticated
from resolvers.identity import load_profile
from schema.context import Info
from schema.people import Person


@strawberry.type
class ViewerQuery:
    @strawberry.field(
        description="The authenticated caller: a Customer or a TeamMember.",
        permission_classes=[IsAuthenticated],
        graphql_type=Person | None,
    )
    async def me(self, info: Info) -> Customer | TeamMember:
        ctx = info.context
        return await ctx.run(lambda s: load_profile(s, ctx.actor))
