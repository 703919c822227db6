"""Subscribers come and go without leaving tasks, connections, queues or memory behind; a
subscriber too slow to keep up is disconnected instead of growing memory."""

from __future__ import annotations

import asyncio
import gc
import socket
import tracemalloc
from contextlib import AsyncExitStack

import pytest
import websockets

from models import TicketResponse
from tests.conftest import Stack
from tests.factories import World, create_world
from tests.graphql import execute, global_id
from tests.ws import GraphQLWebSocket, served, serving, wait_until

EVENTS = "subscription { ticketEvents { cursor ticket { status } } }"
STATUS = """
mutation($id: ID!, $status: TicketStatus!) {
  updateTicket(input: {id: $id, status: $status}) { userErrors { code } }
}
"""
SUBSCRIBERS = 200
ROUNDS = 3


@pytest.fixture
async def world(session) -> World:
    return await create_world(session)


async def set_status(db: Stack, world: World, status: str) -> None:
    async with db.client(db.token(world.agent.user_id)) as client:
        await execute(
            client, STATUS, {"id": global_id("Ticket", world.ticket.id), "status": status}
        )


async def one_round(db: Stack, world: World, url: str, status: str) -> None:
    """SUBSCRIBERS sockets subscribe, all receive one event, all disconnect."""
    token = db.token(world.agent.user_id)
    async with AsyncExitStack() as stack:
        clients = await asyncio.gather(
            *(
                stack.enter_async_context(GraphQLWebSocket.connect(url, token))
                for _ in range(SUBSCRIBERS)
            )
        )
        await asyncio.gather(*(client.subscribe(EVENTS) for client in clients))
        await wait_until(lambda: served(db.app) >= SUBSCRIBERS)
        await set_status(db, world, status)
        received = await asyncio.gather(*(c.next_data(within=10) for c in clients))
    assert {r["data"]["ticketEvents"]["ticket"]["status"] for r in received} == {status}


async def settle(db: Stack) -> None:
    hub = db.app.state.runtime.get().hub
    await wait_until(lambda: hub.subscriber_count == 0)
    await asyncio.sleep(0.2)
    gc.collect()


async def test_many_subscribers_leave_nothing_behind(db: Stack, world: World) -> None:
    engine = db.app.state.runtime.get().engine
    statuses = ["IN_PROGRESS", "WAITING_ON_CUSTOMER", "OPEN", "IN_PROGRESS"]
    tracemalloc.start()
    try:
        async with serving(db.app) as url:
            await one_round(db, world, url, statuses[0])  # warm-up: caches, pools, imports
            await settle(db)
            tasks_before = len(asyncio.all_tasks())
            memory_before, _ = tracemalloc.get_traced_memory()

            for status in statuses[1 : ROUNDS + 1]:
                await one_round(db, world, url, status)
                await settle(db)

            tasks_after = len(asyncio.all_tasks())
            memory_after, _ = tracemalloc.get_traced_memory()
            checked_out = engine.pool.checkedout()
    finally:
        tracemalloc.stop()

    assert db.app.state.runtime.get().hub.subscriber_count == 0
    assert tasks_after <= tasks_before
    assert checked_out == 0
    # 600 connections came and went; what stays is bounded by caches, not by connections.
    assert memory_after - memory_before < 2_000_000, memory_after - memory_before


async def drain(client: GraphQLWebSocket) -> None:
    async with asyncio.timeout(20):
        while True:
            await client.connection.recv()


async def test_a_subscriber_too_slow_to_keep_up_is_disconnected(
    db: Stack, world: World, session
) -> None:
    # Big events (a large reply in every payload) fill the socket buffers of a client that
    # does not read; then the subscriber's bounded queue overflows.
    big = "x" * 19_000
    for _ in range(40):
        session.add(
            TicketResponse(
                ticket_id=world.ticket.id,
                author_type="team_member",
                author_id=world.agent.id,
                body=big,
            )
        )
    await session.commit()
    heavy = "subscription { ticketEvents { ticket { responses(first: 100) { nodes { body } } } } }"
    async with db.variant(subscriber_queue_size=2) as app, serving(app) as url:
        # A client that buffers almost nothing: one message in the library, 8 KiB in the kernel,
        # and no compression (which would shrink these repetitive payloads to nothing).
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)
        host, port = url.removeprefix("ws://").split("/")[0].split(":")
        sock.connect((host, int(port)))
        sock.setblocking(False)
        async with GraphQLWebSocket.connect(
            url,
            db.token(world.agent.user_id),
            max_queue=1,
            max_size=2**22,
            sock=sock,
            compression=None,
        ) as slow:
            await slow.subscribe(heavy)
            hub = app.state.runtime.get().hub
            await wait_until(lambda: hub.subscriber_count == 1)
            for n in range(30):
                async with db.client(db.token(world.agent.user_id), app=app) as client:
                    await execute(
                        client,
                        STATUS,
                        {
                            "id": global_id("Ticket", world.ticket.id),
                            "status": "IN_PROGRESS" if n % 2 else "OPEN",
                        },
                    )
            # Now read: what was buffered drains, then the close frame.
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await drain(slow)

    assert closed.value.rcvd.code == 4008
    assert "resume with after=" in closed.value.rcvd.reason
    assert hub.subscriber_count == 0
