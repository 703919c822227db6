"""`rateLimit`: the caller's request budget, in GitHub's shape."""

from __future__ import annotations

import datetime as dt
from typing import Protocol

import strawberry

from schema.context import Info


class _Budget(Protocol):
    limit: int
    remaining: int
    reset_at: float
    cost: int


@strawberry.type(
    description=(
        "Your request budget in the current window (also sent as RateLimit-Limit, "
        "RateLimit-Remaining and RateLimit-Reset headers)."
    )
)
class RateLimit:
    limit: int = strawberry.field(description="Requests allowed per window (one minute).")
    remaining: int = strawberry.field(
        description="Requests left in this window, this one already counted."
    )
    reset_at: dt.datetime = strawberry.field(
        description="When the window ends and `remaining` is back at `limit`."
    )
    cost: int = strawberry.field(
        description="What this request took from the budget (each request counts 1)."
    )


@strawberry.type
class RateLimitQuery:
    @strawberry.field(
        description=(
            "Your HTTP request budget: per user, or per address without a token (public). Null "
            "when rate limiting is off (RATE_LIMIT_PER_MINUTE=0), its store cannot be reached, "
            "or over WebSocket."
        )
    )
    def rate_limit(self, info: Info) -> RateLimit | None:
        budget: _Budget | None = info.context.rate_limit
        if budget is None:
            return None
        return RateLimit(
            limit=budget.limit,
            remaining=budget.remaining,
            reset_at=dt.datetime.fromtimestamp(budget.reset_at, dt.UTC),
            cost=budget.cost,
        )
