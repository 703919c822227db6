"""Teams (departments) and team members (agents and admins) of an organization."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, ForeignKeyConstraint, String, UniqueConstraint, true
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, BigIntPK, str_enum, utcnow
from models.enums import TeamRole


class Team(Base):
    __tablename__ = "teams"
    __table_args__ = (
        UniqueConstraint("organization_id", "name"),
        # Target of the composite foreign keys that keep a member's or ticket's team
        # inside the same organization.
        UniqueConstraint("id", "organization_id"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str | None] = mapped_column(String(1000))
    # An archived team keeps its tickets and their history, but takes no new tickets.
    archived_at: Mapped[dt.datetime | None]
    # Round-robin position: the member who got the team's last routed ticket. Updated under
    # the team row's lock (SELECT ... FOR UPDATE), so concurrent creates take turns.
    last_assigned_member_id: Mapped[int | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class TeamMember(Base):
    __tablename__ = "team_members"
    __table_args__ = (
        ForeignKeyConstraint(["team_id", "organization_id"], ["teams.id", "teams.organization_id"]),
        UniqueConstraint("id", "organization_id"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    # The authentication subject (JWT `sub`); null while an invited member has not signed in
    # (the first token with this member's verified email claims the row).
    user_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    # Stored normalized (trimmed, lower-case: resolvers/admin.py `email`). Unique across all
    # organizations: one person is a team member of one organization, and the index settles
    # two concurrent invites of the same address (the loser is TAKEN).
    email: Mapped[str] = mapped_column(String(320), index=True, unique=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[TeamRole] = mapped_column(str_enum(TeamRole, "team_role"), default=TeamRole.AGENT)
    team_id: Mapped[int | None] = mapped_column(index=True)
    avatar_url: Mapped[str | None] = mapped_column(String(2048))
    is_active: Mapped[bool] = mapped_column(default=True, server_default=true())
    invited_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    @property
    def is_pending(self) -> bool:
        """Invited, and not signed in yet."""
        return self.user_id is None
