"""Ticket reads: one ticket by id, and its responses, each limited by the caller's policies."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models import Ticket, TicketResponse
from permissions import Actor
from permissions.ticket import readable_tickets, response_visibility
from resolvers.errors import NotFoundError


async def get_ticket(session: AsyncSession, actor: Actor, ticket_id: int) -> Ticket:
    """The ticket with this id if the actor may read it; NotFoundError otherwise."""
    ticket = await session.scalar(readable_tickets(actor).where(Ticket.id == ticket_id))
    if ticket is None:
        raise NotFoundError("ticket not found")
    return ticket


async def responses_for_tickets(
    session: AsyncSession, actor: Actor, ticket_ids: Sequence[int]
) -> dict[int, list[TicketResponse]]:
    """Responses of already-authorized tickets, oldest first, without what the actor may not see."""
    rows = await session.scalars(
        select(TicketResponse)
        .where(TicketResponse.ticket_id.in_(ticket_ids), response_visibility(actor))
        .order_by(TicketResponse.ticket_id, TicketResponse.created_at, TicketResponse.id)
    )
    grouped: dict[int, list[TicketResponse]] = {ticket_id: [] for ticket_id in ticket_ids}
    for response in rows:
        grouped[response.ticket_id].append(response)
    return grouped
