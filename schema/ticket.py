"""Tickets and their responses."""

from __future__ import annotations

import datetime as dt
from typing import Any

import strawberry
from strawberry import relay
from strawberry.scalars import JSON

from models import Customer as CustomerModel
from models import Organization as OrganizationModel
from models import Team as TeamModel
from models import TeamMember as TeamMemberModel
from models import Ticket as TicketModel
from models import TicketResponse as TicketResponseModel
from models.enums import AuthorType
from permissions.fields import IsAuthenticated, IsStaff
from resolvers import ticket as ticket_use_cases
from resolvers.errors import NotFoundError
from schema.context import Info
from schema.enums import TicketPriority, TicketStatus
from schema.people import Customer, Organization, Person, Team, TeamMember


@strawberry.type(
    name="Response", description="A public reply on a ticket, or an internal note (staff only)."
)
class Response(relay.Node):
    id: relay.NodeID[int]
    body: str = strawberry.field(description="The message text.")
    is_internal: bool = strawberry.field(
        description="True for an internal note. Customers never receive internal notes."
    )
    created_at: dt.datetime = strawberry.field(description="When it was written.")
    edited_at: dt.datetime | None = strawberry.field(
        description="When it was last edited, if ever."
    )

    @strawberry.field(
        description="Who wrote it: the customer or a team member.", graphql_type=Person | None
    )
    async def author(
        self, root: strawberry.Parent[TicketResponseModel], info: Info
    ) -> CustomerModel | TeamMemberModel | None:
        loaders = info.context.loaders
        if root.author_type is AuthorType.CUSTOMER:
            return await loaders.customer.load(root.author_id)
        return await loaders.team_member.load(root.author_id)

    @classmethod
    def is_type_of(cls, obj: Any, info: Any) -> bool:
        return isinstance(obj, TicketResponseModel)


@strawberry.type(description="A support request from a customer to an organization.")
class Ticket(relay.Node):
    id: relay.NodeID[int]
    number: int = strawberry.field(description="Number within the organization, shown as #1042.")
    title: str = strawberry.field(description="One-line summary.")
    description: str = strawberry.field(description="The customer's description of the problem.")
    status: TicketStatus = strawberry.field(description="Where the ticket stands.")
    priority: TicketPriority = strawberry.field(description="How urgent it is.")
    tags: list[str] = strawberry.field(description="Free-form labels.")
    version: int = strawberry.field(
        description="Increments on every change; pass it as expectedVersion to avoid lost updates."
    )
    created_at: dt.datetime = strawberry.field(description="When the ticket was opened.")
    updated_at: dt.datetime = strawberry.field(description="When anything on it last changed.")
    first_responded_at: dt.datetime | None = strawberry.field(
        description="When staff first replied publicly."
    )
    resolved_at: dt.datetime | None = strawberry.field(description="When it was last resolved.")
    closed_at: dt.datetime | None = strawberry.field(description="When it was last closed.")

    @strawberry.field(
        description="Staff-only key/value data. Null with a FORBIDDEN error for customers.",
        permission_classes=[IsStaff],
        graphql_type=JSON | None,
    )
    def metadata(self, root: strawberry.Parent[TicketModel]) -> dict[str, Any]:
        return root.metadata_

    @strawberry.field(
        description="The organization the ticket was opened with.", graphql_type=Organization
    )
    async def organization(
        self, root: strawberry.Parent[TicketModel], info: Info
    ) -> OrganizationModel | None:
        return await info.context.loaders.organization.load(root.organization_id)

    @strawberry.field(description="The customer who opened it.", graphql_type=Customer)
    async def customer(
        self, root: strawberry.Parent[TicketModel], info: Info
    ) -> CustomerModel | None:
        return await info.context.loaders.customer.load(root.customer_id)

    @strawberry.field(
        description="The team member working on it, if any.", graphql_type=TeamMember | None
    )
    async def assignee(
        self, root: strawberry.Parent[TicketModel], info: Info
    ) -> TeamMemberModel | None:
        if root.assignee_id is None:
            return None
        return await info.context.loaders.team_member.load(root.assignee_id)

    @strawberry.field(
        description="The team (department) it is routed to, if any.", graphql_type=Team | None
    )
    async def team(self, root: strawberry.Parent[TicketModel], info: Info) -> TeamModel | None:
        if root.team_id is None:
            return None
        return await info.context.loaders.team.load(root.team_id)

    @strawberry.field(
        description="Replies and notes, oldest first. Customers receive public replies only.",
        graphql_type=list[Response],
    )
    async def responses(
        self, root: strawberry.Parent[TicketModel], info: Info
    ) -> list[TicketResponseModel]:
        return await info.context.loaders.responses_by_ticket.load(root.id)

    @classmethod
    def is_type_of(cls, obj: Any, info: Any) -> bool:
        return isinstance(obj, TicketModel)


def decode_id(node_id: relay.GlobalID, type_name: str) -> int:
    """The database id inside a global id of `type_name`; NOT_FOUND for any other id."""
    if node_id.type_name == type_name and node_id.node_id.isdigit():
        return int(node_id.node_id)
    raise NotFoundError(f"{type_name} not found")


@strawberry.type
class TicketQuery:
    @strawberry.field(
        description=(
            "One ticket by its global id. NOT_FOUND when it does not exist or is not yours to see."
        ),
        graphql_type=Ticket,
        permission_classes=[IsAuthenticated],
    )
    async def ticket(self, info: Info, id: relay.GlobalID) -> TicketModel:
        ticket_id = decode_id(id, "Ticket")
        ctx = info.context
        return await ctx.run(lambda s: ticket_use_cases.get_ticket(s, ctx.actor, ticket_id))
