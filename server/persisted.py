"""Persisted queries: Apollo's automatic persisted queries (APQ) and an allow-list mode.

A client sends `extensions.persistedQuery = {version: 1, sha256Hash}` without the query; an
unknown hash answers `PERSISTED_QUERY_NOT_FOUND` (HTTP 404, which Apollo Client's persisted
query link reads from the body and answers by sending the query with its hash once; the hash
is checked and the document kept). Documents are kept in a bounded in-process cache, shared
through Redis when BROADCAST_URL is Redis so that every worker and instance knows them.

`PERSISTED_QUERIES=allowlist` serves only the operations of a manifest file (Apollo's
persisted query manifest, or Relay's `{id: text}` map), by id or by their exact text, and
refuses anything else: the way public APIs lock their clients' operations down.

The request is resolved to its document text before anything else runs, and the document's
id is kept (`PersistedDocument.id`) so that later stages (the compiled read path) can key on it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlparse

from redis import asyncio as aioredis
from redis.exceptions import RedisError

logger = logging.getLogger("helpdesk.persisted")

SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
REDIS_PREFIX = "helpdesk:apq:"
REDIS_TTL_SECONDS = 7 * 24 * 3600
MODES = ("auto", "off", "allowlist")


class PersistedQueryError(Exception):
    """A persisted-query request that cannot be served; answered before execution."""

    def __init__(self, message: str, code: str, status_code: int) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status_code = status_code


def not_found() -> PersistedQueryError:
    # Apollo's clients match this exact message (older ones) or the code (newer ones).
    return PersistedQueryError("PersistedQueryNotFound", "PERSISTED_QUERY_NOT_FOUND", 404)


def not_in_list() -> PersistedQueryError:
    return PersistedQueryError(
        "this server only runs the operations of its persisted query list; this one is not in it",
        "PERSISTED_QUERY_NOT_IN_LIST",
        403,
    )


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class PersistedDocument:
    """The document a request runs: its text, and the id it is persisted under (if any)."""

    query: str
    id: str | None


class QueryStore(Protocol):
    async def get(self, key: str) -> str | None: ...

    async def put(self, key: str, query: str) -> None: ...

    async def close(self) -> None: ...


class MemoryQueryStore:
    """Least recently used documents, bounded by count and by total size."""

    def __init__(self, max_entries: int, max_bytes: int = 16 * 1024 * 1024) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._entries: OrderedDict[str, str] = OrderedDict()
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._entries)

    async def get(self, key: str) -> str | None:
        query = self._entries.get(key)
        if query is not None:
            self._entries.move_to_end(key)
        return query

    async def put(self, key: str, query: str) -> None:
        if self.max_entries <= 0 or len(query) > self.max_bytes:
            return
        if key in self._entries:
            self._entries.move_to_end(key)
            return
        self._entries[key] = query
        self._bytes += len(query)
        while len(self._entries) > self.max_entries or self._bytes > self.max_bytes:
            _, dropped = self._entries.popitem(last=False)
            self._bytes -= len(dropped)

    async def close(self) -> None:
        return None


class RedisQueryStore:
    """The in-process cache in front of Redis (shared by all workers and instances).

    If Redis cannot be reached, lookups miss (the client then sends the query, which works)
    and Redis is left alone for a few seconds, so that an outage costs no request a timeout.
    """

    RETRY_AFTER_OUTAGE = 5.0

    def __init__(self, url: str, local: MemoryQueryStore) -> None:
        self._redis = aioredis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
        self._local = local
        self._down_until = 0.0

    async def get(self, key: str) -> str | None:
        query = await self._local.get(key)
        if query is not None or time.monotonic() < self._down_until:
            return query
        try:
            raw = await self._redis.get(REDIS_PREFIX + key)
        except (RedisError, OSError) as exc:
            self._outage(exc)
            return None
        if raw is None:
            return None
        query = raw.decode() if isinstance(raw, bytes) else str(raw)
        # What Redis holds was verified when it was stored, but check again: it is cheap.
        if sha256_hex(query) != key:
            return None
        await self._local.put(key, query)
        return query

    async def put(self, key: str, query: str) -> None:
        await self._local.put(key, query)
        if time.monotonic() < self._down_until or len(query) > self._local.max_bytes:
            return
        try:
            await self._redis.set(REDIS_PREFIX + key, query, ex=REDIS_TTL_SECONDS)
        except (RedisError, OSError) as exc:
            self._outage(exc)

    def _outage(self, exc: Exception) -> None:
        logger.warning("persisted query store cannot reach Redis (%s); using this process's", exc)
        self._down_until = time.monotonic() + self.RETRY_AFTER_OUTAGE

    async def close(self) -> None:
        await self._redis.aclose()


def load_manifest(path: Path) -> dict[str, str]:
    """Operation id -> document text, from an Apollo persisted query manifest
    (`{"format": "apollo-persisted-query-manifest", "operations": [{id, body, ...}]}`) or a
    Relay one (`{"<id>": "<text>"}`). ValueError for anything else."""
    try:
        data: Any = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"cannot read the persisted query manifest {path}: {exc}") from None
    if isinstance(data, dict) and data.get("format") == "apollo-persisted-query-manifest":
        if data.get("version") != 1 or not isinstance(data.get("operations"), list):
            raise ValueError(f"{path}: expected version 1 with a list of operations")
        operations = data["operations"]
        if not all(
            isinstance(op, dict)
            and isinstance(op.get("id"), str)
            and isinstance(op.get("body"), str)
            for op in operations
        ):
            raise ValueError(f"{path}: every operation needs a string id and body")
        return {op["id"]: op["body"] for op in operations}
    if isinstance(data, dict) and all(
        isinstance(k, str) and isinstance(v, str) for k, v in data.items()
    ):
        return dict(data)
    raise ValueError(f"{path}: not an Apollo persisted query manifest or a Relay {{id: text}} map")


def _is_listed_operation(operation: object) -> bool:
    return (
        isinstance(operation, dict)
        and isinstance(operation.get("id"), str)
        and isinstance(operation.get("body"), str)
    )


class PersistedQueries:
    """Resolves a request's document: the text it carries, or the one persisted under its id."""

    def __init__(
        self, mode: str, store: QueryStore, manifest: dict[str, str] | None = None
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown persisted query mode {mode!r}")
        if mode == "allowlist" and manifest is None:
            raise ValueError("the allowlist mode needs a manifest")
        self.mode = mode
        self.store = store
        self._by_id = manifest or {}
        self._by_text_hash = {sha256_hex(text): key for key, text in self._by_id.items()}

    async def resolve(self, query: object, extensions: object) -> PersistedDocument | None:
        """The document to run, or None when the request names none (the server then says
        so as usual). Raises PersistedQueryError for what cannot be served."""
        requested = _requested_id(extensions)
        text = query if isinstance(query, str) and query else None
        if self.mode == "allowlist":
            return self._allowed(text, requested)
        if requested is None:
            return None if text is None else PersistedDocument(text, None)
        if self.mode == "off":
            raise PersistedQueryError(
                "PersistedQueryNotSupported", "PERSISTED_QUERY_NOT_SUPPORTED", 400
            )
        if not SHA256_HEX.match(requested):
            raise PersistedQueryError(
                "persistedQuery.sha256Hash must be 64 lowercase hex digits", "BAD_REQUEST", 400
            )
        if text is None:
            stored = await self.store.get(requested)
            if stored is None:
                raise not_found()
            return PersistedDocument(stored, requested)
        if sha256_hex(text) != requested:
            raise PersistedQueryError(
                "provided sha does not match query", "PERSISTED_QUERY_HASH_MISMATCH", 400
            )
        await self.store.put(requested, text)
        return PersistedDocument(text, requested)

    def _allowed(self, text: str | None, requested: str | None) -> PersistedDocument | None:
        if requested is not None:
            listed = self._by_id.get(requested)
            if listed is None and text is not None:
                raise not_in_list()
            if listed is None:
                raise not_found()
            if text is not None and text != listed:
                raise PersistedQueryError(
                    "the query differs from the persisted operation with that id",
                    "PERSISTED_QUERY_HASH_MISMATCH",
                    400,
                )
            return PersistedDocument(listed, requested)
        if text is None:
            return None
        key = self._by_text_hash.get(sha256_hex(text))
        if key is None:
            raise not_in_list()
        return PersistedDocument(text, key)

    async def close(self) -> None:
        await self.store.close()


def _requested_id(extensions: object) -> str | None:
    """The id in Apollo's `extensions.persistedQuery` ({version: 1, sha256Hash}), if any."""
    persisted = extensions.get("persistedQuery") if isinstance(extensions, dict) else None
    if persisted is None:
        return None
    if not isinstance(persisted, dict) or persisted.get("version") != 1:
        raise PersistedQueryError(
            "Unsupported persisted query version: send {version: 1, sha256Hash}",
            "BAD_REQUEST",
            400,
        )
    sha = persisted.get("sha256Hash")
    if not isinstance(sha, str) or not 0 < len(sha) <= 200:
        raise PersistedQueryError(
            "persistedQuery.sha256Hash must be a non-empty string", "BAD_REQUEST", 400
        )
    return sha


def create_persisted_queries(
    mode: str, manifest_path: Path | None, broadcast_url: str, cache_size: int
) -> PersistedQueries:
    """The persisted-query service for these settings (Redis-shared when broadcast is Redis)."""
    local = MemoryQueryStore(cache_size)
    store: QueryStore = local
    if mode == "auto" and urlparse(broadcast_url).scheme in ("redis", "rediss"):
        store = RedisQueryStore(broadcast_url, local)
    manifest = load_manifest(manifest_path) if mode == "allowlist" and manifest_path else None
    return PersistedQueries(mode, store, manifest)
