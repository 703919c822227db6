"""Replies and internal notes on a ticket, with an optional idempotency key per author."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from models import Attachment, HistoryAction, Status, Ticket, TicketResponse
from models.base import utcnow
from models.enums import AuthorType
from permissions import Actor
from permissions.ticket import may_add_internal_note
from resolvers.article_links import articles_to_link, link_articles, linked_article_ids
from resolvers.attachment import AttachRequest, attach, files_to_attach
from resolvers.errors import UnauthenticatedError, UserErrorCode, UserInputError, user_error
from resolvers.history import Entry, field_changed, record_change
from resolvers.locks import LockClass, lock_key
from resolvers.ticket_write import ticket_for_update, touch
from resolvers.validation import BODY_MAX, IDEMPOTENCY_KEY_MAX, Problems
from resolvers.workflow import REOPENED_BY_CUSTOMER_REPLY, apply_status


@dataclass(frozen=True)
class AddResponseInput:
    ticket_id: int
    body: str
    internal: bool = False
    idempotency_key: str | None = None
    attachments: AttachRequest | None = None
    # Knowledge-base articles to link in the reply (staff), in order.
    article_ids: tuple[int, ...] = ()


async def add_response(
    session: AsyncSession, actor: Actor, data: AddResponseInput
) -> tuple[Ticket, TicketResponse]:
    """A public reply (customer or staff) or an internal note (staff only).

    Internal notes leave the ticket's customer-visible fields (updated_at, version) untouched.
    A customer's reply to a ticket waiting on them, or resolved, reopens it. With an
    idempotency key, repeating the same request returns the first response and writes nothing;
    the key used for a different request is refused (IDEMPOTENCY_KEY_REUSED).
    """
    if not actor.is_authenticated:
        raise UnauthenticatedError("authentication required")
    ticket = await ticket_for_update(session, actor, data.ticket_id, "ticketId")
    if data.internal and not may_add_internal_note(actor):
        raise user_error(
            "internal", "only team members may add internal notes", UserErrorCode.FORBIDDEN
        )
    problems = Problems()
    body = problems.text("body", data.body, maximum=BODY_MAX)
    key = None
    if data.idempotency_key is not None:
        key = problems.text("idempotencyKey", data.idempotency_key, maximum=IDEMPOTENCY_KEY_MAX)
    if problems.errors:
        raise UserInputError(problems.errors)
    attachment_ids = tuple(sorted(set(data.attachments.ids))) if data.attachments else ()
    article_ids = tuple(dict.fromkeys(data.article_ids))
    request = _Request(ticket.id, body, data.internal, attachment_ids, article_ids)
    if key:
        await _take_turns(session, actor, key)
        earlier = await _by_key(session, actor, key)
        if earlier is not None:
            return ticket, await request.replay(session, earlier)
    if not data.internal and ticket.status is Status.CLOSED:
        raise user_error(
            "ticketId", "the ticket is closed; reopen it to reply", UserErrorCode.TICKET_CLOSED
        )
    # Checked before the first write: on SQLite the savepoint below is the outermost
    # transaction when nothing was written yet, and releasing it commits the response.
    files = (
        await files_to_attach(session, actor, ticket.organization_id, ticket.id, data.attachments)
        if data.attachments
        else []
    )
    articles = (
        await articles_to_link(session, actor, ticket, article_ids, internal=data.internal)
        if article_ids
        else []
    )
    now = utcnow()
    response = TicketResponse(
        ticket_id=ticket.id,
        author_type=_author_type(actor),
        author_id=actor.id,
        body=body,
        is_internal=data.internal,
        created_at=now,
        idempotency_key=key,
    )
    try:
        async with session.begin_nested():
            session.add(response)
            await session.flush()
    except IntegrityError:
        # Another request with the same key won the race.
        earlier = await _by_key(session, actor, key) if key else None
        if earlier is None:
            raise
        return ticket, await request.replay(session, earlier)
    action = HistoryAction.NOTE_ADDED if data.internal else HistoryAction.RESPONSE_ADDED
    entries = [Entry(action, "response", None, response.id, internal=data.internal)]
    if files:
        entries += await attach(session, ticket, response, files)
    if articles:
        await link_articles(session, ticket, response, articles)
    touch(ticket, entries)
    if not data.internal:
        if actor.is_staff and ticket.first_responded_at is None:
            ticket.first_responded_at = now
        if actor.is_customer and ticket.status in REOPENED_BY_CUSTOMER_REPLY:
            entries.append(field_changed("status", ticket.status, Status.OPEN))
            apply_status(ticket, Status.OPEN, now)
    await record_change(session, actor, ticket, entries, response_id=response.id)
    return ticket, response


@dataclass(frozen=True)
class _Request:
    """What a response request asks for, to compare a retry with the first request."""

    ticket_id: int
    body: str
    internal: bool
    attachment_ids: tuple[int, ...] = ()
    article_ids: tuple[int, ...] = ()

    async def replay(self, session: AsyncSession, earlier: TicketResponse) -> TicketResponse:
        """The earlier response if it answered this same request; IDEMPOTENCY_KEY_REUSED else."""
        earlier_files = tuple(
            await session.scalars(
                select(Attachment.id)
                .where(Attachment.response_id == earlier.id)
                .order_by(Attachment.id)
            )
        )
        earlier_articles = await linked_article_ids(session, earlier.id)
        if (
            earlier.ticket_id,
            earlier.body,
            earlier.is_internal,
            earlier_files,
            earlier_articles,
        ) != (
            self.ticket_id,
            self.body,
            self.internal,
            self.attachment_ids,
            self.article_ids,
        ):
            raise user_error(
                "idempotencyKey",
                "this idempotency key was already used for another request",
                UserErrorCode.IDEMPOTENCY_KEY_REUSED,
            )
        return earlier


def _author_type(actor: Actor) -> AuthorType:
    return AuthorType.CUSTOMER if actor.is_customer else AuthorType.TEAM_MEMBER


async def _take_turns(session: AsyncSession, actor: Actor, key: str) -> None:
    """Concurrent retries of one key by one author wait for each other (PostgreSQL; SQLite
    writers are serialized), so the second finds the first's response."""
    scope = f"{_author_type(actor).value}:{actor.id}:{key}"
    await lock_key(session, LockClass.REPLY_IDEMPOTENCY_KEY, scope)


async def _by_key(session: AsyncSession, actor: Actor, key: str) -> TicketResponse | None:
    response: TicketResponse | None = await session.scalar(
        select(TicketResponse).where(
            TicketResponse.author_type == _author_type(actor),
            TicketResponse.author_id == actor.id,
            TicketResponse.idempotency_key == key,
        )
    )
    return response
