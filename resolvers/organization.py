"""Organizations: made by the `helpdesk org create` command (with their first admin), then
administered through the API (name, visibility)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models import Organization, OrganizationVisibility, TeamMember, TeamRole
from models.base import utcnow
from permissions import Actor
from resolvers.admin import NAME_MAX, add_member, email, member_email_taken, require_admin
from resolvers.audit import changes, record_admin_action
from resolvers.errors import UserErrorCode, UserInputError, user_error
from resolvers.ticket_write import UNSET, Unset
from resolvers.validation import Problems

SLUG_PATTERN = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,98}[a-z0-9])?$")


@dataclass(frozen=True)
class Bootstrapped:
    organization: Organization
    admin: TeamMember


async def create_organization(
    session: AsyncSession, slug: str, name: str, admin_email: str, admin_name: str | None = None
) -> Bootstrapped:
    """A new organization and its first admin, pending until they sign in with a token that
    carries this email, verified. Run by the system (the `helpdesk` command)."""
    problems = Problems()
    if not SLUG_PATTERN.match(slug):
        problems.add(
            "slug",
            "slug: lower-case letters, digits and dashes (at most 100)",
            UserErrorCode.INVALID,
        )
    name = problems.text("name", name, maximum=NAME_MAX)
    address = email(problems, "adminEmail", admin_email)
    if problems.errors:
        raise UserInputError(problems.errors)
    if await session.scalar(select(Organization.id).where(Organization.slug == slug)):
        raise user_error("slug", f"an organization {slug!r} already exists", UserErrorCode.TAKEN)
    if await member_email_taken(session, address):
        raise user_error("adminEmail", "this email is already a team member's", UserErrorCode.TAKEN)
    organization = Organization(name=name, slug=slug)
    session.add(organization)
    await session.flush()
    now = utcnow()
    admin = TeamMember(
        organization_id=organization.id,
        user_id=None,
        email=address,
        name=admin_name or address.split("@")[0],
        role=TeamRole.ADMIN,
        invited_at=now,
        created_at=now,
        updated_at=now,
    )
    await add_member(session, admin, "adminEmail")
    await record_admin_action(
        session,
        None,
        organization.id,
        "organization.created",
        "organization",
        organization.id,
        {"slug": slug, "name": name, "adminEmail": address},
    )
    return Bootstrapped(organization, admin)


@dataclass(frozen=True)
class OrganizationChanges:
    name: str | Unset = UNSET
    visibility: OrganizationVisibility | Unset = UNSET


async def update_organization(
    session: AsyncSession, actor: Actor, data: OrganizationChanges
) -> Organization:
    """Admins: rename their organization, or make it PUBLIC or INVITE_ONLY."""
    require_admin(actor, "change the organization")
    organization = await session.scalar(
        select(Organization)
        .where(Organization.id == actor.organization_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert organization is not None
    problems = Problems()
    before = {"name": organization.name, "visibility": organization.visibility.value}
    after = dict(before)
    if not isinstance(data.name, Unset):
        after["name"] = problems.text("name", data.name, maximum=NAME_MAX)
    if not isinstance(data.visibility, Unset):
        after["visibility"] = data.visibility.value
    if problems.errors:
        raise UserInputError(problems.errors)
    diff = changes(before, after)
    if diff:
        organization.name = after["name"]
        organization.visibility = OrganizationVisibility(after["visibility"])
        await session.flush()
        await record_admin_action(
            session,
            actor,
            organization.id,
            "organization.updated",
            "organization",
            organization.id,
            diff,
        )
    return organization
