"""Routing rules: per-organization rules applied, in order, to every new ticket."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, ForeignKeyConstraint, Index, String, true
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, BigIntPK, JSONType, utcnow


class RoutingRule(Base):
    """Conditions (all given ones must match) and actions. A deleted rule keeps its row
    (`deleted_at`), so history entries it wrote still name it."""

    __tablename__ = "routing_rules"
    __table_args__ = (
        # The team a rule routes to is in the rule's organization.
        ForeignKeyConstraint(
            ["set_team_id", "organization_id"], ["teams.id", "teams.organization_id"]
        ),
        CheckConstraint("length(name) > 0", name="name_not_empty"),
        Index("ix_routing_rules_org_position", "organization_id", "position"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    # Evaluated in ascending position; reorderRoutingRules rewrites them.
    position: Mapped[int]
    is_enabled: Mapped[bool] = mapped_column(default=True, server_default=true())
    # Conditions: {"priorities": [...], "tags": [...], "titleWords": [...], "companies": [...]};
    # an empty or missing list matches every ticket.
    conditions: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    set_team_id: Mapped[int | None]
    set_priority: Mapped[str | None] = mapped_column(String(32))
    add_tags: Mapped[list[str]] = mapped_column(JSONType, default=list)
    assign_round_robin: Mapped[bool] = mapped_column(default=False)
    # Stop evaluating later rules once this one matched.
    stop_processing: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    deleted_at: Mapped[dt.datetime | None]
