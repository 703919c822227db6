"""Organizations: the support tenants that customers open tickets with."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, BigIntPK, utcnow


class Organization(Base):
    __tablename__ = "organizations"
    __table_args__ = (
        CheckConstraint("next_ticket_number >= 1", name="next_ticket_number_positive"),
        CheckConstraint("length(name) > 0", name="name_not_empty"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(100), unique=True)
    # The per-organization ticket number sequence (#1042). Incremented with
    # UPDATE ... RETURNING, whose row lock serializes concurrent creates on both engines.
    next_ticket_number: Mapped[int] = mapped_column(default=1, server_default="1")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
