"""Moving attachment bytes: the signed upload (streamed, verified, all or nothing) and the
signed download (re-checked against the viewer's current access).

Neither holds a database connection while bytes flow: the row is read, the connection
returned, the bytes moved, and the result recorded in a second short transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models import Attachment, Customer, TeamMember
from models.base import utcnow
from models.engine import set_row_security
from permissions import Actor
from permissions.attachment import attachment_visibility
from resolvers.attachment import object_prefix
from resolvers.attachment_policy import AttachmentPolicy
from resolvers.signing import Purpose, Signer, TokenError, TokenExpiredError, viewer_of
from resolvers.sniff import SNIFF_BYTES, effective_type, sniff
from resolvers.storage import ObjectStorage

logger = logging.getLogger("helpdesk.attachments")


class TransferError(Exception):
    """An upload or download refused for a reason the client is told (HTTP status, code)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


NOT_FOUND = TransferError(404, "NOT_FOUND", "attachment not found")


@dataclass(frozen=True)
class AttachmentFiles:
    """What the upload and download routes, and the `url` fields, need."""

    storage: ObjectStorage
    signer: Signer
    policy: AttachmentPolicy


def held(lock: asyncio.Lock | None) -> contextlib.AbstractAsyncContextManager[object]:
    """The app's SQLite write gate, if there is one (see schema.context.Scope.write_gate)."""
    return lock if lock is not None else contextlib.nullcontext()


def uploader_viewer(attachment: Attachment) -> str:
    return viewer_of(attachment.uploader_type.value, attachment.uploader_id)


def _grant(signer: Signer, purpose: Purpose, token: str) -> tuple[int, str]:
    try:
        grant = signer.verify(purpose, token)
    except TokenExpiredError as exc:
        raise TransferError(403, "EXPIRED", str(exc)) from None
    except TokenError:
        raise NOT_FOUND from None
    return grant.attachment_id, grant.viewer


async def _system_session(sessionmaker: async_sessionmaker[AsyncSession]) -> AsyncSession:
    session = sessionmaker()
    set_row_security(session, "system")
    return session


async def actor_for_viewer(session: AsyncSession, viewer: str) -> Actor | None:
    """The viewer of a token as they are now: None if deleted or deactivated."""
    kind, row_id = viewer[0], int(viewer[1:])
    if kind == "c":
        customer = await session.get(Customer, row_id)
        return None if customer is None else Actor.customer(customer.id, customer.user_id)
    member = await session.get(TeamMember, row_id)
    if member is None or not member.is_active:
        return None
    return Actor.team_member(
        member.id, member.user_id, member.organization_id, member.role, member.team_id
    )


# --- upload ------------------------------------------------------------------------------


async def receive_upload(
    sessionmaker: async_sessionmaker[AsyncSession],
    files: AttachmentFiles,
    token: str,
    body: AsyncIterator[bytes],
    declared_length: int | None,
    write_gate: asyncio.Lock | None = None,
) -> Attachment:
    """Store the body of `PUT /attachments/upload/<token>` if it is exactly the declared file.

    A body longer or shorter than byteSize, with another SHA-256, or that sniffs as an
    executable or a type not allowed, is refused and nothing is stored.
    """
    attachment_id, viewer = _grant(files.signer, Purpose.UPLOAD, token)
    async with await _system_session(sessionmaker) as session:
        attachment = await session.get(Attachment, attachment_id)
        if attachment is None or uploader_viewer(attachment) != viewer:
            raise NOT_FOUND
        if attachment.storage_key is not None:
            raise TransferError(409, "CONFLICT", "this file has already been uploaded")
        if attachment.expires_at <= utcnow():
            raise TransferError(403, "EXPIRED", "this upload has expired; start a new one")
        if await actor_for_viewer(session, viewer) is None:
            raise TransferError(403, "FORBIDDEN", "this account may no longer upload")
    if declared_length is not None and declared_length != attachment.byte_size:
        raise TransferError(
            400,
            "SIZE_MISMATCH",
            f"Content-Length is {declared_length} but the file was declared with "
            f"byteSize {attachment.byte_size}",
        )
    key = f"{object_prefix(attachment)}/{secrets.token_hex(8)}"
    checked = _CheckedStream(attachment, files.policy)
    await files.storage.put_stream(key, checked.chunks(body))
    # Recorded only if nobody else finished an upload of this file meanwhile.
    try:
        async with held(write_gate), await _system_session(sessionmaker) as session:
            stored = await session.execute(
                update(Attachment)
                .where(Attachment.id == attachment.id, Attachment.storage_key.is_(None))
                .values(storage_key=key, uploaded_at=utcnow(), content_type=checked.content_type)
            )
            await session.commit()
    except BaseException:
        await files.storage.delete(key)
        raise
    if stored.rowcount != 1:  # type: ignore[attr-defined]
        await files.storage.delete(key)
        raise TransferError(409, "CONFLICT", "this file has already been uploaded")
    attachment.storage_key = key
    attachment.content_type = checked.content_type
    return attachment


class _CheckedStream:
    """Passes the body on while counting, hashing and sniffing it; raises TransferError
    (which aborts the store's write) the moment it is not the declared file."""

    def __init__(self, attachment: Attachment, policy: AttachmentPolicy) -> None:
        self._attachment = attachment
        self._policy = policy
        self.content_type = attachment.content_type

    def _sniff(self, head: bytes) -> None:
        found = sniff(head)
        if found.executable:
            raise TransferError(
                415, "UNSUPPORTED_TYPE", f"executable files are not accepted ({found.executable})"
            )
        content_type = effective_type(self._attachment.content_type, found)
        if not self._policy.allows(content_type):
            raise TransferError(
                415, "UNSUPPORTED_TYPE", f"the file is {content_type}, which is not accepted"
            )
        self.content_type = content_type

    async def chunks(self, body: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        expected = self._attachment.byte_size
        digest = hashlib.sha256()
        received = 0
        head = b""
        sniffed = False
        async for chunk in body:
            if not chunk:
                continue
            received += len(chunk)
            if received > expected:
                raise TransferError(
                    413, "TOO_LARGE", f"the body is longer than the declared {expected} bytes"
                )
            digest.update(chunk)
            if not sniffed:
                head += chunk
                if len(head) < SNIFF_BYTES and received < expected:
                    continue
                self._sniff(head)
                sniffed = True
                chunk, head = head, b""
            yield chunk
        if received < expected:
            raise TransferError(
                400, "TRUNCATED", f"received {received} of the declared {expected} bytes"
            )
        if not sniffed:
            self._sniff(head)
            yield head
        if digest.hexdigest() != self._attachment.checksum_sha256:
            raise TransferError(
                400, "CHECKSUM_MISMATCH", "the body's SHA-256 is not the declared checksumSha256"
            )


# --- download ----------------------------------------------------------------------------


async def open_download(
    sessionmaker: async_sessionmaker[AsyncSession],
    files: AttachmentFiles,
    attachment_id: int,
    signature: str,
) -> Attachment:
    """The attachment behind `GET /attachments/<id>/<signature>`, if the signature is genuine
    and unexpired and the viewer it was made for may still see the file now."""
    granted_id, viewer = _grant(files.signer, Purpose.DOWNLOAD, f"{attachment_id}.{signature}")
    if granted_id != attachment_id:
        raise NOT_FOUND
    async with await _system_session(sessionmaker) as session:
        actor = await actor_for_viewer(session, viewer)
    if actor is None:
        raise NOT_FOUND
    async with sessionmaker() as session:
        set_row_security(session, actor.kind.value, actor.id, actor.organization_id)
        attachment = await session.scalar(
            select(Attachment).where(Attachment.id == attachment_id, attachment_visibility(actor))
        )
    if attachment is None or attachment.storage_key is None:
        raise NOT_FOUND
    return attachment


def download_path(files: AttachmentFiles, attachment: Attachment, actor: Actor, ttl: int) -> str:
    """The path of a signed download URL of this attachment for this viewer."""
    assert actor.id is not None
    kind = "customer" if actor.kind.value == "customer" else "team_member"
    token, _ = files.signer.sign(Purpose.DOWNLOAD, attachment.id, viewer_of(kind, actor.id), ttl)
    signature = token.split(".", 1)[1]
    return f"/attachments/{attachment.id}/{signature}"


def upload_path(files: AttachmentFiles, attachment: Attachment) -> tuple[str, int]:
    """The path of the signed upload URL of a pending attachment, and when it expires."""
    token, expires = files.signer.sign(
        Purpose.UPLOAD,
        attachment.id,
        viewer_of(attachment.uploader_type.value, attachment.uploader_id),
        files.policy.upload_url_seconds,
    )
    return f"/attachments/upload/{token}", expires
