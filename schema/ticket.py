"""Tickets, their responses and history: the types and the read queries."""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Awaitable, Callable
from typing import Any

import strawberry
from strawberry import relay
from strawberry.scalars import JSON
from strawberry.utils.str_converters import to_camel_case

from models import Customer as CustomerModel
from models import Organization as OrganizationModel
from models import Team as TeamModel
from models import TeamMember as TeamMemberModel
from models import Ticket as TicketModel
from models import TicketResponse as TicketResponseModel
from permissions.fields import IsAuthenticated, IsStaff
from resolvers import ticket as tickets
from resolvers.errors import BadUserInputError
from resolvers.knowledge_base import SUGGESTIONS_MAX
from resolvers.pagination import Page, PageRequest, page_from_window
from resolvers.ticket import HISTORY_ORDER, RESPONSE_ORDER, ChildPage
from resolvers.validation import storable_text, utc_instant
from schema.attachment import Attachment, response_attachments, ticket_attachments
from schema.context import Info
from schema.enums import TicketPriority, TicketStatus
from schema.history import HistoryEntry as HistoryEntry  # re-exported: the type moved here
from schema.ids import decode_filter_id, decode_id, decode_ids
from schema.knowledge_base import Article
from schema.pagination import Connection, connection_from_page
from schema.people import Customer, Organization, Person, Team, TeamMember, load_person


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
    edited_at: dt.datetime | None = strawberry.field(description="When it was last edited.")

    @strawberry.field(
        description="Who wrote it: the customer or a team member.", graphql_type=Person | None
    )
    async def author(
        self, root: strawberry.Parent[TicketResponseModel], info: Info
    ) -> CustomerModel | TeamMemberModel | None:
        return await load_person(info, root.author_type, root.author_id)

    @strawberry.field(
        description="Files attached to this reply or note, oldest first.",
        graphql_type=list[Attachment],
    )
    async def attachments(
        self, root: strawberry.Parent[TicketResponseModel], info: Info
    ) -> list[Any]:
        return await response_attachments(info, root.id)

    @strawberry.field(
        description=(
            "Knowledge-base articles linked in this reply or note, in the order given; "
            "customers see those they may read (an article archived since drops out)."
        ),
        graphql_type=list[Article],
    )
    async def articles(self, root: strawberry.Parent[TicketResponseModel], info: Info) -> list[Any]:
        found: list[Any] = await info.context.loaders.response_articles.load(root.id)
        return found

    @classmethod
    def is_type_of(cls, obj: Any, info: Any) -> bool:
        return isinstance(obj, TicketResponseModel)


async def _child_connection(
    info: Info,
    ticket_id: int,
    request: PageRequest,
    loader: Any,
    count_loader: Any,
    fetch_page: Callable[..., Awaitable[Page[Any]]],
    key: Any,
) -> Connection[Any]:
    ctx = info.context
    size, backwards = request.size()
    if request.after or request.before:
        page = await ctx.run(lambda s: fetch_page(s, ctx.actor, ticket_id, request))
    else:
        # The common case (a first page, also inside lists) is batched across tickets.
        window = ChildPage(last=size + 1) if backwards else ChildPage(first=size + 1)
        page = page_from_window(await loader.load((ticket_id, window)), size, backwards, key)

    async def count(info: Info) -> int:
        total: int = await count_loader.load(ticket_id)
        return total

    return connection_from_page(page, count)


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
    updated_at: dt.datetime = strawberry.field(
        description="When the ticket or its public conversation last changed."
    )
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
        description=(
            "Replies and notes, oldest first; `last: 3` gives the latest three. "
            "Customers receive public replies only."
        ),
        graphql_type=Connection[Response],
    )
    async def responses(
        self,
        root: strawberry.Parent[TicketModel],
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[Any]:
        loaders = info.context.loaders
        return await _child_connection(
            info,
            root.id,
            PageRequest(first, after, last, before),
            loaders.responses,
            loaders.response_count,
            tickets.page_responses,
            RESPONSE_ORDER,
        )

    @strawberry.field(
        description=(
            "Files of the ticket itself and of the replies and notes you may read, oldest "
            "first. Customers never receive an internal note's files."
        ),
        graphql_type=list[Attachment],
    )
    async def attachments(self, root: strawberry.Parent[TicketModel], info: Info) -> list[Any]:
        return await ticket_attachments(info, root.id)

    @strawberry.field(
        description="Changes, oldest first. Customers do not receive staff-only entries.",
        graphql_type=Connection[HistoryEntry],
    )
    async def history(
        self,
        root: strawberry.Parent[TicketModel],
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[Any]:
        loaders = info.context.loaders
        return await _child_connection(
            info,
            root.id,
            PageRequest(first, after, last, before),
            loaders.history,
            loaders.history_count,
            tickets.page_history,
            HISTORY_ORDER,
        )

    @strawberry.field(
        description=(
            "Staff: published knowledge-base articles of the ticket's organization that match "
            "its title and description, best first (at most 10). Null with FORBIDDEN for "
            "customers."
        ),
        permission_classes=[IsStaff],
        graphql_type=list[Article] | None,
    )
    async def suggested_articles(
        self, root: strawberry.Parent[TicketModel], info: Info, first: int = 3
    ) -> list[Any]:
        if not 0 <= first <= SUGGESTIONS_MAX:
            raise BadUserInputError(f"first must be between 0 and {SUGGESTIONS_MAX}")
        text = f"{root.title} {root.description}"
        key = (root.id, root.organization_id, text, first)
        found: list[Any] = await info.context.loaders.ticket_suggestions.load(key)
        return found

    @classmethod
    def is_type_of(cls, obj: Any, info: Any) -> bool:
        return isinstance(obj, TicketModel)


@strawberry.enum(description="Whose tickets.")
class AssigneeScope(enum.Enum):
    ME = "me"
    UNASSIGNED = "unassigned"


@strawberry.input(description="Narrow the ticket list. All given conditions must hold.")
class TicketFilter:
    status: list[TicketStatus] | None = strawberry.field(default=None, description="Any of.")
    priority: list[TicketPriority] | None = strawberry.field(default=None, description="Any of.")
    assignee: AssigneeScope | None = strawberry.field(
        default=None, description="Assigned to me, or to nobody."
    )
    assignee_id: relay.GlobalID | None = strawberry.field(
        default=None, description="Assigned to this team member."
    )
    team_id: list[relay.GlobalID] | None = strawberry.field(
        default=None, description="Routed to any of these teams."
    )
    customer_id: relay.GlobalID | None = strawberry.field(
        default=None, description="Opened by this customer."
    )
    organization_id: relay.GlobalID | None = strawberry.field(
        default=None, description="With this organization (customers' tickets span several)."
    )
    tags: list[str] | None = strawberry.field(default=None, description="Carries all of these.")
    created_after: dt.datetime | None = strawberry.field(default=None, description="Inclusive.")
    created_before: dt.datetime | None = strawberry.field(default=None, description="Exclusive.")
    updated_after: dt.datetime | None = strawberry.field(default=None, description="Inclusive.")
    updated_before: dt.datetime | None = strawberry.field(default=None, description="Exclusive.")
    search: str | None = strawberry.field(
        default=None,
        description=(
            "Words in the title, description or readable replies, or a ticket number (#42). "
            "Full-text search on PostgreSQL."
        ),
    )

    def to_filter(self) -> tickets.TicketFilter:
        for text in [self.search or "", *(self.tags or [])]:
            if not storable_text(text):
                raise BadUserInputError("search and tags must be valid Unicode text without NUL")
        instants: dict[str, dt.datetime | None] = {}
        for name in ("created_after", "created_before", "updated_after", "updated_before"):
            value = getattr(self, name)
            try:
                instants[name] = None if value is None else utc_instant(value)
            except ValueError:
                raise BadUserInputError(
                    f"{to_camel_case(name)} must be a date and time with a timezone offset "
                    "within years 1-9999 in UTC, e.g. 2026-01-31T09:00:00Z"
                ) from None
        assignee = None
        if self.assignee is not None:
            assignee = tickets.AssigneeScope(self.assignee.value)
        if self.assignee_id is not None:
            assignee = tickets.AssigneeScope.MEMBER
        return tickets.TicketFilter(
            statuses=self.status or (),
            priorities=self.priority or (),
            assignee=assignee,
            assignee_id=None
            if self.assignee_id is None
            else decode_filter_id(self.assignee_id, "TeamMember", "assigneeId"),
            team_ids=decode_ids(self.team_id or [], "Team", "teamId"),
            customer_id=None
            if self.customer_id is None
            else decode_filter_id(self.customer_id, "Customer", "customerId"),
            organization_id=None
            if self.organization_id is None
            else decode_filter_id(self.organization_id, "Organization", "organizationId"),
            tags=[t.strip().lower() for t in self.tags or []],
            created_after=instants["created_after"],
            created_before=instants["created_before"],
            updated_after=instants["updated_after"],
            updated_before=instants["updated_before"],
            search=self.search,
        )


@strawberry.enum(description="What to sort tickets by.")
class TicketOrderField(enum.Enum):
    UPDATED_AT = "updated_at"
    CREATED_AT = "created_at"
    PRIORITY = "priority"
    NUMBER = "number"


@strawberry.enum(description="Sort direction.")
class OrderDirection(enum.Enum):
    ASC = "asc"
    DESC = "desc"


@strawberry.input(description="Ticket order; ties are broken by id.")
class TicketOrder:
    field: TicketOrderField = TicketOrderField.UPDATED_AT
    direction: OrderDirection = OrderDirection.DESC


def list_arguments(
    filter: TicketFilter | None, order_by: TicketOrder | None
) -> tuple[tickets.TicketFilter, tickets.TicketOrder]:
    """`tickets(filter:, orderBy:)` as the resolvers take them (the compiled path too)."""
    filters = filter.to_filter() if filter else tickets.TicketFilter()
    order = order_by or TicketOrder()
    return filters, tickets.TicketOrder(
        tickets.TicketOrderField(order.field.value), order.direction is OrderDirection.DESC
    )


@strawberry.type
class TicketQuery:
    @strawberry.field(
        description=(
            "One ticket by its global id; null with a NOT_FOUND error when it does not exist or "
            "is not yours to see."
        ),
        graphql_type=Ticket | None,
        permission_classes=[IsAuthenticated],
    )
    async def ticket(self, info: Info, id: relay.GlobalID) -> TicketModel:
        ticket_id = decode_id(id, "Ticket")
        ctx = info.context
        return await ctx.run(lambda s: tickets.get_ticket(s, ctx.actor, ticket_id))

    @strawberry.field(
        description=(
            "One ticket by its organization and number (#1042); null with a NOT_FOUND error "
            "when it does not exist or is not yours to see."
        ),
        graphql_type=Ticket | None,
        permission_classes=[IsAuthenticated],
    )
    async def ticket_by_number(
        self, info: Info, organization_id: relay.GlobalID, number: int
    ) -> TicketModel:
        org_id = decode_id(organization_id, "Organization")
        ctx = info.context
        return await ctx.run(lambda s: tickets.get_ticket_by_number(s, ctx.actor, org_id, number))

    @strawberry.field(
        description=(
            "Tickets you can see: a customer's own (any organization), or the organization's "
            "queue for staff. Cursor-paginated: `first` (default 20, at most 100) with `after`, "
            "or `last` with `before`."
        ),
        graphql_type=Connection[Ticket] | None,
        permission_classes=[IsAuthenticated],
    )
    async def tickets(
        self,
        info: Info,
        filter: TicketFilter | None = None,
        order_by: TicketOrder | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[Any]:
        ctx = info.context
        filters, resolved_order = list_arguments(filter, order_by)
        request = PageRequest(first, after, last, before)
        page = await ctx.run(
            lambda s: tickets.list_tickets(s, ctx.actor, filters, resolved_order, request)
        )

        async def count(info: Info) -> int:
            assert page.count is not None
            counter = page.count
            return await info.context.run(lambda s: counter())

        return connection_from_page(page, count)
