"""Who may see and attach files.

A file is visible exactly when what it is attached to is: the ticket's own files with the
ticket, a reply's files with the reply, an internal note's files to staff only. Until it is
attached, only its uploader knows it exists.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, Select, and_, false, select

from models import Attachment, Ticket
from models.enums import AuthorType
from permissions.actor import Actor
from permissions.ticket import can_read_internal, ticket_visibility


def attachment_visibility(actor: Actor) -> ColumnElement[bool]:
    """The WHERE clause of the attached files the actor may read (and download)."""
    attached = Attachment.attached_at.is_not(None)
    if actor.is_staff:
        return and_(attached, Attachment.organization_id == actor.organization_id)
    if actor.is_customer:
        own_tickets = select(Ticket.id).where(ticket_visibility(actor)).scalar_subquery()
        conditions = [attached, Attachment.ticket_id.in_(own_tickets)]
        if not can_read_internal(actor):
            conditions.append(Attachment.is_internal.is_(False))
        return and_(*conditions)
    return false()


def readable_attachments(actor: Actor) -> Select[Attachment]:
    """SELECT of the attached files the actor may read."""
    return select(Attachment).where(attachment_visibility(actor))


def uploader_type(actor: Actor) -> AuthorType:
    """How the actor is recorded as a file's uploader."""
    return AuthorType.CUSTOMER if actor.is_customer else AuthorType.TEAM_MEMBER


def own_uploads(actor: Actor) -> ColumnElement[bool]:
    """The files this actor uploaded (attached or not); only these may they attach."""
    if not actor.is_authenticated or actor.id is None:
        return false()
    return and_(
        Attachment.uploader_type == uploader_type(actor), Attachment.uploader_id == actor.id
    )


def may_upload_to_organization(actor: Actor, organization_id: int) -> bool:
    """Customers may upload for a new ticket with any organization; staff only with theirs."""
    if actor.is_customer:
        return True
    return actor.is_staff and actor.organization_id == organization_id
