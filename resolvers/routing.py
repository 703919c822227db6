"""Routing rules: admins keep an ordered list per organization; every new ticket is matched
against the enabled rules in order, and each matching rule's actions are applied and written
to history with the rule as the actor.

Conditions (all that are given must hold; within one, any value): the ticket's priority, one
of its tags, a word of its title, the customer's company. Actions: set the team, set the
priority, add tags, assign the next active agent of the ticket's team by round robin.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from models import Customer, HistoryAction, Priority, RoutingRule, Team, TeamMember, Ticket
from models.base import utcnow
from models.enums import ActorType
from permissions import Actor
from permissions.admin import readable_rules
from resolvers.admin import require_admin, team_for_assignment
from resolvers.audit import record_admin_action
from resolvers.errors import UserErrorCode, UserInputError, user_error
from resolvers.history import Entry, field_changed, record_change
from resolvers.ticket_write import UNSET, Unset, touch
from resolvers.validation import TAGS_MAX, Problems

RULE_NAME_MAX = 100
RULES_MAX = 100
WORDS_MAX = 50
WORD_MAX = 50
COMPANY_MAX = 200
WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class RuleInput:
    """A rule's settings; UNSET leaves a setting alone (updates) or takes its default."""

    name: str | Unset = UNSET
    enabled: bool | Unset = UNSET
    priorities: Sequence[Priority] | Unset = UNSET
    tags: Sequence[str] | Unset = UNSET
    title_words: Sequence[str] | Unset = UNSET
    companies: Sequence[str] | Unset = UNSET
    set_team_id: int | Unset | None = UNSET
    set_priority: Priority | Unset | None = UNSET
    add_tags: Sequence[str] | Unset = UNSET
    assign_round_robin: bool | Unset = UNSET
    stop_processing: bool | Unset = UNSET


def conditions_of(rule: RoutingRule) -> dict[str, list[str]]:
    found = rule.conditions or {}
    return {
        key: list(found.get(key) or []) for key in ("priorities", "tags", "titleWords", "companies")
    }


async def list_rules(session: AsyncSession, actor: Actor) -> Sequence[RoutingRule]:
    """The organization's rules in evaluation order (admins; empty for everyone else)."""
    return (
        await session.scalars(readable_rules(actor).order_by(RoutingRule.position, RoutingRule.id))
    ).all()


async def create_rule(session: AsyncSession, actor: Actor, data: RuleInput) -> RoutingRule:
    """A new rule, evaluated after the existing ones."""
    require_admin(actor, "manage routing rules")
    assert actor.organization_id is not None
    count = await session.scalar(select(func.count()).select_from(readable_rules(actor).subquery()))
    if (count or 0) >= RULES_MAX:
        raise user_error(None, f"at most {RULES_MAX} routing rules", UserErrorCode.TOO_MANY)
    last = await session.scalar(
        select(func.max(RoutingRule.position)).where(
            RoutingRule.organization_id == actor.organization_id
        )
    )
    rule = RoutingRule(
        organization_id=actor.organization_id,
        name="",
        position=(last or 0) + 1,
        conditions={},
        add_tags=[],
        assign_round_robin=False,
        stop_processing=False,
        is_enabled=True,
    )
    await _apply(session, actor, rule, data, creating=True)
    session.add(rule)
    await session.flush()
    await record_admin_action(
        session,
        actor,
        actor.organization_id,
        "routing_rule.created",
        "routing_rule",
        rule.id,
        describe(rule),
    )
    return rule


async def update_rule(
    session: AsyncSession, actor: Actor, rule_id: int, data: RuleInput
) -> RoutingRule:
    require_admin(actor, "manage routing rules")
    rule = await _rule(session, actor, rule_id)
    before = describe(rule)
    await _apply(session, actor, rule, data, creating=False)
    rule.updated_at = utcnow()
    await session.flush()
    after = describe(rule)
    diff = {k: [before[k], v] for k, v in after.items() if before[k] != v}
    if diff:
        await record_admin_action(
            session,
            actor,
            rule.organization_id,
            "routing_rule.updated",
            "routing_rule",
            rule.id,
            diff,
        )
    return rule


async def delete_rule(session: AsyncSession, actor: Actor, rule_id: int) -> RoutingRule:
    """Remove a rule from routing; history it wrote still names it."""
    require_admin(actor, "manage routing rules")
    rule = await _rule(session, actor, rule_id)
    rule.deleted_at = utcnow()
    await session.flush()
    await record_admin_action(
        session,
        actor,
        rule.organization_id,
        "routing_rule.deleted",
        "routing_rule",
        rule.id,
        {"name": rule.name},
    )
    return rule


async def reorder_rules(
    session: AsyncSession, actor: Actor, rule_ids: Sequence[int]
) -> Sequence[RoutingRule]:
    """Evaluate the rules in this order; `rule_ids` names every rule exactly once."""
    require_admin(actor, "manage routing rules")
    rules = list(await session.scalars(readable_rules(actor).with_for_update()))
    if set(rule_ids) - {r.id for r in rules}:
        raise user_error(
            "ruleIds", "no such routing rule in your organization", UserErrorCode.NOT_FOUND
        )
    if sorted(rule_ids) != sorted(r.id for r in rules) or len(set(rule_ids)) != len(rule_ids):
        raise user_error(
            "ruleIds",
            "name every routing rule of your organization exactly once",
            UserErrorCode.INVALID,
        )
    by_id = {r.id: r for r in rules}
    before = [r.id for r in sorted(rules, key=lambda r: (r.position, r.id))]
    for position, rule_id in enumerate(rule_ids, start=1):
        by_id[rule_id].position = position
    await session.flush()
    if before != list(rule_ids):
        assert actor.organization_id is not None
        await record_admin_action(
            session,
            actor,
            actor.organization_id,
            "routing_rule.reordered",
            "routing_rule",
            None,
            {"order": [before, list(rule_ids)]},
        )
    return [by_id[i] for i in rule_ids]


def describe(rule: RoutingRule) -> dict[str, Any]:
    return {
        "name": rule.name,
        "enabled": rule.is_enabled,
        "conditions": conditions_of(rule),
        "setTeamId": rule.set_team_id,
        "setPriority": rule.set_priority,
        "addTags": list(rule.add_tags or []),
        "assignRoundRobin": rule.assign_round_robin,
        "stopProcessing": rule.stop_processing,
    }


async def _rule(session: AsyncSession, actor: Actor, rule_id: int) -> RoutingRule:
    rule = await session.scalar(
        readable_rules(actor)
        .where(RoutingRule.id == rule_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if rule is None:
        raise user_error("id", "no such routing rule in your organization", UserErrorCode.NOT_FOUND)
    return rule


def _words(problems: Problems, name: str, values: Sequence[str], maximum: int) -> list[str]:
    if len(values) > WORDS_MAX:
        problems.add(name, f"at most {WORDS_MAX} values", UserErrorCode.TOO_MANY)
        return []
    cleaned: list[str] = []
    for value in values:
        word = problems.text(name, value, maximum=maximum).lower()
        if word and word not in cleaned:
            cleaned.append(word)
    return cleaned


async def _apply(
    session: AsyncSession, actor: Actor, rule: RoutingRule, data: RuleInput, *, creating: bool
) -> None:
    problems = Problems()
    if not isinstance(data.name, Unset):
        rule.name = problems.text("name", data.name, maximum=RULE_NAME_MAX)
    elif creating:
        problems.add("name", "name must not be empty", UserErrorCode.REQUIRED)
    conditions = conditions_of(rule)
    if not isinstance(data.priorities, Unset):
        conditions["priorities"] = sorted({p.value for p in data.priorities})
    if not isinstance(data.tags, Unset):
        conditions["tags"] = problems.tags("tags", data.tags)
    if not isinstance(data.title_words, Unset):
        conditions["titleWords"] = _words(problems, "titleWords", data.title_words, WORD_MAX)
    if not isinstance(data.companies, Unset):
        conditions["companies"] = _words(problems, "companies", data.companies, COMPANY_MAX)
    rule.conditions = conditions
    if not isinstance(data.enabled, Unset):
        rule.is_enabled = data.enabled
    if not isinstance(data.set_team_id, Unset):
        if data.set_team_id is not None and data.set_team_id != rule.set_team_id:
            assert actor.organization_id is not None
            await team_for_assignment(
                session, actor.organization_id, data.set_team_id, "setTeamId", problems
            )
        rule.set_team_id = data.set_team_id
    if not isinstance(data.set_priority, Unset):
        rule.set_priority = None if data.set_priority is None else data.set_priority.value
    if not isinstance(data.add_tags, Unset):
        tags = problems.tags("addTags", data.add_tags)
        if len(tags) > TAGS_MAX:
            problems.add("addTags", f"at most {TAGS_MAX} tags", UserErrorCode.TOO_MANY)
        rule.add_tags = tags
    if not isinstance(data.assign_round_robin, Unset):
        rule.assign_round_robin = data.assign_round_robin
    if not isinstance(data.stop_processing, Unset):
        rule.stop_processing = data.stop_processing
    has_action = rule.set_team_id or rule.set_priority or rule.add_tags or rule.assign_round_robin
    if not problems.errors and not has_action:
        problems.add(
            None,
            "a rule needs an action: setTeamId, setPriority, addTags or assignRoundRobin",
            UserErrorCode.REQUIRED,
        )
    if problems.errors:
        raise UserInputError(problems.errors)
    if rule.name:
        taken = select(RoutingRule.id).where(
            RoutingRule.organization_id == actor.organization_id,
            RoutingRule.deleted_at.is_(None),
            func.lower(RoutingRule.name) == rule.name.lower(),
        )
        if rule.id is not None:
            taken = taken.where(RoutingRule.id != rule.id)
        if await session.scalar(taken) is not None:
            raise user_error(
                "name", f"a routing rule named {rule.name!r} exists", UserErrorCode.TAKEN
            )


# --- applying rules to a new ticket ------------------------------------------------------


@dataclass
class Routed:
    """What routing did to a ticket: the rules that matched, in order."""

    rule_ids: list[int] = field(default_factory=list)


def matches(rule: RoutingRule, ticket: Ticket, company: str | None) -> bool:
    """Whether every condition the rule sets holds for the ticket as it is now."""
    conditions = conditions_of(rule)
    if conditions["priorities"] and ticket.priority.value not in conditions["priorities"]:
        return False
    if conditions["tags"] and not set(conditions["tags"]) & set(ticket.tags or []):
        return False
    if conditions["titleWords"]:
        words = {w.lower() for w in WORD.findall(ticket.title)}
        if not words & set(conditions["titleWords"]):
            return False
    return not (
        conditions["companies"] and (company or "").strip().lower() not in conditions["companies"]
    )


async def route_new_ticket(session: AsyncSession, actor: Actor, ticket: Ticket) -> Routed:
    """Apply the organization's enabled rules, in order, to a ticket just created in this
    transaction. Each matching rule's changes are one history change with the rule as actor."""
    routed = Routed()
    rules = await _rules_for_routing(session, actor, ticket.organization_id)
    if not rules:
        return routed
    company = await session.scalar(
        select(Customer.company).where(Customer.id == ticket.customer_id)
    )
    for rule in rules:
        if not matches(rule, ticket, company):
            continue
        entries = await _act(session, rule, ticket)
        routed.rule_ids.append(rule.id)
        if entries:
            touch(ticket, entries)
            await record_change(
                session, actor, ticket, entries, recorded_as=(ActorType.ROUTING_RULE, rule.id)
            )
        if rule.stop_processing:
            break
    return routed


async def _rules_for_routing(
    session: AsyncSession, actor: Actor, organization_id: int
) -> list[RoutingRule]:
    """The enabled rules, in order. A customer's session may not read rules (row security):
    the system reads them for the customer's new ticket, and the customer again acts after."""
    statement = (
        select(RoutingRule)
        .where(
            RoutingRule.organization_id == organization_id,
            RoutingRule.deleted_at.is_(None),
            RoutingRule.is_enabled.is_(True),
        )
        .order_by(RoutingRule.position, RoutingRule.id)
    )
    postgres = session.get_bind().dialect.name == "postgresql"
    if not (postgres and actor.is_customer):
        return list(await session.scalars(statement))
    await session.execute(text("SELECT set_config('helpdesk.actor_kind', 'system', true)"))
    try:
        return list(await session.scalars(statement))
    finally:
        await session.execute(
            text("SELECT set_config('helpdesk.actor_kind', :kind, true)"),
            {"kind": actor.kind.value},
        )


async def _act(session: AsyncSession, rule: RoutingRule, ticket: Ticket) -> list[Entry]:
    entries: list[Entry] = []
    if rule.set_team_id is not None and rule.set_team_id != ticket.team_id:
        archived = await session.scalar(select(Team.archived_at).where(Team.id == rule.set_team_id))
        if archived is None:
            entries.append(field_changed("team", ticket.team_id, rule.set_team_id))
            ticket.team_id = rule.set_team_id
    if rule.set_priority is not None and rule.set_priority != ticket.priority.value:
        entries.append(field_changed("priority", ticket.priority, Priority(rule.set_priority)))
        ticket.priority = Priority(rule.set_priority)
    added = [t for t in rule.add_tags or [] if t not in (ticket.tags or [])]
    if added:
        tags = [*list(ticket.tags or []), *added][:TAGS_MAX]
        if tags != list(ticket.tags or []):
            entries.append(field_changed("tags", list(ticket.tags or []), tags))
            ticket.tags = tags
    if rule.assign_round_robin and ticket.assignee_id is None and ticket.team_id is not None:
        assignee = await next_in_rotation(session, ticket.team_id)
        if assignee is not None:
            entries.append(Entry(HistoryAction.ASSIGNED, "assignee", None, assignee))
            ticket.assignee_id = assignee
    if entries:
        await session.flush()
    return entries


async def next_in_rotation(session: AsyncSession, team_id: int) -> int | None:
    """The team's next active, signed-in agent after the one who got its last ticket (by id,
    wrapping around), and move the rotation on. The team row is locked for the rest of the
    transaction, so concurrent creates take turns and each gets the next one."""
    last = (
        await session.execute(
            select(Team.last_assigned_member_id, Team.archived_at)
            .where(Team.id == team_id)
            .with_for_update()
        )
    ).one_or_none()
    if last is None or last.archived_at is not None:
        return None
    candidates = list(
        await session.scalars(
            select(TeamMember.id)
            .where(
                TeamMember.team_id == team_id,
                TeamMember.is_active.is_(True),
                TeamMember.user_id.is_not(None),
            )
            .order_by(TeamMember.id)
        )
    )
    if not candidates:
        return None
    after = last.last_assigned_member_id or 0
    chosen = next((m for m in candidates if m > after), candidates[0])
    await session.execute(
        update(Team).where(Team.id == team_id).values(last_assigned_member_id=chosen)
    )
    return chosen
