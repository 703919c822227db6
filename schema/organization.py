"""Administering the organization: its settings, and the audit log of admin actions."""

from __future__ import annotations

import datetime as dt
from typing import Any

import strawberry
from strawberry.scalars import JSON

from models import AuditEntry as AuditEntryModel
from models.enums import ActorType
from permissions.fields import IsAdmin, IsAuthenticated
from resolvers import audit
from resolvers import organization as organizations
from resolvers.errors import BadUserInputError, UserErrorCode, user_error
from resolvers.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from resolvers.ticket_write import UNSET as NOT_GIVEN
from schema.context import Info
from schema.enums import OrganizationVisibility
from schema.ids import encode_id
from schema.people import Organization, TeamMember
from schema.user_errors import UserError, given, run_write


@strawberry.input(description="Change your organization. Only the fields you send change.")
class UpdateOrganizationInput:
    name: str | None = strawberry.UNSET
    visibility: OrganizationVisibility | None = strawberry.UNSET


@strawberry.type
class OrganizationPayload:
    organization: Organization | None
    user_errors: list[UserError]


@strawberry.type(description="One admin action: who, when, what.")
class AuditEntry:
    id: strawberry.ID = strawberry.field(description="Increasing; pass as `before` to page.")
    action: str = strawberry.field(
        description="What was done, e.g. team.created, member.deactivated, routing_rule.updated."
    )
    target_type: str = strawberry.field(
        description="What it was done to: organization, team, team_member, customer, routing_rule."
    )
    created_at: dt.datetime

    @strawberry.field(description="The target's global id, if it has one.")
    def target_id(self, root: strawberry.Parent[AuditEntryModel]) -> strawberry.ID | None:
        type_name = TARGET_TYPES.get(root.target_type)
        if type_name is None or root.target_id is None:
            return None
        return strawberry.ID(str(encode_id(type_name, root.target_id)))

    @strawberry.field(description="What changed: {field: [before, after]} or the values given.")
    def details(self, root: strawberry.Parent[AuditEntryModel]) -> JSON:
        return root.details  # type: ignore[return-value]

    @strawberry.field(
        description="Who did it; null for the system (the `helpdesk` command).",
        graphql_type=TeamMember | None,
    )
    async def actor(self, root: strawberry.Parent[AuditEntryModel], info: Info) -> Any:
        if root.actor_type is not ActorType.TEAM_MEMBER or root.actor_id is None:
            return None
        return await info.context.loaders.team_member.load(root.actor_id)


TARGET_TYPES = {
    "organization": "Organization",
    "team": "Team",
    "team_member": "TeamMember",
    "customer": "Customer",
    "routing_rule": "RoutingRule",
}


@strawberry.type
class AuditPage:
    entries: list[AuditEntry]
    has_more: bool = strawberry.field(description="Older entries follow: page with `before`.")


@strawberry.type
class OrganizationQuery:
    @strawberry.field(
        description="Admins: the audit log of your organization, newest first.",
        graphql_type=AuditPage | None,
        permission_classes=[IsAuthenticated, IsAdmin],
    )
    async def audit_log(
        self, info: Info, first: int = DEFAULT_PAGE_SIZE, before: strawberry.ID | None = None
    ) -> AuditPage:
        if not 0 <= first <= MAX_PAGE_SIZE:
            raise BadUserInputError(f"first must be between 0 and {MAX_PAGE_SIZE}")
        before_id = None
        if before is not None:
            if not str(before).isdigit():
                raise BadUserInputError("before must be an audit entry id")
            before_id = int(before)
        ctx = info.context
        rows = await ctx.run(
            lambda s: audit.list_audit_entries(s, ctx.actor, first=first, before_id=before_id)
        )
        return AuditPage(
            entries=list(rows[:first]),  # type: ignore[arg-type]
            has_more=len(rows) > first,
        )


@strawberry.type
class OrganizationMutation:
    @strawberry.mutation(
        description="Admins: rename your organization or change who may open tickets with it.",
        permission_classes=[IsAuthenticated],
    )
    async def update_organization(
        self, info: Info, input: UpdateOrganizationInput
    ) -> OrganizationPayload | None:
        ctx = info.context

        async def use_case(session: Any) -> Any:
            for name in ("name", "visibility"):
                if getattr(input, name) is None:
                    raise user_error(name, f"{name} cannot be null", UserErrorCode.REQUIRED)
            data = organizations.OrganizationChanges(
                name=given(input.name, NOT_GIVEN), visibility=given(input.visibility, NOT_GIVEN)
            )
            return await organizations.update_organization(session, ctx.actor, data)

        organization, errors = await run_write(info, use_case)
        return OrganizationPayload(organization=organization, user_errors=errors)
