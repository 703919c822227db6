"""With suggestions off (production), no error on any transport spells out the schema, and
errors over WebSocket carry the same code and request id as over HTTP (review, finding 8)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Stack
from tests.factories import World, create_world
from tests.ws import GraphQLWebSocket, serving

# Each misspells a name the schema has; graphql-core would suggest the right one.
MISSPELLED = {
    "field": ("{ tickts { totalCount } }", None),
    "argument": ("{ tickets(frist: 1) { totalCount } }", None),
    "enum value": ("{ tickets(filter: {status: [OPN]}) { totalCount } }", None),
    "input field (literal)": ("{ tickets(filter: {statu: [OPEN]}) { totalCount } }", None),
    "input field (variable)": (
        "query($f: TicketFilter) { tickets(filter: $f) { totalCount } }",
        {"f": {"statu": ["OPEN"]}},
    ),
    "mutation input field": (
        "mutation($i: CreateTicketInput!) { createTicket(input: $i) { ticket { id } } }",
        {"i": {"title": "x", "priorty": "HIGH"}},
    ),
    "type in a fragment": ("{ me { ... on TeamMembr { name } } }", None),
    "subscription field": ("subscription { ticketEvent { cursor } }", None),
}


@pytest.fixture
async def world(session) -> World:
    return await create_world(session)


def assert_no_hints(errors: list[dict[str, Any]]) -> None:
    assert errors
    for error in errors:
        assert "Did you mean" not in error["message"], error["message"]


@pytest.mark.parametrize("case", MISSPELLED)
async def test_http_errors_carry_no_suggestions(db: Stack, world: World, case: str) -> None:
    query, variables = MISSPELLED[case]
    async with (
        db.variant(field_suggestions=False) as app,
        db.client(db.token(world.agent.user_id), app=app) as client,
    ):
        answer = await client.post("/graphql", json={"query": query, "variables": variables})

    assert_no_hints(answer.json()["errors"])


async def test_the_same_errors_carry_suggestions_in_development(db: Stack, world: World) -> None:
    # The cases above would pass without any stripping if graphql-core gave no hints at all.
    hinted = []
    async with db.client(db.token(world.agent.user_id)) as client:
        for query, variables in MISSPELLED.values():
            answer = await client.post("/graphql", json={"query": query, "variables": variables})
            hinted += [
                e["message"] for e in answer.json()["errors"] if "Did you mean" in e["message"]
            ]

    assert len(hinted) >= len(MISSPELLED) - 1  # "subscription field" is refused before validation


@pytest.mark.parametrize("case", MISSPELLED)
async def test_websocket_errors_carry_no_suggestions_but_a_code_and_request_id(
    db: Stack, world: World, case: str
) -> None:
    query, variables = MISSPELLED[case]
    async with (
        db.variant(field_suggestions=False) as app,
        serving(app) as url,
        GraphQLWebSocket.connect(url, db.token(world.agent.user_id)) as ws,
    ):
        await ws.subscribe(query, variables)
        message = await ws.receive()

    assert message["type"] in ("error", "next"), message
    errors = message["payload"] if message["type"] == "error" else message["payload"]["errors"]
    assert_no_hints(errors)
    for error in errors:
        assert error["extensions"]["code"] in ("GRAPHQL_VALIDATION_FAILED", "BAD_USER_INPUT")
        assert error["extensions"]["requestId"]


async def test_websocket_errors_of_one_socket_share_its_request_id(db: Stack, world: World) -> None:
    async with (
        serving(db.app) as url,
        GraphQLWebSocket.connect(
            url, db.token(world.agent.user_id), additional_headers={"X-Request-ID": "socket-7"}
        ) as ws,
    ):
        await ws.subscribe("{ tickts { totalCount } }")
        message = await ws.receive()

    assert message["payload"][0]["extensions"]["requestId"] == "socket-7"
