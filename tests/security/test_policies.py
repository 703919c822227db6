"""The policy functions themselves, one by one. Several layers repeat them (hub routing, row
security), so a policy weakened here might still be covered elsewhere; these tests make sure
each one holds on its own."""

from __future__ import annotations

import pytest

from models import TeamRole, TicketHistory, TicketResponse
from models.enums import ActorType, AuthorType, HistoryAction
from permissions import Actor
from permissions.events import may_receive, visible_history, visible_response
from permissions.ticket import (
    may_add_internal_note,
    may_assign,
    may_bulk_update,
    may_read_metrics,
    may_update_fields,
)
from subscriptions.events import EventKind, TicketEventEnvelope

CUSTOMER = Actor.customer(id=7, user_id="c7")
OTHER_CUSTOMER = Actor.customer(id=8, user_id="c8")
AGENT = Actor.team_member(id=3, user_id="a3", organization_id=1, role=TeamRole.AGENT)
FOREIGN_AGENT = Actor.team_member(id=4, user_id="a4", organization_id=2, role=TeamRole.AGENT)
ADMIN = Actor.team_member(id=5, user_id="a5", organization_id=1, role=TeamRole.ADMIN)
ANONYMOUS = Actor.anonymous()


def envelope(*, internal: bool) -> TicketEventEnvelope:
    return TicketEventEnvelope(
        cursor=10,
        organization_id=1,
        ticket_id=99,
        customer_id=7,
        kind=EventKind.NOTE_ADDED if internal else EventKind.UPDATED,
        internal=internal,
    )


@pytest.mark.parametrize(
    ("actor", "internal", "allowed"),
    [
        (CUSTOMER, False, True),
        (CUSTOMER, True, False),
        (OTHER_CUSTOMER, False, False),
        (AGENT, True, True),
        (ADMIN, False, True),
        (FOREIGN_AGENT, False, False),
        (ANONYMOUS, False, False),
    ],
)
def test_who_receives_an_event(actor: Actor, internal: bool, allowed: bool) -> None:
    assert may_receive(actor, envelope(internal=internal)) is allowed


def history(internal: bool) -> TicketHistory:
    return TicketHistory(
        id=1,
        ticket_id=99,
        organization_id=1,
        actor_type=ActorType.TEAM_MEMBER,
        actor_id=3,
        action=HistoryAction.FIELD_CHANGED,
        field_name="metadata" if internal else "status",
        is_internal=internal,
    )


def test_customers_never_get_internal_history_or_notes() -> None:
    rows = [history(internal=False), history(internal=True)]
    note = TicketResponse(
        id=1,
        ticket_id=99,
        author_type=AuthorType.TEAM_MEMBER,
        author_id=3,
        body="secret",
        is_internal=True,
    )

    assert [r.field_name for r in visible_history(CUSTOMER, rows)] == ["status"]
    assert [r.field_name for r in visible_history(AGENT, rows)] == ["status", "metadata"]
    assert visible_response(CUSTOMER, note) is None
    assert visible_response(AGENT, note) is note


def test_write_policies() -> None:
    assert may_update_fields(CUSTOMER, {"status"})
    assert not may_update_fields(CUSTOMER, {"status", "priority"})
    assert may_update_fields(AGENT, {"metadata", "team"})
    assert not may_add_internal_note(CUSTOMER)
    assert may_add_internal_note(AGENT)
    assert not may_bulk_update(AGENT)
    assert may_bulk_update(ADMIN)
    assert not may_read_metrics(AGENT)
    assert may_read_metrics(ADMIN)


@pytest.mark.parametrize(
    ("actor", "current", "new", "allowed"),
    [
        (AGENT, None, AGENT.id, True),
        (AGENT, AGENT.id, None, True),
        (AGENT, 9, AGENT.id, False),
        (AGENT, 9, None, False),
        (AGENT, None, 9, False),
        (ADMIN, 9, 10, True),
        (CUSTOMER, None, 3, False),
    ],
)
def test_who_may_assign(actor: Actor, current: int | None, new: int | None, allowed: bool) -> None:
    assert may_assign(actor, current, new) is allowed
