"""Row-level policies for organizations, teams, team members and customers."""

from __future__ import annotations

from sqlalchemy import Select, exists, false, select, true

from models import Customer, Organization, Team, TeamMember, Ticket
from permissions.actor import Actor


def readable_organizations(actor: Actor) -> Select[Organization]:
    """Customers see every organization (they choose where to open a ticket); staff their own."""
    statement = select(Organization)
    if actor.is_customer:
        return statement.where(true())
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
    organization (customers belong to no organization, so this is what ties them to one)."""
    statement = select(Customer)
    if actor.is_customer:
        return statement.where(Customer.id == actor.id)
    if actor.is_staff:
        has_ticket = exists(
            select(1).where(
                Ticket.customer_id == Customer.id, Ticket.organization_id == actor.organization_id
            )
        )
        return statement.where(has_ticket)
    return statement.where(false())


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
