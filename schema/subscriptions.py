"""Live subscriptions: ticket events (with resume) and dashboard stats."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import AsyncGenerator

import strawberry
from strawberry import relay

from models import Ticket as TicketModel
from models import TicketHistory as TicketHistoryModel
from models import TicketResponse as TicketResponseModel
from permissions import Actor
from permissions.events import may_receive, visible_history, visible_response
from permissions.fields import IsAuthenticated
from resolvers import stats
from resolvers import ticket as tickets
from resolvers.errors import BadUserInputError, UnauthenticatedError
from resolvers.events import Position, TicketChange, load_changes, position_of
from schema.context import Context, Info, Scope, act_as
from schema.enums import TicketPriority, TicketStatus
from schema.history import HistoryEntry
from schema.ids import decode_id, decode_ids, row_id
from schema.stats import TicketStats
from schema.ticket import AssigneeScope, Response, Ticket, TicketFilter
from subscriptions.events import EventKind
from subscriptions.hub import SlowSubscriberError

# Private-use close code (graphql-transport-ws uses 4400-4499 for protocol errors).
CLOSE_TOO_SLOW = 4008
# How far back (in history ids) `after` may reach; older clients should reload instead.
MAX_REPLAY = 100_000

TicketEventKind = strawberry.enum(EventKind, name="TicketEventKind", description="What changed.")


@strawberry.type(description="A committed change to a ticket, as the subscriber may see it.")
class TicketEvent:
    cursor: str = strawberry.field(
        description="Pass as `after` when resubscribing to resume right after this event."
    )
    kind: TicketEventKind = strawberry.field(description="What kind of change.")  # type: ignore[valid-type]
    occurred_at: dt.datetime = strawberry.field(description="When it was committed.")
    ticket_row: strawberry.Private[TicketModel]
    change_rows: strawberry.Private[list[TicketHistoryModel]]
    response_row: strawberry.Private[TicketResponseModel | None]

    @strawberry.field(description="The ticket as it is now.", graphql_type=Ticket)
    def ticket(self) -> TicketModel:
        return self.ticket_row

    @strawberry.field(
        description="The history entries of this change that you may read.",
        graphql_type=list[HistoryEntry],
    )
    def changes(self) -> list[TicketHistoryModel]:
        return self.change_rows

    @strawberry.field(
        description="The reply or note this change added, if any.", graphql_type=Response | None
    )
    def response(self) -> TicketResponseModel | None:
        return self.response_row


@strawberry.input(description="Which ticket events to receive.")
class TicketEventFilter:
    kinds: list[TicketEventKind] | None = None  # type: ignore[valid-type]
    status: list[TicketStatus] | None = strawberry.field(
        default=None, description="The ticket's current status is any of these."
    )
    priority: list[TicketPriority] | None = None
    team_id: list[relay.GlobalID] | None = None
    assignee: AssigneeScope | None = None


class _Matcher:
    """A TicketEventFilter, checked in memory against the already-loaded change."""

    def __init__(self, actor: Actor, flt: TicketEventFilter | None, ticket_id: int | None) -> None:
        self.actor = actor
        self.ticket_id = ticket_id
        self.kinds = set(flt.kinds or []) if flt else set()
        self.statuses = set(flt.status or []) if flt else set()
        self.priorities = set(flt.priority or []) if flt else set()
        self.teams = set(decode_ids(flt.team_id or [], "Team", "teamId")) if flt else set()
        self.assignee = flt.assignee if flt else None

    def __call__(self, change: TicketChange) -> bool:
        ticket = change.ticket
        if self.ticket_id is not None and ticket.id != self.ticket_id:
            return False
        if self.kinds and change.envelope.kind not in self.kinds:
            return False
        if self.statuses and ticket.status not in self.statuses:
            return False
        if self.priorities and ticket.priority not in self.priorities:
            return False
        if self.teams and ticket.team_id not in self.teams:
            return False
        if self.assignee is AssigneeScope.UNASSIGNED and ticket.assignee_id is not None:
            return False
        return not (self.assignee is AssigneeScope.ME and ticket.assignee_id != self.actor.id)


def _event_for(ctx: Context, change: TicketChange) -> tuple[TicketEvent, Scope] | None:
    """The subscriber's view of a change, and a scope whose loaders already hold its people."""
    actor = ctx.actor
    if not may_receive(actor, change.envelope):
        return None
    rows = visible_history(actor, change.history)
    if not rows:
        return None
    scope = ctx.new_scope(primed=change)
    event = TicketEvent(
        # The last entry the subscriber may read, not the change's: a staff-only entry written
        # with a visible one must not show in a customer's cursor (resuming after it skips
        # nothing they may see, since the rest of the change is staff-only).
        cursor=str(max(row.id for row in rows)),
        kind=change.envelope.kind,
        occurred_at=rows[-1].created_at,
        ticket_row=change.ticket,
        change_rows=rows,
        response_row=visible_response(actor, change.response),
    )
    return event, scope


def _parse_cursor(after: str | None) -> int | None:
    if after is None:
        return None
    cursor = 0 if after == "0" else row_id(after)
    if cursor is None:
        raise BadUserInputError("after must be a cursor from an earlier event")
    return cursor


def _routing(actor: Actor) -> tuple[int | None, int | None]:
    """(organization_id, customer_id): staff follow their organization, customers themselves."""
    if not actor.is_authenticated:
        raise UnauthenticatedError("authentication required")
    if actor.is_staff:
        return actor.organization_id, None
    return None, actor.id


async def _close_slow(ctx: Context, sent: str | None) -> None:
    websocket = ctx.request
    close = getattr(websocket, "close", None)
    if close is not None:
        resume = f"; resume with after={sent}" if sent is not None else ""
        await close(code=CLOSE_TOO_SLOW, reason=f"too slow to keep up{resume}")


@strawberry.type
class Subscription:
    @strawberry.subscription(
        description=(
            "Committed ticket changes you may see, as they happen: your organization's (staff) "
            "or your own tickets' (customers; never internal notes or staff-only history). "
            "With `after`, first replays every change since that cursor, then continues live "
            "without gaps or duplicates. With `ticketId`, only that ticket."
        ),
        permission_classes=[IsAuthenticated],
    )
    async def ticket_events(
        self,
        info: Info,
        ticket_id: relay.GlobalID | None = None,
        filter: TicketEventFilter | None = None,
        after: str | None = None,
    ) -> AsyncGenerator[TicketEvent, None]:
        ctx = info.context
        actor = ctx.actor
        organization_id, customer_id = _routing(actor)
        only_ticket = None if ticket_id is None else decode_id(ticket_id, "Ticket")
        if only_ticket is not None:
            await ctx.run(lambda s: tickets.get_ticket(s, actor, only_ticket))
            await ctx.close()
        matches = _Matcher(actor, filter, only_ticket)
        resume = _parse_cursor(after)
        # The last cursor sent (what the client would resume from).
        sent = after
        last: Position | None = None
        if resume is not None:
            async with ctx.sessionmaker() as session:
                act_as(session, actor)  # a cursor the subscriber may not see is no cursor
                last = await position_of(session, resume)
            if last is None:
                # Unknown, newer than any event, or someone else's.
                raise BadUserInputError(
                    "after must be the cursor of an event you received (or subscribe without)"
                )
        hub = ctx.services.hub
        async with hub.subscribe(organization_id=organization_id, customer_id=customer_id) as (
            subscription,
            start,
        ):
            replaying = last is not None
            if last is None:
                # Live only: the hub delivers everything after `start` through the queue.
                last = start
            elif start[1] - last[1] > MAX_REPLAY:
                raise BadUserInputError("that cursor is too old to replay; reload and subscribe")
            # Replay from the log up to now; live changes meanwhile wait in the queue.
            while replaying:
                async with ctx.sessionmaker() as session:
                    act_as(session, actor)
                    batch = await load_changes(
                        session,
                        after=last,
                        organization_id=organization_id,
                        customer_id=customer_id,
                        ticket_id=only_ticket,
                    )
                for change in batch:
                    last = change.position
                    if ctx.access_revoked:
                        return  # the socket's user lost its rights; the socket is closing
                    view = _event_for(ctx, change) if matches(change) else None
                    if view is not None:
                        sent = view[0].cursor
                        with ctx.event_scope(view[1]):
                            yield view[0]
                        await view[1].close()
                replaying = batch.more
            # Live: anything the queue holds at or below `last` was replayed already.
            while True:
                try:
                    change = await subscription.get()
                except SlowSubscriberError:
                    await _close_slow(ctx, sent)
                    return
                if change.position <= last:
                    continue
                last = change.position
                if ctx.access_revoked:
                    return  # the socket's user lost its rights; the socket is closing
                view = _event_for(ctx, change) if matches(change) else None
                if view is not None:
                    sent = view[0].cursor
                    with ctx.event_scope(view[1]):
                        yield view[0]
                    await view[1].close()

    @strawberry.subscription(
        description=(
            "Live dashboard counts over the tickets you can see: sent at once, then again "
            "after changes, at most once per `intervalMs` (250 to 60,000; default 1,000)."
        ),
        permission_classes=[IsAuthenticated],
    )
    async def ticket_stats(
        self, info: Info, filter: TicketFilter | None = None, interval_ms: int = 1000
    ) -> AsyncGenerator[TicketStats, None]:
        if not 250 <= interval_ms <= 60_000:
            raise BadUserInputError("intervalMs must be between 250 and 60000")
        ctx = info.context
        actor = ctx.actor
        organization_id, customer_id = _routing(actor)
        filters = filter.to_filter() if filter else None
        interval = interval_ms / 1000

        async def current() -> TicketStats:
            scope = ctx.new_scope()
            try:
                return TicketStats.of(
                    await scope.run(lambda s: stats.ticket_stats(s, actor, filters))
                )
            finally:
                await scope.close()

        hub = ctx.services.hub
        async with hub.subscribe(organization_id=organization_id, customer_id=customer_id) as (
            subscription,
            _,
        ):
            yield await current()
            sent_at = time.monotonic()
            while True:
                try:
                    change = await subscription.get()
                except SlowSubscriberError:
                    await _close_slow(ctx, None)
                    return
                if not may_receive(actor, change.envelope):
                    continue
                # Coalesce a burst: wait out the interval, then drop what queued meanwhile.
                await asyncio.sleep(max(0.0, sent_at + interval - time.monotonic()))
                while not subscription.queue.empty():
                    subscription.queue.get_nowait()
                if ctx.access_revoked:
                    return
                yield await current()
                sent_at = time.monotonic()
