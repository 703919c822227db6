"""Row-level policies for tickets, responses and history.

Every read of a ticket goes through `readable_tickets`: what it does not return does not exist
for the caller (NOT_FOUND, never FORBIDDEN), and lists and counts are filtered in SQL.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, Select, false, select, true

from models import Ticket, TicketHistory, TicketResponse
from permissions.actor import Actor


def ticket_visibility(actor: Actor) -> ColumnElement[bool]:
    """The WHERE clause that limits tickets to those the actor may read."""
    if actor.is_customer:
        return Ticket.customer_id == actor.id
    if actor.is_staff:
        return Ticket.organization_id == actor.organization_id
    return false()


def readable_tickets(actor: Actor) -> Select[Ticket]:
    """SELECT of the tickets the actor may read: customers their own, staff their organization's."""
    return select(Ticket).where(ticket_visibility(actor))


def can_read_internal(actor: Actor) -> bool:
    """Internal notes, ticket metadata and staff-only history are for staff only."""
    return actor.is_staff


def response_visibility(actor: Actor) -> ColumnElement[bool]:
    """Filter on responses of a readable ticket: customers never see internal notes."""
    return true() if can_read_internal(actor) else TicketResponse.is_internal.is_(False)


def history_visibility(actor: Actor) -> ColumnElement[bool]:
    """Filter on history of a readable ticket: customers never see internal entries."""
    return true() if can_read_internal(actor) else TicketHistory.is_internal.is_(False)


# Ticket fields a customer may never change after creation (DESIGN §4).
STAFF_ONLY_UPDATES = frozenset({"title", "description", "priority", "team", "tags", "metadata"})


def may_update_fields(actor: Actor, fields: set[str]) -> bool:
    """Staff may change any field; customers only the status (close or reopen)."""
    return not forbidden_updates(actor, fields)


def forbidden_updates(actor: Actor, fields: set[str]) -> set[str]:
    """The fields of `fields` that the actor may not change (all of them when anonymous)."""
    if actor.is_staff:
        return set()
    if actor.is_customer:
        return fields & STAFF_ONLY_UPDATES
    return set(fields)


def may_add_internal_note(actor: Actor) -> bool:
    return actor.is_staff


def may_assign(actor: Actor, current_assignee_id: int | None, new_assignee_id: int | None) -> bool:
    """Admins assign anyone in the organization. Agents take an unassigned ticket (or keep
    their own) and release only their own."""
    if actor.is_admin:
        return True
    if not actor.is_staff:
        return False
    if new_assignee_id is None:
        return current_assignee_id == actor.id
    return new_assignee_id == actor.id and current_assignee_id in (None, actor.id)


def may_bulk_update(actor: Actor) -> bool:
    return actor.is_admin


def may_read_metrics(actor: Actor) -> bool:
    return actor.is_admin


def readable_responses(actor: Actor) -> Select[TicketResponse]:
    """SELECT of the responses the actor may read: on readable tickets, without internal notes
    for customers. For readers that start from a response row (the compiled read path)."""
    readable_ids = readable_tickets(actor).with_only_columns(Ticket.id)
    return select(TicketResponse).where(
        TicketResponse.ticket_id.in_(readable_ids), response_visibility(actor)
    )
