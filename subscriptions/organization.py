"""The envelope published after every committed change to an organization's setup (teams,
members, customers, routing rules, settings): one per admin audit entry.

Like ticket envelopes it names what changed, never values: subscribers load the audit entry
through the same policy as the `auditLog` query.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import orjson

PENDING_ORGANIZATION_EVENTS = "pending_organization_events"


@dataclass(frozen=True)
class OrganizationEventEnvelope:
    """One committed audit entry; `cursor` is its id."""

    cursor: int
    organization_id: int
    action: str
    target_type: str
    target_id: int | None = None
    # Routing keys the event hub reads: organization events go to staff only.
    customer_id: None = None
    internal: bool = True

    def to_json(self) -> str:
        data = asdict(self)
        del data["customer_id"], data["internal"]
        return orjson.dumps(data).decode()

    @classmethod
    def from_json(cls, text: str | bytes) -> OrganizationEventEnvelope:
        """Parse an envelope; ValueError (or a subclass) for anything malformed."""
        data: Any = orjson.loads(text)
        if not isinstance(data, dict):
            raise ValueError("an envelope is a JSON object")
        target = data.get("target_id")
        return cls(
            cursor=int(data["cursor"]),
            organization_id=int(data["organization_id"]),
            action=str(data["action"]),
            target_type=str(data["target_type"]),
            target_id=None if target is None else int(target),
        )


def organization_events_channel(organization_id: int) -> str:
    """The broadcast channel of one organization's setup changes."""
    return f"helpdesk.organization.{organization_id}"


ORGANIZATION_CHANNEL_PATTERN = "helpdesk.organization.*"


def take_pending_organization_events(session_info: dict[str, Any]) -> list[Any]:
    """Remove and return the organization envelopes queued on a session."""
    events: list[Any] = session_info.pop(PENDING_ORGANIZATION_EVENTS, [])
    return events
