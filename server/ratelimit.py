"""Per-actor rate limits: shared through Redis when it is configured, in-process otherwise."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlparse

from redis import asyncio as aioredis
from redis.exceptions import RedisError

logger = logging.getLogger("helpdesk.ratelimit")

WINDOW_SECONDS = 60


@dataclass(frozen=True)
class RateLimitState:
    """A caller's budget in the current window, as `rateLimit` and the RateLimit-* headers
    report it."""

    limit: int
    remaining: int
    reset_at: float  # epoch seconds
    cost: int = 1  # what one request takes from the budget

    def headers(self, now: float | None = None) -> dict[str, str]:
        """RateLimit-Limit / -Remaining / -Reset (seconds to go), as the IETF draft names them."""
        reset = max(0, round(self.reset_at - (time.time() if now is None else now)))
        return {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(reset),
        }


def _state(per_minute: int, window: int, count: int) -> RateLimitState:
    return RateLimitState(
        limit=per_minute,
        remaining=max(0, per_minute - count),
        reset_at=float((window + 1) * WINDOW_SECONDS),
    )


class RateLimiter(Protocol):
    async def hit(self, key: str) -> float | None:
        """Count one request for `key`; the seconds to wait when over the limit, else None."""

    async def state(self, key: str) -> RateLimitState | None:
        """`key`'s budget in the current window, counting what was hit; None without a limit."""

    async def close(self) -> None: ...


class Unlimited:
    async def hit(self, key: str) -> float | None:
        return None

    async def state(self, key: str) -> RateLimitState | None:
        return None

    async def close(self) -> None:
        return None


class MemoryRateLimiter:
    """Fixed one-minute windows, counted in this process."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._window = 0
        self._counts: dict[str, int] = {}

    async def hit(self, key: str) -> float | None:
        now = time.time()
        window = int(now // WINDOW_SECONDS)
        if window != self._window:
            # A new minute: forget the last one (keeps memory bounded by active callers).
            self._window, self._counts = window, {}
        count = self._counts.get(key, 0) + 1
        self._counts[key] = count
        if count > self.per_minute:
            return (window + 1) * WINDOW_SECONDS - now
        return None

    async def state(self, key: str) -> RateLimitState | None:
        window = int(time.time() // WINDOW_SECONDS)
        count = self._counts.get(key, 0) if window == self._window else 0
        return _state(self.per_minute, window, count)

    async def close(self) -> None:
        return None


class RedisRateLimiter:
    """Fixed one-minute windows counted in Redis, so every instance shares one budget.

    If Redis cannot be reached, this process counts on its own for a few seconds before it
    tries Redis again: an outage of the limiter must neither take the API down nor make every
    request wait for a connection timeout.
    """

    RETRY_AFTER_OUTAGE = 5.0

    def __init__(self, url: str, per_minute: int) -> None:
        self.per_minute = per_minute
        self._redis = aioredis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
        # The counts hit() last read, per key, in the current window: state() reports them
        # without another round trip.
        self._seen_window = 0
        self._seen: dict[str, int] = {}
        self._local = MemoryRateLimiter(per_minute)
        self._down_until = 0.0

    async def hit(self, key: str) -> float | None:
        if time.monotonic() < self._down_until:
            return await self._local.hit(key)
        now = time.time()
        window = int(now // WINDOW_SECONDS)
        name = f"helpdesk:ratelimit:{window}:{key}"
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.incr(name)
                pipe.expire(name, WINDOW_SECONDS * 2)
                count, _ = await pipe.execute()
        except (RedisError, OSError) as exc:
            logger.warning("rate limiter cannot reach Redis (%s); counting in-process", exc)
            self._seen.pop(key, None)
            self._down_until = time.monotonic() + self.RETRY_AFTER_OUTAGE
            return await self._local.hit(key)
        self._remember(window, key, int(count))
        if int(count) > self.per_minute:
            return (window + 1) * WINDOW_SECONDS - now
        return None

    def _remember(self, window: int, key: str, count: int) -> None:
        if window != self._seen_window:
            self._seen_window, self._seen = window, {}
        self._seen[key] = count

    async def state(self, key: str) -> RateLimitState | None:
        if time.monotonic() < self._down_until:
            return await self._local.state(key)  # counted in-process while Redis is away
        window = int(time.time() // WINDOW_SECONDS)
        if window == self._seen_window and key in self._seen:
            return _state(self.per_minute, window, self._seen[key])
        try:
            count = await self._redis.get(f"helpdesk:ratelimit:{window}:{key}")
        except (RedisError, OSError):
            return await self._local.state(key)
        return _state(self.per_minute, window, int(count or 0))

    async def close(self) -> None:
        await self._redis.aclose()


def create_rate_limiter(broadcast_url: str, per_minute: int) -> RateLimiter:
    if per_minute <= 0:
        return Unlimited()
    if urlparse(broadcast_url).scheme in ("redis", "rediss"):
        return RedisRateLimiter(broadcast_url, per_minute)
    return MemoryRateLimiter(per_minute)
