"""Automatic persisted queries (Apollo's protocol) and the allow-list mode, through the app."""

from __future__ import annotations

import hashlib
import json
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from server.persisted import MemoryQueryStore
from server.settings import SettingsError
from tests.conftest import Stack
from tests.factories import World, create_world

QUERY = "query Stats { ticketStats { total open } }"
OTHER = "query Who { me { __typename } }"


def unique(text: str) -> str:
    """The same operation with a comment of its own: a hash no other test registered."""
    return f"{text} # {uuid.uuid4()}"


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def persisted(hash_: str) -> dict[str, Any]:
    return {"persistedQuery": {"version": 1, "sha256Hash": hash_}}


@pytest.fixture
async def world(session) -> World:
    return await create_world(session)


async def post(client: httpx.AsyncClient, **body: Any) -> httpx.Response:
    return await client.post("/graphql", json=body)


def code(response: httpx.Response) -> str:
    code_: str = response.json()["errors"][0]["extensions"]["code"]
    return code_


async def test_unknown_hash_then_register_then_hash_only(db: Stack, world: World) -> None:
    query = unique(QUERY)
    async with db.client(db.token(world.agent.user_id)) as client:
        unknown = await post(client, extensions=persisted(sha(query)))
        registered = await post(client, query=query, extensions=persisted(sha(query)))
        by_hash = await post(client, extensions=persisted(sha(query)))
        by_get = await client.get(
            "/graphql", params={"extensions": json.dumps(persisted(sha(query)))}
        )

    assert unknown.status_code == 404
    assert unknown.json()["errors"][0]["message"] == "PersistedQueryNotFound"
    assert code(unknown) == "PERSISTED_QUERY_NOT_FOUND"
    assert registered.status_code == 200
    assert registered.json()["data"] == {"ticketStats": {"total": 1, "open": 1}}
    assert by_hash.status_code == 200
    assert by_hash.json()["data"] == registered.json()["data"]
    assert by_get.status_code == 200
    assert by_get.json()["data"] == registered.json()["data"]


async def test_registering_over_get_works_too(db: Stack, world: World) -> None:
    query = unique(OTHER)
    params = {"query": query, "extensions": json.dumps(persisted(sha(query)))}
    async with db.client(db.token(world.customer.user_id)) as client:
        first = await client.get("/graphql", params=params)
        again = await client.get(
            "/graphql", params={"extensions": json.dumps(persisted(sha(query)))}
        )

    assert first.json()["data"] == again.json()["data"] == {"me": {"__typename": "Customer"}}


@pytest.mark.parametrize(
    ("extensions", "status", "expected"),
    [
        (persisted(sha("query { nope }")), 400, "PERSISTED_QUERY_HASH_MISMATCH"),
        ({"persistedQuery": {"version": 2, "sha256Hash": sha(QUERY)}}, 400, "BAD_REQUEST"),
        ({"persistedQuery": {"version": 1, "sha256Hash": "ABC"}}, 400, "BAD_REQUEST"),
        ({"persistedQuery": {"version": 1, "sha256Hash": 42}}, 400, "BAD_REQUEST"),
        ({"persistedQuery": {"version": 1}}, 400, "BAD_REQUEST"),
        ({"persistedQuery": "yes"}, 400, "BAD_REQUEST"),
    ],
    ids=["hash-mismatch", "version-2", "not-hex", "not-a-string", "no-hash", "not-an-object"],
)
async def test_bad_persisted_queries_are_refused_and_register_nothing(
    db: Stack, world: World, extensions: dict[str, Any], status: int, expected: str
) -> None:
    query = unique(QUERY)
    async with db.client(db.token(world.agent.user_id)) as client:
        refused = await post(client, query=query, extensions=extensions)
        stored = await post(client, extensions=persisted(sha(query)))

    assert refused.status_code == status
    assert code(refused) == expected
    assert "data" not in refused.json()
    assert stored.status_code == 404


async def test_the_cache_is_shared_by_instances_through_redis(db: Stack, world: World) -> None:
    """With Redis, a query registered on one instance is known to every other one."""
    token, query = db.token(world.agent.user_id), unique(OTHER)
    async with db.variant() as a, db.variant() as b:
        async with db.client(token, app=a) as client:
            assert (await post(client, query=query, extensions=persisted(sha(query)))).is_success
        async with db.client(token, app=b) as client:
            elsewhere = await post(client, extensions=persisted(sha(query)))

    if db.broadcast_url.startswith("redis"):
        assert elsewhere.status_code == 200
        assert elsewhere.json()["data"] == {"me": {"__typename": "TeamMember"}}
    else:  # memory:// means one process: each keeps its own
        assert elsewhere.status_code == 404


async def test_off_mode_says_not_supported_and_serves_plain_queries(
    db: Stack, world: World
) -> None:
    token = db.token(world.agent.user_id)
    async with db.variant(persisted_queries="off") as app, db.client(token, app=app) as client:
        refused = await post(client, query=QUERY, extensions=persisted(sha(QUERY)))
        plain = await post(client, query=QUERY)

    assert refused.status_code == 400
    assert code(refused) == "PERSISTED_QUERY_NOT_SUPPORTED"
    assert refused.json()["errors"][0]["message"] == "PersistedQueryNotSupported"
    assert plain.json()["data"] == {"ticketStats": {"total": 1, "open": 1}}


def apollo_manifest(tmp_path: Path, operations: dict[str, str]) -> Path:
    path = tmp_path / "persisted-query-manifest.json"
    body = {
        "format": "apollo-persisted-query-manifest",
        "version": 1,
        "operations": [
            {"id": key, "name": text.split()[1], "type": "query", "body": text}
            for key, text in operations.items()
        ],
    }
    path.write_text(json.dumps(body))
    return path


@pytest.mark.parametrize("format_", ["apollo", "relay"])
async def test_allowlist_serves_listed_operations_only(
    db: Stack, world: World, tmp_path: Path, format_: str
) -> None:
    listed = {sha(QUERY): QUERY, "who-v1": OTHER}
    if format_ == "apollo":
        manifest = apollo_manifest(tmp_path, listed)
    else:
        manifest = tmp_path / "persisted_queries.json"
        manifest.write_text(json.dumps(listed))
    settings = {"persisted_queries": "allowlist", "persisted_queries_manifest": manifest}
    token = db.token(world.agent.user_id)
    async with db.variant(**settings) as app, db.client(token, app=app) as client:
        by_hash = await post(client, extensions=persisted(sha(QUERY)))
        by_id = await post(client, extensions=persisted("who-v1"))
        by_text = await post(client, query=OTHER)
        free_form = await post(client, query="{ ticketStats { total } }")
        unknown_id = await post(client, extensions=persisted(sha("{ x }")))
        register = await post(
            client,
            query="{ ticketStats { total } }",
            extensions=persisted(sha("{ ticketStats { total } }")),
        )
        swapped = await post(client, query=OTHER, extensions=persisted(sha(QUERY)))

    assert by_hash.json()["data"] == {"ticketStats": {"total": 1, "open": 1}}
    assert by_id.json()["data"] == {"me": {"__typename": "TeamMember"}}
    assert by_text.json()["data"] == by_id.json()["data"]
    assert (free_form.status_code, code(free_form)) == (403, "PERSISTED_QUERY_NOT_IN_LIST")
    assert (unknown_id.status_code, code(unknown_id)) == (404, "PERSISTED_QUERY_NOT_FOUND")
    assert (register.status_code, code(register)) == (403, "PERSISTED_QUERY_NOT_IN_LIST")
    assert (swapped.status_code, code(swapped)) == (400, "PERSISTED_QUERY_HASH_MISMATCH")


@pytest.mark.parametrize(
    "content",
    [
        "not json",
        "[1, 2]",
        '{"format": "apollo-persisted-query-manifest", "version": 2}',
        '{"a": 1}',
    ],
    ids=["not-json", "a-list", "wrong-version", "not-text"],
)
def test_a_bad_manifest_stops_the_start_with_its_reason(
    db: Stack, tmp_path: Path, content: str
) -> None:
    from dataclasses import replace

    from server.app import create_app

    manifest = tmp_path / "manifest.json"
    manifest.write_text(content)
    settings = replace(
        db.settings, persisted_queries="allowlist", persisted_queries_manifest=manifest
    )

    with pytest.raises(SettingsError, match=str(manifest)):
        create_app(settings)


async def test_the_in_process_cache_is_bounded() -> None:
    store = MemoryQueryStore(max_entries=2, max_bytes=100)

    await store.put("a", "x" * 10)
    await store.put("b", "y" * 10)
    assert await store.get("a") == "x" * 10  # a is now the most recent
    await store.put("c", "z" * 10)
    evicted_by_count = await store.get("b")
    await store.put("d", "w" * 95)
    await store.put("huge", "h" * 101)

    assert evicted_by_count is None
    assert await store.get("huge") is None
    assert len(store) == 1  # "d" alone fits within 100 bytes
    assert await store.get("d") == "w" * 95
