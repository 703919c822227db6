"""Odd but well-formed input is a client error, never INTERNAL (outside review, finding 7).

Global ids whose key is not ASCII digits (`str.isdigit()` accepts "¹", which `int()` refuses)
and timestamps that leave years 1-9999 once converted to UTC are answered as NOT_FOUND or
BAD_USER_INPUT, and one bad id among many does not take the other answers with it.
"""

from __future__ import annotations

import base64

import orjson
import pytest

from tests.conftest import Stack
from tests.factories import World, create_world
from tests.graphql import error_codes, execute, global_id

# base64("Ticket:¹"): the reviewer's example; then other scripts' digits and look-alikes.
ODD_KEYS = ["\u00b9", "\u0661", "\uff11", "\u2460", "+1", " 1", "1_0", "007", "0"]


def odd_id(type_name: str, key: str) -> str:
    return base64.b64encode(f"{type_name}:{key}".encode()).decode()


@pytest.fixture
async def world(session) -> World:
    return await create_world(session)


def test_the_reviewers_example_is_among_the_odd_ids() -> None:
    assert odd_id("Ticket", ODD_KEYS[0]) == "VGlja2V0OsK5"


@pytest.mark.parametrize("key", ODD_KEYS)
async def test_odd_ids_are_not_found_in_ticket_and_node(db: Stack, world: World, key: str) -> None:
    async with db.client(db.token(world.agent.user_id)) as client:
        ticket = await execute(
            client, "query($id: ID!) { ticket(id: $id) { id } }", {"id": odd_id("Ticket", key)}
        )
        node = await execute(
            client, "query($id: ID!) { node(id: $id) { id } }", {"id": odd_id("Ticket", key)}
        )

    assert error_codes(ticket) == ["NOT_FOUND"]
    assert error_codes(node) == ["NOT_FOUND"]


async def test_an_odd_id_in_nodes_is_null_and_the_others_still_answer(
    db: Stack, world: World
) -> None:
    ids = [global_id("Ticket", world.ticket.id), *(odd_id("Ticket", k) for k in ODD_KEYS)]
    async with db.client(db.token(world.agent.user_id)) as client:
        body = await execute(
            client, "query($ids: [ID!]!) { nodes(ids: $ids) { id } }", {"ids": ids}
        )

    assert "errors" not in body
    assert body["data"]["nodes"] == [{"id": ids[0]}] + [None] * len(ODD_KEYS)


@pytest.mark.parametrize("key", ODD_KEYS)
async def test_odd_ids_in_filters_and_inputs_are_client_errors(
    db: Stack, world: World, key: str
) -> None:
    async with db.client(db.token(world.admin.user_id)) as client:
        listed = await execute(
            client,
            "query($team: ID!) { tickets(filter: {teamId: [$team]}) { totalCount } }",
            {"team": odd_id("Team", key)},
        )
        reply = await execute(
            client,
            'mutation($t: ID!) { addResponse(input: {ticketId: $t, body: "x"}) '
            "{ response { id } userErrors { code } } }",
            {"t": odd_id("Ticket", key)},
        )

    assert error_codes(listed) == ["BAD_USER_INPUT"]
    assert "INTERNAL" not in error_codes(reply)
    assert reply["data"] is None or reply["data"]["addResponse"]["response"] is None


@pytest.mark.parametrize("cursor", ["\u00b9", "\u0661\u0662", "007", "-1", "1e3"])
async def test_odd_event_cursors_are_bad_user_input(db: Stack, world: World, cursor: str) -> None:
    from tests.ws import GraphQLWebSocket, serving

    async with (
        serving(db.app) as url,
        GraphQLWebSocket.connect(url, db.token(world.agent.user_id)) as ws,
    ):
        await ws.subscribe(
            "subscription($a: String) { ticketEvents(after: $a) { cursor } }", {"a": cursor}
        )
        message = await ws.receive()

    assert message["type"] in ("error", "next"), message
    errors = message["payload"] if message["type"] == "error" else message["payload"]["errors"]
    assert [e["extensions"]["code"] for e in errors] == ["BAD_USER_INPUT"]


OUT_OF_RANGE = [
    "0001-01-01T00:00:00+14:00",
    "0001-01-01T00:00:00+00:01",
    "9999-12-31T23:59:59-14:00",
]


@pytest.mark.parametrize("value", OUT_OF_RANGE)
@pytest.mark.parametrize("name", ["createdAfter", "createdBefore", "updatedAfter", "updatedBefore"])
async def test_timestamps_outside_years_1_to_9999_in_utc_are_bad_user_input(
    db: Stack, world: World, name: str, value: str
) -> None:
    async with db.client(db.token(world.agent.user_id)) as client:
        body = await execute(
            client,
            "query($f: TicketFilter) { tickets(filter: $f) { totalCount } }",
            {"f": {name: value}},
        )

    assert body["data"] == {"tickets": None}
    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert name in body["errors"][0]["message"]


def cursor_of(order: str, value: object, row: object) -> str:
    return base64.urlsafe_b64encode(orjson.dumps([order, value, row])).decode()


@pytest.mark.parametrize("value", OUT_OF_RANGE)
async def test_cursors_with_such_timestamps_are_bad_user_input(
    db: Stack, world: World, value: str
) -> None:
    async with db.client(db.token(world.agent.user_id)) as client:
        first = await execute(client, "{ tickets(first: 1) { edges { cursor } } }")
        (order, _, row) = orjson.loads(
            base64.urlsafe_b64decode(first["data"]["tickets"]["edges"][0]["cursor"])
        )
        answers = [
            await execute(
                client,
                f"query($c: String) {{ tickets({argument}: $c) {{ totalCount }} }}",
                {"c": cursor_of(order, value, row)},
            )
            for argument in ("after", "before")
        ]

    assert [error_codes(a) for a in answers] == [["BAD_USER_INPUT"], ["BAD_USER_INPUT"]]
