"""History entries and the events that follow them.

Every write goes through `record_change`: it adds one history row per changed field in the
caller's transaction and queues the event envelope on the session. The edge publishes queued
envelopes only after the commit succeeded, and drops them on rollback.
"""

from __future__ import annotations

import datetime as dt
import enum
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from models import HistoryAction, Ticket, TicketHistory
from models.base import utcnow
from models.enums import ActorType, HistoryField
from permissions import Actor
from subscriptions.events import PENDING_EVENTS, TicketEventEnvelope, kind_of

# Fields whose history customers never see.
STAFF_ONLY_FIELDS = frozenset({"metadata"})


@dataclass(frozen=True)
class Entry:
    action: HistoryAction
    field: str | None = None
    old: Any = None
    new: Any = None
    internal: bool = False


def field_changed(field: str, old: Any, new: Any) -> Entry:
    """A field change; staff-only fields are recorded as internal entries."""
    return Entry(HistoryAction.FIELD_CHANGED, field, old, new, internal=field in STAFF_ONLY_FIELDS)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, (list, dict)):
        return json.dumps(value, sort_keys=True, separators=(",", ":"))
    if isinstance(value, dt.datetime):
        return value.isoformat()
    return str(value)


async def record_change(
    session: AsyncSession,
    actor: Actor,
    ticket: Ticket,
    entries: list[Entry],
    *,
    response_id: int | None = None,
    recorded_as: tuple[ActorType, int | None] | None = None,
) -> list[TicketHistory]:
    """Write the history rows of one change to one ticket and queue its event. The entries
    name `actor`, or `recorded_as` (a routing rule acting for the system)."""
    if not entries:
        return []
    actor_type, actor_id = recorded_as or (actor.actor_type, actor.id)
    now = utcnow()
    rows = [
        TicketHistory(
            ticket_id=ticket.id,
            organization_id=ticket.organization_id,
            actor_type=actor_type,
            actor_id=actor_id,
            action=entry.action,
            field_name=entry.field,
            old_value=_text(entry.old),
            new_value=_text(entry.new),
            is_internal=entry.internal,
            created_at=now,
        )
        for entry in entries
    ]
    session.add_all(rows)
    await session.flush()
    envelope = TicketEventEnvelope(
        cursor=max(row.id for row in rows),
        organization_id=ticket.organization_id,
        ticket_id=ticket.id,
        customer_id=ticket.customer_id,
        kind=kind_of(entry.action for entry in entries),
        history_ids=tuple(row.id for row in rows),
        response_id=response_id,
        internal=all(row.is_internal for row in rows),
    )
    session.info.setdefault(PENDING_EVENTS, []).append(envelope)
    return rows


def take_pending_events(session: AsyncSession) -> list[TicketEventEnvelope]:
    """Remove and return the envelopes queued on this session."""
    events: list[TicketEventEnvelope] = session.info.pop(PENDING_EVENTS, [])
    return events


# --- reading entries back ---------------------------------------------------------------


class EntryKind(enum.StrEnum):
    """What one history row records, as the typed history shows it."""

    CREATED = "created"
    TITLE_CHANGED = "title_changed"
    DESCRIPTION_CHANGED = "description_changed"
    STATUS_CHANGED = "status_changed"
    PRIORITY_CHANGED = "priority_changed"
    ASSIGNED = "assigned"
    TEAM_CHANGED = "team_changed"
    TAGS_CHANGED = "tags_changed"
    METADATA_CHANGED = "metadata_changed"
    RESPONSE_ADDED = "response_added"
    NOTE_ADDED = "note_added"
    ATTACHMENT_ADDED = "attachment_added"


_BY_ACTION = {
    HistoryAction.CREATED: EntryKind.CREATED,
    HistoryAction.ASSIGNED: EntryKind.ASSIGNED,
    HistoryAction.RESPONSE_ADDED: EntryKind.RESPONSE_ADDED,
    HistoryAction.NOTE_ADDED: EntryKind.NOTE_ADDED,
    HistoryAction.ATTACHMENT_ADDED: EntryKind.ATTACHMENT_ADDED,
}
_BY_FIELD = {
    HistoryField.TITLE: EntryKind.TITLE_CHANGED,
    HistoryField.DESCRIPTION: EntryKind.DESCRIPTION_CHANGED,
    HistoryField.STATUS: EntryKind.STATUS_CHANGED,
    HistoryField.PRIORITY: EntryKind.PRIORITY_CHANGED,
    HistoryField.ASSIGNEE: EntryKind.ASSIGNED,
    HistoryField.TEAM: EntryKind.TEAM_CHANGED,
    HistoryField.TAGS: EntryKind.TAGS_CHANGED,
    HistoryField.METADATA: EntryKind.METADATA_CHANGED,
}


def entry_kind(row: TicketHistory) -> EntryKind:
    """The kind of a history row: by its action, and for field changes by the field.

    Every row the write path stores has a kind; a row it cannot place is a bug, not data.
    """
    kind = _BY_ACTION.get(row.action)
    if kind is None and row.field_name in _BY_FIELD:
        kind = _BY_FIELD[HistoryField(row.field_name)]
    if kind is None:
        raise ValueError(f"history row {row.id} records an unknown change: {row.field_name!r}")
    return kind


def changed_field(row: TicketHistory) -> HistoryField | None:
    """The ticket field a row changed; None for creation, replies, notes and files."""
    if row.action in (
        HistoryAction.CREATED,
        HistoryAction.RESPONSE_ADDED,
        HistoryAction.NOTE_ADDED,
        HistoryAction.ATTACHMENT_ADDED,
    ):
        return None
    return HistoryField(row.field_name) if row.field_name in _BY_FIELD else None


def stored_id(value: str | None) -> int | None:
    """A row id stored as text (assignee, team, response, attachment), None for none."""
    return int(value) if value is not None and value.isdigit() else None


def stored_json(value: str | None) -> Any:
    """A JSON value stored as text (tags, metadata), None for none."""
    return None if value is None else json.loads(value)


def tags_diff(row: TicketHistory) -> tuple[list[str], list[str]]:
    """(added, removed) tags of a tags change, each in its list's order."""
    old = stored_json(row.old_value) or []
    new = stored_json(row.new_value) or []
    return [t for t in new if t not in old], [t for t in old if t not in new]
