"""The differential harness: one seeded world, the app (compiled path on PostgreSQL) and a
variant of it with COMPILED_QUERIES=false (the reference path), and a check that both answer a
request alike."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from starlette.applications import Starlette

from models import Ticket, TicketResponse
from resolvers.compiled.sql import TICKET_ORDER
from resolvers.ticket import RESPONSE_ORDER, TicketOrder, TicketOrderField, ticket_sort_key
from schema.compiled import outcomes
from tests.conftest import Stack, clear_tables
from tests.factories import add_response
from tests.graphql import global_id
from tests.security.world import IDENTITIES, World, build_world


@dataclass
class Differential:
    stack: Stack
    reference: Starlette
    world: World
    tokens: dict[str, str | None]
    ticket_cursors: list[str]
    response_cursors: list[str]
    # Of every order in TICKET_ORDERS.
    ordered_ticket_cursors: list[str]
    # How many comparisons the compiled path answered, and how many repeats the lane did.
    compiled: int = 0
    laned: int = 0

    @property
    def compiles(self) -> bool:
        """The compiled path is on for this backend (PostgreSQL only)."""
        return self.stack.backend.is_postgres

    async def post(self, app: Starlette, identity: str, body: dict[str, Any]) -> httpx.Response:
        async with self.stack.client(self.tokens[identity], app=app) as client:
            return await client.post("/graphql", json=body)

    async def compare(
        self, identity: str, query: str, variables: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], bool]:
        """Both paths' answers, which must be equal; and whether the compiled path answered."""
        body = {"query": query, "variables": variables or {}}
        before = outcomes["compiled"] + outcomes["lane"]
        compiled = await self.post(self.stack.app, identity, body)
        used = outcomes["compiled"] + outcomes["lane"] > before
        # The same request again: once its plan has answered through the whole pipeline, the
        # compiled lane (server/compiled_lane.py) answers repeats; it must answer the same.
        lane_before = outcomes["lane"]
        repeated = await self.post(self.stack.app, identity, body)
        laned = outcomes["lane"] > lane_before
        assert laned == used, "a repeat of a compiled answer is the lane's, and only that"
        reference = await self.post(self.reference, identity, body)
        theirs = normalized(reference.json())
        for answer in (compiled, repeated):
            assert answer.status_code == reference.status_code, (answer.text, reference.text)
            assert answer.headers["content-type"] == reference.headers["content-type"]
            mine = normalized(answer.json())
            assert mine == theirs, f"{identity}: {query} {variables}\n{mine}\n!=\n{theirs}"
        if used:
            assert repeated.content == compiled.content
        self.compiled += used
        self.laned += laned
        if not self.compiles:
            assert not used, "the compiled path must not run on SQLite"
        return mine, used


def normalized(body: Any) -> Any:
    """The body without request ids (each request has its own) and with signed download URLs
    reduced to whether there is one (they carry their expiry time: a second apart, they
    differ; attachments are the reference path's anyway)."""
    for error in body.get("errors", []) if isinstance(body, dict) else []:
        error.get("extensions", {}).pop("requestId", None)
    return _without_urls(body)


def _without_urls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: (v is not None if k == "url" else _without_urls(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_urls(v) for v in value]
    return value


async def _thicken(stack: Stack, world: World) -> None:
    """More replies on `ticket` (two with the same timestamp, so ids break the tie) and a
    second page of tickets, so that pages and cursors have something to page through."""
    async with stack.sessionmaker() as session:
        ticket = await session.get(Ticket, world.ticket.id)
        assert ticket is not None
        base = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC)
        for i in range(7):
            author = world.customer if i % 3 == 0 else world.agent
            response = await add_response(
                session, ticket, author, f"Pagingreply {i}", internal=i % 4 == 1
            )
            response.created_at = base + dt.timedelta(minutes=i // 2, microseconds=0 if i else 5)
        await session.commit()


# Cursors of every ticket order (and of one a search pins numbers in), for pages of each.
TICKET_ORDERS = [
    TICKET_ORDER,
    *(
        ticket_sort_key(TicketOrder(field, descending))
        for field in TicketOrderField
        for descending in (True, False)
        if (field, descending) != (TicketOrderField.UPDATED_AT, True)
    ),
    ticket_sort_key(TicketOrder(), pinned_numbers=[1]),
    ticket_sort_key(TicketOrder(TicketOrderField.PRIORITY), pinned_numbers=[1, 2]),
]


@pytest.fixture(scope="module")
async def differential(stack: Stack) -> AsyncIterator[Differential]:
    async with stack.sessionmaker() as session:
        world = await build_world(session)
    await _thicken(stack, world)
    tokens: dict[str, str | None] = {}
    for identity in IDENTITIES:
        person = world.person(identity)
        tokens[identity] = None if person is None else stack.token(person.user_id)
    async with stack.sessionmaker() as session:
        tickets = list(await session.scalars(select(Ticket)))
        responses = list(await session.scalars(select(TicketResponse)))
    async with stack.variant(compiled_queries=False) as reference:
        yield Differential(
            stack,
            reference,
            world,
            tokens,
            [TICKET_ORDER.cursor_of(t) for t in tickets],
            [RESPONSE_ORDER.cursor_of(r) for r in responses],
            [key.cursor_of(t) for key in TICKET_ORDERS for t in tickets],
        )
    await clear_tables(stack.engine)


def ticket_ids(world: World) -> list[str]:
    """Ids to ask for: readable by some, by none, of another type, malformed."""
    return [
        global_id("Ticket", world.ticket.id),
        global_id("Ticket", world.other_ticket.id),
        global_id("Ticket", world.other_org_ticket.id),
        global_id("Ticket", 999_999),
        global_id("Response", world.public_reply.id),
        "not-an-id",
    ]


def node_ids(world: World) -> list[str]:
    """Ids of every type `node` may be asked for, readable by some identities and not others."""
    return [
        *ticket_ids(world),
        global_id("Response", world.internal_note.id),
        global_id("Response", world.other_reply.id),
        global_id("Customer", world.customer.id),
        global_id("Customer", world.other_customer.id),
        global_id("TeamMember", world.agent.id),
        global_id("TeamMember", world.other_agent.id),
        global_id("Team", world.team.id),
        global_id("Organization", world.org.id),
        global_id("Organization", world.other_org.id),
        global_id("HistoryEntry", world.public_history.id),
        global_id("Attachment", world.ticket_file.id),
    ]
