"""Shared documents and helpers of the administration tests."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select

from models import (
    AuditEntry,
    Customer,
    Organization,
    OrganizationCustomer,
    RoutingRule,
    Team,
    TeamMember,
)
from server.auth import issue_development_token
from tests.api.mutation_helpers import database_state
from tests.conftest import Stack
from tests.graphql import execute

TEAM_FIELDS = "id name description archivedAt"
MEMBER_FIELDS = "id name email role isActive isPending avatarUrl team { id }"
ERRORS = "userErrors { field message code }"

CREATE_TEAM = f"""mutation CreateTeam($input: CreateTeamInput!) {{
  createTeam(input: $input) {{ team {{ {TEAM_FIELDS} }} {ERRORS} }}
}}"""
UPDATE_TEAM = f"""mutation UpdateTeam($input: UpdateTeamInput!) {{
  updateTeam(input: $input) {{ team {{ {TEAM_FIELDS} }} {ERRORS} }}
}}"""
ARCHIVE_TEAM = f"""mutation ArchiveTeam($input: ArchiveTeamInput!) {{
  archiveTeam(input: $input) {{ team {{ {TEAM_FIELDS} }} {ERRORS} }}
}}"""
INVITE_MEMBER = f"""mutation InviteTeamMember($input: InviteTeamMemberInput!) {{
  inviteTeamMember(input: $input) {{ member {{ {MEMBER_FIELDS} }} {ERRORS} }}
}}"""
UPDATE_MEMBER = f"""mutation UpdateTeamMember($input: UpdateTeamMemberInput!) {{
  updateTeamMember(input: $input) {{ member {{ {MEMBER_FIELDS} }} {ERRORS} }}
}}"""
DEACTIVATE_MEMBER = f"""mutation DeactivateTeamMember($input: DeactivateTeamMemberInput!) {{
  deactivateTeamMember(input: $input) {{
    member {{ {MEMBER_FIELDS} }} reassignedTickets {{ id assignee {{ id }} }} {ERRORS}
  }}
}}"""
REACTIVATE_MEMBER = f"""mutation ReactivateTeamMember($input: ReactivateTeamMemberInput!) {{
  reactivateTeamMember(input: $input) {{ member {{ {MEMBER_FIELDS} }} {ERRORS} }}
}}"""
CUSTOMER_FIELDS = "id name email company"
CREATE_CUSTOMER = f"""mutation CreateCustomer($input: CustomerInput!) {{
  createCustomer(input: $input) {{ customer {{ {CUSTOMER_FIELDS} }} {ERRORS} }}
}}"""
INVITE_CUSTOMER = f"""mutation InviteCustomer($input: CustomerInput!) {{
  inviteCustomer(input: $input) {{ customer {{ {CUSTOMER_FIELDS} }} {ERRORS} }}
}}"""
UPDATE_ORGANIZATION = f"""mutation UpdateOrganization($input: UpdateOrganizationInput!) {{
  updateOrganization(input: $input) {{ organization {{ id name visibility }} {ERRORS} }}
}}"""
RULE_FIELDS = """id name position enabled addTags assignRoundRobin stopProcessing
  conditions { priorities tags titleWords companies } setTeam { id } setPriority"""
CREATE_RULE = f"""mutation CreateRoutingRule($input: RoutingRuleInput!) {{
  createRoutingRule(input: $input) {{ rule {{ {RULE_FIELDS} }} {ERRORS} }}
}}"""
UPDATE_RULE = f"""mutation UpdateRoutingRule($input: UpdateRoutingRuleInput!) {{
  updateRoutingRule(input: $input) {{ rule {{ {RULE_FIELDS} }} {ERRORS} }}
}}"""
DELETE_RULE = f"""mutation DeleteRoutingRule($input: DeleteRoutingRuleInput!) {{
  deleteRoutingRule(input: $input) {{ rule {{ id }} {ERRORS} }}
}}"""
REORDER_RULES = f"""mutation ReorderRoutingRules($input: ReorderRoutingRulesInput!) {{
  reorderRoutingRules(input: $input) {{ rules {{ id position }} {ERRORS} }}
}}"""
AUDIT_LOG = """query AuditLog($first: Int, $before: ID) {
  auditLog(first: $first, before: $before) {
    hasMore entries { id action targetType targetId details actor { id } }
  }
}"""


def token_with_email(
    db: Stack, subject: str, email: str, *, verified: Any = True, **claims: Any
) -> str:
    """A token for a subject nobody has yet, carrying an email claim (first sign-in)."""
    extra: dict[str, Any] = {"email": email, **claims}
    if verified is not None:
        extra["email_verified"] = verified
    return issue_development_token(db.settings, subject, dt.timedelta(hours=1), extra)


async def as_token(
    db: Stack, token: str | None, document: str, variables: dict[str, Any] | None = None
) -> dict[str, Any]:
    async with db.client(token) as client:
        return await execute(client, document, variables)


async def admin_state(db: Stack) -> dict[str, Any]:
    """Everything a refused administration must leave alone: the tickets (database_state),
    and every organization, team, member, customer, customer link, rule and audit entry."""
    state = await database_state(db)
    async with db.sessionmaker() as session:
        for model in (Organization, Team, TeamMember, Customer, OrganizationCustomer, RoutingRule):
            rows = (await session.scalars(select(model))).all()
            state[model.__tablename__] = sorted(
                (
                    tuple(
                        (c.key, repr(getattr(row, c.key)))
                        for c in model.__table__.columns
                        if c.key not in ("created_at",)
                    )
                    for row in rows
                ),
            )
        state["audit_log"] = await session.scalar(select(func.count()).select_from(AuditEntry))
    return state


async def audit_actions(db: Stack, organization_id: int) -> list[str]:
    async with db.sessionmaker() as session:
        return list(
            await session.scalars(
                select(AuditEntry.action)
                .where(AuditEntry.organization_id == organization_id)
                .order_by(AuditEntry.id)
            )
        )


async def status_of(db: Stack, token: str, document: str) -> tuple[int, list[str]]:
    """The HTTP status and error codes of a request with this token (401/403 for refused
    tokens)."""
    async with db.client(token) as client:
        response = await client.post("/graphql", json={"query": document})
    return response.status_code, [
        e.get("extensions", {}).get("code") for e in response.json().get("errors", [])
    ]
