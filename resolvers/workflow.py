"""The ticket status workflow: the one transition table, and the timestamps it maintains."""

from __future__ import annotations

import datetime as dt

from models import Status, Ticket
from permissions import Actor

S = Status

# Staff may move a ticket along these edges. A closed ticket can only be reopened.
STAFF_TRANSITIONS: dict[Status, frozenset[Status]] = {
    S.OPEN: frozenset({S.IN_PROGRESS, S.WAITING_ON_CUSTOMER, S.RESOLVED, S.CLOSED}),
    S.IN_PROGRESS: frozenset({S.OPEN, S.WAITING_ON_CUSTOMER, S.RESOLVED, S.CLOSED}),
    S.WAITING_ON_CUSTOMER: frozenset({S.OPEN, S.IN_PROGRESS, S.RESOLVED, S.CLOSED}),
    S.RESOLVED: frozenset({S.OPEN, S.IN_PROGRESS, S.CLOSED}),
    S.CLOSED: frozenset({S.OPEN}),
}

# Customers may close their own ticket, or reopen a resolved or closed one.
CUSTOMER_TRANSITIONS: dict[Status, frozenset[Status]] = {
    S.OPEN: frozenset({S.CLOSED}),
    S.IN_PROGRESS: frozenset({S.CLOSED}),
    S.WAITING_ON_CUSTOMER: frozenset({S.CLOSED}),
    S.RESOLVED: frozenset({S.OPEN, S.CLOSED}),
    S.CLOSED: frozenset({S.OPEN}),
}

# A customer's public reply hands the ticket back to staff.
REOPENED_BY_CUSTOMER_REPLY = frozenset({S.WAITING_ON_CUSTOMER, S.RESOLVED})

FINISHED = frozenset({S.RESOLVED, S.CLOSED})


def can_transition(actor: Actor, current: Status, target: Status) -> bool:
    """Whether the actor may move a ticket from `current` to `target` (a no-op always may)."""
    if current is target:
        return True
    table = STAFF_TRANSITIONS if actor.is_staff else CUSTOMER_TRANSITIONS
    return target in table[current]


def apply_status(ticket: Ticket, target: Status, now: dt.datetime) -> None:
    """Set the status and keep resolved_at / closed_at in step with it."""
    ticket.status = target
    if target is S.RESOLVED:
        ticket.resolved_at = now
        ticket.closed_at = None
    elif target is S.CLOSED:
        ticket.closed_at = now
        if ticket.resolved_at is None:
            ticket.resolved_at = now
    else:
        ticket.resolved_at = None
        ticket.closed_at = None
