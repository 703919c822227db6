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
