"""Who may receive which ticket event: the same rules as queries, applied in memory.

A change is loaded once per process; these functions decide, per subscriber and without
touching the database, whether the subscriber may see it and which parts.
"""

from __future__ import annotations

from collections.abc import Iterable

from models import TicketHistory, TicketResponse
from permissions.actor import Actor
from permissions.ticket import can_read_internal
from subscriptions.events import TicketEventEnvelope


def may_receive(actor: Actor, envelope: TicketEventEnvelope) -> bool:
    """Staff: changes of their organization. Customers: non-internal changes of their own
    tickets. Anonymous callers: nothing."""
    if actor.is_staff:
        return envelope.organization_id == actor.organization_id
    if actor.is_customer:
        return envelope.customer_id == actor.id and not envelope.internal
    return False


def visible_history(actor: Actor, rows: Iterable[TicketHistory]) -> list[TicketHistory]:
    """The entries of a change the actor may read (no staff-only entries for customers)."""
    staff = can_read_internal(actor)
    return [row for row in rows if staff or not row.is_internal]


def visible_response(actor: Actor, response: TicketResponse | None) -> TicketResponse | None:
    """The reply or note of a change, unless it is an internal note and the actor a customer."""
    if response is None or (response.is_internal and not can_read_internal(actor)):
        return None
    return response
