"""Ticket writes. Each use case authorizes, validates, changes rows and records history in the
caller's transaction; the edge commits and then publishes the queued events."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from models import (
    Customer,
    HistoryAction,
    Organization,
    Priority,
    Status,
    Team,
    TeamMember,
    Ticket,
    TicketResponse,
)
from models.base import utcnow
from models.enums import AuthorType
from permissions import Actor
from permissions.people import readable_customers
from permissions.ticket import (
    may_add_internal_note,
    may_assign,
    may_bulk_update,
    may_update_fields,
    readable_tickets,
)
from resolvers.attachment import AttachRequest, attach
from resolvers.directory import get_organization
from resolvers.errors import (
    ForbiddenError,
    NotFoundError,
    UnauthenticatedError,
    UserErrorCode,
    UserErrorData,
    UserInputError,
    user_error,
)
from resolvers.history import Entry, field_changed, record_change
from resolvers.ticket import get_ticket_for_update
from resolvers.validation import (
    BODY_MAX,
    DESCRIPTION_MAX,
    IDEMPOTENCY_KEY_MAX,
    TITLE_MAX,
    Problems,
)
from resolvers.workflow import REOPENED_BY_CUSTOMER_REPLY, apply_status, can_transition

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
        if data.customer_id not in (None, actor.id):
            raise ForbiddenError("customers open tickets for themselves only")
        if data.team_id is not None or data.tags or data.metadata is not None:
            raise ForbiddenError("only team members may set team, tags or metadata")
        if data.organization_id is None:
            problems.add("organizationId", "choose the organization", UserErrorCode.REQUIRED)
            raise UserInputError(problems.errors)
        organization = await get_organization(session, actor, data.organization_id)
        customer_id = actor.id
    else:
        if data.organization_id not in (None, actor.organization_id):
            raise NotFoundError("organization not found")
        organization = await get_organization(session, actor, actor.organization_id or 0)
        customer_id = await _customer_for_staff(session, actor, data.customer_id, problems)
    team_id = await _team_in(session, organization.id, data.team_id, problems)
    tags = problems.tags("tags", data.tags)
    metadata = problems.metadata("metadata", data.metadata) if data.metadata is not None else {}
    if problems.errors:
        raise UserInputError(problems.errors)
    assert customer_id is not None

    if key:
        if session.get_bind().dialect.name == "postgresql":
            # Concurrent retries of one key take turns here, so the loser finds the winner's
            # ticket instead of using up a ticket number. (SQLite writers are serialized.)
            await session.execute(
                text("SELECT pg_advisory_xact_lock(:customer, hashtext(:key))"),
                {"customer": customer_id % 2**31, "key": key},
            )
        existing = await _by_idempotency_key(session, actor, customer_id, key)
        if existing is not None:
            return existing

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
        created_at=now,
        updated_at=now,
    )
    try:
        async with session.begin_nested():
            session.add(ticket)
            await session.flush()
    except IntegrityError:
        # Another request with the same idempotency key won the race.
        existing = await _by_idempotency_key(session, actor, customer_id, key) if key else None
        if existing is None:
            raise
        return existing
    entries = [Entry(HistoryAction.CREATED)]
    if data.attachments is not None:
        entries += await attach(session, actor, ticket, None, data.attachments)
    await record_change(session, actor, ticket, entries)
    return ticket


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
    found = await session.scalar(
        select(Team.id).where(Team.id == team_id, Team.organization_id == organization_id)
    )
    if found is None:
        problems.add("teamId", "no such team in this organization", UserErrorCode.NOT_FOUND)
    return found


async def _by_idempotency_key(
    session: AsyncSession, actor: Actor, customer_id: int, key: str
) -> Ticket | None:
    existing = await session.scalar(
        select(Ticket).where(Ticket.customer_id == customer_id, Ticket.idempotency_key == key)
    )
    if existing is None:
        return None
    readable = await session.scalar(readable_tickets(actor).where(Ticket.id == existing.id))
    if readable is None:
        raise user_error(
            "idempotencyKey",
            "this idempotency key was already used for another request",
            UserErrorCode.IDEMPOTENCY_KEY_REUSED,
        )
    return readable


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


@dataclass(frozen=True)
class UpdateTicketInput:
    ticket_id: int
    changes: TicketChanges
    expected_version: int | None = None


async def update_ticket(session: AsyncSession, actor: Actor, data: UpdateTicketInput) -> Ticket:
    """Change a ticket's fields; one history entry per changed field. A stale expectedVersion
    (or a concurrent writer) is a CONFLICT and changes nothing."""
    _require_actor(actor)
    ticket = await get_ticket_for_update(session, actor, data.ticket_id)
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
    if not may_update_fields(actor, changes.named_fields()):
        raise ForbiddenError("customers may only close or reopen their tickets")
    problems = Problems()
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


# --- responses ---------------------------------------------------------------------------


@dataclass(frozen=True)
class AddResponseInput:
    ticket_id: int
    body: str
    internal: bool = False
    attachments: AttachRequest | None = None


async def add_response(
    session: AsyncSession, actor: Actor, data: AddResponseInput
) -> tuple[Ticket, TicketResponse]:
    """A public reply (customer or staff) or an internal note (staff only).

    Internal notes leave the ticket's customer-visible fields (updated_at, version) untouched.
    A customer's reply to a ticket waiting on them, or resolved, reopens it.
    """
    _require_actor(actor)
    ticket = await get_ticket_for_update(session, actor, data.ticket_id)
    if data.internal and not may_add_internal_note(actor):
        raise ForbiddenError("only team members may add internal notes")
    problems = Problems()
    body = problems.text("body", data.body, maximum=BODY_MAX)
    if problems.errors:
        raise UserInputError(problems.errors)
    if not data.internal and ticket.status is Status.CLOSED:
        raise user_error(
            "ticketId", "the ticket is closed; reopen it to reply", UserErrorCode.TICKET_CLOSED
        )
    now = utcnow()
    response = TicketResponse(
        ticket_id=ticket.id,
        author_type=AuthorType.CUSTOMER if actor.is_customer else AuthorType.TEAM_MEMBER,
        author_id=actor.id,
        body=body,
        is_internal=data.internal,
        created_at=now,
    )
    session.add(response)
    await session.flush()
    action = HistoryAction.NOTE_ADDED if data.internal else HistoryAction.RESPONSE_ADDED
    entries = [Entry(action, "response", None, response.id, internal=data.internal)]
    if data.attachments is not None:
        entries += await attach(session, actor, ticket, response, data.attachments)
    touch(ticket, entries)
    if not data.internal:
        if actor.is_staff and ticket.first_responded_at is None:
            ticket.first_responded_at = now
        if actor.is_customer and ticket.status in REOPENED_BY_CUSTOMER_REPLY:
            entries.append(field_changed("status", ticket.status, Status.OPEN))
            apply_status(ticket, Status.OPEN, now)
    await record_change(session, actor, ticket, entries, response_id=response.id)
    return ticket, response


# --- assignment --------------------------------------------------------------------------


@dataclass(frozen=True)
class AssignTicketInput:
    ticket_id: int
    assignee_id: int | None


async def assign_ticket(session: AsyncSession, actor: Actor, data: AssignTicketInput) -> Ticket:
    """Agents take unassigned tickets and release their own; admins assign any active member."""
    _require_actor(actor)
    ticket = await get_ticket_for_update(session, actor, data.ticket_id)
    entry = await _assign(session, actor, ticket, data.assignee_id)
    if entry is not None:
        touch(ticket, [entry])
        await record_change(session, actor, ticket, [entry])
    return ticket


async def _assign(
    session: AsyncSession, actor: Actor, ticket: Ticket, assignee_id: int | None
) -> Entry | None:
    if not may_assign(actor, ticket.assignee_id, assignee_id):
        raise ForbiddenError(
            "agents may take unassigned tickets and release their own; only admins assign others"
        )
    if assignee_id == ticket.assignee_id:
        return None
    if assignee_id is not None:
        member = await session.scalar(
            select(TeamMember.id).where(
                TeamMember.id == assignee_id,
                TeamMember.organization_id == ticket.organization_id,
                TeamMember.is_active.is_(True),
            )
        )
        if member is None:
            raise user_error(
                "assigneeId", "no active team member with this id here", UserErrorCode.NOT_FOUND
            )
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
    history as single updates."""
    _require_actor(actor)
    if not may_bulk_update(actor):
        raise ForbiddenError("only organization admins may bulk-update tickets")
    ids = list(dict.fromkeys(data.ticket_ids))
    if not ids:
        raise user_error("ticketIds", "name at least one ticket", UserErrorCode.REQUIRED)
    if len(ids) > BULK_MAX:
        raise user_error("ticketIds", f"at most {BULK_MAX} tickets at once", UserErrorCode.TOO_MANY)
    # Locked in id order, so that two bulk updates over overlapping tickets cannot deadlock.
    locked = await session.scalars(
        readable_tickets(actor)
        .where(Ticket.id.in_(ids))
        .order_by(Ticket.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    tickets = {t.id: t for t in locked}
    results: list[BulkResult] = []
    for ticket_id in ids:
        ticket = tickets.get(ticket_id)
        if ticket is None:
            results.append(
                BulkResult(
                    ticket_id,
                    None,
                    [UserErrorData("ticketIds", "ticket not found", UserErrorCode.NOT_FOUND)],
                )
            )
            continue
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
