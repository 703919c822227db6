"""The Actor: who is making a request, resolved once per request or WebSocket connection."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from models.enums import ActorType, TeamRole


class ActorKind(enum.StrEnum):
    ANONYMOUS = "anonymous"
    CUSTOMER = "customer"
    AGENT = "agent"
    ADMIN = "admin"


@dataclass(frozen=True, slots=True)
class Actor:
    """An authenticated customer or team member, or the anonymous caller.

    `id` is the row id in customers or team_members; `organization_id` is set for staff only.
    """

    kind: ActorKind
    id: int | None = None
    user_id: str | None = None
    organization_id: int | None = None
    team_id: int | None = None

    @classmethod
    def anonymous(cls) -> Actor:
        """The caller without a token."""
        return cls(kind=ActorKind.ANONYMOUS)

    @classmethod
    def customer(cls, id: int, user_id: str | None) -> Actor:
        """A customer, who sees only their own tickets."""
        return cls(kind=ActorKind.CUSTOMER, id=id, user_id=user_id)

    @classmethod
    def team_member(
        cls,
        id: int,
        user_id: str | None,
        organization_id: int,
        role: TeamRole,
        team_id: int | None = None,
    ) -> Actor:
        """An agent or admin of one organization."""
        kind = ActorKind.ADMIN if role is TeamRole.ADMIN else ActorKind.AGENT
        return cls(
            kind=kind, id=id, user_id=user_id, organization_id=organization_id, team_id=team_id
        )

    @property
    def is_authenticated(self) -> bool:
        return self.kind is not ActorKind.ANONYMOUS

    @property
    def is_customer(self) -> bool:
        return self.kind is ActorKind.CUSTOMER

    @property
    def is_staff(self) -> bool:
        """Agents and admins: may read internal notes, metadata and staff-only history."""
        return self.kind in (ActorKind.AGENT, ActorKind.ADMIN)

    @property
    def is_admin(self) -> bool:
        return self.kind is ActorKind.ADMIN

    @property
    def actor_type(self) -> ActorType:
        """How this actor is recorded in history and as a response author."""
        if self.is_customer:
            return ActorType.CUSTOMER
        if self.is_staff:
            return ActorType.TEAM_MEMBER
        raise ValueError("an anonymous caller cannot act")
