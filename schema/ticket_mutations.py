"""Ticket mutations: one `input`, a payload with the changed objects and `userErrors`."""

from __future__ import annotations

from typing import Any, cast

import strawberry
from strawberry import relay
from strawberry.scalars import JSON

from permissions.fields import IsAuthenticated
from resolvers import responses
from resolvers import ticket_write as writes
from resolvers.attachment import AttachRequest
from resolvers.errors import UserErrorCode as DomainUserErrorCode
from resolvers.errors import UserErrorData, UserInputError
from resolvers.ticket_write import UNSET as NOT_GIVEN
from resolvers.ticket_write import TicketChanges
from schema.attachment import attachment_policy
from schema.context import Info
from schema.enums import TicketPriority, TicketStatus
from schema.ticket import Response, Ticket
from schema.user_errors import (
    UserError,
    UserErrorCode,
    given,
    input_id,
    optional_input_id,
    refused,
    run_write,
)

__all__ = ["TicketMutation", "UserError", "UserErrorCode"]


def _given(value: Any) -> Any:
    return given(value, NOT_GIVEN)


def _optional_id(value: relay.GlobalID | Any | None, type_name: str) -> Any:
    if value is strawberry.UNSET:
        return NOT_GIVEN
    return optional_input_id(value, type_name)


def _attach_request(info: Info, ids: list[relay.GlobalID] | None) -> AttachRequest | None:
    """The files named in attachmentIds; an id of another type is NOT_FOUND in the use case."""
    if not ids:
        return None
    return AttachRequest(
        [input_id(node_id, "Attachment") for node_id in ids],
        attachment_policy(info).max_per_response,
    )


# --- createTicket ------------------------------------------------------------------------


@strawberry.input(description="Open a ticket.")
class CreateTicketInput:
    title: str = strawberry.field(description="One-line summary (at most 300 characters).")
    description: str = strawberry.field(default="", description="The details.")
    organization_id: relay.GlobalID | None = strawberry.field(
        default=None, description="Customers: the organization to ask. Staff: omit (yours)."
    )
    customer_id: relay.GlobalID | None = strawberry.field(
        default=None, description="Staff: the customer the ticket is for. Customers: omit."
    )
    priority: TicketPriority = strawberry.field(
        default=TicketPriority.MEDIUM, description="How urgent."
    )
    team_id: relay.GlobalID | None = strawberry.field(default=None, description="Staff only.")
    tags: list[str] | None = strawberry.field(default=None, description="Staff only.")
    metadata: JSON | None = strawberry.field(default=None, description="Staff only.")
    idempotency_key: str | None = strawberry.field(
        default=None,
        description="A client-chosen key; repeating a create with it returns the first ticket.",
    )
    attachment_ids: list[relay.GlobalID] | None = strawberry.field(
        default=None,
        description="Your uploaded files (createAttachmentUpload with organizationId) to attach.",
    )


@strawberry.type
class CreateTicketPayload:
    ticket: Ticket | None = strawberry.field(description="The new (or earlier) ticket.")
    user_errors: list[UserError]


# --- updateTicket ------------------------------------------------------------------------


@strawberry.input(description="Change a ticket. Only the fields you send change.")
class UpdateTicketInput:
    id: relay.GlobalID
    expected_version: int | None = strawberry.field(
        default=None, description="Refuse with CONFLICT unless the ticket is at this version."
    )
    title: str | None = strawberry.UNSET
    description: str | None = strawberry.UNSET
    status: TicketStatus | None = strawberry.UNSET
    priority: TicketPriority | None = strawberry.UNSET
    team_id: relay.GlobalID | None = strawberry.field(
        default=strawberry.UNSET, description="null routes the ticket to no team."
    )
    tags: list[str] | None = strawberry.field(
        default=strawberry.UNSET, description="Replaces all tags."
    )
    metadata: JSON | None = strawberry.field(
        default=strawberry.UNSET, description="Replaces the staff-only metadata."
    )

    def changes(self) -> TicketChanges:
        for name in ("title", "description", "status", "priority", "tags", "metadata"):
            if getattr(self, name) is None:
                raise UserInputError(
                    [UserErrorData(name, f"{name} cannot be null", DomainUserErrorCode.REQUIRED)]
                )
        return TicketChanges(
            title=_given(self.title),
            description=_given(self.description),
            status=_given(self.status),
            priority=_given(self.priority),
            team_id=_optional_id(self.team_id, "Team"),
            tags=_given(self.tags),
            metadata=_given(self.metadata),
        )


@strawberry.type
class UpdateTicketPayload:
    ticket: Ticket | None
    user_errors: list[UserError]


# --- addResponse -------------------------------------------------------------------------


@strawberry.input(description="Reply to a ticket, or (staff) add an internal note.")
class AddResponseInput:
    ticket_id: relay.GlobalID
    body: str = strawberry.field(description="The message (at most 20,000 characters).")
    internal: bool = strawberry.field(
        default=False, description="An internal note, never shown to the customer. Staff only."
    )
    idempotency_key: str | None = strawberry.field(
        default=None,
        description=(
            "A client-chosen key (at most 100 characters); repeating the same reply with it "
            "returns the first response instead of a second one."
        ),
    )
    attachment_ids: list[relay.GlobalID] | None = strawberry.field(
        default=None,
        description=(
            "Your uploaded files (createAttachmentUpload) to attach; at most 10 by default. "
            "A note's files are internal too."
        ),
    )
    article_ids: list[relay.GlobalID] | None = strawberry.field(
        default=None,
        description=(
            "Staff: knowledge-base articles to link (at most 10). A public reply may only link "
            "published public articles; an internal note any of your organization's."
        ),
    )


@strawberry.type
class AddResponsePayload:
    ticket: Ticket | None
    response: Response | None
    user_errors: list[UserError]


# --- assignTicket ------------------------------------------------------------------------


@strawberry.input(description="Assign a ticket, or unassign it with assigneeId: null.")
class AssignTicketInput:
    ticket_id: relay.GlobalID
    assignee_id: relay.GlobalID | None = strawberry.field(
        default=strawberry.UNSET,
        description=(
            "Required. Agents: yourself (take) or null (release). Admins: any active member, "
            "or null."
        ),
    )


@strawberry.type
class AssignTicketPayload:
    ticket: Ticket | None
    user_errors: list[UserError]


# --- bulkUpdateTickets -------------------------------------------------------------------


@strawberry.input(description="Admins: the same change to many tickets, all or nothing.")
class BulkUpdateTicketsInput:
    ticket_ids: list[relay.GlobalID] = strawberry.field(description="At most 100.")
    status: TicketStatus | None = None
    priority: TicketPriority | None = None
    team_id: relay.GlobalID | None = strawberry.field(
        default=strawberry.UNSET, description="null routes the tickets to no team."
    )
    assignee_id: relay.GlobalID | None = strawberry.field(
        default=strawberry.UNSET, description="null unassigns the tickets."
    )
    add_tags: list[str] | None = None
    remove_tags: list[str] | None = None


@strawberry.type(description="What happened to one requested id of a bulk update.")
class BulkTicketResult:
    ticket_id: relay.GlobalID = strawberry.field(description="The id as it was requested.")
    ticket: Ticket | None = strawberry.field(description="The updated ticket; null on failure.")
    user_errors: list[UserError]


@strawberry.type
class BulkUpdateTicketsPayload:
    tickets: list[Ticket] = strawberry.field(description="Updated tickets (empty on failure).")
    results: list[BulkTicketResult] = strawberry.field(
        description=(
            "One per requested id, in request order (an id named twice gets a DUPLICATE error "
            "on its repeat); empty when the request as a whole is refused (see userErrors)."
        )
    )
    user_errors: list[UserError]


@strawberry.type
class TicketMutation:
    @strawberry.mutation(
        description="Open a ticket: customers for themselves, staff on behalf of a customer.",
        permission_classes=[IsAuthenticated],
    )
    async def create_ticket(
        self, info: Info, input: CreateTicketInput
    ) -> CreateTicketPayload | None:
        actor = info.context.actor
        data = writes.CreateTicketInput(
            title=input.title,
            description=input.description,
            priority=input.priority,
            organization_id=optional_input_id(input.organization_id, "Organization"),
            customer_id=optional_input_id(input.customer_id, "Customer"),
            team_id=optional_input_id(input.team_id, "Team"),
            tags=input.tags or (),
            # JSON arrives as plain Python values; the use case checks its shape.
            metadata=cast(Any, input.metadata),
            idempotency_key=input.idempotency_key,
            attachments=_attach_request(info, input.attachment_ids),
        )
        ticket, errors = await run_write(info, lambda s: writes.create_ticket(s, actor, data))
        return CreateTicketPayload(ticket=ticket, user_errors=errors)  # type: ignore[arg-type]

    @strawberry.mutation(
        description=(
            "Change title, description, status, priority, team, tags or metadata; one history "
            "entry per changed field. Customers may only close or reopen."
        ),
        permission_classes=[IsAuthenticated],
    )
    async def update_ticket(
        self, info: Info, input: UpdateTicketInput
    ) -> UpdateTicketPayload | None:
        actor = info.context.actor
        try:
            changes = input.changes()
        except UserInputError as exc:
            return UpdateTicketPayload(ticket=None, user_errors=UserError.all_of(exc.errors))
        data = writes.UpdateTicketInput(
            input_id(input.id, "Ticket"), changes, input.expected_version
        )
        ticket, errors = await run_write(info, lambda s: writes.update_ticket(s, actor, data))
        return UpdateTicketPayload(ticket=ticket, user_errors=errors)  # type: ignore[arg-type]

    @strawberry.mutation(
        description="Reply publicly, or (staff) add an internal note.",
        permission_classes=[IsAuthenticated],
    )
    async def add_response(self, info: Info, input: AddResponseInput) -> AddResponsePayload | None:
        actor = info.context.actor
        data = responses.AddResponseInput(
            input_id(input.ticket_id, "Ticket"),
            input.body,
            input.internal,
            input.idempotency_key,
            _attach_request(info, input.attachment_ids),
            tuple(input_id(node_id, "Article") for node_id in input.article_ids or ()),
        )
        result, errors = await run_write(info, lambda s: responses.add_response(s, actor, data))
        ticket, response = result if result else (None, None)
        return AddResponsePayload(ticket=ticket, response=response, user_errors=errors)  # type: ignore[arg-type]

    @strawberry.mutation(
        description="Assign or unassign a ticket.", permission_classes=[IsAuthenticated]
    )
    async def assign_ticket(
        self, info: Info, input: AssignTicketInput
    ) -> AssignTicketPayload | None:
        actor = info.context.actor
        if input.assignee_id is strawberry.UNSET:
            return AssignTicketPayload(
                ticket=None,
                user_errors=refused(
                    "assigneeId",
                    "say who: a team member's id, or null to unassign",
                    DomainUserErrorCode.REQUIRED,
                ),
            )
        data = writes.AssignTicketInput(
            input_id(input.ticket_id, "Ticket"),
            optional_input_id(input.assignee_id, "TeamMember"),
        )
        ticket, errors = await run_write(info, lambda s: writes.assign_ticket(s, actor, data))
        return AssignTicketPayload(ticket=ticket, user_errors=errors)  # type: ignore[arg-type]

    @strawberry.mutation(
        description=(
            "Admins: change status, priority, team, assignee or tags of up to 100 tickets. "
            "All or nothing: if any ticket fails, none changes."
        ),
        permission_classes=[IsAuthenticated],
    )
    async def bulk_update_tickets(
        self, info: Info, input: BulkUpdateTicketsInput
    ) -> BulkUpdateTicketsPayload | None:
        actor = info.context.actor
        requested = list(input.ticket_ids)
        data = writes.BulkUpdateInput(
            ticket_ids=[input_id(i, "Ticket") for i in requested],
            changes=TicketChanges(
                status=NOT_GIVEN if input.status is None else input.status,
                priority=NOT_GIVEN if input.priority is None else input.priority,
                team_id=_optional_id(input.team_id, "Team"),
                add_tags=input.add_tags or (),
                remove_tags=input.remove_tags or (),
            ),
            assignee_id=_optional_id(input.assignee_id, "TeamMember"),
        )
        try:
            results, errors = await run_write(
                info, lambda s: writes.bulk_update_tickets(s, actor, data)
            )
        except writes.BulkUpdateFailed as failed:
            # Rolled back: report per requested id, but return no (stale) ticket objects.
            return BulkUpdateTicketsPayload(
                tickets=[],
                results=[
                    BulkTicketResult(
                        ticket_id=node_id, ticket=None, user_errors=UserError.all_of(r.errors)
                    )
                    for node_id, r in zip(requested, failed.results, strict=True)
                ],
                user_errors=refused(
                    "ticketIds",
                    "some tickets could not be updated, so none was; see results",
                    DomainUserErrorCode.INVALID,
                ),
            )
        if results is None:
            # Refused as a whole (who may, how many): no per-ticket results to report.
            return BulkUpdateTicketsPayload(tickets=[], results=[], user_errors=errors)
        done = results
        return BulkUpdateTicketsPayload(
            tickets=[r.ticket for r in done],  # type: ignore[misc]
            results=[
                BulkTicketResult(ticket_id=node_id, ticket=r.ticket, user_errors=[])  # type: ignore[arg-type]
                for node_id, r in zip(requested, done, strict=True)
            ],
            user_errors=errors,
        )
