"""Open WebSockets act as their user is now (review, finding 1).

A member deactivated, made an agent instead of an admin, or moved to another organization while
a socket is open loses it within ACTOR_CACHE_SECONDS: the socket is closed with 4403, no event
reaches it after the change is seen, and no operation runs on it. Tokens whose `exp` is not a
number are refused, so every socket has an expiry it is closed at.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import jwt
import pytest
import websockets
from sqlalchemy import func, select, update

from models import TeamMember, TeamRole, TicketResponse
from tests.conftest import TEST_SECRET, Stack
from tests.factories import INTERNAL_MARKER, World, create_team, create_world
from tests.graphql import execute, global_id
from tests.ws import GraphQLWebSocket, serving, subscribed

# Sockets are re-checked every ACTOR_CACHE_SECONDS; one second keeps the tests short.
CACHE_SECONDS = 1
EVENTS = """subscription { ticketEvents {
  cursor kind response { body isInternal } ticket { metadata }
} }"""
NOTE = """mutation($id: ID!, $body: String!) {
  addResponse(input: {ticketId: $id, body: $body, internal: true}) { response { id } }
}"""
READ_NOTES = """query($id: ID!) { ticket(id: $id) {
  metadata responses { nodes { body isInternal } }
} }"""


@pytest.fixture
async def world(session) -> World:
    return await create_world(session)


@asynccontextmanager
async def live_app(db: Stack, cache_seconds: int = CACHE_SECONDS) -> AsyncIterator[str]:
    """The app with a short actor cache, served; mutations go through it too (its event hub
    is the one its sockets listen to)."""
    async with db.variant(actor_cache_seconds=cache_seconds) as app, serving(app) as url:
        LIVE_APPS[url] = app
        try:
            yield url
        finally:
            del LIVE_APPS[url]


LIVE_APPS: dict[str, Any] = {}


async def change_member(db: Stack, member: TeamMember, **values: Any) -> None:
    async with db.sessionmaker() as session:
        await session.execute(update(TeamMember).where(TeamMember.id == member.id).values(**values))
        await session.commit()


async def add_note(db: Stack, world: World, body: str, url: str) -> None:
    async with db.client(db.token(world.admin.user_id), app=LIVE_APPS[url]) as client:
        answer = await execute(
            client, NOTE, {"id": global_id("Ticket", world.ticket.id), "body": body}
        )
    assert answer["data"]["addResponse"]["response"] is not None


async def received_until_closed(socket: GraphQLWebSocket, within: float) -> tuple[list[Any], int]:
    """Every message until the server closes the socket, and the close code."""
    messages = []
    deadline = time.monotonic() + within
    while True:
        try:
            messages.append(await socket.receive(within=max(0.01, deadline - time.monotonic())))
        except websockets.ConnectionClosed as closed:
            return messages, closed.rcvd.code if closed.rcvd else 1006


@pytest.mark.parametrize(
    ("who", "change"),
    [
        pytest.param("agent", {"is_active": False}, id="deactivated"),
        pytest.param("admin", {"role": TeamRole.AGENT}, id="admin-made-agent"),
    ],
)
async def test_a_socket_closes_when_its_member_loses_rights(
    db: Stack, world: World, who: str, change: dict[str, Any]
) -> None:
    member = getattr(world, who)
    async with live_app(db) as url, GraphQLWebSocket.connect(url, db.token(member.user_id)) as ws:
        await ws.subscribe(EVENTS)
        await change_member(db, member, **change)
        started = time.monotonic()
        messages, code = await received_until_closed(ws, within=CACHE_SECONDS + 3)

    assert code == 4403
    assert time.monotonic() - started <= CACHE_SECONDS + 1.5
    assert messages == []


async def test_a_member_moved_to_another_organization_loses_the_socket(
    db: Stack, world: World, session
) -> None:
    team = await create_team(session, world.other_org)
    await session.commit()
    async with (
        live_app(db) as url,
        GraphQLWebSocket.connect(url, db.token(world.admin.user_id)) as ws,
    ):
        await ws.subscribe(EVENTS)
        # The admin is no ticket's assignee, so the move keeps every ticket in one organization.
        await change_member(db, world.admin, organization_id=world.other_org.id, team_id=team.id)
        _, code = await received_until_closed(ws, within=CACHE_SECONDS + 3)

    assert code == 4403


async def test_no_internal_note_reaches_a_deactivated_member(db: Stack, world: World) -> None:
    async with (
        live_app(db) as url,
        GraphQLWebSocket.connect(url, db.token(world.agent.user_id)) as ws,
    ):
        await ws.subscribe(EVENTS)
        await subscribed(LIVE_APPS[url], 1)
        await add_note(db, world, "before", url)
        assert (await ws.next_data())["data"]["ticketEvents"]["response"]["body"] == "before"
        await change_member(db, world.agent, is_active=False)
        # The note is written right after the change, before any sweep has seen it: still it
        # must not be delivered once the socket's user is found to be deactivated.
        await add_note(db, world, INTERNAL_MARKER, url)
        messages, code = await received_until_closed(ws, within=CACHE_SECONDS + 3)

    # At most the window the cache allows; never after the close.
    assert code == 4403
    assert all(INTERNAL_MARKER not in json.dumps(m) for m in messages[1:])


async def test_a_team_change_keeps_the_socket(db: Stack, world: World, session) -> None:
    team = await create_team(session, world.org)
    await session.commit()
    async with (
        live_app(db) as url,
        GraphQLWebSocket.connect(url, db.token(world.agent.user_id)) as ws,
    ):
        await ws.subscribe(EVENTS)
        await subscribed(LIVE_APPS[url], 1)
        await change_member(db, world.agent, team_id=team.id)
        await asyncio.sleep(CACHE_SECONDS + 1)  # at least one sweep
        await add_note(db, world, "still here", url)
        event = await ws.next_data()

    assert event["data"]["ticketEvents"]["response"]["body"] == "still here"


async def count_notes(db: Stack) -> int:
    async with db.sessionmaker() as session:
        query = select(func.count()).select_from(TicketResponse).where(TicketResponse.is_internal)
        return int(await session.scalar(query) or 0)


@pytest.mark.parametrize("operation", ["query", "mutation"])
async def test_no_operation_runs_for_a_deactivated_member(
    db: Stack, world: World, operation: str
) -> None:
    ticket = global_id("Ticket", world.ticket.id)
    notes_before = await count_notes(db)
    # Without a cache every operation checks its user first: this proves that check on its
    # own, well before the next sweep of open sockets (at least a second away).
    async with (
        live_app(db, cache_seconds=0) as url,
        GraphQLWebSocket.connect(url, db.token(world.agent.user_id)) as ws,
    ):
        await change_member(db, world.agent, is_active=False)
        if operation == "query":
            await ws.subscribe(READ_NOTES, {"id": ticket})
        else:
            await ws.subscribe(NOTE, {"id": ticket, "body": INTERNAL_MARKER})
        messages, code = await received_until_closed(ws, within=0.9)

    assert code == 4403
    assert messages == []
    assert await count_notes(db) == notes_before


async def test_operations_still_run_for_a_member_in_good_standing(db: Stack, world: World) -> None:
    async with (
        live_app(db) as url,
        GraphQLWebSocket.connect(url, db.token(world.agent.user_id)) as ws,
    ):
        await asyncio.sleep(CACHE_SECONDS)
        await ws.subscribe(READ_NOTES, {"id": global_id("Ticket", world.ticket.id)})
        answer = await ws.next_data()

    notes = [r for r in answer["data"]["ticket"]["responses"]["nodes"] if r["isInternal"]]
    assert notes[0]["body"] == INTERNAL_MARKER


def token_with(claims: dict[str, Any]) -> str:
    return jwt.encode(claims, TEST_SECRET, algorithm="HS256")


NOT_NUMBERS = [
    pytest.param({"exp": "1893456000"}, id="exp-string"),
    pytest.param({"exp": True}, id="exp-bool"),
    pytest.param({"iat": "1700000000"}, id="iat-string"),
    pytest.param({"nbf": "1700000000"}, id="nbf-string"),
    pytest.param({"exp": [1893456000]}, id="exp-list"),
]


@pytest.mark.parametrize("claims", NOT_NUMBERS)
async def test_time_claims_must_be_numbers_over_http(
    db: Stack, world: World, claims: dict[str, Any]
) -> None:
    future = int(time.time()) + 3600
    token = token_with({"sub": world.agent.user_id, "exp": future, **claims})
    async with db.client(token) as client:
        answer = await client.post("/graphql", json={"query": "{ me { __typename } }"})

    assert answer.status_code == 401
    assert answer.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


@pytest.mark.parametrize("claims", NOT_NUMBERS)
async def test_time_claims_must_be_numbers_on_sockets(
    db: Stack, world: World, claims: dict[str, Any]
) -> None:
    future = int(time.time()) + 3600
    token = token_with({"sub": world.agent.user_id, "exp": future, **claims})
    async with (
        serving(db.app) as url,
        websockets.connect(url, subprotocols=["graphql-transport-ws"]) as ws,
    ):
        await ws.send(json.dumps({"type": "connection_init", "payload": {"token": token}}))
        with pytest.raises(websockets.ConnectionClosed) as closed:
            async with asyncio.timeout(5):
                await ws.recv()

    assert closed.value.rcvd.code == 4403


async def test_a_far_future_expiry_is_watched_without_overflow(db: Stack, world: World) -> None:
    # asyncio cannot sleep 10**12 seconds; the watchdog wakes daily instead of failing.
    token = token_with({"sub": world.agent.user_id, "exp": 10**12})
    async with serving(db.app) as url, GraphQLWebSocket.connect(url, token) as ws:
        await ws.subscribe("{ me { __typename } }")
        answer = await ws.next_data()

    assert answer["data"]["me"]["__typename"] == "TeamMember"


async def test_overlapping_lookups_of_one_user_share_one_query(db: Stack, world: World) -> None:
    # Twenty sockets of one user opening (or re-checked) at once: one lookup, not twenty.
    from sqlalchemy import event

    from server.access import Directory

    statements: list[str] = []

    def record(*args: Any) -> None:
        statements.append(args[2])

    directory = Directory(db.sessionmaker, ttl=0)
    event.listen(db.engine.sync_engine, "before_cursor_execute", record)
    try:
        actors = await asyncio.gather(*(directory.actor(world.agent.user_id) for _ in range(20)))
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", record)

    assert {a.id for a in actors} == {world.agent.id}
    assert len([s for s in statements if "team_members" in s]) == 1
