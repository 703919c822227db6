"""Organizations, teams and the people in them: customers and team members."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import strawberry
from strawberry import relay

from models import Customer as CustomerModel
from models import Organization as OrganizationModel
from models import Team as TeamModel
from models import TeamMember as TeamMemberModel
from models.enums import ActorType, AuthorType
from permissions.fields import CanSeeCustomerContact, CanSeeMemberContact, IsStaff
from schema.context import Info
from schema.enums import OrganizationVisibility, TeamRole


@strawberry.type(description="A support organization (tenant) that customers open tickets with.")
class Organization(relay.Node):
    id: relay.NodeID[int]
    name: str = strawberry.field(description="Display name.")
    slug: str = strawberry.field(description="Unique, URL-safe short name.")
    visibility: OrganizationVisibility = strawberry.field(
        description="Whether any customer may open tickets here, or only invited ones."
    )

    @classmethod
    def is_type_of(cls, obj: Any, info: Any) -> bool:
        return isinstance(obj, OrganizationModel)


@strawberry.type(description="A team (department) of an organization; tickets can be routed to it.")
class Team(relay.Node):
    id: relay.NodeID[int]
    name: str = strawberry.field(description="Name, unique within the organization.")
    description: str | None = strawberry.field(
        description="What the team does. Staff only.", permission_classes=[IsStaff]
    )
    archived_at: dt.datetime | None = strawberry.field(
        description=(
            "When the team was archived (it keeps its tickets, takes no new ones); null while "
            "active. Staff only."
        ),
        permission_classes=[IsStaff],
    )

    @classmethod
    def is_type_of(cls, obj: Any, info: Any) -> bool:
        return isinstance(obj, TeamModel)


@strawberry.type(description="Someone who opens tickets with support organizations.")
class Customer(relay.Node):
    id: relay.NodeID[int]
    name: str = strawberry.field(description="Display name.")
    company: str | None = strawberry.field(description="The customer's company, if given.")
    avatar_url: str | None = strawberry.field(description="Picture URL, if any.")
    email: str | None = strawberry.field(
        description="Email address. Visible to the customer themself and to staff.",
        permission_classes=[CanSeeCustomerContact],
    )
    created_at: dt.datetime = strawberry.field(description="When the customer was created.")

    @classmethod
    def is_type_of(cls, obj: Any, info: Any) -> bool:
        return isinstance(obj, CustomerModel)


@strawberry.type(description="An agent or admin of one organization.")
class TeamMember(relay.Node):
    id: relay.NodeID[int]
    name: str = strawberry.field(description="Display name.")
    role: TeamRole = strawberry.field(description="Agent or admin.")
    avatar_url: str | None = strawberry.field(description="Picture URL, if any.")
    is_active: bool = strawberry.field(description="False once the member is deactivated.")
    email: str | None = strawberry.field(
        description="Email address. Visible to staff of the same organization.",
        permission_classes=[CanSeeMemberContact],
    )
    invited_at: dt.datetime | None = strawberry.field(
        description="When the member was invited (null for members made otherwise). Staff only.",
        permission_classes=[CanSeeMemberContact],
    )

    @strawberry.field(
        description=(
            "Invited and not signed in yet (the first token with the member's verified email "
            "claims the invitation). Staff of the same organization only."
        ),
        permission_classes=[CanSeeMemberContact],
    )
    def is_pending(self, root: strawberry.Parent[TeamMemberModel]) -> bool | None:
        return root.is_pending

    @strawberry.field(description="The member's team, if any.", graphql_type=Team | None)
    async def team(self, root: strawberry.Parent[TeamMemberModel], info: Info) -> TeamModel | None:
        if root.team_id is None:
            return None
        return await info.context.loaders.team.load(root.team_id)

    @strawberry.field(
        description="The organization the member works for.", graphql_type=Organization
    )
    async def organization(
        self, root: strawberry.Parent[TeamMemberModel], info: Info
    ) -> OrganizationModel | None:
        return await info.context.loaders.organization.load(root.organization_id)

    @classmethod
    def is_type_of(cls, obj: Any, info: Any) -> bool:
        return isinstance(obj, TeamMemberModel)


async def load_person(
    info: Info, kind: AuthorType | ActorType, person_id: int | None
) -> CustomerModel | TeamMemberModel | None:
    """The customer or team member behind an author or actor reference (None: the system)."""
    if person_id is None:
        return None
    loaders = info.context.loaders
    if kind in (AuthorType.CUSTOMER, ActorType.CUSTOMER):
        return await loaders.customer.load(person_id)
    if kind in (AuthorType.TEAM_MEMBER, ActorType.TEAM_MEMBER):
        return await loaders.team_member.load(person_id)
    return None


Person = Annotated[
    Customer | TeamMember,
    strawberry.union("Person", description="A customer or a team member."),
]
