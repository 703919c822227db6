"""Object storage for attachment bytes: a local directory or an S3-compatible bucket.

One small interface over obstore (https://developmentseed.org/obstore), so the same code and
the same tests run against both: streamed writes that store nothing unless the whole stream
was accepted, ranged streamed reads, and deletes.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import obstore
from obstore.store import LocalStore, S3Store

logger = logging.getLogger("helpdesk.storage")

# S3 parts must be at least 5 MiB; an upload holds at most one part in memory at a time.
PART_SIZE = 5 * 1024 * 1024
READ_CHUNK = 256 * 1024


class StorageError(Exception):
    """The object store refused or failed an operation."""


@dataclass(frozen=True)
class S3Options:
    endpoint: str | None = None
    region: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = None
    session_token: str | None = None


@dataclass(frozen=True)
class StoredObject:
    """A ranged read: `size` is the whole object's, `chunks` stream bytes [start, end)."""

    size: int
    start: int
    end: int
    chunks: AsyncIterator[bytes]


class ObjectStorage:
    """Keys are relative paths ('12/345/abc'); the store adds its directory or bucket prefix."""

    def __init__(self, store: Any, description: str) -> None:
        self._store = store
        self.description = description

    async def put_stream(self, key: str, chunks: AsyncIterator[bytes]) -> None:
        """Store the stream under `key`. If the iterator raises, the upload is aborted and
        nothing is stored (the exception propagates)."""
        await obstore.put_async(self._store, key, chunks, chunk_size=PART_SIZE, max_concurrency=2)

    async def read(self, key: str, start: int = 0, end: int | None = None) -> StoredObject:
        """Stream bytes [start, end) of an object (end None: to its end)."""
        options: dict[str, Any] = {}
        if start or end is not None:
            options["range"] = {"offset": start} if end is None else (start, end)
        try:
            result = await obstore.get_async(self._store, key, options=options)  # type: ignore[arg-type]
        except FileNotFoundError:
            raise
        except Exception as exc:
            raise StorageError(f"reading {key}: {exc}") from exc
        first, last = result.range
        return StoredObject(
            size=int(result.meta["size"]),
            start=first,
            end=last,
            chunks=_chunks(result.stream(min_chunk_size=READ_CHUNK)),
        )

    async def size(self, key: str) -> int | None:
        """The object's size, or None when there is no such object."""
        try:
            meta = await obstore.head_async(self._store, key)
        except FileNotFoundError:
            return None
        return int(meta["size"])

    async def keys(self, prefix: str = "") -> list[str]:
        """Every key under `prefix` (a folder: 'a/b' lists 'a/b/...')."""
        found: list[str] = []
        async for batch in obstore.list(self._store, prefix or None):
            found.extend(str(item["path"]) for item in batch)
        return sorted(found)

    async def delete(self, key: str) -> None:
        """Delete one object; a missing object is not an error."""
        try:
            await obstore.delete_async(self._store, key)
        except FileNotFoundError:
            return

    async def delete_prefix(self, prefix: str) -> int:
        """Delete every object under `prefix`; how many there were."""
        keys = await self.keys(prefix)
        for key in keys:
            await self.delete(key)
        return len(keys)


async def _chunks(stream: Any) -> AsyncIterator[bytes]:
    async for chunk in stream:
        yield bytes(chunk)


def open_storage(url: str, data_dir: Path, s3: S3Options | None = None) -> ObjectStorage:
    """The storage for ATTACHMENT_STORAGE_URL: empty (a folder in the data directory), a path
    or file:// URL, or s3://bucket/prefix."""
    if not url:
        return _local(data_dir / "attachments")
    parts = urlsplit(url)
    if parts.scheme == "s3":
        if not parts.netloc:
            raise ValueError("ATTACHMENT_STORAGE_URL s3:// needs a bucket: s3://bucket/prefix")
        return _s3(parts.netloc, parts.path.strip("/"), s3 or S3Options())
    if parts.scheme == "file":
        return _local(Path(parts.path))
    if parts.scheme == "":
        return _local(Path(url))
    raise ValueError(
        f"ATTACHMENT_STORAGE_URL must be a path, file:///path or s3://bucket/prefix, got {url!r}"
    )


def _local(directory: Path) -> ObjectStorage:
    directory = directory.resolve()
    directory.mkdir(parents=True, exist_ok=True)
    return ObjectStorage(LocalStore(directory), f"local directory {directory}")


def _s3(bucket: str, prefix: str, options: S3Options) -> ObjectStorage:
    config: dict[str, Any] = {}
    if options.endpoint:
        config["endpoint"] = options.endpoint
    if options.region:
        config["region"] = options.region
    if options.access_key_id:
        config["access_key_id"] = options.access_key_id
    if options.secret_access_key:
        config["secret_access_key"] = options.secret_access_key
    if options.session_token:
        config["token"] = options.session_token
    client: dict[str, Any] = {"timeout": "60s", "connect_timeout": "5s"}
    if options.endpoint and options.endpoint.startswith("http://"):
        client["allow_http"] = True
    store = S3Store(bucket, prefix=prefix or None, config=config, client_options=client)  # type: ignore[arg-type]
    where = f"s3://{bucket}/{prefix}" if prefix else f"s3://{bucket}"
    return ObjectStorage(store, where)
