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
