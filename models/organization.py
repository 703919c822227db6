"""Organizations: the support tenants that customers open tickets with."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, BigIntPK, str_enum, utcnow
from models.enums import OrganizationVisibility


class Organization(Base):
    __tablename__ = "organizations"
    __table_args__ = (
        CheckConstraint("next_ticket_number >= 1", name="next_ticket_number_positive"),
        CheckConstraint("length(name) > 0", name="name_not_empty"),
    )

    __mapper_args__ = {"eager_defaults": True}

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(100), unique=True)
    # The per-organization ticket number sequence (#1042). Incremented with
    # UPDATE ... RETURNING, whose row lock serializes concurrent creates on both engines.
    next_ticket_number: Mapped[int] = mapped_column(default=1, server_default="1")
    # PUBLIC: any customer may open tickets; INVITE_ONLY: only customers the organization
    # invited or who already have tickets there.
    # A server default only (read back on insert: eager_defaults), so that inserts written for
    # older revisions of this table still work in the migration tests.
    visibility: Mapped[OrganizationVisibility] = mapped_column(
        str_enum(OrganizationVisibility, "organization_visibility"),
        server_default=OrganizationVisibility.PUBLIC.value,
    )
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
