"""Strawberry permission classes for operations and staff-only fields.

Each one calls a plain policy function, so subscriptions and DataLoaders apply the same rule.
A class that no anonymous caller can pass says so with `requires_authentication = True`: a
root field carrying one is not public, and anonymous HTTP requests for it get 401
(server/anonymous.py). Root fields without such a class are public.
"""

from __future__ import annotations

from typing import Any, ClassVar

from strawberry.permission import BasePermission
from strawberry.types import Info

from permissions.actor import Actor
from permissions.ticket import can_read_internal


def _actor(info: Info[Any, Any]) -> Actor:
    actor = info.context.actor
    assert isinstance(actor, Actor)
    return actor


class IsAuthenticated(BasePermission):
    """The caller presented a valid token."""

    message = "authentication required: send Authorization: Bearer <token>"
    error_extensions = {"code": "UNAUTHENTICATED"}
    requires_authentication: ClassVar[bool] = True

    def has_permission(self, source: Any, info: Info[Any, Any], **kwargs: Any) -> bool:
        return _actor(info).is_authenticated


class IsStaff(BasePermission):
    """Staff-only data: internal notes, ticket metadata, staff-only history."""

    message = "only team members may read this field"
    error_extensions = {"code": "FORBIDDEN"}
    requires_authentication: ClassVar[bool] = True

    def has_permission(self, source: Any, info: Info[Any, Any], **kwargs: Any) -> bool:
        return can_read_internal(_actor(info))


class IsAdmin(BasePermission):
    message = "only organization admins may do this"
    error_extensions = {"code": "FORBIDDEN"}
    requires_authentication: ClassVar[bool] = True

    def has_permission(self, source: Any, info: Info[Any, Any], **kwargs: Any) -> bool:
        return _actor(info).is_admin


class CanSeeCustomerContact(BasePermission):
    """A customer's email: the customer themself and staff, never other customers."""

    message = "only the customer and team members may read this field"
    error_extensions = {"code": "FORBIDDEN"}
    requires_authentication: ClassVar[bool] = True

    def has_permission(self, source: Any, info: Info[Any, Any], **kwargs: Any) -> bool:
        actor = _actor(info)
        return actor.is_staff or (actor.is_customer and getattr(source, "id", None) == actor.id)


class CanSeeMemberContact(BasePermission):
    """A team member's email: staff of the same organization only."""

    message = "only team members of the organization may read this field"
    error_extensions = {"code": "FORBIDDEN"}
    requires_authentication: ClassVar[bool] = True

    def has_permission(self, source: Any, info: Info[Any, Any], **kwargs: Any) -> bool:
        actor = _actor(info)
        return actor.is_staff and getattr(source, "organization_id", None) == actor.organization_id


class CanReadArticleHistory(BasePermission):
    """An article's revisions: staff of the article's organization only."""

    message = "only team members of the article's organization may read its history"
    error_extensions = {"code": "FORBIDDEN"}
    requires_authentication: ClassVar[bool] = True

    def has_permission(self, source: Any, info: Info[Any, Any], **kwargs: Any) -> bool:
        from permissions.knowledge_base import may_read_article_history

        return may_read_article_history(_actor(info), source)
