"""The admin audit log: every change to an organization's setup, written in the change's
transaction, readable by the organization's admins."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from models import AuditEntry
from models.base import utcnow
from models.enums import ActorType
from permissions import Actor
from permissions.admin import readable_audit
from resolvers.locks import lock_audit_log
from subscriptions.organization import PENDING_ORGANIZATION_EVENTS, OrganizationEventEnvelope


async def record_admin_action(
    session: AsyncSession,
    actor: Actor | None,
    organization_id: int,
    action: str,
    target_type: str,
    target_id: int | None,
    details: dict[str, Any] | None = None,
) -> AuditEntry:
    """Write one audit entry (actor None: the system, e.g. the `helpdesk` command) and queue
    the organization event that announces it after commit."""
    await lock_audit_log(session)
    entry = AuditEntry(
        organization_id=organization_id,
        actor_type=ActorType.SYSTEM if actor is None else actor.actor_type,
        actor_id=None if actor is None else actor.id,
        action=action,
        target_type=target_type,
        target_id=target_id,
        details=details or {},
        created_at=utcnow(),
    )
    session.add(entry)
    await session.flush()
    session.info.setdefault(PENDING_ORGANIZATION_EVENTS, []).append(
        OrganizationEventEnvelope(
            cursor=entry.id,
            organization_id=organization_id,
            action=action,
            target_type=target_type,
            target_id=target_id,
        )
    )
    return entry


def changes(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """{"field": [old, new]} for the fields that differ."""
    return {name: [before[name], value] for name, value in after.items() if before[name] != value}


async def list_audit_entries(
    session: AsyncSession, actor: Actor, *, first: int, before_id: int | None = None
) -> Sequence[AuditEntry]:
    """The newest entries first (one more than `first`, to tell whether a page follows)."""
    statement = readable_audit(actor).order_by(AuditEntry.id.desc()).limit(first + 1)
    if before_id is not None:
        statement = statement.where(AuditEntry.id < before_id)
    return (await session.scalars(statement)).all()


async def audit_entries_by_id(
    session: AsyncSession, actor: Actor, ids: Sequence[int]
) -> list[AuditEntry]:
    """Entries of the actor's organization with these ids (organization events)."""
    if not ids:
        return []
    return list(await session.scalars(readable_audit(actor).where(AuditEntry.id.in_(ids))))


@dataclass(frozen=True)
class OrganizationChange:
    """One committed audit entry, as the organization event hub delivers it."""

    entry: AuditEntry
    envelope: OrganizationEventEnvelope

    @property
    def position(self) -> tuple[int, int]:
        return (0, self.entry.id)


async def load_organization_changes(
    session: AsyncSession, after: tuple[int, int]
) -> list[OrganizationChange]:
    """Audit entries after a position, in id order (their commit order: lock_audit_log)."""
    rows = await session.scalars(
        select(AuditEntry).where(AuditEntry.id > after[1]).order_by(AuditEntry.id)
    )
    return [
        OrganizationChange(
            row,
            OrganizationEventEnvelope(
                cursor=row.id,
                organization_id=row.organization_id,
                action=row.action,
                target_type=row.target_type,
                target_id=row.target_id,
            ),
        )
        for row in rows
    ]


async def latest_audit_position(session: AsyncSession) -> tuple[int, int]:
    return (0, int(await session.scalar(select(func.max(AuditEntry.id))) or 0))
