"""Shared fan-out beside the reference path: the same frames for every identity.

Live subscribers of one document with the same variables and visibility share one execution
(server/fanout.py); a subscriber with `after` is served on its own, by the reference path. Both
listen to one app here, so every change reaches both: for every identity of the permission
matrix, and documents that use staff-only fields, typed history, `ME` filters and a ticket that
is not the caller's, the shared sockets receive exactly the frames the reference socket does.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from contextlib import AsyncExitStack
from typing import Any

import pytest
import websockets

from server.fanout import Frame, Group, Member
from tests.conftest import Stack
from tests.factories import INTERNAL_MARKER, METADATA_MARKER, World, create_world
from tests.graphql import execute, global_id
from tests.ws import GraphQLWebSocket, served, serving, subscribed, wait_until

IDENTITIES = ["customer", "other_customer", "agent", "other_agent", "admin"]

LIVE = """
subscription Live($after: String) {
  ticketEvents(after: $after) {
    cursor kind occurredAt
    ticket { id number title status priority tags metadata assignee { id name email } }
    changes {
      __typename id createdAt
      actor { __typename ... on TeamMember { id name email } ... on Customer { id name } }
      ... on StatusChanged { fromStatus toStatus }
      ... on PriorityChanged { fromPriority toPriority }
      ... on Assigned { fromAssignee { id name } toAssignee { id name email } }
      ... on MetadataChanged { fromMetadata toMetadata }
      ... on NoteAdded { response { id body } }
      ... on ResponseAdded { response { id body isInternal } }
    }
    response { id body isInternal author { __typename ... on TeamMember { id name } } }
  }
}
"""
MINE = """
subscription Mine($after: String) {
  ticketEvents(after: $after, filter: {assignee: ME}) { cursor kind ticket { id status } }
}
"""
ONE_TICKET = """
subscription One($ticket: ID!, $after: String) {
  ticketEvents(ticketId: $ticket, after: $after) { cursor kind response { body } }
}
"""


@pytest.fixture
async def world(session) -> World:
    return await create_world(session)


async def mutate(db: Stack, who: Any, query: str, variables: dict[str, Any]) -> None:
    async with db.client(db.token(who.user_id)) as client:
        body = await execute(client, query, variables)
    assert "errors" not in body, body


CHANGES = [
    (
        "agent",
        'mutation($t: ID!) { addResponse(input: {ticketId: $t, body: "'
        + INTERNAL_MARKER
        + '", internal: true}) { response { id } } }',
    ),
    (
        "agent",
        'mutation($t: ID!) { addResponse(input: {ticketId: $t, body: "On it"}) '
        "{ response { id } } }",
    ),
    (
        "admin",
        "mutation($t: ID!) { updateTicket(input: {id: $t, priority: URGENT, "
        'metadata: {note: "' + METADATA_MARKER + '"}}) { ticket { id } } }',
    ),
    (
        "agent",
        "mutation($t: ID!) { updateTicket(input: {id: $t, status: IN_PROGRESS}) "
        "{ ticket { id } } }",
    ),
    (
        "admin",
        "mutation($t: ID!, $m: ID) { assignTicket(input: {ticketId: $t, assigneeId: $m}) "
        "{ ticket { id } } }",
    ),
    (
        "customer",
        'mutation($t: ID!) { addResponse(input: {ticketId: $t, body: "Thanks"}) '
        "{ response { id } } }",
    ),
]


def comparable(message: dict[str, Any]) -> str:
    """A frame without what differs by design: the operation id, and error request ids (a
    group's errors carry its own)."""
    payload = json.loads(json.dumps(message.get("payload")))
    for error in payload.get("errors", []) if isinstance(payload, dict) else payload or []:
        error.get("extensions", {}).pop("requestId", None)
    return json.dumps({"type": message["type"], "payload": payload}, sort_keys=True)


async def drain(socket: GraphQLWebSocket, quiet: float = 0.3) -> list[dict[str, Any]]:
    received = []
    while True:
        try:
            received.append(await socket.receive(within=quiet))
        except TimeoutError:
            return received


async def frames_for(
    db: Stack, world: World, document: str, variables: dict[str, Any]
) -> dict[str, tuple[list[list[str]], list[str]]]:
    """Per identity: (frames of two shared sockets, frames of a reference socket), all of them
    subscribed at once (so a group mixing identities would show), for the same changes."""
    async with serving(db.app) as url, AsyncExitStack() as stack:
        sockets: dict[str, list[GraphQLWebSocket]] = {}
        for who in IDENTITIES:
            token = db.token(getattr(world, who).user_id)
            sockets[who] = [
                await stack.enter_async_context(GraphQLWebSocket.connect(url, token))
                for _ in range(3)
            ]
            for shared in sockets[who][:2]:
                await shared.subscribe(document, variables)
            # From the beginning of the log: first a replay, served by the reference path only.
            await sockets[who][2].subscribe(document, {**variables, "after": "0"})
        with contextlib.suppress(TimeoutError):
            # (A subscription refused at its start never registers: then just wait a little.)
            everyone = 3 * len(IDENTITIES)
            await wait_until(lambda: served(db.app) == everyone, within=1.5)
        replayed = {who: await drain(group[2]) for who, group in sockets.items()}
        refused = {who: [await drain(s, quiet=0.1) for s in g[:2]] for who, g in sockets.items()}
        ticket = global_id("Ticket", world.ticket.id)
        for actor, mutation in CHANGES:
            extra = {"m": global_id("TeamMember", world.admin.id)} if "$m" in mutation else {}
            await mutate(db, getattr(world, actor), mutation, {"t": ticket, **extra})
        found = {}
        for who, group in sockets.items():
            if any(refused[who]):
                # Refused at the start (a ticket that is not the caller's): the same refusal.
                found[who] = (refused[who], replayed[who])
            else:
                found[who] = ([await drain(s) for s in group[:2]], await drain(group[2]))
    return {
        who: ([[comparable(m) for m in f] for f in shared], [comparable(m) for m in ref])
        for who, (shared, ref) in found.items()
    }


@pytest.mark.parametrize(
    "document",
    [
        pytest.param(LIVE, id="live-typed-staff-only-fields"),
        pytest.param(MINE, id="assignee-me"),
        pytest.param(ONE_TICKET, id="one-ticket"),
    ],
)
async def test_shared_sockets_receive_exactly_what_the_reference_path_sends(
    db: Stack, world: World, document: str
) -> None:
    variables = {"ticket": global_id("Ticket", world.ticket.id)} if "$ticket" in document else {}

    frames = await frames_for(db, world, document, variables)

    for who, (shared, reference) in frames.items():
        assert shared[0] == shared[1] == reference, who
    if document is LIVE:
        # The comparison means something: staff of the organization receive every change,
        # the customer their public ones (never internal text), the others nothing.
        counts = {who: len(reference) for who, (_, reference) in frames.items()}
        assert counts == {
            "customer": 5,
            "other_customer": 0,
            "agent": 6,
            "other_agent": 0,
            "admin": 6,
        }
        customer = "".join(frames["customer"][1])
        assert INTERNAL_MARKER not in customer
        assert METADATA_MARKER not in customer


async def test_subscribers_that_see_the_same_share_one_execution(db: Stack, world: World) -> None:
    fanout = db.app.state.runtime.get().fanout
    tokens = [db.token(world.agent.user_id), db.token(world.agent.user_id)]
    tokens += [db.token(world.customer.user_id)]
    async with serving(db.app) as url, AsyncExitStack() as stack:
        sockets = [
            await stack.enter_async_context(GraphQLWebSocket.connect(url, t)) for t in tokens
        ]
        for socket in sockets:
            await socket.subscribe(LIVE)
        await subscribed(db.app, 3)
        groups = fanout.served()

    # The agent's two sockets share one group; the customer has their own.
    assert groups == (2, 3)


async def until_closed(socket: GraphQLWebSocket) -> int:
    """Read what the socket still holds until the server's close arrives; its code."""
    try:
        while True:
            await socket.receive(within=10)
    except websockets.ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd else 1006


def test_a_member_that_cannot_take_its_frames_is_dropped_alone() -> None:
    slow, fast = Member(asyncio.Queue(maxsize=2)), Member(asyncio.Queue(maxsize=2))
    group = Group(key=("k",), members={slow, fast})
    for n in range(3):
        group.broadcast(Frame(payload=str(n), cursor=str(n)))
        if n < 2:
            fast.queue.get_nowait()  # the fast member keeps up

    assert fast.overflowed is False
    assert slow.overflowed is True
    assert fast.queue.get_nowait() == Frame(payload="2", cursor="2")


async def test_a_member_whose_socket_lags_is_closed_alone(db: Stack, world: World) -> None:
    big = "x" * 19_000
    async with db.variant(subscriber_queue_size=2) as app, serving(app) as url:
        token = db.token(world.agent.user_id)
        host, port = url.removeprefix("ws://").split("/")[0].split(":")
        # A client that reads nothing, with a tiny receive buffer: the server's socket fills
        # and the group's frames wait in this member's queue.
        raw = socket.socket()
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
        raw.connect((host, int(port)))
        raw.setblocking(False)
        async with (
            GraphQLWebSocket.connect(url, token) as reader,
            GraphQLWebSocket.connect(url, token, sock=raw, max_queue=1) as stalled,
        ):
            await reader.subscribe(LIVE)
            await stalled.subscribe(LIVE)
            await subscribed(app, 2)
            ticket = global_id("Ticket", world.ticket.id)
            reply = (
                "mutation($t: ID!, $b: String!) "
                "{ addResponse(input: {ticketId: $t, body: $b}) { response { id } } }"
            )
            received = []
            async with db.client(token, app=app) as client:
                for n in range(200):
                    await execute(client, reply, {"t": ticket, "b": f"{big}{n}"})
                    received.append(await reader.next_data())
            code = await until_closed(stalled)

    assert len(received) == 200  # the reader kept up and got every change
    assert code == 4008
