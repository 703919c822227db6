"""Domain enums stored as strings. Their values are the database values."""

from __future__ import annotations

import enum


class Status(enum.StrEnum):
    OPEN = "open"
    IN_PROGRESS = "in_progress"
    WAITING_ON_CUSTOMER = "waiting_on_customer"
    RESOLVED = "resolved"
    CLOSED = "closed"


class Priority(enum.StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    URGENT = "urgent"


class TeamRole(enum.StrEnum):
    AGENT = "agent"
    ADMIN = "admin"


class ActorType(enum.StrEnum):
    CUSTOMER = "customer"
    TEAM_MEMBER = "team_member"
    SYSTEM = "system"
    # A routing rule changed the ticket (actor_id is the rule's id).
    ROUTING_RULE = "routing_rule"


class OrganizationVisibility(enum.StrEnum):
    PUBLIC = "public"
    INVITE_ONLY = "invite_only"


class AuthorType(enum.StrEnum):
    CUSTOMER = "customer"
    TEAM_MEMBER = "team_member"


class HistoryAction(enum.StrEnum):
    CREATED = "created"
    FIELD_CHANGED = "field_changed"
    RESPONSE_ADDED = "response_added"
    NOTE_ADDED = "note_added"
    ASSIGNED = "assigned"
    ATTACHMENT_ADDED = "attachment_added"


class HistoryField(enum.StrEnum):
    """The ticket fields history records changes of (`ticket_history.field_name`).

    Entries about a reply or note name `response` instead: a reference, not a ticket field.
    """

    TITLE = "title"
    DESCRIPTION = "description"
    STATUS = "status"
    PRIORITY = "priority"
    ASSIGNEE = "assignee"
    TEAM = "team"
    TAGS = "tags"
    METADATA = "metadata"
