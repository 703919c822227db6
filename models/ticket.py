"""Tickets, their responses (public replies and internal notes) and their history."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, BigIntPK, JSONType, str_enum, utcnow
from models.customer import Customer
from models.enums import ActorType, AuthorType, HistoryAction, Priority, Status
from models.organization import Organization
from models.team import Team, TeamMember


class Ticket(Base):
    __tablename__ = "tickets"
    __table_args__ = (
        UniqueConstraint("organization_id", "number"),
        UniqueConstraint("id", "organization_id"),
        # A retried create with the same key returns the first ticket instead of a duplicate.
        # Keys belong to whoever sent them (see idempotency_scope), so that a key can only ever
        # collide with a ticket its sender may read.
        UniqueConstraint("idempotency_scope", "idempotency_key"),
        # A ticket's team and assignee always belong to the ticket's organization.
        ForeignKeyConstraint(["team_id", "organization_id"], ["teams.id", "teams.organization_id"]),
        ForeignKeyConstraint(
            ["assignee_id", "organization_id"],
            ["team_members.id", "team_members.organization_id"],
        ),
        CheckConstraint("number >= 1", name="number_positive"),
        CheckConstraint("version >= 1", name="version_positive"),
        CheckConstraint("length(title) > 0", name="title_not_empty"),
        # The agent queue: an organization's tickets by status, most recently updated first.
        Index("ix_tickets_queue", "organization_id", "status", "updated_at"),
        Index("ix_tickets_org_updated", "organization_id", "updated_at"),
        # "My tickets": a customer's tickets, most recently updated first.
        Index("ix_tickets_customer_updated", "customer_id", "updated_at"),
        Index("ix_tickets_assignee", "assignee_id"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    number: Mapped[int]
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[Status] = mapped_column(str_enum(Status, "ticket_status"), default=Status.OPEN)
    priority: Mapped[Priority] = mapped_column(
        str_enum(Priority, "ticket_priority"), default=Priority.MEDIUM
    )
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    assignee_id: Mapped[int | None]
    team_id: Mapped[int | None]
    tags: Mapped[list[str]] = mapped_column(JSONType, default=list)
    # Staff-only key/value data (integrations, internal classification). Never shown to customers.
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSONType, default=dict)
    version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    first_responded_at: Mapped[dt.datetime | None]
    resolved_at: Mapped[dt.datetime | None]
    closed_at: Mapped[dt.datetime | None]
    idempotency_key: Mapped[str | None] = mapped_column(String(100))
    # Whose key it is: "customer:<id>" (a customer's own tickets, in any organization) or
    # "staff:<organization id>:<member id>" (staff, within the organization they work in).
    idempotency_scope: Mapped[str | None] = mapped_column(String(64))
    # SHA-256 of the create request the key was first used with; another request with the same
    # key is refused (IDEMPOTENCY_KEY_REUSED). NULL for tickets created before it was kept.
    idempotency_fingerprint: Mapped[str | None] = mapped_column(String(64))

    organization: Mapped[Organization] = relationship(lazy="raise")
    customer: Mapped[Customer] = relationship(lazy="raise")
    assignee: Mapped[TeamMember | None] = relationship(
        lazy="raise",
        foreign_keys="Ticket.assignee_id",
        primaryjoin="Ticket.assignee_id == TeamMember.id",
        viewonly=True,
    )
    team: Mapped[Team | None] = relationship(
        lazy="raise",
        foreign_keys="Ticket.team_id",
        primaryjoin="Ticket.team_id == Team.id",
        viewonly=True,
    )


class TicketResponse(Base):
    """A message on a ticket: a public reply, or an internal note only staff can read."""

    __tablename__ = "ticket_responses"
    __table_args__ = (
        # Customers cannot write internal notes.
        CheckConstraint(
            "author_type = 'team_member' OR is_internal = false", name="customer_not_internal"
        ),
        CheckConstraint("length(body) > 0", name="body_not_empty"),
        Index("ix_ticket_responses_ticket_created", "ticket_id", "created_at", "id"),
        # A retried reply with the same key returns the first one. Scoped to the author, so
        # another customer's or organization's identical key never collides.
        UniqueConstraint("author_type", "author_id", "idempotency_key"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    author_type: Mapped[AuthorType] = mapped_column(str_enum(AuthorType, "author_type"))
    author_id: Mapped[int]
    body: Mapped[str] = mapped_column(Text)
    is_internal: Mapped[bool] = mapped_column(default=False, server_default=false())
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    edited_at: Mapped[dt.datetime | None]
    idempotency_key: Mapped[str | None] = mapped_column(String(100))


class TicketHistory(Base):
    """One change to one field of a ticket. Its id is monotonic and doubles as the event cursor."""

    __tablename__ = "ticket_history"
    __table_args__ = (
        ForeignKeyConstraint(
            ["ticket_id", "organization_id"],
            ["tickets.id", "tickets.organization_id"],
            ondelete="CASCADE",
        ),
        Index("ix_ticket_history_ticket_id", "ticket_id", "id"),
        # The event log is read in (tx, id) order: everything, and per organization.
        Index("ix_ticket_history_tx_id", "tx", "id"),
        Index("ix_ticket_history_org_tx_id", "organization_id", "tx", "id"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    # The writing transaction's id on PostgreSQL (pg_current_xact_id(), the column default set
    # by migration 0009); 0 on SQLite, whose writers take turns. Events are delivered in
    # (tx, id) order, and only below the oldest transaction still running (resolvers/events.py),
    # so writers need no lock to keep resume gapless.
    tx: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    ticket_id: Mapped[int]
    organization_id: Mapped[int]
    actor_type: Mapped[ActorType] = mapped_column(str_enum(ActorType, "actor_type"))
    actor_id: Mapped[int | None]
    action: Mapped[HistoryAction] = mapped_column(str_enum(HistoryAction, "history_action"))
    field_name: Mapped[str | None] = mapped_column(String(64))
    old_value: Mapped[str | None] = mapped_column(Text)
    new_value: Mapped[str | None] = mapped_column(Text)
    # Entries about internal notes or staff-only fields; customers never see them.
    is_internal: Mapped[bool] = mapped_column(default=False, server_default=false())
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
