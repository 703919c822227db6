"""Customers: people who open tickets. A customer belongs to no organization and may
open tickets with any of them."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, BigIntPK, utcnow


class Customer(Base):
    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    # The authentication subject (JWT `sub`); null for a customer staff created or invited
    # who has not signed in yet (the first token with their verified email claims the row).
    user_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    company: Mapped[str | None] = mapped_column(String(200))
    avatar_url: Mapped[str | None] = mapped_column(String(2048))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class OrganizationCustomer(Base):
    """A customer an organization knows without a ticket: created by its staff (to open
    tickets on their behalf) or invited (then they may open tickets with an INVITE_ONLY
    organization)."""

    __tablename__ = "organization_customers"

    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True
    )
    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    # Set by inviteCustomer: the customer may open tickets even when the organization is
    # INVITE_ONLY.
    invited_at: Mapped[dt.datetime | None]
    created_by_member_id: Mapped[int | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
