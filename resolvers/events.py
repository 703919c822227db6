"""Ticket changes read back from the history table, which is the durable event log.

Live delivery and resume both go through `load_changes`: it groups history rows into the
changes that wrote them and loads everything a subscriber may select, once per change, so
that fanning a change out to many subscribers costs no further queries.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import groupby

from sqlalchemy import ColumnElement, literal_column, select, true, tuple_
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


# Where a change sits in the event log: (writing transaction, last history id). Events are
# delivered in this order; see `load_changes` for why it is safe without a global lock.
Position = tuple[int, int]
START: Position = (0, 0)


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

    @property
    def position(self) -> Position:
        return (self.history[-1].tx, self.history[-1].id)


def _change_key(row: TicketHistory) -> tuple[object, ...]:
    # The rows of one change share transaction, ticket, actor and timestamp (record_change
    # stamps them).
    return (row.tx, row.ticket_id, row.created_at, row.actor_type, row.actor_id)


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
    """Changes in log order; `more` says whether further changes exist after the last."""

    def __init__(self, changes: Sequence[TicketChange] = (), *, more: bool = False) -> None:
        super().__init__(changes)
        self.more = more


# The oldest transaction of this database still running, by this statement's snapshot, or
# the snapshot's xmax when none is: every row written by an older one is committed or gone
# for good, and every row still to come sorts after it. Transactions of other databases on
# the same server cannot write here, so they do not hold delivery back; a transaction is only
# taken for another database's when pg_stat_activity says so (one that has just finished may
# be missing there, and is then counted as ours: late, never early).
WATERMARK = """(
  SELECT COALESCE(
    (SELECT min((x::text)::bigint) FROM pg_snapshot_xip(snap.s) AS x
     WHERE NOT EXISTS (
       SELECT 1 FROM pg_stat_activity a
       WHERE a.backend_xid = xid(x) AND a.datname IS DISTINCT FROM current_database())),
    (pg_snapshot_xmax(snap.s)::text)::bigint)
  FROM (SELECT pg_current_snapshot() AS s) snap
)"""


def _watermark() -> ColumnElement[int]:
    return literal_column(WATERMARK)


def _deliverable(session: AsyncSession) -> ColumnElement[bool]:
    if session.get_bind().dialect.name != "postgresql":
        return true()  # SQLite writers take turns: the log is always complete up to its end
    return TicketHistory.tx < _watermark()


async def latest_position(session: AsyncSession) -> Position:
    """The last deliverable change: a new live subscriber starts right after it."""
    row = (
        await session.execute(
            select(TicketHistory.tx, TicketHistory.id)
            .where(_deliverable(session))
            .order_by(TicketHistory.tx.desc(), TicketHistory.id.desc())
            .limit(1)
        )
    ).first()
    return START if row is None else (int(row[0]), int(row[1]))


async def position_of(session: AsyncSession, history_id: int) -> Position | None:
    """Where history row `history_id` (an event's cursor) sits in the log; None if no such row."""
    if history_id == 0:
        return START
    tx = await session.scalar(select(TicketHistory.tx).where(TicketHistory.id == history_id))
    return None if tx is None else (int(tx), history_id)


async def undelivered(session: AsyncSession) -> bool:
    """Whether committed rows wait above the watermark for an older transaction to finish."""
    if session.get_bind().dialect.name != "postgresql":
        return False
    found = await session.scalar(
        select(TicketHistory.id).where(TicketHistory.tx >= _watermark()).limit(1)
    )
    return found is not None


async def load_changes(
    session: AsyncSession,
    *,
    after: Position,
    organization_id: int | None = None,
    customer_id: int | None = None,
    ticket_id: int | None = None,
    limit: int = REPLAY_BATCH,
) -> ChangeList:
    """Changes after `after` in log order, at most about `limit` rows.

    The log is read in (transaction, id) order and only below the watermark, the oldest
    transaction still running. Writers take history ids without any global lock, so ids alone
    become visible out of order; but a transaction older than the watermark can no longer
    write, and every one that still can sorts after the watermark, so a reader that moved past
    a position never sees a new row appear before it: resume is gapless and exact. (SQLite:
    all rows have transaction 0 and writers are serialized, so this is plain id order.)

    Scope them to an organization (staff), a customer's tickets, and/or one ticket. The caller
    applies the subscriber's policies; this returns internal entries too.
    """
    statement = (
        select(TicketHistory, Ticket.customer_id)
        .join(Ticket, Ticket.id == TicketHistory.ticket_id)
        .where(tuple_(TicketHistory.tx, TicketHistory.id) > tuple_(*after))
        .where(_deliverable(session))
        .order_by(TicketHistory.tx, TicketHistory.id)
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
    # Rows of one change are consecutive in log order; a change cut by the limit is left for
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
            if row.actor_id is not None and row.actor_type is ActorType.CUSTOMER:
                customer_ids.add(row.actor_id)
            elif row.actor_id is not None and row.actor_type is ActorType.TEAM_MEMBER:
                member_ids.add(row.actor_id)
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
