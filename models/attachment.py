"""Files attached to tickets, public replies and internal notes.

A row is made when a client asks to upload (pending), gets its storage key once the bytes
arrived and were verified (uploaded), and is attached to a ticket or a response by the
mutation that names it. Unattached rows expire and are deleted with their objects.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, ForeignKey, ForeignKeyConstraint, Index, String, false
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, BigIntPK, str_enum, utcnow
from models.enums import AuthorType


class Attachment(Base):
    __tablename__ = "attachments"
    __table_args__ = (
        # A file's ticket is always in the file's organization.
        ForeignKeyConstraint(
            ["ticket_id", "organization_id"],
            ["tickets.id", "tickets.organization_id"],
            ondelete="CASCADE",
        ),
        CheckConstraint("byte_size >= 0", name="byte_size_not_negative"),
        CheckConstraint("length(filename) > 0", name="filename_not_empty"),
        # Attached files are bound to a ticket; a response's files to the response's ticket.
        CheckConstraint(
            "attached_at IS NULL OR ticket_id IS NOT NULL", name="attached_to_a_ticket"
        ),
        CheckConstraint(
            "attached_at IS NULL OR storage_key IS NOT NULL", name="attached_when_stored"
        ),
        # Customers cannot write internal notes, so they never own an internal file.
        CheckConstraint(
            "uploader_type = 'team_member' OR is_internal = false", name="customer_not_internal"
        ),
        Index("ix_attachments_ticket", "ticket_id", "created_at", "id"),
        Index("ix_attachments_response", "response_id"),
        # The cleanup task's scan: unattached uploads by expiry.
        Index("ix_attachments_unattached_expiry", "attached_at", "expires_at"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    # Set at upload when the client named a ticket, or when a new ticket is created with it.
    ticket_id: Mapped[int | None]
    # Null for the ticket's own files (createTicket); set for a reply's or a note's.
    response_id: Mapped[int | None] = mapped_column(
        ForeignKey("ticket_responses.id", ondelete="CASCADE")
    )
    uploader_type: Mapped[AuthorType] = mapped_column(str_enum(AuthorType, "uploader_type"))
    uploader_id: Mapped[int]
    filename: Mapped[str] = mapped_column(String(255))
    # Declared at creation; replaced by the type sniffed from the bytes once uploaded.
    content_type: Mapped[str] = mapped_column(String(127))
    byte_size: Mapped[int]
    checksum_sha256: Mapped[str] = mapped_column(String(64))
    # Where the verified bytes are; null until then.
    storage_key: Mapped[str | None] = mapped_column(String(255))
    # Copied from the response it is attached to (which never changes visibility).
    is_internal: Mapped[bool] = mapped_column(default=False, server_default=false())
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    uploaded_at: Mapped[dt.datetime | None]
    attached_at: Mapped[dt.datetime | None]
    # Unattached uploads are deleted after this.
    expires_at: Mapped[dt.datetime]
