"""Ticket mutations: one `input`, a payload with the changed objects and `userErrors`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, cast

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession
from strawberry import relay
from strawberry.scalars import JSON

from permissions.fields import IsAuthenticated
from resolvers import ticket_write as writes
from resolvers.attachment import AttachRequest
from resolvers.errors import UserErrorCode as DomainUserErrorCode
from resolvers.errors import UserErrorData, UserInputError
from resolvers.ticket_write import UNSET as NOT_GIVEN
from resolvers.ticket_write import TicketChanges
from schema.attachment import attachment_policy, decode_attachment_ids
from schema.context import Info
from schema.enums import TicketPriority, TicketStatus
from schema.ids import decode_id, encode_id
from schema.ticket import Response, Ticket

T = TypeVar("T")

UserErrorCode = strawberry.enum(
    DomainUserErrorCode, name="UserErrorCode", description="Why an input was refused."
)


@strawberry.type(description="An expected failure of a mutation: nothing was changed.")
class UserError:
    field: str | None = strawberry.field(description="The input field at fault, if one is.")
    message: str = strawberry.field(description="What is wrong, for people.")
    code: UserErrorCode = strawberry.field(description="What is wrong, for programs.")  # type: ignore[valid-type]

    @classmethod
    def of(cls, error: UserErrorData) -> UserError:
        return cls(field=error.field, message=error.message, code=error.code)


def _errors(exc: UserInputError) -> list[UserError]:
    return [UserError.of(e) for e in exc.errors]


async def _write(
    info: Info, use_case: Callable[[AsyncSession], Awaitable[T]]
) -> tuple[T | None, list[UserError]]:
    """Run a write; expected failures come back as userErrors."""
    ctx = info.context
    try:
        return await ctx.write(use_case), []
    except UserInputError as exc:
        return None, _errors(exc)


def _given(value: Any) -> Any:
    return NOT_GIVEN if value is strawberry.UNSET else value


def _optional_id(value: relay.GlobalID | Any | None, type_name: str) -> Any:
    if value is strawberry.UNSET:
        return NOT_GIVEN
    return None if value is None else decode_id(value, type_name)


def _attach_request(info: Info, ids: list[relay.GlobalID] | None) -> AttachRequest | None:
    if not ids:
        return None
    return AttachRequest(decode_attachment_ids(ids), attachment_policy(info).max_per_response)


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
    attachment_ids: list[relay.GlobalID] | None = strawberry.field(
        default=None,
        description=(
            "Your uploaded files (createAttachmentUpload) to attach; at most 10 by default. "
            "A note's files are internal too."
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


@strawberry.type(description="What happened to one ticket of a bulk update.")
class BulkTicketResult:
    ticket_id: relay.GlobalID
    ticket: Ticket | None = strawberry.field(description="The updated ticket; null on failure.")
    user_errors: list[UserError]


@strawberry.type
class BulkUpdateTicketsPayload:
    tickets: list[Ticket] = strawberry.field(description="Updated tickets (empty on failure).")
    results: list[BulkTicketResult] = strawberry.field(description="One per requested ticket.")
    user_errors: list[UserError]


@strawberry.type
class TicketMutation:
    @strawberry.mutation(
        description="Open a ticket: customers for themselves, staff on behalf of a customer.",
        permission_classes=[IsAuthenticated],
    )
    async def create_ticket(self, info: Info, input: CreateTicketInput) -> CreateTicketPayload:
        actor = info.context.actor
        try:
            files = _attach_request(info, input.attachment_ids)
        except UserInputError as exc:
            return CreateTicketPayload(ticket=None, user_errors=_errors(exc))
        data = writes.CreateTicketInput(
            title=input.title,
            description=input.description,
            priority=input.priority,
            organization_id=None
            if input.organization_id is None
            else decode_id(input.organization_id, "Organization"),
            customer_id=None
            if input.customer_id is None
            else decode_id(input.customer_id, "Customer"),
            team_id=None if input.team_id is None else decode_id(input.team_id, "Team"),
            tags=input.tags or (),
            # JSON arrives as plain Python values; the use case checks its shape.
            metadata=cast(Any, input.metadata),
            idempotency_key=input.idempotency_key,
            attachments=files,
        )
        ticket, errors = await _write(info, lambda s: writes.create_ticket(s, actor, data))
        return CreateTicketPayload(ticket=ticket, user_errors=errors)  # type: ignore[arg-type]

    @strawberry.mutation(
        description=(
            "Change title, description, status, priority, team, tags or metadata; one history "
            "entry per changed field. Customers may only close or reopen."
        ),
        permission_classes=[IsAuthenticated],
    )
    async def update_ticket(self, info: Info, input: UpdateTicketInput) -> UpdateTicketPayload:
        actor = info.context.actor
        ticket_id = decode_id(input.id, "Ticket")
        try:
            changes = input.changes()
        except UserInputError as exc:
            return UpdateTicketPayload(ticket=None, user_errors=_errors(exc))
        data = writes.UpdateTicketInput(ticket_id, changes, input.expected_version)
        ticket, errors = await _write(info, lambda s: writes.update_ticket(s, actor, data))
        return UpdateTicketPayload(ticket=ticket, user_errors=errors)  # type: ignore[arg-type]

    @strawberry.mutation(
        description="Reply publicly, or (staff) add an internal note.",
        permission_classes=[IsAuthenticated],
    )
    async def add_response(self, info: Info, input: AddResponseInput) -> AddResponsePayload:
        actor = info.context.actor
        try:
            files = _attach_request(info, input.attachment_ids)
        except UserInputError as exc:
            return AddResponsePayload(ticket=None, response=None, user_errors=_errors(exc))
        data = writes.AddResponseInput(
            decode_id(input.ticket_id, "Ticket"), input.body, input.internal, files
        )
        result, errors = await _write(info, lambda s: writes.add_response(s, actor, data))
        ticket, response = result if result else (None, None)
        return AddResponsePayload(ticket=ticket, response=response, user_errors=errors)  # type: ignore[arg-type]

    @strawberry.mutation(
        description="Assign or unassign a ticket.", permission_classes=[IsAuthenticated]
    )
    async def assign_ticket(self, info: Info, input: AssignTicketInput) -> AssignTicketPayload:
        actor = info.context.actor
        if input.assignee_id is strawberry.UNSET:
            return AssignTicketPayload(
                ticket=None,
                user_errors=[
                    UserError(
                        field="assigneeId",
                        message="say who: a team member's id, or null to unassign",
                        code=DomainUserErrorCode.REQUIRED,
                    )
                ],
            )
        data = writes.AssignTicketInput(
            decode_id(input.ticket_id, "Ticket"),
            None if input.assignee_id is None else decode_id(input.assignee_id, "TeamMember"),
        )
        ticket, errors = await _write(info, lambda s: writes.assign_ticket(s, actor, data))
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
    ) -> BulkUpdateTicketsPayload:
        actor = info.context.actor
        ids = [decode_id(i, "Ticket") for i in input.ticket_ids]
        data = writes.BulkUpdateInput(
            ticket_ids=ids,
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
            results, errors = await _write(
                info, lambda s: writes.bulk_update_tickets(s, actor, data)
            )
        except writes.BulkUpdateFailed as failed:
            # Rolled back: report per ticket, but return no (stale) ticket objects.
            return BulkUpdateTicketsPayload(
                tickets=[],
                results=[
                    BulkTicketResult(
                        ticket_id=encode_id("Ticket", r.ticket_id),
                        ticket=None,
                        user_errors=[UserError.of(e) for e in r.errors],
                    )
                    for r in failed.results
                ],
                user_errors=[
                    UserError(
                        field="ticketIds",
                        message="some tickets could not be updated, so none was; see results",
                        code=DomainUserErrorCode.INVALID,
                    )
                ],
            )
        done = results or []
        return BulkUpdateTicketsPayload(
            tickets=[r.ticket for r in done],  # type: ignore[misc]
            results=[
                BulkTicketResult(
                    ticket_id=encode_id("Ticket", r.ticket_id),
                    ticket=r.ticket,  # type: ignore[arg-type]
                    user_errors=[],
                )
                for r in done
            ],
            user_errors=errors,
        )
