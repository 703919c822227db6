"""Row-level policies for organizations, teams, team members and customers."""

from __future__ import annotations

from sqlalchemy import ColumnElement, Select, exists, false, or_, select

from models import (
    Customer,
    Organization,
    OrganizationCustomer,
    OrganizationVisibility,
    Team,
    TeamMember,
    Ticket,
)
from permissions.actor import Actor


def customer_may_use(customer_id: int | None) -> ColumnElement[bool]:
    """The organizations a customer may open tickets with: every PUBLIC one, and an
    INVITE_ONLY one that invited them or where they already have tickets."""
    invited = exists(
        select(1).where(
            OrganizationCustomer.organization_id == Organization.id,
            OrganizationCustomer.customer_id == customer_id,
            OrganizationCustomer.invited_at.is_not(None),
        )
    )
    has_ticket = exists(
        select(1).where(
            Ticket.organization_id == Organization.id, Ticket.customer_id == customer_id
        )
    )
    return or_(Organization.visibility == OrganizationVisibility.PUBLIC, invited, has_ticket)


def readable_organizations(actor: Actor) -> Select[Organization]:
    """Customers see the organizations they may open tickets with (customer_may_use); staff
    their own."""
    statement = select(Organization)
    if actor.is_customer:
        return statement.where(customer_may_use(actor.id))
    if actor.is_staff:
        return statement.where(Organization.id == actor.organization_id)
    return statement.where(false())


def readable_teams(actor: Actor) -> Select[Team]:
    """Staff see their organization's teams. Customers meet a team only through their tickets."""
    statement = select(Team)
    if actor.is_staff:
        return statement.where(Team.organization_id == actor.organization_id)
    return statement.where(false())


def readable_members(actor: Actor) -> Select[TeamMember]:
    """Staff see their organization's members. Customers meet staff only through their tickets."""
    statement = select(TeamMember)
    if actor.is_staff:
        return statement.where(TeamMember.organization_id == actor.organization_id)
    return statement.where(false())


def readable_customers(actor: Actor) -> Select[Customer]:
    """A customer sees themself; staff see the customers who have a ticket with their
    organization or whom it created or invited (customers belong to no organization, so this
    is what ties them to one)."""
    statement = select(Customer)
    if actor.is_customer:
        return statement.where(Customer.id == actor.id)
    if actor.is_staff:
        return statement.where(known_to_organization(actor.organization_id))
    return statement.where(false())


def known_to_organization(organization_id: int | None) -> ColumnElement[bool]:
    has_ticket = exists(
        select(1).where(
            Ticket.customer_id == Customer.id, Ticket.organization_id == organization_id
        )
    )
    linked = exists(
        select(1).where(
            OrganizationCustomer.customer_id == Customer.id,
            OrganizationCustomer.organization_id == organization_id,
        )
    )
    return or_(has_ticket, linked)


def _ticket_organizations(actor: Actor) -> Select[int]:
    return select(Ticket.organization_id).where(Ticket.customer_id == actor.id)


def related_members(actor: Actor) -> Select[TeamMember]:
    """Team members as they appear on tickets the actor may read (assignee, reply author):
    staff meet their organization's; customers the members of the organizations they have
    tickets with. For the compiled read path, which follows relations in SQL."""
    if actor.is_customer:
        return select(TeamMember).where(
            TeamMember.organization_id.in_(_ticket_organizations(actor))
        )
    return readable_members(actor)


def related_teams(actor: Actor) -> Select[Team]:
    """Teams as they appear on tickets the actor may read (a ticket's or a member's team)."""
    if actor.is_customer:
        return select(Team).where(Team.organization_id.in_(_ticket_organizations(actor)))
    return readable_teams(actor)
