"""The HTTP surface: clear JSON errors for bad bodies, probes, GraphiQL and introspection."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest

from tests.conftest import Stack
from tests.factories import create_customer
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
    assert ready.json() == {
        "status": "ready",
        "database": "ok",
        "broadcast": "ok",
        "rowSecurity": "enforced" if db.backend.is_postgres else "not_applicable",
    }


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
    assert typename.json()["data"] == {"__typename": "Query"}


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


async def chunks() -> AsyncIterator[bytes]:
    """A body sent without Content-Length."""
    for chunk in (b'{"query": "{ __typename }", "pad": "', b"x" * 300_000, b'"}'):
        yield chunk


async def test_body_over_the_limit_is_refused(db: Stack) -> None:
    huge = {"query": "{ __typename }", "variables": {"pad": "x" * 300_000}}
    async with db.variant(max_body_bytes=262_144) as app, db.client(app=app) as client:
        declared = await client.post("/graphql", json=huge)
        chunked = await client.post(
            "/graphql", content=chunks(), headers={"Content-Type": "application/json"}
        )
        small = await client.post("/graphql", json={"query": "{ __typename }"})

    for response in (declared, chunked):
        assert response.status_code == 413
        assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    assert small.json()["data"] == {"__typename": "Query"}


async def test_every_error_carries_the_request_id(db: Stack) -> None:
    async with db.client() as client:
        given = await client.post(
            "/graphql", json={"query": "{ nope }"}, headers={"X-Request-ID": "abc-123"}
        )
        generated = await client.post(
            "/graphql", content=b"{", headers={"Content-Type": "application/json"}
        )

    assert given.headers["x-request-id"] == "abc-123"
    assert given.json()["errors"][0]["extensions"]["requestId"] == "abc-123"
    rid = generated.headers["x-request-id"]
    assert len(rid) == 32
    assert generated.json()["errors"][0]["extensions"]["requestId"] == rid


async def test_request_ids_appear_in_log_lines(db: Stack, caplog) -> None:
    caplog.set_level("INFO", logger="helpdesk.access")
    async with db.client() as client:
        await client.post(
            "/graphql", json={"query": "{ __typename }"}, headers={"X-Request-ID": "log-me-1"}
        )

    lines = [r for r in caplog.records if r.name == "helpdesk.access"]
    assert lines
    assert lines[-1].request_id == "log-me-1"
    assert "POST /graphql 200" in lines[-1].getMessage()


async def test_field_suggestions_can_be_switched_off(db: Stack) -> None:
    query = {"query": "{ tickts { totalCount } }"}
    async with db.client() as client:
        with_hints = await client.post("/graphql", json=query)
    async with db.variant(field_suggestions=False) as app, db.client(app=app) as client:
        without = await client.post("/graphql", json=query)

    assert "Did you mean" in with_hints.json()["errors"][0]["message"]
    assert "Did you mean" not in without.json()["errors"][0]["message"]
    assert "tickets" not in without.json()["errors"][0]["message"]


async def test_rate_limit_answers_429_with_a_retry_hint(db: Stack) -> None:
    async with db.variant(rate_limit_per_minute=3) as app, db.client(app=app) as client:
        answers = [
            await client.post("/graphql", json={"query": "{ __typename }"}) for _ in range(5)
        ]

    assert [a.status_code for a in answers] == [200, 200, 200, 429, 429]
    refused = answers[-1]
    error = refused.json()["errors"][0]
    assert error["extensions"]["code"] == "RATE_LIMITED"
    assert error["extensions"]["retryAfter"] in range(1, 61)
    assert refused.headers["retry-after"] == str(error["extensions"]["retryAfter"])


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b"null", "must be a JSON object"),
        (b"42", "must be a JSON object"),
        (b"\x80", "not UTF-8"),
        (b'{"query": "{ __typename }", "operationName": []}', "must be strings"),
        (b'{"query": "subscription { ticketEvents { cursor } }"}', "WebSocket"),
    ],
    ids=["null", "number", "not-utf8", "operation-name-list", "subscription-over-http"],
)
async def test_odd_bodies_get_400_not_500(db: Stack, content: bytes, says: str) -> None:
    async with db.client() as client:
        response = await client.post(
            "/graphql", content=content, headers={"Content-Type": "application/json"}
        )

    assert response.status_code == 400, response.text
    assert says in response.json()["errors"][0]["message"]


async def test_fragments_spreading_fragments_are_measured_quickly(db: Stack, session) -> None:
    customer = await create_customer(session)
    await session.commit()
    fragments = ["fragment F0 on Ticket { id title }"] + [
        f"fragment F{i} on Ticket {{ ...F{i - 1} ...F{i - 1} }}" for i in range(1, 25)
    ]
    query = "query { tickets { nodes { ...F24 } } } " + " ".join(fragments)
    async with db.client(db.token(customer.user_id)) as client:
        started = time.perf_counter()
        response = await client.post("/graphql", json={"query": query})
        elapsed = time.perf_counter() - started

    assert response.status_code == 200
    assert elapsed < 1.0
