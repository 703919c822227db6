"""Who is calling, now: token subjects resolved to Actors, and open WebSockets kept in step
with their users.

A WebSocket authenticates once, at connect, but may stay open for a day. Every operation it
starts and every event it is sent must act as the user is *now*: a member deactivated, made an
agent instead of an admin, or moved to another organization loses the socket within
ACTOR_CACHE_SECONDS (at least every second is checked), closed with 4403.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models.engine import set_row_security
from permissions import Actor
from resolvers.errors import DomainError
from resolvers.identity import actors_for_subjects
from resolvers.onboarding import claim_identity

logger = logging.getLogger("helpdesk.access")

# WebSocket close codes (private range 4000-4999; documented in the README).
CLOSE_ACCESS_CHANGED = 4403
CLOSE_TOKEN_EXPIRED = 4401
CLOSE_RATE_LIMITED = 4029
# Re-check open sockets at least this often, also with the actor cache off.
MIN_SWEEP_SECONDS = 1.0
# asyncio cannot sleep until a far-away `exp`; wake up at least daily and look again.
MAX_SLEEP_SECONDS = 86_400.0


class ActorCache:
    """Who a token's subject is, remembered for a few seconds: saves a query per request.

    A deactivated member or a deleted account is refused at the latest `ttl` seconds later.
    """

    def __init__(self, ttl: float, max_entries: int = 10_000) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._entries: dict[str, tuple[float, Actor]] = {}

    def get(self, subject: str) -> Actor | None:
        entry = self._entries.get(subject)
        if entry is None or entry[0] < time.monotonic():
            return None
        return entry[1]

    def put(self, subject: str, actor: Actor) -> None:
        if self.ttl <= 0:
            return
        if len(self._entries) >= self.max_entries:
            self._entries.clear()  # crude but bounded; refilled by the next requests
        self._entries[subject] = (time.monotonic() + self.ttl, actor)

    def forget(self, subject: str) -> None:
        self._entries.pop(subject, None)


class Directory:
    """Resolves subjects to Actors, never more than the cache's `ttl` out of date.

    Lookups of one subject that overlap share one query (a user opening many sockets at once,
    or many sockets of one user re-checked together).
    """

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], ttl: float) -> None:
        self._sessionmaker = sessionmaker
        self.cache = ActorCache(ttl)
        self._inflight: dict[str, asyncio.Task[dict[str, Actor | DomainError]]] = {}

    async def actor(self, subject: str) -> Actor:
        """The subject's Actor; DomainError (unknown, deactivated) when it has none."""
        cached = self.cache.get(subject)
        if cached is not None:
            return cached
        found = (await self._current_one(subject))[subject]
        if isinstance(found, DomainError):
            raise type(found)(found.message)
        return found

    async def claim(self, subject: str, email: str, *, name: str | None, self_signup: bool) -> bool:
        """A first sign-in: give the subject to the invited member or customer with this
        verified email (or a new customer with self-signup). True when it now has someone."""
        async with self._sessionmaker() as session:
            set_row_security(session, "system")
            claimed = await claim_identity(
                session, subject, email, name=name, self_signup=self_signup
            )
        self.cache.forget(subject)
        return claimed

    async def current(self, subjects: Iterable[str]) -> dict[str, Actor | DomainError]:
        """Every subject's Actor (or error) as the database has it now, in two queries."""
        wanted = set(subjects)
        if len(wanted) == 1:
            return await self._current_one(wanted.pop())
        return await self._load(wanted)

    async def _current_one(self, subject: str) -> dict[str, Actor | DomainError]:
        task = self._inflight.get(subject)
        if task is None:
            task = asyncio.get_running_loop().create_task(self._load({subject}))
            self._inflight[subject] = task
            task.add_done_callback(lambda _: self._inflight.pop(subject, None))
        # Shielded: one waiter giving up (its socket closed) does not cancel the others'.
        return await asyncio.shield(task)

    async def _load(self, subjects: set[str]) -> dict[str, Actor | DomainError]:
        async with self._sessionmaker() as session:
            found = await actors_for_subjects(session, subjects)
        for subject, actor in found.items():
            if isinstance(actor, Actor):
                self.cache.put(subject, actor)
            else:
                self.cache.forget(subject)
        return found


def same_rights(before: Actor, now: Actor) -> bool:
    """Whether a socket opened as `before` may go on as `now` (a new team is fine)."""
    return (before.kind, before.id, before.organization_id) == (
        now.kind,
        now.id,
        now.organization_id,
    )


Close = Callable[[int, str], Awaitable[None]]


@dataclass(eq=False)
class SocketAccess:
    """One open socket's user: who they were at connect, when that was last confirmed, and
    how to close the socket."""

    actor: Actor
    close: Close
    on_revoke: Callable[[], None]
    expires_at: float | None = None
    checked_at: float = field(default_factory=time.monotonic)
    revoked: str | None = None
    _expiry: asyncio.Task[None] | None = None

    @property
    def subject(self) -> str:
        assert self.actor.user_id is not None
        return self.actor.user_id


class LiveSockets:
    """The open sockets of this process, re-checked together: one batch of queries for all of
    them every interval, and each socket whose user lost its rights is closed."""

    def __init__(self, directory: Directory, ttl: float) -> None:
        self.directory = directory
        self.ttl = ttl
        self.interval = max(float(ttl), MIN_SWEEP_SECONDS)
        self._sockets: set[SocketAccess] = set()
        self._task: asyncio.Task[None] | None = None
        self._closing: set[asyncio.Task[None]] = set()

    def __len__(self) -> int:
        return len(self._sockets)

    def add(self, access: SocketAccess) -> None:
        self._sockets.add(access)
        if access.expires_at is not None:
            access._expiry = asyncio.create_task(
                self._close_at_expiry(access), name="helpdesk-token-expiry"
            )

    def discard(self, access: SocketAccess) -> None:
        self._sockets.discard(access)
        if access._expiry is not None:
            access._expiry.cancel()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="helpdesk-live-sockets")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def confirm(self, access: SocketAccess) -> bool:
        """Before an operation on the socket: whether its user still has the socket's rights
        (checked against the database when the last check is older than the cache's ttl).
        A socket that lost them is closed."""
        if access.revoked is not None:
            return False
        if time.monotonic() - access.checked_at >= self.ttl:
            await self._judge([access], await self.directory.current([access.subject]))
        return access.revoked is None

    async def sweep(self) -> None:
        """Check every open socket's user now."""
        sockets = [s for s in self._sockets if s.revoked is None]
        if not sockets:
            return
        await self._judge(sockets, await self.directory.current({s.subject for s in sockets}))

    async def _judge(
        self, sockets: list[SocketAccess], found: dict[str, Actor | DomainError]
    ) -> None:
        now = time.monotonic()
        for access in sockets:
            actor = found.get(access.subject)
            if isinstance(actor, Actor) and same_rights(access.actor, actor):
                access.checked_at = now
                continue
            reason = actor.message if isinstance(actor, DomainError) else "your access changed"
            await self.revoke(access, CLOSE_ACCESS_CHANGED, reason)

    def revoke_subject(self, subject: str, reason: str) -> int:
        """This process's sockets of `subject` stop at once (before any event committed with
        the change that took the rights is delivered) and are closed; for changes made here
        (deactivateTeamMember, a role change). Other processes find out by their sweep."""
        revoked = 0
        for access in [s for s in self._sockets if s.actor.user_id == subject]:
            if access.revoked is not None:
                continue
            access.revoked = reason
            access.on_revoke()
            self._sockets.discard(access)
            task = asyncio.create_task(self._close(access, CLOSE_ACCESS_CHANGED, reason))
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)
            revoked += 1
        return revoked

    async def _close(self, access: SocketAccess, code: int, reason: str) -> None:
        with contextlib.suppress(RuntimeError, OSError):
            await access.close(code, reason[:120])

    async def revoke(self, access: SocketAccess, code: int, reason: str) -> None:
        """Stop everything on the socket at once, then close it."""
        if access.revoked is not None:
            return
        access.revoked = reason
        access.on_revoke()
        self._sockets.discard(access)
        with contextlib.suppress(RuntimeError, OSError):
            await access.close(code, reason[:120])

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.sweep()
            except Exception:
                # The database may be away for a while; sockets are checked again next time,
                # and every operation re-checks its user on its own.
                logger.warning("could not re-check open sockets", exc_info=True)

    async def _close_at_expiry(self, access: SocketAccess) -> None:
        """Tokens expire on long-lived sockets too: close with 4401 when this one does."""
        assert access.expires_at is not None
        while (left := access.expires_at - time.time()) > 0:  # noqa: ASYNC110 - a clock, not a flag
            await asyncio.sleep(min(left, MAX_SLEEP_SECONDS))
        await self.revoke(access, CLOSE_TOKEN_EXPIRED, "token expired")


def close_websocket(websocket: Any) -> Close:
    async def close(code: int, reason: str) -> None:
        await websocket.close(code=code, reason=reason)

    return close
