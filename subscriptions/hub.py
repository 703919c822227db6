"""The per-process event hub: one ordered, gap-free feed of committed changes, fanned out to
bounded subscriber queues.

Broadcast messages are only triggers. On each one (and after a Redis reconnect) the hub loads
every change after the last one it delivered from the history table, in id order, once for
the whole process. So a message that arrives late, twice, malformed or not at all never
reorders, duplicates or loses a change; and fanning a change out to N subscribers costs no
database work per subscriber.

Announcing is off the mutation's path: `publish` only queues the envelopes, and a background
task sends them (skipping Redis while it is down) and wakes this process's own subscribers
at once, so a slow or absent Redis never slows a mutation and local subscribers still see
local changes during an outage; other instances catch up when they reconnect.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from typing import Any, Protocol

from broadcaster._backends.base import BroadcastBackend

from subscriptions import metrics
from subscriptions.backends import ResilientRedisBackend
from subscriptions.events import TicketEventEnvelope, organization_channel

logger = logging.getLogger("helpdesk.hub")

OUTBOX_SIZE = 10_000
# A publish that takes longer than this is given up (and caught up from the history table).
PUBLISH_TIMEOUT = 2.0


# (writing transaction, history id): the order of the event log (resolvers/events.py).
Position = tuple[int, int]


class Change(Protocol):
    @property
    def position(self) -> Position: ...

    @property
    def envelope(self) -> TicketEventEnvelope: ...


LoadAfter = Callable[[Position], Awaitable[Sequence[Any]]]
LatestPosition = Callable[[], Awaitable[Position]]
Undelivered = Callable[[], Awaitable[bool]]

# While committed changes wait for an older transaction to finish, look again this often.
PENDING_POLL_SECONDS = (0.005, 0.02, 0.05, 0.1, 0.25)


class SlowSubscriberError(Exception):
    """The subscriber fell too far behind; its queue was dropped. Resume with `after`."""


@dataclass(eq=False)
class Subscription:
    """One subscriber's bounded queue of changes, with the routing keys it listens on."""

    organization_id: int | None
    customer_id: int | None
    queue: asyncio.Queue[Any] = field(default_factory=lambda: asyncio.Queue(maxsize=256))
    overflowed: bool = False

    def offer(self, change: Any) -> None:
        if self.overflowed:
            return
        try:
            self.queue.put_nowait(change)
        except asyncio.QueueFull:
            self.overflowed = True
            # Wake the consumer so it notices at once.
            with suppress(asyncio.QueueEmpty):
                self.queue.get_nowait()
            self.queue.put_nowait(None)

    async def get(self) -> Any:
        change = await self.queue.get()
        if change is None or self.overflowed:
            raise SlowSubscriberError("too slow to keep up; events were dropped")
        return change


class EventHub:
    def __init__(
        self,
        backend: BroadcastBackend,
        load_after: LoadAfter,
        latest_position: LatestPosition,
        undelivered: Undelivered | None = None,
        *,
        queue_size: int = 256,
        parse: Callable[[str], Any] = TicketEventEnvelope.from_json,
        channel_of: Callable[[int], str] = organization_channel,
    ) -> None:
        """A hub of ticket changes by default; `parse` and `channel_of` make it one of another
        envelope (organization events: subscriptions/organization.py), whose changes have a
        `position` and an `envelope` with organization_id, customer_id and internal."""
        self.backend = backend
        self._parse = parse
        self._channel_of = channel_of
        self._load_after = load_after
        self._latest_position = latest_position
        self._undelivered = undelivered
        self._queue_size = queue_size
        self._subscriptions: set[Subscription] = set()
        self._last: Position | None = None
        self._advance_lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._listener: asyncio.Task[None] | None = None
        self._deliverer: asyncio.Task[None] | None = None
        self._outbox: asyncio.Queue[TicketEventEnvelope] = asyncio.Queue(maxsize=OUTBOX_SIZE)
        self._sender: asyncio.Task[None] | None = None
        self.published = 0
        self.publish_failures = 0
        # Announcements not sent at all (outbox full, or Redis known to be down).
        self.publish_skipped = 0
        # The newest change per organization that could not be announced (Redis away): sent
        # again once Redis is back.
        self._unannounced: dict[int, TicketEventEnvelope] = {}
        # Changes queued to subscribers, and subscribers dropped for falling behind.
        self.delivered = 0
        self.dropped_subscribers = 0
        if isinstance(backend, ResilientRedisBackend):
            backend.on_reconnect = self._reconnected

    async def connect(self) -> None:
        """Start following the feed. Returns even when Redis is down (it is retried)."""
        await self.backend.connect()
        if not isinstance(self.backend, ResilientRedisBackend):
            metrics.BROADCAST_CONNECTED.set(1)  # in-process: always there
        self._listener = asyncio.create_task(self._listen(), name="helpdesk-event-hub")
        self._deliverer = asyncio.create_task(self._deliver(), name="helpdesk-event-delivery")
        self._sender = asyncio.create_task(self._send(), name="helpdesk-event-sender")

    async def disconnect(self) -> None:
        if self._sender is not None:
            # Announce what is queued (briefly), then stop.
            with suppress(TimeoutError):
                await asyncio.wait_for(self._outbox.join(), timeout=PUBLISH_TIMEOUT)
        for task in (self._sender, self._listener, self._deliverer):
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        self._sender = self._listener = self._deliverer = None
        await self.backend.disconnect()

    async def is_ready(self) -> bool:
        """True when changes can be announced and received now."""
        if self._listener is None or self._listener.done():
            return False
        if isinstance(self.backend, ResilientRedisBackend):
            return self.backend.connected and await self.backend.ping()
        return True

    @property
    def subscriber_count(self) -> int:
        return len(self._subscriptions)

    async def publish(self, envelopes: Sequence[TicketEventEnvelope]) -> None:
        """Queue committed changes for announcement to every instance; returns at once and
        never raises: the change is committed and durable, and a lost announcement is caught
        up from the history table."""
        for envelope in envelopes:
            try:
                self._outbox.put_nowait(envelope)
            except asyncio.QueueFull:
                self.publish_skipped += 1
                metrics.EVENTS_DROPPED.labels("outbox_full").inc()
                logger.warning("event outbox full; change %s is left to catch-up", envelope.cursor)

    async def _send(self) -> None:
        while True:
            batch = [await self._outbox.get()]
            while not self._outbox.empty():
                batch.append(self._outbox.get_nowait())
            try:
                # This process's own subscribers need no round trip through Redis.
                if self._last is not None:
                    self.trigger()
                for envelope in batch:
                    await self._announce(envelope)
            finally:
                for _ in batch:
                    self._outbox.task_done()

    async def _announce(self, envelope: TicketEventEnvelope) -> None:
        if isinstance(self.backend, ResilientRedisBackend) and not self.backend.connected:
            self.publish_skipped += 1
            metrics.ANNOUNCEMENTS.labels("skipped").inc()
            self._unannounced[envelope.organization_id] = envelope
            return
        channel = self._channel_of(envelope.organization_id)
        try:
            await asyncio.wait_for(
                self.backend.publish(channel, envelope.to_json()), timeout=PUBLISH_TIMEOUT
            )
            self.published += 1
            metrics.ANNOUNCEMENTS.labels("ok").inc()
        except Exception as exc:
            self.publish_failures += 1
            metrics.ANNOUNCEMENTS.labels("failed").inc()
            self._unannounced[envelope.organization_id] = envelope
            logger.warning("could not broadcast change %s: %s", envelope.cursor, exc)

    @asynccontextmanager
    async def subscribe(
        self,
        *,
        organization_id: int | None = None,
        customer_id: int | None = None,
        counted: bool = True,
    ) -> AsyncIterator[tuple[Subscription, Position]]:
        """Register a subscriber; yields it and the position from which it will receive
        changes (everything after it arrives in its queue, in order). A shared group's
        registration is not `counted`: its members are (server/fanout.py)."""
        subscription = Subscription(
            organization_id, customer_id, asyncio.Queue(maxsize=self._queue_size)
        )
        async with self._advance_lock:
            if self._last is None:
                self._last = await self._latest_position()
            self._subscriptions.add(subscription)
            start = self._last
        if counted:
            metrics.SUBSCRIPTIONS.inc()
        try:
            yield subscription, start
        finally:
            if counted:
                metrics.SUBSCRIPTIONS.dec()
            self._subscriptions.discard(subscription)
            if not self._subscriptions:
                async with self._advance_lock:
                    if not self._subscriptions:
                        # Nobody listens: stop following the feed until someone does.
                        self._last = None

    async def catch_up(self) -> bool:
        """Deliver every deliverable change not yet delivered (after a reconnect, or a
        trigger). True when committed changes still wait for an older transaction."""
        async with self._advance_lock:
            if self._last is None:
                return False
            while True:
                changes = await self._load_after(self._last)
                for change in changes:
                    self._last = change.position
                    self._route(change)
                    _observe_lag(change)
                if not getattr(changes, "more", False):
                    break
            return self._undelivered is not None and await self._undelivered()

    def trigger(self) -> None:
        """Something was committed somewhere: catch up soon (triggers coalesce)."""
        self._wake.set()

    async def _reconnected(self) -> None:
        # Announcements may have been lost while Redis was away: the log has them all. Catch
        # up here, and tell the other instances about what this one wrote meanwhile (they may
        # have reconnected first, and would otherwise wait for the next change to hear of it).
        self.trigger()
        unannounced, self._unannounced = self._unannounced, {}
        for envelope in unannounced.values():
            with suppress(asyncio.QueueFull):
                self._outbox.put_nowait(envelope)

    def _route(self, change: Any) -> None:
        envelope: TicketEventEnvelope = change.envelope
        for subscription in list(self._subscriptions):
            if subscription.organization_id == envelope.organization_id or (
                subscription.customer_id == envelope.customer_id and not envelope.internal
            ):
                if subscription.overflowed:
                    continue
                subscription.offer(change)
                if subscription.overflowed:
                    self.dropped_subscribers += 1
                    metrics.EVENTS_DROPPED.labels("slow_subscriber").inc()
                else:
                    self.delivered += 1
                    metrics.EVENTS_DELIVERED.inc()

    async def _listen(self) -> None:
        while True:
            event = await self.backend.next_published()
            try:
                self._parse(event.message)
            except (ValueError, KeyError, TypeError):
                metrics.EVENTS_DROPPED.labels("malformed").inc()
                logger.warning("skipped a malformed event on %s", event.channel)
                continue
            if self._last is not None:
                self.trigger()

    async def _deliver(self) -> None:
        """Catch up once per burst of triggers; while committed changes wait above the
        watermark for an older transaction, look again shortly (that transaction may roll
        back and never announce anything)."""
        waits = 0
        while True:
            if waits == 0:
                await self._wake.wait()
            else:
                delay = PENDING_POLL_SECONDS[min(waits, len(PENDING_POLL_SECONDS)) - 1]
                with suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), delay)
            self._wake.clear()
            try:
                pending = await self.catch_up()
            except Exception:
                # A database hiccup must not stop delivery; the next trigger retries.
                logger.exception("could not load changes after %s", self._last)
                pending = False
            waits = waits + 1 if pending else 0


def _observe_lag(change: Any) -> None:
    """Commit-to-delivery time of a change, from its newest history entry's timestamp."""
    history = getattr(change, "history", None)
    if not history:
        return
    committed = history[-1].created_at
    if committed.tzinfo is None:
        committed = committed.replace(tzinfo=dt.UTC)
    lag = (dt.datetime.now(dt.UTC) - committed).total_seconds()
    metrics.FANOUT_LAG.observe(max(0.0, lag))
