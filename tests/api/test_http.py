"""The HTTP surface: clear JSON errors for bad bodies, probes, GraphiQL and introspection."""

from __future__ import annotations

import pytest

from tests.conftest import Stack
from tests.graphql import error_codes


@pytest.mark.parametrize(
    ("content", "content_type", "status", "says"),
    [
        ('{"query": ', "application/json", 400, "Unable to parse request body as JSON"),
        ('{"variables": {}}', "application/json", 400, "No GraphQL query found"),
        ("[1, 2", "application/json", 400, "Unable to parse request body as JSON"),
        ("query { me { __typename } }", "text/plain", 400, "Unsupported content type"),
        ("\xff\xfe", "application/json", 400, "Unable to parse"),
    ],
    ids=["truncated-json", "no-query", "truncated-array", "plain-text", "not-utf8"],
)
async def test_non_graphql_bodies_get_json_errors(
    db: Stack, content: str, content_type: str, status: int, says: str
) -> None:
    async with db.client() as client:
        response = await client.post(
            "/graphql", content=content.encode("latin-1"), headers={"Content-Type": content_type}
        )

    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    error = response.json()["errors"][0]
    assert says in error["message"]
    assert error["extensions"]["code"] == "BAD_REQUEST"


async def test_syntax_error_has_parse_code(db: Stack) -> None:
    async with db.client() as client:
        response = await client.post("/graphql", json={"query": "{ me { "})

    assert error_codes(response.json()) == ["GRAPHQL_PARSE_FAILED"]


async def test_unknown_field_has_validation_code(db: Stack) -> None:
    async with db.client() as client:
        response = await client.post("/graphql", json={"query": "{ nope }"})

    assert error_codes(response.json()) == ["GRAPHQL_VALIDATION_FAILED"]


async def test_other_methods_are_refused(db: Stack) -> None:
    async with db.client() as client:
        response = await client.put("/graphql", json={"query": "{ __typename }"})

    assert response.status_code == 405
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


async def test_health_and_readiness(db: Stack) -> None:
    async with db.client() as client:
        health = await client.get("/healthz")
        ready = await client.get("/readyz")

    assert health.json() == {"status": "ok"}
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "database": "ok", "broadcast": "ok"}


async def test_readiness_fails_when_the_database_is_unreachable(db: Stack) -> None:
    unreachable = "postgresql://nobody@127.0.0.1:1/none"
    async with db.variant(database_url=unreachable) as app, db.client(app=app) as client:
        ready = await client.get("/readyz")
        health = await client.get("/healthz")

    assert ready.status_code == 503
    assert ready.json()["database"] == "unreachable"
    assert health.status_code == 200


async def test_graphiql_served_in_development(db: Stack) -> None:
    async with db.client() as client:
        response = await client.get("/graphql", headers={"Accept": "text/html"})

    assert response.status_code == 200
    assert "graphiql" in response.text.lower()


async def test_graphiql_and_introspection_can_be_switched_off(db: Stack) -> None:
    async with db.variant(graphiql=False, introspection=False) as app, db.client(app=app) as client:
        page = await client.get("/graphql", headers={"Accept": "text/html"})
        introspection = await client.post(
            "/graphql", json={"query": "{ __schema { types { name } } }"}
        )
        typename = await client.post("/graphql", json={"query": "{ __typename }"})

    assert page.status_code == 404
    assert introspection.json()["data"] is None
    assert set(error_codes(introspection.json())) == {"GRAPHQL_VALIDATION_FAILED"}
    assert "__schema" in introspection.json()["errors"][0]["message"]
    assert typename.json() == {"data": {"__typename": "Query"}}


async def test_cors_preflight_allows_configured_origin_only(db: Stack) -> None:
    async with (
        db.variant(cors_origins=("https://portal.example.com",)) as app,
        db.client(app=app) as client,
    ):
        allowed = await client.options(
            "/graphql",
            headers={
                "Origin": "https://portal.example.com",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization,content-type",
            },
        )
        refused = await client.options(
            "/graphql",
            headers={"Origin": "https://evil.example.com", "Access-Control-Request-Method": "POST"},
        )

    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "https://portal.example.com"
    assert refused.status_code == 400
