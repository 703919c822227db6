"""Ticket changes read back from the history table, which is the durable event log.

Live delivery and resume both go through `load_changes`: it groups history rows into the
changes that wrote them and loads everything a subscriber may select, once per change, so
that fanning a change out to many subscribers costs no further queries.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import groupby

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from models import (
    ActorType,
    Customer,
    Organization,
    Team,
    TeamMember,
    Ticket,
    TicketHistory,
    TicketResponse,
)
from models.enums import AuthorType
from resolvers.history import stored_id
from subscriptions.events import TicketEventEnvelope, kind_of

REPLAY_BATCH = 500


@dataclass(frozen=True)
class TicketChange:
    """One committed change with everything needed to show it, loaded once per process."""

    envelope: TicketEventEnvelope
    ticket: Ticket
    history: tuple[TicketHistory, ...]
    response: TicketResponse | None
    customers: dict[int, Customer] = field(default_factory=dict)
    members: dict[int, TeamMember] = field(default_factory=dict)
    teams: dict[int, Team] = field(default_factory=dict)
    organizations: dict[int, Organization] = field(default_factory=dict)

    @property
    def cursor(self) -> int:
        return self.envelope.cursor


def _change_key(row: TicketHistory) -> tuple[object, ...]:
    # The rows of one change share ticket, actor and timestamp (record_change stamps them).
    return (row.ticket_id, row.created_at, row.actor_type, row.actor_id)


def _envelope(rows: Sequence[TicketHistory], customer_id: int) -> TicketEventEnvelope:
    response_ids = [
        int(r.new_value or 0)
        for r in rows
        if r.field_name == "response" and (r.new_value or "").isdigit()
    ]
    return TicketEventEnvelope(
        cursor=max(r.id for r in rows),
        organization_id=rows[0].organization_id,
        ticket_id=rows[0].ticket_id,
        customer_id=customer_id,
        kind=kind_of(r.action for r in rows),
        history_ids=tuple(r.id for r in rows),
        response_id=response_ids[0] if response_ids else None,
        internal=all(r.is_internal for r in rows),
    )


class ChangeList(list[TicketChange]):
    """Changes in cursor order; `more` says whether further changes exist after the last."""

    def __init__(self, changes: Sequence[TicketChange] = (), *, more: bool = False) -> None:
        super().__init__(changes)
        self.more = more


async def latest_cursor(session: AsyncSession) -> int:
    """The newest history id: every change up to it has committed (writers are serialized)."""
    return int(await session.scalar(select(func.max(TicketHistory.id))) or 0)


async def load_changes(
    session: AsyncSession,
    *,
    after: int,
    organization_id: int | None = None,
    customer_id: int | None = None,
    ticket_id: int | None = None,
    limit: int = REPLAY_BATCH,
) -> ChangeList:
    """Changes with history ids above `after`, oldest first, at most about `limit` rows.

    Scope them to an organization (staff), a customer's tickets, and/or one ticket. The caller
    applies the subscriber's policies; this returns internal entries too.
    """
    statement = (
        select(TicketHistory, Ticket.customer_id)
        .join(Ticket, Ticket.id == TicketHistory.ticket_id)
        .where(TicketHistory.id > after)
        .order_by(TicketHistory.id)
        .limit(limit + 1)
    )
    if organization_id is not None:
        statement = statement.where(TicketHistory.organization_id == organization_id)
    if customer_id is not None:
        statement = statement.where(Ticket.customer_id == customer_id)
    if ticket_id is not None:
        statement = statement.where(TicketHistory.ticket_id == ticket_id)
    fetched = list(await session.execute(statement))
    truncated = len(fetched) > limit
    rows = [row for row, _ in fetched[:limit]]
    customers_of = {row.ticket_id: customer for row, customer in fetched}
    # Rows of one change are consecutive in id order; a change cut by the limit is left for
    # the next call.
    groups = [list(g) for _, g in groupby(rows, key=_change_key)]
    if truncated and len(groups) > 1:
        groups.pop()
    if not groups:
        return ChangeList()
    envelopes = [_envelope(g, customers_of[g[0].ticket_id]) for g in groups]
    return ChangeList(await _hydrate(session, envelopes, groups), more=truncated)


async def _hydrate(
    session: AsyncSession,
    envelopes: list[TicketEventEnvelope],
    groups: list[list[TicketHistory]],
) -> list[TicketChange]:
    ticket_ids = {e.ticket_id for e in envelopes}
    tickets = {
        t.id: t for t in await session.scalars(select(Ticket).where(Ticket.id.in_(ticket_ids)))
    }
    response_ids = {e.response_id for e in envelopes if e.response_id is not None}
    responses = {
        r.id: r
        for r in (
            await session.scalars(select(TicketResponse).where(TicketResponse.id.in_(response_ids)))
            if response_ids
            else []
        )
    }
    customer_ids: set[int] = {t.customer_id for t in tickets.values()}
    member_ids: set[int] = {t.assignee_id for t in tickets.values() if t.assignee_id is not None}
    team_ids: set[int] = set()
    for group in groups:
        for row in group:
            if row.actor_id is not None:
                (customer_ids if row.actor_type is ActorType.CUSTOMER else member_ids).add(
                    row.actor_id
                )
            # What typed entries show: the members of an Assigned, the teams of a TeamChanged.
            referenced = {row.field_name: {stored_id(row.old_value), stored_id(row.new_value)}}
            member_ids |= {i for i in referenced.get("assignee", ()) if i is not None}
            team_ids |= {i for i in referenced.get("team", ()) if i is not None}
    for response in responses.values():
        (customer_ids if response.author_type is AuthorType.CUSTOMER else member_ids).add(
            response.author_id
        )
    customers = {
        c.id: c
        for c in await session.scalars(select(Customer).where(Customer.id.in_(customer_ids)))
    }
    members = {
        m.id: m
        for m in await session.scalars(select(TeamMember).where(TeamMember.id.in_(member_ids)))
    }
    team_ids |= {t.team_id for t in tickets.values() if t.team_id is not None}
    team_ids |= {m.team_id for m in members.values() if m.team_id is not None}
    teams = (
        {t.id: t for t in await session.scalars(select(Team).where(Team.id.in_(team_ids)))}
        if team_ids
        else {}
    )
    org_ids = {t.organization_id for t in tickets.values()}
    organizations = {
        o.id: o
        for o in await session.scalars(select(Organization).where(Organization.id.in_(org_ids)))
    }
    return [
        TicketChange(
            envelope=envelope,
            ticket=tickets[envelope.ticket_id],
            history=tuple(group),
            response=responses.get(envelope.response_id) if envelope.response_id else None,
            customers=customers,
            members=members,
            teams=teams,
            organizations=organizations,
        )
        for envelope, group in zip(envelopes, groups, strict=True)
    ]
