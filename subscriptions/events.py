"""The event envelope published after every committed ticket change.

It names what changed (ids and a kind), never bodies or field values: each subscriber loads
what it may see through the same policies as queries.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

import orjson

from models.enums import HistoryAction


class EventKind(enum.StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    RESPONSE_ADDED = "response_added"
    NOTE_ADDED = "note_added"
    ASSIGNED = "assigned"


@dataclass(frozen=True)
class TicketEventEnvelope:
    """One committed change to one ticket; `cursor` is the largest history id it wrote."""

    cursor: int
    organization_id: int
    ticket_id: int
    customer_id: int
    kind: EventKind
    history_ids: tuple[int, ...] = field(default_factory=tuple)
    response_id: int | None = None
    # True when every history entry of the change is staff-only (internal note, metadata).
    internal: bool = False

    def to_json(self) -> str:
        return orjson.dumps(asdict(self)).decode()

    @classmethod
    def from_json(cls, text: str | bytes) -> TicketEventEnvelope:
        """Parse an envelope; ValueError (or a subclass) for anything malformed."""
        data: Any = orjson.loads(text)
        if not isinstance(data, dict):
            raise ValueError("an envelope is a JSON object")
        return cls(
            cursor=int(data["cursor"]),
            organization_id=int(data["organization_id"]),
            ticket_id=int(data["ticket_id"]),
            customer_id=int(data["customer_id"]),
            kind=EventKind(data["kind"]),
            history_ids=tuple(int(i) for i in data.get("history_ids", ())),
            response_id=None if data.get("response_id") is None else int(data["response_id"]),
            internal=bool(data.get("internal", False)),
        )


def organization_channel(organization_id: int) -> str:
    """The broadcast channel of one organization's ticket events."""
    return f"helpdesk.tickets.org.{organization_id}"


PENDING_EVENTS = "pending_ticket_events"


def kind_of(actions: Iterable[HistoryAction]) -> EventKind:
    """The event kind of a change, from the actions of its history entries."""
    found = set(actions)
    if HistoryAction.CREATED in found:
        return EventKind.CREATED
    if HistoryAction.NOTE_ADDED in found:
        return EventKind.NOTE_ADDED
    if HistoryAction.RESPONSE_ADDED in found:
        return EventKind.RESPONSE_ADDED
    if found == {HistoryAction.ASSIGNED}:
        return EventKind.ASSIGNED
    return EventKind.UPDATED
