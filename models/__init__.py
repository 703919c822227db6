"""SQLAlchemy models: the tables of the helpdesk, and the engine/session factory.

This package imports nothing from the rest of the project.
"""

from models.attachment import Attachment
from models.audit import AuditEntry
from models.base import Base
from models.customer import Customer, OrganizationCustomer
from models.enums import (
    ActorType,
    HistoryAction,
    OrganizationVisibility,
    Priority,
    Status,
    TeamRole,
)
from models.organization import Organization
from models.routing import RoutingRule
from models.team import Team, TeamMember
from models.ticket import Ticket, TicketHistory, TicketResponse

__all__ = [
    "ActorType",
    "Attachment",
    "AuditEntry",
    "Base",
    "Customer",
    "HistoryAction",
    "Organization",
    "OrganizationCustomer",
    "OrganizationVisibility",
    "Priority",
    "RoutingRule",
    "Status",
    "Team",
    "TeamMember",
    "TeamRole",
    "Ticket",
    "TicketHistory",
    "TicketResponse",
]
