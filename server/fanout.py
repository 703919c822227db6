"""Shared fan-out: live subscribers that would receive the same thing share one execution.

Subscribers of one live subscription (`ticketEvents` without `after`, or `ticketStats`) with
the same document, the same variables and the same visibility (a customer, or an
organization's agents or admins; also the member when the document filters on `assignee:
ME`) form a group. The group runs the subscription once, through the schema like any other
subscriber, as one of them; each event is executed and serialized once, and the same payload is
written to every member's socket, wrapped in that member's operation id.

Each member has its own bounded queue of frames: a member is closed with 4008 only when its own
socket cannot take its frames fast enough, never because the server fell behind (the group's
subscription then replays from the event log, like any subscriber). Every frame is sent only
while the member's user still has the socket's rights (server/access.py).

The per-subscriber execution stays the reference: it serves everything a group does not
(`after`, anonymous callers, queries and mutations, other root fields, SHARED_FANOUT=false),
and tests/subscriptions/test_shared_fanout.py proves the two send the same frames to every
identity.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import logging
from collections.abc import Awaitable, Callable
from contextlib import aclosing
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import orjson
from graphql import (
    EnumValueNode,
    FieldNode,
    GraphQLError,
    GraphQLFormattedError,
    OperationDefinitionNode,
    OperationType,
    VariableNode,
    Visitor,
    parse,
    visit,
)
from strawberry.types import ExecutionResult
from strawberry.types.execution import PreExecutionError

from permissions import Actor
from schema.context import Context, request_id
from subscriptions import metrics

logger = logging.getLogger("helpdesk.fanout")

CLOSE_TOO_SLOW = 4008
SHARED_FIELDS = frozenset({"ticketEvents", "ticketStats"})
# Documents longer than this are not looked at for sharing (they are served one by one).
MAX_SHARED_DOCUMENT = 16_384


@dataclass(frozen=True)
class Frame:
    """What a group sends: a `next` payload (JSON text), or the end of the subscription, with
    the refusal that ended it before it began, if one did."""

    payload: str | None = None
    cursor: str | None = None
    refusal: list[GraphQLFormattedError] | None = None
    end: bool = False


class TooSlowError(Exception):
    """The member's socket did not take its frames fast enough; its queue was dropped."""


@dataclass(eq=False)
class Member:
    """One subscriber in a group: its frames, in order, and the last cursor it was sent."""

    queue: asyncio.Queue[Frame | None]
    last_cursor: str | None = None
    overflowed: bool = False

    def offer(self, frame: Frame) -> None:
        if self.overflowed:
            return
        try:
            self.queue.put_nowait(frame)
        except asyncio.QueueFull:
            self.overflowed = True
            with contextlib.suppress(asyncio.QueueEmpty):
                self.queue.get_nowait()
            self.queue.put_nowait(None)  # wake the member at once

    async def next(self) -> Frame:
        frame = await self.queue.get()
        if frame is None or self.overflowed:
            raise TooSlowError
        return frame


@dataclass(eq=False)
class Group:
    key: tuple[object, ...]
    members: set[Member] = field(default_factory=set)
    task: asyncio.Task[None] | None = None
    # Registered with the event hub: members receive every change committed from then on.
    live: bool = False

    def broadcast(self, frame: Frame) -> None:
        for member in list(self.members):
            member.offer(frame)


@dataclass(frozen=True)
class Shape:
    """What sharing needs to know about a subscription document."""

    root: str
    # The variable `after` is taken from, if it is one (sharing only when it is null).
    after_variable: str | None
    # Whether the document may filter on the subscriber itself (`assignee: ME`).
    names_me: bool


class _FindMe(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.found = False

    def enter_enum_value(self, node: EnumValueNode, *_: Any) -> None:
        if node.value == "ME":
            self.found = True


@lru_cache(maxsize=512)
def shape_of(query: str, operation_name: str | None) -> Shape | None:
    """The shape of a shareable live subscription, or None when it is not one: a single
    subscription operation selecting one of SHARED_FIELDS, without directives, and for
    `ticketEvents` without a literal `after`."""
    if len(query) > MAX_SHARED_DOCUMENT:
        return None
    try:
        document = parse(query, no_location=True, max_tokens=4_000)
    except (GraphQLError, RecursionError):
        return None
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is not None:
        operations = [o for o in operations if o.name and o.name.value == operation_name]
    if len(operations) != 1 or len(document.definitions) != 1:
        return None  # fragments, or several operations: served one by one
    operation = operations[0]
    selections = operation.selection_set.selections
    if operation.operation is not OperationType.SUBSCRIPTION or len(selections) != 1:
        return None
    root = selections[0]
    if not isinstance(root, FieldNode) or root.directives or root.name.value not in SHARED_FIELDS:
        return None
    if operation.directives:
        return None
    after_variable = None
    for argument in root.arguments or ():
        if argument.name.value == "after":
            if not isinstance(argument.value, VariableNode):
                return None
            after_variable = argument.value.name.value
    finder = _FindMe()
    visit(document, finder)
    return Shape(root.name.value, after_variable, finder.found)


def visibility(actor: Actor, names_me: bool) -> tuple[object, ...] | None:
    """Who receives the same payloads: a customer alone, or an organization's agents (or
    admins); with `ME` in the document, the member alone. None for anonymous callers."""
    if actor.is_customer:
        return ("customer", actor.id)
    if actor.is_staff:
        who = actor.id if names_me else None
        return ("staff", actor.kind.value, actor.organization_id, who)
    return None


Subscribe = Callable[[Context], Awaitable[Any]]


class SharedFanout:
    """The groups of this process."""

    def __init__(
        self,
        subscribe: Callable[[str, dict[str, Any] | None, str | None, Context], Awaitable[Any]],
        encode: Callable[[object], str],
        queue_size: int,
    ) -> None:
        self._subscribe = subscribe
        self._encode = encode
        self._queue_size = queue_size
        self._groups: dict[tuple[object, ...], Group] = {}
        self._ids = itertools.count(1)

    @property
    def group_count(self) -> int:
        return len(self._groups)

    def served(self) -> tuple[int, int]:
        """(groups registered with the event hub, their members)."""
        live = [g for g in self._groups.values() if g.live]
        return len(live), sum(len(g.members) for g in live)

    def key(
        self, query: str, operation_name: str | None, variables: Any, actor: Actor
    ) -> tuple[object, ...] | None:
        """The group a subscription belongs to, or None when it is served on its own."""
        if not isinstance(query, str) or not isinstance(variables, dict | None):
            return None
        shape = shape_of(query, operation_name)
        if shape is None:
            return None
        values = variables or {}
        if shape.after_variable is not None and values.get(shape.after_variable) is not None:
            return None  # a resume: replayed for this subscriber alone
        try:
            canonical = orjson.dumps(values, option=orjson.OPT_SORT_KEYS)
        except TypeError:
            return None
        who = visibility(actor, shape.names_me or b'"ME"' in canonical)
        if who is None:
            return None
        digest = hashlib.sha256(query.encode()).digest()
        return (digest, operation_name, canonical, who)

    def join(
        self,
        key: tuple[object, ...],
        start: Callable[[], tuple[str, dict[str, Any] | None, str | None, Context]],
    ) -> Member:
        """Add a member to its group, starting the group's subscription if it is new."""
        member = Member(asyncio.Queue(maxsize=self._queue_size))
        group = self._groups.get(key)
        if group is None:
            group = Group(key)
            self._groups[key] = group
            query, variables, operation_name, context = start()
            context.on_live = lambda: setattr(group, "live", True)
            context.shared_group = True
            group.task = asyncio.create_task(
                self._lead(group, query, variables, operation_name, context),
                name="helpdesk-fanout-group",
            )
        group.members.add(member)
        metrics.SUBSCRIPTIONS.inc()
        return member

    def leave(self, key: tuple[object, ...], member: Member) -> None:
        metrics.SUBSCRIPTIONS.dec()
        group = self._groups.get(key)
        if group is None:
            return
        group.members.discard(member)
        if not group.members:
            del self._groups[key]
            if group.task is not None:
                group.task.cancel()

    async def close(self) -> None:
        tasks = [g.task for g in self._groups.values() if g.task is not None]
        self._groups.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _lead(
        self,
        group: Group,
        query: str,
        variables: dict[str, Any] | None,
        operation_name: str | None,
        context: Context,
    ) -> None:
        """Run the group's subscription once and hand every payload to all its members."""
        request_id.set(f"fanout-{next(self._ids)}")
        try:
            stream = await self._subscribe(query, variables, operation_name, context)
            async with aclosing(stream):
                first = True
                async for result in stream:
                    if first and isinstance(result, PreExecutionError):
                        group.broadcast(
                            Frame(refusal=[e.formatted for e in result.errors or ()], end=True)
                        )
                        return
                    first = False
                    group.broadcast(Frame(self._encode(_payload(result)), context.event_cursor))
            group.broadcast(Frame(end=True))
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("a shared subscription failed")
            group.broadcast(Frame(end=True))
        finally:
            if self._groups.get(group.key) is group:
                del self._groups[group.key]
            await context.close()


def _payload(result: ExecutionResult) -> dict[str, Any]:
    payload: dict[str, Any] = {"data": result.data}
    if result.errors:
        payload["errors"] = [error.formatted for error in result.errors]
    if result.extensions:
        payload["extensions"] = result.extensions
    return payload
