"""Dashboard numbers: ticket stats for anyone (over what they can see), metrics for admins."""

from __future__ import annotations

import datetime as dt
import enum
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from models import Priority, Status, Ticket
from models.base import utcnow
from permissions import Actor
from permissions.ticket import may_read_metrics
from resolvers.errors import ForbiddenError
from resolvers.ticket import TicketFilter, filtered_tickets

OPEN_STATUSES = (Status.OPEN, Status.IN_PROGRESS, Status.WAITING_ON_CUSTOMER)
HIGH_PRIORITIES = (Priority.HIGH, Priority.URGENT)


@dataclass
class TicketStats:
    by_status: dict[Status, int] = field(default_factory=lambda: dict.fromkeys(Status, 0))
    by_priority: dict[Priority, int] = field(default_factory=lambda: dict.fromkeys(Priority, 0))
    total: int = 0
    # Not resolved or closed, and HIGH or URGENT.
    high_priority: int = 0
    # Not resolved or closed, and nobody assigned.
    unassigned: int = 0


async def ticket_stats(
    session: AsyncSession, actor: Actor, filters: TicketFilter | None = None
) -> TicketStats:
    """Counts over the tickets the actor can see (one GROUP BY query)."""
    visible = filtered_tickets(session, actor, filters or TicketFilter()).subquery()
    rows = await session.execute(
        select(
            visible.c.status,
            visible.c.priority,
            visible.c.assignee_id.is_(None),
            func.count(),
        ).group_by(visible.c.status, visible.c.priority, visible.c.assignee_id.is_(None))
    )
    stats = TicketStats()
    for status, priority, unassigned, n in rows:
        status, priority = Status(status), Priority(priority)
        stats.by_status[status] += n
        stats.by_priority[priority] += n
        stats.total += n
        if status in OPEN_STATUSES:
            stats.high_priority += n if priority in HIGH_PRIORITIES else 0
            stats.unassigned += n if unassigned else 0
    return stats


class MetricsPeriod(enum.Enum):
    LAST_24_HOURS = dt.timedelta(hours=24)
    LAST_7_DAYS = dt.timedelta(days=7)
    LAST_30_DAYS = dt.timedelta(days=30)
    LAST_90_DAYS = dt.timedelta(days=90)
    ALL_TIME = None


@dataclass(frozen=True)
class Durations:
    count: int
    median_seconds: float | None
    p90_seconds: float | None


@dataclass
class Metrics:
    since: dt.datetime | None
    until: dt.datetime
    created: int
    by_status: dict[Status, int]
    by_team: list[tuple[int | None, int]]
    by_assignee: list[tuple[int | None, int]]
    first_response: Durations
    resolution: Durations


def _durations(seconds: Sequence[float]) -> Durations:
    if not seconds:
        return Durations(0, None, None)
    if len(seconds) == 1:
        return Durations(1, seconds[0], seconds[0])
    deciles = statistics.quantiles(seconds, n=10, method="inclusive")
    return Durations(len(seconds), statistics.median(seconds), deciles[-1])


async def metrics(session: AsyncSession, actor: Actor, period: MetricsPeriod) -> Metrics:
    """Admins: tickets opened in the period, by status, team and assignee, and the median and
    90th percentile of first-response and resolution times."""
    if not may_read_metrics(actor):
        raise ForbiddenError("only organization admins may read metrics")
    until = utcnow()
    since = None if period.value is None else until - period.value
    scope = [Ticket.organization_id == actor.organization_id]
    if since is not None:
        scope.append(Ticket.created_at >= since)

    async def grouped(column: Any) -> list[tuple[Any, int]]:
        rows = await session.execute(
            select(column, func.count())
            .where(*scope)
            .group_by(column)
            .order_by(func.count().desc())
        )
        return [(key, int(n)) for key, n in rows]

    by_status = dict.fromkeys(Status, 0)
    by_status.update({Status(s): n for s, n in await grouped(Ticket.status)})
    times = await session.execute(
        select(Ticket.created_at, Ticket.first_responded_at, Ticket.resolved_at).where(*scope)
    )
    first_response: list[float] = []
    resolution: list[float] = []
    for created_at, responded_at, resolved_at in times:
        if responded_at is not None:
            first_response.append((responded_at - created_at).total_seconds())
        if resolved_at is not None:
            resolution.append((resolved_at - created_at).total_seconds())
    return Metrics(
        since=since,
        until=until,
        created=sum(by_status.values()),
        by_status=by_status,
        by_team=await grouped(Ticket.team_id),
        by_assignee=await grouped(Ticket.assignee_id),
        first_response=_durations(sorted(first_response)),
        resolution=_durations(sorted(resolution)),
    )
