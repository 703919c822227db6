"""`application/graphql-response+json` per the GraphQL-over-HTTP spec, beside an unchanged
`application/json` for old clients."""

from __future__ import annotations

import pytest

from server.negotiation import GRAPHQL_RESPONSE, JSON, negotiate
from tests.conftest import Stack
from tests.factories import World, create_world

GQL = {"Accept": GRAPHQL_RESPONSE}


@pytest.fixture
async def world(session) -> World:
    return await create_world(session)


@pytest.mark.parametrize(
    ("accept", "chosen"),
    [
        (None, JSON),
        ("", JSON),
        ("*/*", JSON),
        ("application/*", JSON),
        ("application/json", JSON),
        ("application/json; charset=utf-8", JSON),
        (GRAPHQL_RESPONSE, GRAPHQL_RESPONSE),
        (f"{GRAPHQL_RESPONSE}, application/json;q=0.9", GRAPHQL_RESPONSE),
        (f"{GRAPHQL_RESPONSE};q=0.5, application/json", JSON),
        (f"application/json, {GRAPHQL_RESPONSE}", GRAPHQL_RESPONSE),
        (f"{GRAPHQL_RESPONSE};q=0, */*", JSON),
        ("text/html,application/xhtml+xml,*/*;q=0.8", JSON),
        ("text/plain", None),
        ("application/json;q=0", None),
        ("application/json;q=oops", None),
    ],
)
def test_negotiation(accept: str | None, chosen: str | None) -> None:
    assert negotiate(accept) == chosen


async def test_success_is_200_with_the_new_media_type(db: Stack, world: World) -> None:
    async with db.client(db.token(world.agent.user_id)) as client:
        response = await client.post(
            "/graphql", json={"query": "{ ticketStats { total } }"}, headers=GQL
        )

    assert response.status_code == 200
    assert response.headers["content-type"] == f"{GRAPHQL_RESPONSE}; charset=utf-8"
    assert response.json()["data"] == {"ticketStats": {"total": 1}}


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"query": "{ ticketStats { total "}, "GRAPHQL_PARSE_FAILED"),
        ({"query": "{ nope }"}, "GRAPHQL_VALIDATION_FAILED"),
        (
            {"query": "query($n: Int!) { tickets(first: $n) { totalCount } }", "variables": {}},
            None,
        ),
        (
            {
                "query": "query($n: Int!) { tickets(first: $n) { totalCount } }",
                "variables": {"n": "many"},
            },
            None,
        ),
    ],
    ids=["parse", "validation", "missing-variable", "variable-does-not-coerce"],
)
async def test_request_errors_are_400_without_data(
    db: Stack, world: World, body: dict, expected: str | None
) -> None:
    async with db.client(db.token(world.agent.user_id)) as client:
        new = await client.post("/graphql", json=body, headers=GQL)
        old = await client.post("/graphql", json=body, headers={"Accept": JSON})

    assert new.status_code == 400
    assert new.headers["content-type"].startswith(GRAPHQL_RESPONSE)
    assert "data" not in new.json()
    assert new.json()["errors"]
    if expected:
        assert new.json()["errors"][0]["extensions"]["code"] == expected
    # application/json stays as it was: 200 and `data: null`.
    assert old.status_code == 200
    assert old.headers["content-type"] == JSON
    assert old.json()["data"] is None
    assert [e["message"] for e in old.json()["errors"]] == [
        e["message"] for e in new.json()["errors"]
    ]


async def test_field_errors_after_execution_began_are_200(db: Stack, world: World) -> None:
    # Metrics are for admins: an agent's request executes and gets FORBIDDEN at the field.
    async with db.client(db.token(world.agent.user_id)) as agent:
        response = await agent.post(
            "/graphql", json={"query": "{ metrics { ticketsCreated } }"}, headers=GQL
        )

    assert response.status_code == 200
    assert "data" in response.json()
    assert response.json()["errors"][0]["path"] == ["metrics"]


async def test_errors_before_graphql_keep_their_status_with_the_new_media_type(
    db: Stack,
) -> None:
    async with db.client("not-a-token") as client:
        unauthenticated = await client.post(
            "/graphql", json={"query": "{ __typename }"}, headers=GQL
        )
        not_json = await client.post(
            "/graphql",
            content=b"{",
            headers={**GQL, "Content-Type": "application/json", "Authorization": ""},
        )

    assert unauthenticated.status_code == 401
    assert unauthenticated.headers["content-type"].startswith(GRAPHQL_RESPONSE)
    assert not_json.status_code == 400
    assert not_json.headers["content-type"].startswith(GRAPHQL_RESPONSE)


async def test_unacceptable_media_type_is_406(db: Stack) -> None:
    async with db.client() as client:
        response = await client.post(
            "/graphql", json={"query": "{ __typename }"}, headers={"Accept": "text/plain"}
        )

    assert response.status_code == 406
    assert response.json()["errors"][0]["extensions"]["code"] == "NOT_ACCEPTABLE"
