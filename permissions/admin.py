"""Who may administer an organization: teams, members, customers, routing and settings.

Admins of an organization manage it; agents may edit their own name and avatar and manage the
customer directory (create and invite customers); customers see none of it.
"""

from __future__ import annotations

from sqlalchemy import Select, false, select

from models import AuditEntry, RoutingRule
from permissions.actor import Actor

# What an agent may change about themself.
SELF_EDITABLE = frozenset({"name", "avatarUrl"})


def may_administer(actor: Actor) -> bool:
    """Teams, members, routing rules, organization settings, the audit log: admins only."""
    return actor.is_admin


def may_manage_customers(actor: Actor) -> bool:
    """Staff create and invite customers (to open tickets on their behalf)."""
    return actor.is_staff


def forbidden_member_edits(actor: Actor, member_id: int, fields: set[str]) -> set[str]:
    """The fields of a member's profile the actor may not change: admins any, an agent only
    their own name and avatar."""
    if actor.is_admin:
        return set()
    if actor.is_staff and actor.id == member_id:
        return fields - SELF_EDITABLE
    return set(fields)


def readable_rules(actor: Actor) -> Select[RoutingRule]:
    """The organization's routing rules that were not deleted (admins only)."""
    statement = select(RoutingRule)
    if not may_administer(actor):
        return statement.where(false())
    return statement.where(
        RoutingRule.organization_id == actor.organization_id, RoutingRule.deleted_at.is_(None)
    )


def readable_audit(actor: Actor) -> Select[AuditEntry]:
    """The organization's audit log (admins only)."""
    statement = select(AuditEntry)
    if not may_administer(actor):
        return statement.where(false())
    return statement.where(AuditEntry.organization_id == actor.organization_id)


def named_rules(actor: Actor) -> Select[RoutingRule]:
    """Rules as history names them (deleted ones too): staff of the organization see which
    rule routed a ticket; customers only that routing did."""
    statement = select(RoutingRule)
    if not actor.is_staff:
        return statement.where(false())
    return statement.where(RoutingRule.organization_id == actor.organization_id)


# Organization events every staff member receives; admins receive every kind.
STAFF_EVENT_TARGETS = frozenset({"team", "team_member"})


def may_receive_organization_event(actor: Actor, organization_id: int, target_type: str) -> bool:
    """Staff of the organization: team and member changes; its admins: every admin action.
    Customers and other organizations: nothing."""
    if not actor.is_staff or actor.organization_id != organization_id:
        return False
    return actor.is_admin or target_type in STAFF_EVENT_TARGETS
