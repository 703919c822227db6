"""Knowledge-base events: the organization's change log (`kb_changes`) read in id order.

Writers take the organization's knowledge-base lock before writing a change (resolvers/
knowledge_base_write.py), so within an organization change ids are committed in id order:
reading `id > last` never skips a change that commits later. Subscribers on this process are
woken right after a commit; changes written by other instances are found by polling the log
every POLL_SECONDS (the table is the durable log, so nothing is lost either way).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress

POLL_SECONDS = 1.0


class KnowledgeBaseNotifier:
    """Wakes this process's knowledge-base subscribers of an organization."""

    def __init__(self) -> None:
        self._waiting: dict[int, set[asyncio.Event]] = {}

    def notify(self, organization_ids: Iterable[int]) -> None:
        for organization_id in set(organization_ids):
            for event in self._waiting.get(organization_id, ()):
                event.set()

    @contextmanager
    def listening(self, organization_id: int) -> Iterator[asyncio.Event]:
        """An event set by every commit of the organization's changes on this process, for as
        long as the block runs (clear it before reading the log, so no commit is missed)."""
        event = asyncio.Event()
        waiting = self._waiting.setdefault(organization_id, set())
        waiting.add(event)
        try:
            yield event
        finally:
            waiting.discard(event)
            if not waiting:
                self._waiting.pop(organization_id, None)

    @property
    def waiting(self) -> int:
        return sum(len(events) for events in self._waiting.values())

    def waiting_for(self, organization_id: int) -> int:
        """How many subscribers of the organization listen on this process."""
        return len(self._waiting.get(organization_id, ()))


async def next_wake(event: asyncio.Event) -> None:
    """Until the event is set, or POLL_SECONDS passed (changes of other instances)."""
    with suppress(TimeoutError):
        await asyncio.wait_for(event.wait(), POLL_SECONDS)


# One per process, like the subscribers it wakes.
notifier = KnowledgeBaseNotifier()
