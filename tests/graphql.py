"""Helpers to send GraphQL operations through the real ASGI app."""

from __future__ import annotations

import base64
from typing import Any

import httpx


def global_id(type_name: str, pk: int) -> str:
    return base64.b64encode(f"{type_name}:{pk}".encode()).decode()


async def execute(
    client: httpx.AsyncClient, query: str, variables: dict[str, Any] | None = None
) -> dict[str, Any]:
    """POST an operation; the HTTP status must be 200 for a GraphQL-level answer."""
    response = await client.post("/graphql", json={"query": query, "variables": variables or {}})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    # Every executed operation reports its cost; tests that care read it from `with_cost`.
    extensions = body.pop("extensions", None)
    if "data" in body and body.get("data") is not None:
        assert extensions is not None, body
        assert "cost" in extensions, body
    return body


def error_codes(body: dict[str, Any]) -> list[str]:
    return [error.get("extensions", {}).get("code") for error in body.get("errors", [])]


def assert_refused_at(body: dict[str, Any], field: str, code: str) -> None:
    """One top-level error with `code` at the root field `field`, which is null (a nullable
    root: whatever else was asked for still answers)."""
    assert error_codes(body) == [code], body
    assert body["errors"][0]["path"][0] == field, body
    assert body["data"] is not None, body
    assert body["data"][field] is None, body


def assert_authentication_required(response: httpx.Response) -> None:
    """An anonymous HTTP request for something that is not public: 401 with a challenge."""
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"].startswith("Bearer"), response.headers
    body = response.json()
    assert "data" not in body, body
    assert error_codes(body) == ["UNAUTHENTICATED"], body


async def post_anonymously(
    client: httpx.AsyncClient, query: str, variables: dict[str, Any] | None = None
) -> httpx.Response:
    return await client.post("/graphql", json={"query": query, "variables": variables or {}})
