"""The error placement cases of administration (issue 11), merged into CASES of
test_error_placement.py: every administration mutation's valid input and its refusals."""

from __future__ import annotations

from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from models import RoutingRule, TeamMember
from tests.api.test_error_placement import DROP, Case, MutationCases, NotApplicable, Scene, set_
from tests.security.world import World, gid

# Input id fields of administration and the objects they name (`id` stays "Ticket" in the
# shared table: any other type's id is just as unknown to these mutations).
ADMIN_ID_FIELD_TYPES = {
    "reassignTo": "TeamMember",
    "ruleIds": "RoutingRule",
    "setTeamId": "Team",
}


async def agent_pending(session: AsyncSession, scene: Scene) -> None:
    """The first agent was invited and has not signed in yet."""
    await session.execute(
        update(TeamMember).where(TeamMember.id == scene.agent.id).values(user_id=None)
    )
    await session.commit()


async def add_rules(session: AsyncSession, world: World) -> dict[str, RoutingRule]:
    """A routing rule in each organization (the scene's `rule` and `other_rule`)."""
    rules = {}
    for key, org in (("rule", world.org), ("other_rule", world.other_org)):
        rules[key] = RoutingRule(
            organization_id=org.id,
            name=f"Placement {key}",
            position=1,
            conditions={},
            add_tags=["placed"],
            assign_round_robin=False,
            stop_processing=False,
        )
        session.add(rules[key])
    await session.flush()
    return rules


def rule(scene: Scene) -> str:
    return gid(scene.rules["rule"])


def admin_only(name: str, changes: Any = None) -> list[Case]:
    """Agents and customers are refused as a whole (FORBIDDEN, no field)."""
    return [
        Case(f"{who}-{name}", who, changes or set_(), None, "FORBIDDEN")
        for who in ("agent", "customer")
    ]


NO_MOVES = NotApplicable("administration has no status to move from")


def another_customers(field: str, value: Any, code: str = "FORBIDDEN") -> list[Case]:
    return [Case("a-customer-names-someone", "customer", set_(**{field: value}), None, code)]


ADMIN_CASES: dict[str, MutationCases] = {
    "createTeam": MutationCases(
        valid=set_(name="Placementteam"),
        forbidden=admin_only("creates-a-team"),
        illegal_moves=NO_MOVES,
        other_customer=another_customers("name", "Mine"),
        extra=[Case("a-taken-name", "admin", set_(name=lambda s: s.team.name), "name", "TAKEN")],
    ),
    "updateTeam": MutationCases(
        valid=set_(id=lambda s: gid(s.team), name="Renamedteam"),
        forbidden=admin_only("renames-a-team"),
        illegal_moves=NO_MOVES,
        other_customer=another_customers("id", lambda s: gid(s.other_team)),
        extra=[Case("a-null-name", "admin", set_(name=None), "name", "REQUIRED")],
    ),
    "archiveTeam": MutationCases(
        valid=set_(id=lambda s: gid(s.team)),
        forbidden=admin_only("archives-a-team"),
        illegal_moves=NO_MOVES,
        other_customer=another_customers("id", lambda s: gid(s.other_team)),
    ),
    "inviteTeamMember": MutationCases(
        valid=set_(email="placed@new.example", name="Placed", teamId=lambda s: gid(s.team)),
        forbidden=admin_only("invites"),
        illegal_moves=NO_MOVES,
        other_customer=another_customers("email", lambda s: s.customer.email),
        extra=[
            Case(
                "a-members-email",
                "admin",
                set_(email=lambda s: s.other_agent.email),
                "email",
                "TAKEN",
            ),
            Case("not-an-email", "admin", set_(email="placed"), "email", "INVALID"),
        ],
    ),
    "updateTeamMember": MutationCases(
        valid=set_(id=lambda s: gid(s.agent), name="Renamed", teamId=lambda s: gid(s.team)),
        forbidden=[
            Case(
                "an-agent-changes-their-role",
                "agent",
                set_(teamId=DROP, role="ADMIN"),
                "role",
                "FORBIDDEN",
            ),
            Case(
                "an-agent-renames-a-colleague",
                "agent",
                set_(id=lambda s: gid(s.agent2), teamId=DROP),
                "name",
                "FORBIDDEN",
            ),
        ],
        illegal_moves=NO_MOVES,
        other_customer=another_customers("id", lambda s: gid(s.agent)),
        extra=[
            Case(
                "the-last-admin-made-agent",
                "admin",
                set_(id=lambda s: gid(s.admin), teamId=DROP, role="AGENT"),
                "role",
                "LAST_ADMIN",
            ),
        ],
    ),
    "deactivateTeamMember": MutationCases(
        valid=set_(id=lambda s: gid(s.agent2), reassignTo=lambda s: gid(s.agent)),
        forbidden=admin_only("deactivates"),
        illegal_moves=NO_MOVES,
        other_customer=another_customers("id", lambda s: gid(s.agent)),
        extra=[
            Case(
                "the-last-admin",
                "admin",
                set_(id=lambda s: gid(s.admin), reassignTo=DROP),
                "id",
                "LAST_ADMIN",
            ),
            Case(
                "to-themself",
                "admin",
                set_(reassignTo=lambda s: gid(s.agent2)),
                "reassignTo",
                "INVALID",
            ),
            Case(
                "to-a-pending-member",
                "admin",
                set_(reassignTo=lambda s: gid(s.agent)),
                "reassignTo",
                "INVALID",
                agent_pending,
            ),
        ],
    ),
    "reactivateTeamMember": MutationCases(
        valid=set_(id=lambda s: gid(s.agent2)),
        forbidden=admin_only("reactivates"),
        illegal_moves=NO_MOVES,
        other_customer=another_customers("id", lambda s: gid(s.agent)),
    ),
    "createCustomer": MutationCases(
        valid=set_(email="walkin@new.example", name="Walkin"),
        forbidden=[Case("a-customer-creates-one", "customer", set_(), None, "FORBIDDEN")],
        illegal_moves=NO_MOVES,
        other_customer=another_customers("email", lambda s: s.other_customer.email),
        extra=[Case("not-an-email", "agent", set_(email="x"), "email", "INVALID")],
    ),
    "inviteCustomer": MutationCases(
        valid=set_(email="invited@new.example", name="Invited"),
        forbidden=[Case("a-customer-invites", "customer", set_(), None, "FORBIDDEN")],
        illegal_moves=NO_MOVES,
        other_customer=another_customers("email", lambda s: s.other_customer.email),
        extra=[Case("no-name", "agent", set_(name=""), "name", "REQUIRED")],
    ),
    "updateOrganization": MutationCases(
        valid=set_(visibility="INVITE_ONLY"),
        forbidden=admin_only("changes-the-organization"),
        illegal_moves=NO_MOVES,
        other_customer=another_customers("name", "Mine"),
        extra=[Case("a-null-name", "admin", set_(name=None), "name", "REQUIRED")],
    ),
    "createRoutingRule": MutationCases(
        valid=set_(name="Placed rule", setTeamId=lambda s: gid(s.team), addTags=["x"]),
        forbidden=admin_only("creates-a-rule"),
        illegal_moves=NO_MOVES,
        other_customer=another_customers("name", "Mine"),
        extra=[
            Case("no-action", "admin", set_(setTeamId=DROP, addTags=DROP), None, "REQUIRED"),
        ],
    ),
    "updateRoutingRule": MutationCases(
        valid=set_(id=rule, rule={"name": "Renamed rule"}),
        forbidden=admin_only("changes-a-rule"),
        illegal_moves=NO_MOVES,
        other_customer=another_customers("id", rule),
        extra=[
            Case(
                "another-organizations-rule",
                "admin",
                set_(id=lambda s: gid(s.rules["other_rule"])),
                "id",
                "NOT_FOUND",
            ),
        ],
    ),
    "deleteRoutingRule": MutationCases(
        valid=set_(id=rule),
        forbidden=admin_only("deletes-a-rule"),
        illegal_moves=NO_MOVES,
        other_customer=another_customers("id", rule),
    ),
    "reorderRoutingRules": MutationCases(
        valid=set_(ruleIds=lambda s: [rule(s)]),
        forbidden=admin_only("reorders"),
        illegal_moves=NO_MOVES,
        other_customer=another_customers("ruleIds", lambda s: [rule(s)]),
        extra=[
            Case(
                "a-rule-twice",
                "admin",
                set_(ruleIds=lambda s: [rule(s), rule(s)]),
                "ruleIds",
                "INVALID",
            ),
        ],
    ),
}
