"""`organizationEvents`: changes to an organization's setup, live, for its staff.

One event per admin audit entry, delivered through the organization event hub (the same
machinery as ticket events: broadcast triggers, changes read back from the audit log). Agents
receive team and member changes; admins every admin action. Changes that touch tickets
(a deactivation unassigning them, routing) also stream through `ticketEvents`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncGenerator
from typing import Any

import strawberry

from models import AuditEntry as AuditEntryModel
from models.enums import ActorType
from permissions.admin import may_receive_organization_event
from permissions.fields import IsAuthenticated, IsStaff
from resolvers.audit import OrganizationChange
from schema.context import Info
from schema.ids import encode_id
from schema.people import Customer, Team, TeamMember
from subscriptions.hub import SlowSubscriberError

TARGET_TYPES = {
    "organization": "Organization",
    "team": "Team",
    "team_member": "TeamMember",
    "customer": "Customer",
    "routing_rule": "RoutingRule",
}


@strawberry.type(description="A committed change to your organization's setup.")
class OrganizationEvent:
    cursor: str = strawberry.field(description="The audit entry's id.")
    action: str = strawberry.field(
        description="e.g. team.created, member.invited, member.deactivated, routing_rule.updated."
    )
    target_type: str = strawberry.field(
        description="organization, team, team_member, customer or routing_rule."
    )
    occurred_at: dt.datetime
    row: strawberry.Private[AuditEntryModel]

    @strawberry.field(description="The target's global id, if it has one.")
    def target_id(self) -> strawberry.ID | None:
        type_name = TARGET_TYPES.get(self.row.target_type)
        if type_name is None or self.row.target_id is None:
            return None
        return strawberry.ID(str(encode_id(type_name, self.row.target_id)))

    @strawberry.field(description="The team it is about, if any.", graphql_type=Team | None)
    async def team(self, info: Info) -> Any:
        if self.row.target_type != "team" or self.row.target_id is None:
            return None
        return await info.context.loaders.team.load(self.row.target_id)

    @strawberry.field(description="The member it is about, if any.", graphql_type=TeamMember | None)
    async def member(self, info: Info) -> Any:
        if self.row.target_type != "team_member" or self.row.target_id is None:
            return None
        return await info.context.loaders.team_member.load(self.row.target_id)

    @strawberry.field(description="The customer it is about, if any.", graphql_type=Customer | None)
    async def customer(self, info: Info) -> Any:
        if self.row.target_type != "customer" or self.row.target_id is None:
            return None
        return await info.context.loaders.customer.load(self.row.target_id)

    @strawberry.field(
        description="Who did it; null for the system.", graphql_type=TeamMember | None
    )
    async def actor(self, info: Info) -> Any:
        if self.row.actor_type is not ActorType.TEAM_MEMBER or self.row.actor_id is None:
            return None
        return await info.context.loaders.team_member.load(self.row.actor_id)


@strawberry.type
class OrganizationSubscription:
    @strawberry.subscription(
        description=(
            "Changes to your organization's setup as they are committed: team and member "
            "changes for staff, every admin action for admins. Live only (read the past with "
            "auditLog)."
        ),
        permission_classes=[IsAuthenticated, IsStaff],
    )
    async def organization_events(self, info: Info) -> AsyncGenerator[OrganizationEvent, None]:
        ctx = info.context
        actor = ctx.actor
        assert actor.organization_id is not None
        hub = ctx.services.organization_hub
        while True:
            async with hub.subscribe(organization_id=actor.organization_id) as (subscription, _):
                ctx.live()
                while True:
                    try:
                        change: OrganizationChange = await subscription.get()
                    except SlowSubscriberError:
                        break
                    if ctx.access_revoked:
                        return
                    entry = change.entry
                    if not may_receive_organization_event(
                        actor, entry.organization_id, entry.target_type
                    ):
                        continue
                    scope = ctx.new_scope()
                    with ctx.event_scope(scope):
                        yield OrganizationEvent(
                            cursor=str(entry.id),
                            action=entry.action,
                            target_type=entry.target_type,
                            occurred_at=entry.created_at,
                            row=entry,
                        )
                    await scope.close()
