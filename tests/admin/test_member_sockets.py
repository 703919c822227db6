"""Deactivation and role changes made through the API reach open sockets (server/access.py):
the member's socket is closed with 4403 within ACTOR_CACHE_SECONDS."""

from __future__ import annotations

import time

import pytest

from models import TeamRole
from tests.admin.helpers import DEACTIVATE_MEMBER, UPDATE_MEMBER
from tests.conftest import Stack
from tests.factories import World, create_member, create_world
from tests.graphql import execute, global_id
from tests.subscriptions.test_revocation import (
    CACHE_SECONDS,
    EVENTS,
    LIVE_APPS,
    live_app,
    received_until_closed,
)
from tests.ws import GraphQLWebSocket, subscribed


@pytest.fixture
async def world(session) -> World:
    return await create_world(session)


async def test_a_member_deactivated_through_the_api_loses_their_socket(
    db: Stack, world: World
) -> None:
    async with (
        live_app(db) as url,
        GraphQLWebSocket.connect(url, db.token(world.agent.user_id)) as ws,
    ):
        await ws.subscribe(EVENTS)
        await subscribed(LIVE_APPS[url], 1)
        async with db.client(db.token(world.admin.user_id), app=LIVE_APPS[url]) as admin:
            body = await execute(
                admin,
                DEACTIVATE_MEMBER,
                {"input": {"id": global_id("TeamMember", world.agent.id)}},
            )
        started = time.monotonic()
        messages, code = await received_until_closed(ws, within=CACHE_SECONDS + 3)

    assert body["data"]["deactivateTeamMember"]["userErrors"] == []
    assert code == 4403
    assert time.monotonic() - started <= CACHE_SECONDS + 1.5
    # The unassignment of the member's ticket is an event they may no longer receive.
    assert all("ticketEvents" not in str(m) for m in messages)


async def test_an_admin_made_agent_through_the_api_loses_their_socket(
    db: Stack, world: World, session
) -> None:
    second = await create_member(session, world.org, TeamRole.ADMIN)
    await session.commit()
    async with (
        live_app(db) as url,
        GraphQLWebSocket.connect(url, db.token(second.user_id)) as ws,
    ):
        await ws.subscribe(EVENTS)
        await subscribed(LIVE_APPS[url], 1)
        async with db.client(db.token(world.admin.user_id), app=LIVE_APPS[url]) as admin:
            body = await execute(
                admin,
                UPDATE_MEMBER,
                {"input": {"id": global_id("TeamMember", second.id), "role": "AGENT"}},
            )
        _, code = await received_until_closed(ws, within=CACHE_SECONDS + 3)

    assert body["data"]["updateTeamMember"]["userErrors"] == []
    assert code == 4403


async def test_a_rename_through_the_api_keeps_the_socket(db: Stack, world: World) -> None:
    async with (
        live_app(db) as url,
        GraphQLWebSocket.connect(url, db.token(world.agent.user_id)) as ws,
    ):
        await ws.subscribe(EVENTS)
        await subscribed(LIVE_APPS[url], 1)
        async with db.client(db.token(world.admin.user_id), app=LIVE_APPS[url]) as admin:
            body = await execute(
                admin,
                UPDATE_MEMBER,
                {"input": {"id": global_id("TeamMember", world.agent.id), "name": "Renamed"}},
            )
            # The agent's own ticket changes next; the socket still receives it.
            await execute(
                admin,
                """mutation($id: ID!) { updateTicket(input: {id: $id, priority: URGENT}) {
                  ticket { id } } }""",
                {"id": global_id("Ticket", world.ticket.id)},
            )
        event = await ws.next_data()

    assert body["data"]["updateTeamMember"]["userErrors"] == []
    assert event["data"]["ticketEvents"]["kind"] == "UPDATED"
