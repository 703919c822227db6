"""The floor: the same workloads as hand-written SQL on Starlette + asyncpg + orjson, returning
the same JSON as the GraphQL API. What a perfect, hand-tuned endpoint would cost.

Run: python -m bench.floor --port 8101 (DATABASE_URL and BROADCAST_URL from the environment).
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import orjson
import uvicorn
from redis import asyncio as aioredis
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


def gid(type_name: str, pk: int) -> str:
    return base64.b64encode(f"{type_name}:{pk}".encode()).decode()


def iso(value: dt.datetime) -> str:
    return value.isoformat()


def reply(data: dict[str, Any]) -> Response:
    return Response(orjson.dumps({"data": data}), media_type="application/json")


def person(kind: str, pk: int, name: str) -> dict[str, Any]:
    type_name = "Customer" if kind == "customer" else "TeamMember"
    return {"__typename": type_name, "id": gid(type_name, pk), "name": name}


W1_TICKET = """
SELECT t.id, t.number, t.title, t.status, t.priority, t.created_at,
       c.id AS cid, c.name AS cname, m.id AS mid, m.name AS mname
FROM tickets t JOIN customers c ON c.id = t.customer_id
LEFT JOIN team_members m ON m.id = t.assignee_id
WHERE t.id = $1 AND t.organization_id = $2
"""
W1_RESPONSES = """
SELECT r.id, r.body, r.is_internal, r.created_at, r.author_type,
       r.author_id, coalesce(c.name, m.name) AS author_name
FROM ticket_responses r
LEFT JOIN customers c ON r.author_type = 'customer' AND c.id = r.author_id
LEFT JOIN team_members m ON r.author_type = 'team_member' AND m.id = r.author_id
WHERE r.ticket_id = $1 ORDER BY r.created_at, r.id LIMIT 100
"""
W2_PAGE = """
SELECT t.id, t.number, t.title, t.status, t.priority, t.updated_at,
       c.id AS cid, c.name AS cname, m.id AS mid, m.name AS mname
FROM tickets t JOIN customers c ON c.id = t.customer_id
LEFT JOIN team_members m ON m.id = t.assignee_id
WHERE t.organization_id = $1 AND ($2::timestamptz IS NULL OR (t.updated_at, t.id) < ($2, $3))
ORDER BY t.updated_at DESC, t.id DESC LIMIT 51
"""
W2_LATEST = """
SELECT p.id AS ticket_id, r.id, r.body, r.created_at
FROM unnest($1::bigint[]) AS p(id)
CROSS JOIN LATERAL (
  SELECT id, body, created_at FROM ticket_responses
  WHERE ticket_id = p.id ORDER BY created_at DESC, id DESC LIMIT 3
) r
"""
W3_MINE = """
SELECT id, number, title, status, updated_at FROM tickets
WHERE customer_id = $1 ORDER BY updated_at DESC, id DESC LIMIT 21
"""


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    url = os.environ["DATABASE_URL"].replace("postgresql+asyncpg://", "postgresql://")
    app.state.pool = await asyncpg.create_pool(url, min_size=4, max_size=10)
    app.state.redis = aioredis.Redis.from_url(os.environ["BROADCAST_URL"])
    yield
    await app.state.pool.close()
    await app.state.redis.aclose()


async def w1(request: Request) -> Response:
    ticket_id, org = int(request.query_params["id"]), int(request.query_params["org"])
    async with request.app.state.pool.acquire() as conn:
        t = await conn.fetchrow(W1_TICKET, ticket_id, org)
        responses = await conn.fetch(W1_RESPONSES, ticket_id)
    return reply(
        {
            "ticket": {
                "id": gid("Ticket", t["id"]),
                "number": t["number"],
                "title": t["title"],
                "status": t["status"].upper(),
                "priority": t["priority"].upper(),
                "createdAt": iso(t["created_at"]),
                "customer": {"id": gid("Customer", t["cid"]), "name": t["cname"]},
                "assignee": None
                if t["mid"] is None
                else {"id": gid("TeamMember", t["mid"]), "name": t["mname"]},
                "responses": {
                    "nodes": [
                        {
                            "id": gid("Response", r["id"]),
                            "body": r["body"],
                            "isInternal": r["is_internal"],
                            "createdAt": iso(r["created_at"]),
                            "author": person(r["author_type"], r["author_id"], r["author_name"]),
                        }
                        for r in responses
                    ]
                },
            }
        }
    )


async def w2(request: Request) -> Response:
    org = int(request.query_params["org"])
    after = request.query_params.get("after_ts")
    after_ts = dt.datetime.fromisoformat(after) if after else None
    after_id = int(request.query_params.get("after_id", "0"))
    async with request.app.state.pool.acquire() as conn:
        rows = await conn.fetch(W2_PAGE, org, after_ts, after_id)
        page = rows[:50]
        latest = await conn.fetch(W2_LATEST, [r["id"] for r in page])
    by_ticket: dict[int, list[dict[str, Any]]] = {}
    for r in sorted(latest, key=lambda r: (r["created_at"], r["id"])):
        by_ticket.setdefault(r["ticket_id"], []).append(
            {"id": gid("Response", r["id"]), "body": r["body"], "createdAt": iso(r["created_at"])}
        )
    nodes = [
        {
            "id": gid("Ticket", t["id"]),
            "number": t["number"],
            "title": t["title"],
            "status": t["status"].upper(),
            "priority": t["priority"].upper(),
            "updatedAt": iso(t["updated_at"]),
            "customer": {"id": gid("Customer", t["cid"]), "name": t["cname"]},
            "assignee": None
            if t["mid"] is None
            else {"id": gid("TeamMember", t["mid"]), "name": t["mname"]},
            "responses": {"nodes": by_ticket.get(t["id"], [])},
        }
        for t in page
    ]
    last = page[-1] if page else None
    end = (
        base64.urlsafe_b64encode(
            orjson.dumps(["tickets.updated_at", iso(last["updated_at"]), last["id"]])
        ).decode()
        if last
        else None
    )
    return reply(
        {
            "tickets": {
                "nodes": nodes,
                "pageInfo": {"endCursor": end, "hasNextPage": len(rows) > 50},
            }
        }
    )


async def w3(request: Request) -> Response:
    customer = int(request.query_params["customer"])
    async with request.app.state.pool.acquire() as conn:
        rows = await conn.fetch(W3_MINE, customer)
    return reply(
        {
            "tickets": {
                "nodes": [
                    {
                        "id": gid("Ticket", r["id"]),
                        "number": r["number"],
                        "title": r["title"],
                        "status": r["status"].upper(),
                        "updatedAt": iso(r["updated_at"]),
                    }
                    for r in rows[:20]
                ]
            }
        }
    )


async def publish(request: Request, envelope: dict[str, Any]) -> None:
    await request.app.state.redis.publish(
        f"helpdesk.tickets.org.{envelope['organization_id']}", orjson.dumps(envelope)
    )


async def w4(request: Request) -> Response:
    body = orjson.loads(await request.body())
    ticket_id, org, agent, status = body["id"], body["org"], body["agent"], body["status"]
    async with request.app.state.pool.acquire() as conn, conn.transaction():
        t = await conn.fetchrow(
            "SELECT status, version, customer_id FROM tickets"
            " WHERE id = $1 AND organization_id = $2 FOR UPDATE",
            ticket_id,
            org,
        )
        version = t["version"]
        history: list[int] = []
        if t["status"] != status:
            version = await conn.fetchval(
                "UPDATE tickets SET status = $2, version = version + 1, updated_at = now()"
                " WHERE id = $1 RETURNING version",
                ticket_id,
                status,
            )
            await conn.execute("SELECT pg_advisory_xact_lock(1)")
            history.append(
                await conn.fetchval(
                    "INSERT INTO ticket_history (ticket_id, organization_id, actor_type, actor_id,"
                    " action, field_name, old_value, new_value, is_internal, created_at)"
                    " VALUES ($1, $2, 'team_member', $3, 'field_changed', 'status', $4, $5,"
                    " false, now()) RETURNING id",
                    ticket_id,
                    org,
                    agent,
                    t["status"],
                    status,
                )
            )
    if history:
        await publish(
            request,
            {
                "cursor": history[-1],
                "organization_id": org,
                "ticket_id": ticket_id,
                "customer_id": t["customer_id"],
                "kind": "updated",
                "history_ids": history,
                "response_id": None,
                "internal": False,
            },
        )
    return reply(
        {
            "updateTicket": {
                "ticket": {
                    "id": gid("Ticket", ticket_id),
                    "status": status.upper(),
                    "version": version,
                },
                "userErrors": [],
            }
        }
    )


async def w5(request: Request) -> Response:
    body = orjson.loads(await request.body())
    ticket_id, org, agent, text = body["id"], body["org"], body["agent"], body["body"]
    async with request.app.state.pool.acquire() as conn, conn.transaction():
        t = await conn.fetchrow(
            "SELECT customer_id FROM tickets WHERE id = $1 AND organization_id = $2 FOR UPDATE",
            ticket_id,
            org,
        )
        response = await conn.fetchrow(
            "INSERT INTO ticket_responses (ticket_id, author_type, author_id, body, is_internal,"
            " created_at) VALUES ($1, 'team_member', $2, $3, false, now())"
            " RETURNING id, created_at",
            ticket_id,
            agent,
            text,
        )
        await conn.execute(
            "UPDATE tickets SET updated_at = now(), version = version + 1,"
            " first_responded_at = coalesce(first_responded_at, now()) WHERE id = $1",
            ticket_id,
        )
        await conn.execute("SELECT pg_advisory_xact_lock(1)")
        history = await conn.fetchval(
            "INSERT INTO ticket_history (ticket_id, organization_id, actor_type, actor_id, action,"
            " field_name, new_value, is_internal, created_at) VALUES ($1, $2, 'team_member', $3,"
            " 'response_added', 'response', $4, false, now()) RETURNING id",
            ticket_id,
            org,
            agent,
            str(response["id"]),
        )
    await publish(
        request,
        {
            "cursor": history,
            "organization_id": org,
            "ticket_id": ticket_id,
            "customer_id": t["customer_id"],
            "kind": "response_added",
            "history_ids": [history],
            "response_id": response["id"],
            "internal": False,
        },
    )
    return reply(
        {
            "addResponse": {
                "response": {
                    "id": gid("Response", response["id"]),
                    "createdAt": iso(response["created_at"]),
                },
                "userErrors": [],
            }
        }
    )


app = Starlette(
    routes=[
        Route("/w1", w1),
        Route("/w2", w2),
        Route("/w3", w3),
        Route("/w4", w4, methods=["POST"]),
        Route("/w5", w5, methods=["POST"]),
    ],
    lifespan=lifespan,
)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=8101)
    args = parser.parse_args()
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
