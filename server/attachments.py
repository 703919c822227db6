"""HTTP routes for attachment bytes, and the task that deletes expired uploads.

- `PUT /attachments/upload/<token>`: the body is streamed to storage while it is counted,
  hashed and sniffed; anything but exactly the declared file is refused and nothing is stored.
- `GET /attachments/<id>/<signature>`: streamed from storage, always as a download
  (`Content-Disposition: attachment`, `nosniff`, a sandboxing CSP), with single byte ranges.
"""

from __future__ import annotations

import asyncio
import logging
import re
from urllib.parse import quote

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from models.engine import set_row_security
from resolvers.attachment import delete_expired_uploads
from resolvers.attachment_policy import AttachmentPolicy, ascii_fallback
from resolvers.attachment_transfer import (
    AttachmentFiles,
    TransferError,
    held,
    open_download,
    receive_upload,
)
from resolvers.signing import Signer
from resolvers.sniff import ACTIVE_TYPES, OCTET_STREAM
from resolvers.storage import ObjectStorage, S3Options, StorageError, open_storage
from server.settings import Settings
from server.view import Runtime, error_response

logger = logging.getLogger("helpdesk.attachments")

RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
# Headers every download carries, whatever the file is.
DOWNLOAD_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "Cache-Control": "private, no-store",
    "Cross-Origin-Resource-Policy": "same-site",
    "Accept-Ranges": "bytes",
}


def open_attachment_storage(settings: Settings) -> ObjectStorage:
    return open_storage(
        settings.attachment_storage_url,
        settings.data_dir,
        S3Options(
            endpoint=settings.attachment_s3_endpoint,
            region=settings.attachment_s3_region,
            access_key_id=settings.aws_access_key_id,
            secret_access_key=settings.aws_secret_access_key,
            session_token=settings.aws_session_token,
        ),
    )


def attachment_files(settings: Settings, storage: ObjectStorage | None = None) -> AttachmentFiles:
    """Storage, signer and limits, from the settings."""
    return AttachmentFiles(
        storage=storage or open_attachment_storage(settings),
        signer=Signer(settings.attachment_key()),
        policy=AttachmentPolicy(
            max_bytes=settings.attachment_max_bytes,
            max_per_response=settings.attachment_max_per_response,
            allowed_types=settings.attachment_allowed_types,
            upload_url_seconds=settings.attachment_upload_url_seconds,
            unattached_seconds=settings.attachment_unattached_seconds,
        ),
    )


def content_disposition(filename: str) -> str:
    """`attachment` with an ASCII fallback and the exact name as RFC 6266 / 5987 filename*."""
    encoded = quote(filename, safe="")
    return f"attachment; filename=\"{ascii_fallback(filename)}\"; filename*=UTF-8''{encoded}"


def served_type(content_type: str) -> str:
    """Active content (HTML, SVG, XML, scripts) is served as plain bytes; it is a download."""
    if content_type in ACTIVE_TYPES:
        return OCTET_STREAM
    if content_type.startswith("text/") or content_type == "application/json":
        return f"{content_type}; charset=utf-8"
    return content_type


class RangeNotSatisfiable(Exception):
    """The requested range lies outside the file (HTTP 416)."""


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """[start, end) of a single `Range: bytes=...`, or None to send the whole file (no
    header, a malformed one, or several ranges). RangeNotSatisfiable past the end."""
    match = RANGE.fullmatch(header.strip()) if header else None
    if match is None or match.groups() == ("", ""):
        return None
    first, last = match.groups()
    if not first:
        length = int(last)
        if length == 0 or size == 0:
            raise RangeNotSatisfiable
        return max(size - length, 0), size
    start = int(first)
    if start >= size or (last and int(last) < start):
        raise RangeNotSatisfiable
    return start, size if not last else min(int(last) + 1, size)


def _refusal(exc: TransferError) -> Response:
    return error_response(exc.message, exc.code, exc.status)


def attachment_routes(runtime: Runtime) -> list[Route]:
    async def upload(request: Request) -> Response:
        resources = runtime.get()
        files = resources.attachment_files
        assert files is not None
        length = request.headers.get("content-length")
        declared = int(length) if length and length.isdigit() else None
        try:
            attachment = await receive_upload(
                resources.sessionmaker,
                files,
                request.path_params["token"],
                request.stream(),
                declared,
                resources.write_gate,
            )
        except TransferError as exc:
            return _refusal(exc)
        except ClientDisconnect:
            return error_response("the upload was interrupted", "TRUNCATED", 400)
        except StorageError:
            logger.exception("storing an upload failed")
            return error_response("the file could not be stored; try again", "UNAVAILABLE", 503)
        return JSONResponse(
            {
                "id": f"{attachment.id}",
                "byteSize": attachment.byte_size,
                "contentType": attachment.content_type,
            },
            status_code=200,
        )

    async def download(request: Request) -> Response:
        resources = runtime.get()
        files = resources.attachment_files
        assert files is not None
        raw_id = request.path_params["attachment_id"]
        if not raw_id.isdigit() or len(raw_id) > 18:
            return error_response("attachment not found", "NOT_FOUND", 404)
        try:
            attachment = await open_download(
                resources.sessionmaker, files, int(raw_id), request.path_params["signature"]
            )
        except TransferError as exc:
            return _refusal(exc)
        size = attachment.byte_size
        headers = {
            **DOWNLOAD_HEADERS,
            "Content-Disposition": content_disposition(attachment.filename),
            "ETag": f'"{attachment.checksum_sha256}"',
        }
        try:
            wanted = parse_range(request.headers.get("range"), size)
        except RangeNotSatisfiable:
            headers["Content-Range"] = f"bytes */{size}"
            return Response(status_code=416, headers=headers)
        assert attachment.storage_key is not None
        start, end = wanted or (0, size)
        status = 200 if wanted is None else 206
        if wanted is not None:
            headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
        headers["Content-Length"] = str(end - start)
        media_type = served_type(attachment.content_type)
        if request.method == "HEAD":
            return Response(status_code=status, headers=headers, media_type=media_type)
        try:
            stored = await files.storage.read(
                attachment.storage_key, start, None if wanted is None else end
            )
        except (FileNotFoundError, StorageError):
            logger.exception("attachment %s is missing from storage", attachment.id)
            return error_response("the file cannot be read right now", "UNAVAILABLE", 503)
        return StreamingResponse(
            stored.chunks,
            status_code=status,
            headers=headers,
            media_type=media_type,
        )

    return [
        Route("/attachments/upload/{token}", upload, methods=["PUT"]),
        Route("/attachments/{attachment_id}/{signature}", download, methods=["GET", "HEAD"]),
    ]


async def cleanup_once(
    sessionmaker: async_sessionmaker[AsyncSession],
    storage: ObjectStorage,
    write_gate: asyncio.Lock | None = None,
) -> int:
    """Delete every unattached upload past its expiry; how many."""
    total = 0
    while True:
        async with held(write_gate), sessionmaker() as session:
            set_row_security(session, "system")
            deleted = await delete_expired_uploads(session, storage)
            await session.commit()
        total += deleted
        if deleted == 0:
            return total


async def run_cleanup(
    sessionmaker: async_sessionmaker[AsyncSession],
    storage: ObjectStorage,
    interval: float,
    write_gate: asyncio.Lock | None = None,
) -> None:
    """The lifespan's background task: clean up now, then every `interval` seconds."""
    while True:
        try:
            deleted = await cleanup_once(sessionmaker, storage, write_gate)
            if deleted:
                logger.info("deleted %d expired unattached uploads", deleted)
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.warning("attachment cleanup failed; retrying later", exc_info=True)
        await asyncio.sleep(interval)
