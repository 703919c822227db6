"""Attachment use cases: ask to upload, attach to a ticket or a response, read, clean up.

The bytes never pass through GraphQL: `create_upload` makes a pending row and the caller hands
out a signed upload URL (see resolvers.attachment_transfer for the upload and the download).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from models import Attachment, HistoryAction, Organization, Ticket, TicketResponse
from models.base import utcnow
from permissions import Actor
from permissions.attachment import (
    attachment_visibility,
    may_upload_to_organization,
    own_uploads,
    uploader_type,
)
from permissions.ticket import readable_tickets
from resolvers.attachment_policy import (
    AttachmentPolicy,
    clean_checksum,
    clean_content_type,
    clean_filename,
    clean_size,
)
from resolvers.errors import (
    UnauthenticatedError,
    UserErrorCode,
    UserErrorData,
    UserInputError,
    user_error,
)
from resolvers.history import Entry
from resolvers.storage import ObjectStorage
from resolvers.validation import Problems

logger = logging.getLogger("helpdesk.attachments")

ATTACHMENT_FIELD = "attachment"


@dataclass(frozen=True)
class CreateUploadInput:
    filename: str
    content_type: str
    byte_size: int
    checksum_sha256: str
    # Exactly one: the ticket to reply on, or the organization of a ticket still to create.
    ticket_id: int | None = None
    organization_id: int | None = None


async def create_upload(
    session: AsyncSession, actor: Actor, policy: AttachmentPolicy, data: CreateUploadInput
) -> Attachment:
    """A pending attachment of the actor's, for a ticket they may read (to reply with) or for
    an organization (to open a ticket with). It holds no bytes until the upload URL is used."""
    if not actor.is_authenticated or actor.id is None:
        raise UnauthenticatedError("authentication required")
    problems = Problems()
    filename = clean_filename(problems, data.filename)
    content_type = clean_content_type(problems, policy, data.content_type)
    byte_size = clean_size(problems, policy, data.byte_size)
    checksum = clean_checksum(problems, data.checksum_sha256)
    ticket_id: int | None = None
    organization_id: int | None = None
    if data.ticket_id is None and data.organization_id is None:
        problems.add(
            "ticketId",
            "give ticketId (to reply with the file) or organizationId (to open a ticket with it)",
            UserErrorCode.REQUIRED,
        )
    if data.ticket_id is not None:
        ticket = await session.scalar(readable_tickets(actor).where(Ticket.id == data.ticket_id))
        if ticket is None:
            problems.add("ticketId", "ticket not found", UserErrorCode.NOT_FOUND)
        else:
            ticket_id, organization_id = ticket.id, ticket.organization_id
    if data.organization_id is not None:
        found = await session.scalar(
            select(Organization.id).where(Organization.id == data.organization_id)
        )
        if found is None or not may_upload_to_organization(actor, data.organization_id):
            problems.add("organizationId", "organization not found", UserErrorCode.NOT_FOUND)
        elif data.ticket_id is not None:
            problems.add(
                "organizationId",
                "give ticketId or organizationId, not both",
                UserErrorCode.INVALID,
            )
        else:
            organization_id = found
    if problems.errors:
        raise UserInputError(problems.errors)
    assert organization_id is not None
    now = utcnow()
    attachment = Attachment(
        organization_id=organization_id,
        ticket_id=ticket_id,
        uploader_type=uploader_type(actor),
        uploader_id=actor.id,
        filename=filename,
        content_type=content_type,
        byte_size=byte_size,
        checksum_sha256=checksum,
        created_at=now,
        expires_at=now + dt.timedelta(seconds=policy.unattached_seconds),
    )
    session.add(attachment)
    await session.flush()
    return attachment


@dataclass(frozen=True)
class AttachRequest:
    """Files named by a write, and how many one response (or a new ticket) may carry."""

    ids: Sequence[int]
    max_count: int = 10


async def files_to_attach(
    session: AsyncSession,
    actor: Actor,
    organization_id: int,
    ticket_id: int | None,
    request: AttachRequest,
    *,
    field: str = "attachmentIds",
) -> list[Attachment]:
    """The files a write names, locked, in request order: the actor's own uploaded, unattached
    files for this organization and ticket (None: a ticket still to be created).

    Files of someone else, of another ticket or organization, not uploaded yet, expired or
    already attached are refused. It writes nothing, so a caller checks before its first write.
    """
    ids = list(dict.fromkeys(request.ids))
    if not ids:
        return []
    if len(ids) > request.max_count:
        raise user_error(
            field, f"at most {request.max_count} files per message", UserErrorCode.TOO_MANY
        )
    found = {
        a.id: a
        for a in await session.scalars(
            select(Attachment)
            .where(Attachment.id.in_(ids), own_uploads(actor))
            .order_by(Attachment.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    }
    now = utcnow()
    errors: list[UserErrorData] = []
    for attachment_id in ids:
        a = found.get(attachment_id)
        problem: tuple[str, UserErrorCode] | None = None
        if (
            a is None
            or a.organization_id != organization_id
            or a.ticket_id not in (None, ticket_id)
            or (a.attached_at is None and a.expires_at <= now)
        ):
            problem = ("attachment not found", UserErrorCode.NOT_FOUND)
        elif a.attached_at is not None:
            problem = (f"{a.filename!r} is already attached elsewhere", UserErrorCode.CONFLICT)
        elif a.storage_key is None:
            problem = (f"{a.filename!r} has not been uploaded yet", UserErrorCode.INVALID)
        if problem:
            errors.append(UserErrorData(field, problem[0], problem[1]))
    if errors:
        raise UserInputError(errors)
    return [found[attachment_id] for attachment_id in ids]


async def attach(
    session: AsyncSession,
    ticket: Ticket,
    response: TicketResponse | None,
    files: Sequence[Attachment],
) -> list[Entry]:
    """Attach files checked by `files_to_attach` to a response (or, with None, to the ticket
    itself); one `attachment_added` history entry each, internal for a note's files."""
    internal = response.is_internal if response is not None else False
    now = utcnow()
    entries = []
    for a in files:
        a.ticket_id = ticket.id
        a.response_id = response.id if response is not None else None
        a.is_internal = internal
        a.attached_at = now
        entries.append(
            Entry(HistoryAction.ATTACHMENT_ADDED, ATTACHMENT_FIELD, None, a.id, internal=internal)
        )
    await session.flush()
    return entries


# --- reads -------------------------------------------------------------------------------


async def _grouped_by(
    session: AsyncSession, actor: Actor, column: Any, ids: Sequence[int]
) -> dict[int, list[Attachment]]:
    """Visible files whose `column` is one of `ids`, grouped by it, oldest first."""
    grouped: dict[int, list[Attachment]] = {i: [] for i in ids}
    rows = await session.execute(
        select(column, Attachment)
        .where(column.in_(ids), attachment_visibility(actor))
        .order_by(Attachment.attached_at, Attachment.id)
    )
    for key, row in rows:
        grouped[key].append(row)
    return grouped


async def attachments_for_responses(
    session: AsyncSession, actor: Actor, response_ids: Sequence[int]
) -> dict[int, list[Attachment]]:
    """Files of already-authorized responses, oldest first (still filtered by visibility)."""
    return await _grouped_by(session, actor, Attachment.response_id, response_ids)


async def attachments_for_tickets(
    session: AsyncSession, actor: Actor, ticket_ids: Sequence[int]
) -> dict[int, list[Attachment]]:
    """All files of already-authorized tickets the actor may see: the ticket's own and those
    of its visible responses (a customer never gets an internal note's), oldest first."""
    return await _grouped_by(session, actor, Attachment.ticket_id, ticket_ids)


async def attachments_by_id(
    session: AsyncSession, actor: Actor, ids: Sequence[int]
) -> list[Attachment | None]:
    """Files by id for `node(id)`: attached, and visible to the actor; None otherwise."""
    rows = await session.scalars(
        select(Attachment).where(Attachment.id.in_(ids), attachment_visibility(actor))
    )
    found = {row.id: row for row in rows}
    return [found.get(i) for i in ids]


# --- cleanup -----------------------------------------------------------------------------


def object_prefix(attachment: Attachment) -> str:
    """Every object of one attachment lives under this prefix (one per upload attempt)."""
    return f"{attachment.organization_id}/{attachment.id}"


async def delete_expired_uploads(
    session: AsyncSession,
    storage: ObjectStorage,
    *,
    now: dt.datetime | None = None,
    limit: int = 500,
) -> int:
    """Delete unattached uploads past their expiry, objects first (a failure leaves the row,
    so the next run retries). Returns how many were deleted; the caller commits."""
    now = now or utcnow()
    expired = list(
        await session.scalars(
            select(Attachment)
            .where(Attachment.attached_at.is_(None), Attachment.expires_at <= now)
            .order_by(Attachment.expires_at)
            .limit(limit)
        )
    )
    for attachment in expired:
        await storage.delete_prefix(object_prefix(attachment))
    if expired:
        await session.execute(
            delete(Attachment).where(
                Attachment.id.in_([a.id for a in expired]), Attachment.attached_at.is_(None)
            )
        )
    return len(expired)
