"""GraphQL enums, backed by the model enums so values pass through unchanged."""

from __future__ import annotations

import strawberry

from models import enums

strawberry.enum(enums.Status, name="TicketStatus", description="Where a ticket stands.")
strawberry.enum(enums.Priority, name="TicketPriority", description="How urgent a ticket is.")
strawberry.enum(enums.TeamRole, name="TeamRole", description="A team member's role.")
strawberry.enum(
    enums.HistoryAction, name="HistoryAction", description="What a history entry records."
)

# strawberry.enum registers the model enums in place; these names are the GraphQL spellings.
TicketStatus = enums.Status
TicketPriority = enums.Priority
TeamRole = enums.TeamRole
HistoryAction = enums.HistoryAction

strawberry.enum(
    enums.OrganizationVisibility,
    name="OrganizationVisibility",
    description=(
        "Who may open tickets with an organization: PUBLIC (any customer) or INVITE_ONLY "
        "(customers it invited, or who already have tickets there)."
    ),
)
OrganizationVisibility = enums.OrganizationVisibility
