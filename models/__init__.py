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
from models.knowledge_base import (
    Article,
    ArticleLink,
    ArticleState,
    ArticleVisibility,
    KnowledgeBaseAction,
    KnowledgeBaseCategory,
    KnowledgeBaseChange,
    SuggestionOpen,
)
from models.organization import Organization
from models.routing import RoutingRule
from models.team import Team, TeamMember
from models.ticket import Ticket, TicketHistory, TicketResponse

__all__ = [
    "ActorType",
    "Article",
    "ArticleLink",
    "ArticleState",
    "ArticleVisibility",
    "Attachment",
    "AuditEntry",
    "Base",
    "Customer",
    "HistoryAction",
    "KnowledgeBaseAction",
    "KnowledgeBaseCategory",
    "KnowledgeBaseChange",
    "Organization",
    "OrganizationCustomer",
    "OrganizationVisibility",
    "Priority",
    "RoutingRule",
    "Status",
    "SuggestionOpen",
    "Team",
    "TeamMember",
    "TeamRole",
    "Ticket",
    "TicketHistory",
    "TicketResponse",
]
