"""The caller's rate-limit budget: RateLimit-* headers on every answer and the `rateLimit` field
(GitHub's shape), counted by the same limiter that refuses with 429 (in process, or in Redis
when the backend under test has one)."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
import uuid
from typing import Any

import httpx

from tests.conftest import Stack
from tests.factories import create_customer

BUDGET = "{ rateLimit { limit remaining resetAt cost } }"


async def a_fresh_customer(session) -> Any:
    # A subject no other test used, so a shared (Redis) budget starts at zero for it.
    customer = await create_customer(session, user_id=f"budget-{uuid.uuid4().hex}")
    await session.commit()
    return customer


async def away_from_the_window_edge() -> None:
    """Requests of one test fall into one one-minute window."""
    if 60 - time.time() % 60 < 3:
        await asyncio.sleep(60 - time.time() % 60 + 0.1)


def headers_of(response: httpx.Response) -> tuple[int, int, int]:
    return (
        int(response.headers["ratelimit-limit"]),
        int(response.headers["ratelimit-remaining"]),
        int(response.headers["ratelimit-reset"]),
    )


async def test_every_answer_says_how_much_budget_is_left(db: Stack, session) -> None:
    customer = await a_fresh_customer(session)
    await away_from_the_window_edge()
    token = db.token(customer.user_id)
    async with db.variant(rate_limit_per_minute=5) as app, db.client(token, app=app) as client:
        answers = [await client.post("/graphql", json={"query": BUDGET}) for _ in range(6)]

    assert [a.status_code for a in answers] == [200] * 5 + [429]
    assert [headers_of(a)[:2] for a in answers] == [(5, 4), (5, 3), (5, 2), (5, 1), (5, 0), (5, 0)]
    assert all(0 < headers_of(a)[2] <= 60 for a in answers)
    budgets = [a.json()["data"]["rateLimit"] for a in answers[:5]]
    assert [b["remaining"] for b in budgets] == [4, 3, 2, 1, 0]
    assert {(b["limit"], b["cost"]) for b in budgets} == {(5, 1)}
    reset_at = dt.datetime.fromisoformat(budgets[0]["resetAt"])
    seconds = (reset_at - dt.datetime.now(dt.UTC)).total_seconds()
    assert 0 < seconds <= 60
    assert abs(seconds - headers_of(answers[0])[2]) <= 2
    assert reset_at.second == 0  # windows are whole minutes


async def test_anonymous_callers_read_their_budget_too(db: Stack) -> None:
    await away_from_the_window_edge()
    async with db.variant(rate_limit_per_minute=1000) as app, db.client(app=app) as client:
        first = await client.post("/graphql", json={"query": BUDGET})
        second = await client.post("/graphql", json={"query": BUDGET})

    assert first.status_code == second.status_code == 200
    one, two = (r.json()["data"]["rateLimit"] for r in (first, second))
    assert one["limit"] == two["limit"] == 1000
    assert two["remaining"] == one["remaining"] - 1


async def test_refused_requests_carry_the_budget_as_well(db: Stack) -> None:
    """A 401 for a bad token comes before the budget is known; a 401 for an anonymous request
    for something private has spent from the address's budget and says so."""
    await away_from_the_window_edge()
    async with db.variant(rate_limit_per_minute=1000) as app, db.client(app=app) as client:
        private = await client.post("/graphql", json={"query": "{ me { __typename } }"})
        bad_token = await client.post(
            "/graphql",
            json={"query": BUDGET},
            headers={"Authorization": "Bearer not-a-token"},
        )

    assert private.status_code == 401
    assert headers_of(private)[0] == 1000
    assert bad_token.status_code == 401
    assert "ratelimit-limit" not in bad_token.headers


async def test_without_a_limit_there_is_no_budget_to_report(db: Stack, session) -> None:
    customer = await a_fresh_customer(session)
    async with db.client(db.token(customer.user_id)) as client:  # the suite runs unlimited
        response = await client.post("/graphql", json={"query": BUDGET})

    assert response.json()["data"] == {"rateLimit": None}
    assert not any(name.startswith("ratelimit") for name in response.headers)
