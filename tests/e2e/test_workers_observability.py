"""`helpdesk serve --workers 2` for real: /metrics adds up both workers, and every worker
writes JSON log lines (workers are fresh processes: logging set up only in the parent would
leave them silent)."""

from __future__ import annotations

import asyncio
import json
import re
from contextlib import AsyncExitStack
from pathlib import Path

import httpx
import pytest

from tests.backends import Backend
from tests.e2e.conftest import helpdesk, running_server, server_env
from tests.ws import GraphQLWebSocket

pytestmark = pytest.mark.e2e

PROBE = "query MetricsProbe { ticketStats { total } }"
REQUESTS = 24
SOCKETS = 3


def sample(text: str, name: str, **labels: str) -> float:
    total = 0.0
    for line in text.splitlines():
        match = re.match(r"^(\w+)(?:\{(.*)\})? (\S+)$", line)
        if not match or match.group(1) != name:
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', match.group(2) or ""))
        if all(found.get(k) == v for k, v in labels.items()):
            total += float(match.group(3))
    return total


async def both_workers_started(base: str) -> None:
    async with asyncio.timeout(60), httpx.AsyncClient(base_url=base) as client:
        while sample((await client.get("/metrics")).text, "helpdesk_db_pool_limit") < 2 * 20:  # noqa: ASYNC110 - polling another process
            await asyncio.sleep(0.2)


async def test_metrics_and_logs_from_every_worker(fresh_database, tmp_path: Path) -> None:
    env = server_env(tmp_path, await fresh_database(Backend("sqlite", "sqlite", None)), "memory://")
    env.update(LOG_FORMAT="json", LOG_LEVEL="info")
    helpdesk(env, "db", "upgrade")
    helpdesk(env, "seed", "--demo", "--quiet")
    token = helpdesk(env, "token", "bob@acme.example.com").strip()
    log = tmp_path / "server.log"

    with running_server(env, "--workers", "2", log_path=log) as base:
        # /healthz answered from the first worker up; on a busy machine the second may still be
        # importing. Both have started once their pools are counted.
        await both_workers_started(base)
        headers = {"Authorization": f"Bearer {token}"}
        for _ in range(REQUESTS):  # a new connection each: the kernel spreads them over workers
            async with httpx.AsyncClient(base_url=base, headers=headers) as client:
                response = await client.post("/graphql", json={"query": PROBE})
                assert response.status_code == 200
        scrapes = []
        async with AsyncExitStack() as stack:
            ws = base.replace("http://", "ws://") + "/graphql"
            for _ in range(SOCKETS):
                client = await stack.enter_async_context(GraphQLWebSocket.connect(ws, token))
                await client.subscribe("subscription { ticketEvents { cursor } }")
            await asyncio.sleep(0.5)
            for _ in range(4):  # whichever worker answers, it reports both
                async with httpx.AsyncClient(base_url=base) as client:
                    scrapes.append((await client.get("/metrics")).text)

    for text in scrapes:
        labels = {"operation": "MetricsProbe", "type": "query", "outcome": "ok"}
        assert sample(text, "helpdesk_graphql_operations_total", **labels) == REQUESTS
        assert sample(text, "helpdesk_websocket_connections") == SOCKETS
        assert sample(text, "helpdesk_subscriptions") == SOCKETS
        assert sample(text, "helpdesk_db_pool_limit") == 2 * 20  # two workers' pools
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    access = [line for line in lines if line["logger"] == "helpdesk.access"]
    started = {line["pid"] for line in lines if "Application startup complete" in line["message"]}
    assert len(started) == 2, "each worker logs through the configured handler"
    assert len(access) >= REQUESTS
    probe = next(line for line in access if line.get("operation") == "MetricsProbe")
    assert probe["actor"] == "agent"
    assert probe["outcome"] == "ok"
    assert probe["status"] == 200
    assert probe["duration_ms"] > 0
    assert re.fullmatch(r"[0-9a-f]{32}", probe["request_id"])
    assert not [line for line in lines if line["level"] in ("error", "critical")]
