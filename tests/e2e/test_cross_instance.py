"""Real server processes sharing PostgreSQL (or SQLite) and a Redis: events cross instances,
survive a Redis restart, and resume exactly once."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path

import httpx
import pytest

from tests.backends import Backend, configured_backends
from tests.e2e.conftest import helpdesk, redis_server, running_server, server_env
from tests.ws import GraphQLWebSocket

pytestmark = pytest.mark.e2e

EVENTS = """
subscription($after: String) {
  ticketEvents(after: $after) { cursor kind ticket { number } response { body isInternal } }
}
"""
REPLY = """
mutation($id: ID!, $body: String!, $internal: Boolean!) {
  addResponse(input: {ticketId: $id, body: $body, internal: $internal}) { userErrors { code } }
}
"""
NOTE_TEXT = "E2E-INTERNAL-NOTE"
# Demo ticket #7 belongs to Erin (customer) and is handled by Acme's agents.
TICKET = base64.b64encode(b"Ticket:7").decode()


class Deployment:
    """Migrated and seeded database, a Redis of its own, tokens for the demo users."""

    def __init__(self, env: dict[str, str], redis) -> None:
        self.env = env
        self.redis = redis
        self.agent = helpdesk(env, "token", "bob@acme.example.com").strip()
        self.customer = helpdesk(env, "token", "erin@customer.example.com").strip()


@pytest.fixture(params=configured_backends(), ids=lambda b: b.name)
async def deployment(request, fresh_database, tmp_path: Path) -> AsyncIterator[Deployment]:
    backend: Backend = request.param
    database = await fresh_database(backend)
    with redis_server() as redis:
        env = server_env(tmp_path, database, redis.url)
        helpdesk(env, "db", "upgrade")
        helpdesk(env, "seed", "--demo", "--quiet")
        yield Deployment(env, redis)


async def reply(base: str, token: str, body: str, internal: bool = False) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=10) as client:
        response = await client.post(
            "/graphql",
            json={"query": REPLY, "variables": {"id": TICKET, "body": body, "internal": internal}},
            headers={"Authorization": f"Bearer {token}"},
        )
    assert response.status_code == 200, response.text
    assert response.json()["data"]["addResponse"]["userErrors"] == [], response.text


async def ready_again(base: str, within: float = 15) -> httpx.Response:
    """/readyz once it answers 200 (each instance reconnects to Redis on its own backoff)."""
    async with httpx.AsyncClient() as probe, asyncio.timeout(within):
        while (response := await probe.get(f"{base}/readyz")).status_code != 200:  # noqa: ASYNC110
            await asyncio.sleep(0.2)
    return response


def ws_url(base: str) -> str:
    return base.replace("http://", "ws://") + "/graphql"


async def event(client: GraphQLWebSocket, within: float = 10) -> dict:
    return (await client.next_data(within=within))["data"]["ticketEvents"]


async def test_a_change_on_one_instance_reaches_subscribers_on_another(
    deployment: Deployment,
) -> None:
    with running_server(deployment.env) as a, running_server(deployment.env) as b:
        async with (
            GraphQLWebSocket.connect(ws_url(b), deployment.agent) as agent,
            GraphQLWebSocket.connect(ws_url(b), deployment.customer) as customer,
        ):
            await agent.subscribe(EVENTS)
            await customer.subscribe(EVENTS)
            await asyncio.sleep(0.3)

            await reply(a, deployment.agent, NOTE_TEXT, internal=True)
            await reply(a, deployment.agent, "Public answer from instance A")

            note, answer = await event(agent), await event(agent)
            public = await event(customer)
            await customer.nothing_for(0.5)

    assert (note["kind"], note["response"]["body"]) == ("NOTE_ADDED", NOTE_TEXT)
    assert answer["kind"] == "RESPONSE_ADDED"
    assert public == answer
    assert NOTE_TEXT not in str(public)


async def test_workers_share_events(deployment: Deployment) -> None:
    with running_server(deployment.env, "--workers", "2") as base:
        async with asyncio.timeout(60), AsyncExitStack() as stack:
            # Six sockets and four writes over separate connections land on both workers.
            clients = [
                await stack.enter_async_context(
                    GraphQLWebSocket.connect(ws_url(base), deployment.agent)
                )
                for _ in range(6)
            ]
            for client in clients:
                await client.subscribe(EVENTS)
            await asyncio.sleep(0.5)
            for n in range(4):
                await reply(base, deployment.agent, f"from worker round {n}")
            received = [[(await event(c))["response"]["body"] for _ in range(4)] for c in clients]

    expected = [f"from worker round {n}" for n in range(4)]
    assert received == [expected] * 6


async def test_redis_restart_loses_nothing_and_resume_is_exact(deployment: Deployment) -> None:
    with running_server(deployment.env) as a, running_server(deployment.env) as b:
        async with GraphQLWebSocket.connect(ws_url(b), deployment.agent) as live:
            await live.subscribe(EVENTS)
            async with GraphQLWebSocket.connect(ws_url(b), deployment.agent) as leaving:
                await leaving.subscribe(EVENTS)
                await asyncio.sleep(0.3)
                await reply(a, deployment.agent, "before the outage")
                first = await event(live)
                assert await event(leaving) == first
            # `leaving` is gone now, remembering first["cursor"].

            deployment.redis.stop()
            async with httpx.AsyncClient() as probe:
                await asyncio.sleep(0.5)
                outage = await probe.get(f"{a}/readyz")
            # Writes keep committing while Redis is down.
            await reply(a, deployment.agent, "during the outage 1")
            await reply(b, deployment.agent, "during the outage 2")
            deployment.redis.start()
            caught_up = [await event(live, within=20), await event(live, within=20)]
            await reply(a, deployment.agent, "after the outage")
            after = await event(live, within=20)
            recovered = await ready_again(a)

        async with GraphQLWebSocket.connect(ws_url(a), deployment.agent) as resumed:
            await resumed.subscribe(EVENTS, {"after": first["cursor"]})
            replayed = [await event(resumed) for _ in range(3)]
            await resumed.nothing_for(0.5)

    assert outage.status_code == 503
    assert outage.json()["broadcast"] == "unreachable"
    assert recovered.json()["broadcast"] == "ok"
    bodies = [e["response"]["body"] for e in [*caught_up, after]]
    assert bodies == ["during the outage 1", "during the outage 2", "after the outage"]
    assert replayed == [*caught_up, after]
    cursors = [int(e["cursor"]) for e in [first, *replayed]]
    assert cursors == sorted(set(cursors))


async def test_serving_through_a_redis_outage_at_startup(deployment: Deployment) -> None:
    deployment.redis.stop()
    with running_server(deployment.env) as a, running_server(deployment.env) as b:
        async with httpx.AsyncClient() as probe:
            not_ready = await probe.get(f"{a}/readyz")
            healthy = await probe.get(f"{a}/healthz")
        async with (
            GraphQLWebSocket.connect(ws_url(a), deployment.agent) as on_a,
            GraphQLWebSocket.connect(ws_url(b), deployment.agent) as on_b,
        ):
            await on_a.subscribe(EVENTS)
            await on_b.subscribe(EVENTS)
            await asyncio.sleep(0.3)

            await reply(a, deployment.agent, "written while Redis is down")
            local = await event(on_a)
            # Instance B cannot hear of it yet...
            await on_b.nothing_for(0.5)

            deployment.redis.start()
            await ready_again(a)
            await ready_again(b)
            # ...and catches up as soon as it reaches Redis; live delivery works again.
            caught_up = await event(on_b, within=15)
            await reply(a, deployment.agent, "written after Redis came back")
            live = [await event(on_b), await event(on_a)]

    assert healthy.status_code == 200
    assert not_ready.status_code == 503
    readiness = not_ready.json()
    assert readiness.pop("rowSecurity") in ("enforced", "bypassed", "not_applicable")
    assert readiness == {
        "status": "unavailable",
        "database": "ok",
        "broadcast": "unreachable",
    }
    assert local["response"]["body"] == "written while Redis is down"
    assert caught_up == local
    assert [e["response"]["body"] for e in live] == ["written after Redis came back"] * 2
