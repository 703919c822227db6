"""Ticket writes. Each use case authorizes, validates, changes rows and records history in the
caller's transaction; the edge commits and then publishes the queued events."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from models import (
    Customer,
    HistoryAction,
    Organization,
    Priority,
    Status,
    Team,
    Ticket,
)
from models.base import utcnow
from permissions import Actor
from permissions.people import readable_customers
from permissions.ticket import (
    forbidden_updates,
    may_assign,
    may_bulk_update,
    readable_tickets,
)
from resolvers.admin import assignable_member
from resolvers.attachment import AttachRequest, attach, files_to_attach
from resolvers.directory import get_organization
from resolvers.errors import (
    NotFoundError,
    UnauthenticatedError,
    UserErrorCode,
    UserErrorData,
    UserInputError,
    user_error,
)
from resolvers.history import Entry, field_changed, record_change
from resolvers.idempotency import idempotency_scope, request_fingerprint
from resolvers.locks import LockClass, lock_key, lock_tickets
from resolvers.ticket import get_ticket_for_update
from resolvers.validation import (
    DESCRIPTION_MAX,
    IDEMPOTENCY_KEY_MAX,
    TITLE_MAX,
    Problems,
)
from resolvers.workflow import apply_status, can_transition

T = TypeVar("T")
BULK_MAX = 100


class Unset(enum.Enum):
    """A field the client did not send (as opposed to an explicit null)."""

    UNSET = "unset"


UNSET = Unset.UNSET


def _require_actor(actor: Actor) -> None:
    if not actor.is_authenticated:
        raise UnauthenticatedError("authentication required")


# --- create ------------------------------------------------------------------------------


@dataclass(frozen=True)
class CreateTicketInput:
    title: str
    description: str = ""
    priority: Priority = Priority.MEDIUM
    organization_id: int | None = None
    customer_id: int | None = None
    team_id: int | None = None
    tags: Sequence[str] = ()
    metadata: dict[str, Any] | None = None
    idempotency_key: str | None = None
    attachments: AttachRequest | None = None


async def create_ticket(session: AsyncSession, actor: Actor, data: CreateTicketInput) -> Ticket:
    """Open a ticket: a customer for themself with any organization, staff for a customer of
    theirs in their own organization. A repeated idempotency key returns the first ticket."""
    _require_actor(actor)
    problems = Problems()
    title = problems.text("title", data.title, maximum=TITLE_MAX)
    description = problems.text(
        "description", data.description, maximum=DESCRIPTION_MAX, required=False
    )
    key = None
    if data.idempotency_key is not None:
        key = problems.text("idempotencyKey", data.idempotency_key, maximum=IDEMPOTENCY_KEY_MAX)

    if actor.is_customer:
        _customer_may_not_set(data, actor, problems)
        if data.organization_id is None:
            problems.add("organizationId", "choose the organization", UserErrorCode.REQUIRED)
        if problems.errors:
            raise UserInputError(problems.errors)
        organization = await _organization(session, actor, data.organization_id, problems)
        customer_id = actor.id
    else:
        if data.organization_id not in (None, actor.organization_id):
            problems.add("organizationId", "organization not found", UserErrorCode.NOT_FOUND)
        organization = await get_organization(session, actor, actor.organization_id or 0)
        customer_id = await _customer_for_staff(session, actor, data.customer_id, problems)
    team_id = await _team_in(session, organization.id, data.team_id, problems)
    tags = problems.tags("tags", data.tags)
    metadata = problems.metadata("metadata", data.metadata) if data.metadata is not None else {}
    if problems.errors:
        raise UserInputError(problems.errors)
    assert customer_id is not None

    scope = idempotency_scope(actor)
    # Files count only when named, so keys used before attachments existed still match.
    files = sorted(set(data.attachments.ids)) if data.attachments else []
    fingerprint = request_fingerprint(
        organization.id,
        customer_id,
        title,
        description,
        data.priority,
        team_id,
        tags,
        metadata,
        *([files] if files else []),
    )
    if key:
        if session.get_bind().dialect.name == "postgresql":
            # Concurrent retries of one key take turns here, so the loser finds the winner's
            # ticket instead of using up a ticket number. (SQLite writers are serialized.)
            await lock_key(session, LockClass.TICKET_IDEMPOTENCY_KEY, f"{scope}:{key}")
        existing = await _by_idempotency_key(session, actor, scope, key, fingerprint)
        if existing is not None:
            return existing

    attached = (
        await files_to_attach(session, actor, organization.id, None, data.attachments)
        if data.attachments
        else []
    )
    number = await allocate_ticket_number(session, organization.id)
    now = utcnow()
    ticket = Ticket(
        organization_id=organization.id,
        number=number,
        title=title,
        description=description,
        priority=data.priority,
        customer_id=customer_id,
        team_id=team_id,
        tags=tags,
        metadata_=metadata,
        idempotency_key=key,
        idempotency_scope=scope if key else None,
        idempotency_fingerprint=fingerprint if key else None,
        created_at=now,
        updated_at=now,
    )
    try:
        async with session.begin_nested():
            session.add(ticket)
            await session.flush()
    except IntegrityError:
        # Another request with the same idempotency key won the race.
        existing = (
            await _by_idempotency_key(session, actor, scope, key, fingerprint) if key else None
        )
        if existing is None:
            raise
        return existing
    entries = [Entry(HistoryAction.CREATED)]
    if attached:
        entries += await attach(session, ticket, None, attached)
    await record_change(session, actor, ticket, entries)
    # Imported here: routing applies its changes with this module's helpers.
    from resolvers.routing import route_new_ticket

    await route_new_ticket(session, actor, ticket)
    return ticket


def _customer_may_not_set(data: CreateTicketInput, actor: Actor, problems: Problems) -> None:
    """Customers open tickets for themselves and leave routing to staff."""
    if data.customer_id not in (None, actor.id):
        problems.add(
            "customerId", "customers open tickets for themselves only", UserErrorCode.FORBIDDEN
        )
    for name, given in (
        ("teamId", data.team_id is not None),
        ("tags", bool(data.tags)),
        ("metadata", data.metadata is not None),
    ):
        if given:
            problems.add(name, f"only team members may set {name}", UserErrorCode.FORBIDDEN)


async def _organization(
    session: AsyncSession, actor: Actor, organization_id: int | None, problems: Problems
) -> Organization:
    try:
        return await get_organization(session, actor, organization_id or 0)
    except NotFoundError:
        problems.add("organizationId", "organization not found", UserErrorCode.NOT_FOUND)
        raise UserInputError(problems.errors) from None


async def ticket_for_update(
    session: AsyncSession, actor: Actor, ticket_id: int, field: str
) -> Ticket:
    """The ticket a mutation changes, locked; NOT_FOUND on `field` when the actor cannot see it."""
    try:
        return await get_ticket_for_update(session, actor, ticket_id)
    except NotFoundError:
        raise user_error(field, "ticket not found", UserErrorCode.NOT_FOUND) from None


async def allocate_ticket_number(session: AsyncSession, organization_id: int) -> int:
    """The organization's next ticket number. The UPDATE's row lock makes concurrent creates
    take turns, so numbers are never shared (a rolled-back create may leave a gap)."""
    number = await session.scalar(
        update(Organization)
        .where(Organization.id == organization_id)
        .values(next_ticket_number=Organization.next_ticket_number + 1)
        .returning(Organization.next_ticket_number - 1)
    )
    assert number is not None
    return int(number)


async def _customer_for_staff(
    session: AsyncSession, actor: Actor, customer_id: int | None, problems: Problems
) -> int | None:
    if customer_id is None:
        problems.add("customerId", "say which customer the ticket is for", UserErrorCode.REQUIRED)
        return None
    found = await session.scalar(readable_customers(actor).where(Customer.id == customer_id))
    if found is None:
        problems.add("customerId", "no such customer of your organization", UserErrorCode.NOT_FOUND)
        return None
    return found.id


async def _team_in(
    session: AsyncSession, organization_id: int, team_id: int | None, problems: Problems
) -> int | None:
    if team_id is None:
        return None
    found = (
        await session.execute(
            select(Team.id, Team.archived_at).where(
                Team.id == team_id, Team.organization_id == organization_id
            )
        )
    ).one_or_none()
    if found is None:
        problems.add("teamId", "no such team in this organization", UserErrorCode.NOT_FOUND)
        return None
    if found.archived_at is not None:
        problems.add("teamId", "this team is archived", UserErrorCode.ARCHIVED)
        return None
    return int(found.id)


async def _by_idempotency_key(
    session: AsyncSession, actor: Actor, scope: str, key: str, fingerprint: str
) -> Ticket | None:
    """The ticket an earlier request with this key created; IDEMPOTENCY_KEY_REUSED when that
    request was a different one (as payment APIs answer)."""
    existing = await session.scalar(
        readable_tickets(actor).where(
            Ticket.idempotency_scope == scope, Ticket.idempotency_key == key
        )
    )
    if existing is None:
        return None
    if existing.idempotency_fingerprint not in (None, fingerprint):
        raise user_error(
            "idempotencyKey",
            "this idempotency key was already used for a different request; "
            "use a new key for a new ticket",
            UserErrorCode.IDEMPOTENCY_KEY_REUSED,
        )
    return existing


# --- update ------------------------------------------------------------------------------


@dataclass(frozen=True)
class TicketChanges:
    """Fields to change; UNSET leaves a field alone, None clears a nullable one."""

    title: str | Unset = UNSET
    description: str | Unset = UNSET
    status: Status | Unset = UNSET
    priority: Priority | Unset = UNSET
    team_id: int | Unset | None = UNSET
    tags: Sequence[str] | Unset = UNSET
    add_tags: Sequence[str] = ()
    remove_tags: Sequence[str] = ()
    metadata: dict[str, Any] | Unset = UNSET

    def named_fields(self) -> set[str]:
        names = {
            name
            for name in ("title", "description", "status", "priority", "tags", "metadata")
            if getattr(self, name) is not UNSET
        }
        if self.team_id is not UNSET:
            names.add("team")
        if self.add_tags or self.remove_tags:
            names.add("tags")
        return names


# Input field names of the changes whose domain name differs.
INPUT_NAMES = {"team": "teamId"}


@dataclass(frozen=True)
class UpdateTicketInput:
    ticket_id: int
    changes: TicketChanges
    expected_version: int | None = None


async def update_ticket(session: AsyncSession, actor: Actor, data: UpdateTicketInput) -> Ticket:
    """Change a ticket's fields; one history entry per changed field. A stale expectedVersion
    (or a concurrent writer) is a CONFLICT and changes nothing."""
    _require_actor(actor)
    ticket = await ticket_for_update(session, actor, data.ticket_id, "id")
    if data.expected_version is not None and data.expected_version != ticket.version:
        raise _conflict(ticket)
    entries = await _apply_changes(session, actor, ticket, data.changes)
    if entries:
        touch(ticket, entries)
        await record_change(session, actor, ticket, entries)
    return ticket


def _conflict(ticket: Ticket) -> UserInputError:
    return user_error(
        "expectedVersion",
        f"ticket #{ticket.number} was changed by someone else (now version {ticket.version}); "
        "reload it and try again",
        UserErrorCode.CONFLICT,
    )


async def _apply_changes(
    session: AsyncSession, actor: Actor, ticket: Ticket, changes: TicketChanges
) -> list[Entry]:
    """Validate and apply changes to a loaded ticket; the history entries of what changed."""
    problems = Problems()
    for name in sorted(forbidden_updates(actor, changes.named_fields())):
        problems.add(
            INPUT_NAMES.get(name, name),
            f"customers may only close or reopen their tickets, not change {name}",
            UserErrorCode.FORBIDDEN,
        )
    if problems.errors:
        raise UserInputError(problems.errors)
    entries: list[Entry] = []
    now = utcnow()

    def change(field_name: str, attribute: str, new: Any, old: Any = None) -> None:
        current = getattr(ticket, attribute) if old is None else old
        if new != current:
            entries.append(field_changed(field_name, current, new))
            setattr(ticket, attribute, new)

    if not isinstance(changes.title, Unset):
        title = problems.text("title", changes.title, maximum=TITLE_MAX)
        change("title", "title", title)
    if not isinstance(changes.description, Unset):
        text = problems.text(
            "description", changes.description, maximum=DESCRIPTION_MAX, required=False
        )
        change("description", "description", text)
    if not isinstance(changes.priority, Unset):
        change("priority", "priority", changes.priority)
    if not isinstance(changes.team_id, Unset):
        change(
            "team",
            "team_id",
            await _team_in(session, ticket.organization_id, changes.team_id, problems),
        )
    if not isinstance(changes.tags, Unset) or changes.add_tags or changes.remove_tags:
        tags = list(ticket.tags) if isinstance(changes.tags, Unset) else list(changes.tags)
        removed = set(problems.tags("removeTags", changes.remove_tags))
        tags = [t for t in problems.tags("tags", [*tags, *changes.add_tags]) if t not in removed]
        change("tags", "tags", tags)
    if not isinstance(changes.metadata, Unset):
        change("metadata", "metadata_", problems.metadata("metadata", changes.metadata))
    if not isinstance(changes.status, Unset) and changes.status is not ticket.status:
        if not can_transition(actor, ticket.status, changes.status):
            problems.add(
                "status",
                f"cannot move a ticket from {ticket.status.name} to {changes.status.name}",
                UserErrorCode.ILLEGAL_TRANSITION,
            )
        else:
            entries.append(field_changed("status", ticket.status, changes.status))
            apply_status(ticket, changes.status, now)
    if problems.errors:
        raise UserInputError(problems.errors)
    return entries


def touch(ticket: Ticket, entries: list[Entry]) -> None:
    """After a change: a new version and updated_at, if customers can see the change.

    Staff-only changes (metadata, internal notes) leave both alone, so a customer cannot tell
    they happened. Writers hold the ticket's row lock (get_ticket_for_update), so versions
    never collide; staff-only edits are last-write-wins under that lock.
    """
    if any(not entry.internal for entry in entries):
        ticket.version += 1
        ticket.updated_at = utcnow()


# --- assignment --------------------------------------------------------------------------


@dataclass(frozen=True)
class AssignTicketInput:
    ticket_id: int
    assignee_id: int | None


async def assign_ticket(session: AsyncSession, actor: Actor, data: AssignTicketInput) -> Ticket:
    """Agents take unassigned tickets and release their own; admins assign any active member."""
    _require_actor(actor)
    ticket = await ticket_for_update(session, actor, data.ticket_id, "ticketId")
    entry = await _assign(session, actor, ticket, data.assignee_id)
    if entry is not None:
        touch(ticket, [entry])
        await record_change(session, actor, ticket, [entry])
    return ticket


async def _assign(
    session: AsyncSession, actor: Actor, ticket: Ticket, assignee_id: int | None
) -> Entry | None:
    if not may_assign(actor, ticket.assignee_id, assignee_id):
        if not actor.is_staff:
            raise user_error(None, "only team members assign tickets", UserErrorCode.FORBIDDEN)
        raise user_error(
            "assigneeId",
            "agents may take unassigned tickets and release their own; only admins assign others",
            UserErrorCode.FORBIDDEN,
        )
    if assignee_id == ticket.assignee_id:
        return None
    if assignee_id is not None:
        await assignable_member(session, ticket.organization_id, assignee_id, "assigneeId")
    entry = Entry(HistoryAction.ASSIGNED, "assignee", ticket.assignee_id, assignee_id)
    ticket.assignee_id = assignee_id
    return entry


# --- bulk --------------------------------------------------------------------------------


@dataclass(frozen=True)
class BulkUpdateInput:
    ticket_ids: Sequence[int]
    changes: TicketChanges = field(default_factory=TicketChanges)
    assignee_id: int | Unset | None = UNSET


@dataclass
class BulkResult:
    """The outcome for one requested id, in the order of the request."""

    ticket_id: int
    ticket: Ticket | None
    errors: list[UserErrorData]


class BulkUpdateFailed(Exception):
    """At least one ticket could not be changed, so none was: the transaction is rolled back."""

    def __init__(self, results: list[BulkResult]) -> None:
        super().__init__("bulk update failed")
        self.results = results


async def bulk_update_tickets(
    session: AsyncSession, actor: Actor, data: BulkUpdateInput
) -> list[BulkResult]:
    """Admins: apply the same changes to up to 100 tickets, all or nothing, with the same
    history as single updates. One result per requested id, in request order; an id named
    again is refused as DUPLICATE (so the whole update is)."""
    _require_actor(actor)
    if not may_bulk_update(actor):
        raise user_error(
            None, "only organization admins may bulk-update tickets", UserErrorCode.FORBIDDEN
        )
    requested = list(data.ticket_ids)
    if not requested:
        raise user_error("ticketIds", "name at least one ticket", UserErrorCode.REQUIRED)
    if len(requested) > BULK_MAX:
        raise user_error("ticketIds", f"at most {BULK_MAX} tickets at once", UserErrorCode.TOO_MANY)
    # Locked in id order, so that two bulk updates over overlapping tickets cannot deadlock;
    # every ticket lock first, before the row locks give the transaction its id.
    await lock_tickets(session, requested, "a bulk update")
    locked = await session.scalars(
        readable_tickets(actor)
        .where(Ticket.id.in_(set(requested)))
        .order_by(Ticket.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    tickets = {t.id: t for t in locked}
    results: list[BulkResult] = []
    done: set[int] = set()
    for ticket_id in requested:
        ticket = tickets.get(ticket_id)
        if ticket is None:
            results.append(_failed(ticket_id, "ticket not found", UserErrorCode.NOT_FOUND))
            continue
        if ticket_id in done:
            message = f"ticket #{ticket.number} is named more than once"
            results.append(_failed(ticket_id, message, UserErrorCode.DUPLICATE))
            continue
        done.add(ticket_id)
        try:
            entries = await _apply_changes(session, actor, ticket, data.changes)
            if not isinstance(data.assignee_id, Unset):
                assigned = await _assign(session, actor, ticket, data.assignee_id)
                entries += [assigned] if assigned else []
        except UserInputError as exc:
            results.append(BulkResult(ticket_id, ticket, exc.errors))
            continue
        if entries:
            touch(ticket, entries)
            await record_change(session, actor, ticket, entries)
        results.append(BulkResult(ticket_id, ticket, []))
    if any(result.errors for result in results):
        raise BulkUpdateFailed(results)
    return results


def _failed(ticket_id: int, message: str, code: UserErrorCode) -> BulkResult:
    return BulkResult(ticket_id, None, [UserErrorData("ticketIds", message, code)])
