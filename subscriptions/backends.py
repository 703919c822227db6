"""Broadcast backends (broadcaster's interface) that we can trust in production.

broadcaster 0.3.1's own Redis backend stops for good after a Redis restart or one bad
payload, and subscribes per channel with a race between concurrent first subscribers (see
shared TRAPS). `ResilientRedisBackend` instead keeps one pattern subscription per process,
reconnects with backoff, skips malformed messages, and reports its state.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlparse

from broadcaster import Event
from broadcaster._backends.base import BroadcastBackend
from broadcaster._backends.memory import MemoryBackend
from redis import asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from subscriptions import metrics

logger = logging.getLogger("helpdesk.broadcast")

CHANNEL_PATTERN = "helpdesk.tickets.*"


class ResilientRedisBackend(BroadcastBackend):
    """Redis pub/sub on one pattern, with reconnection and a bounded inbox."""

    def __init__(
        self,
        url: str,
        *,
        pattern: str = CHANNEL_PATTERN,
        inbox_size: int = 10_000,
        max_backoff: float = 5.0,
    ) -> None:
        self._url = url
        self._pattern = pattern
        self._max_backoff = max_backoff
        # After a Redis restart the pooled connection is dead; retrying reconnects at once.
        self._publisher = aioredis.Redis.from_url(
            url,
            socket_connect_timeout=2,
            socket_timeout=2,
            health_check_interval=10,
            retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), retries=3),
            retry_on_error=[RedisConnectionError, RedisTimeoutError],
        )
        self._inbox: asyncio.Queue[Event] = asyncio.Queue(maxsize=inbox_size)
        self._task: asyncio.Task[None] | None = None
        self._connected = asyncio.Event()
        self.on_reconnect: Callable[[], Awaitable[None]] | None = None
        self.reconnects = 0
        self.dropped_messages = 0
        self.malformed_messages = 0

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    async def connect(self, wait: float = 2.0) -> None:
        """Start listening. A Redis that is down at startup is retried in the background, as
        a later outage is: the server serves meanwhile and /readyz says 503 until it is back."""
        self._task = asyncio.create_task(self._run(), name="helpdesk-redis-listener")
        try:
            await asyncio.wait_for(self._connected.wait(), timeout=wait)
        except TimeoutError:
            logger.warning(
                "Redis at %s is unreachable; serving without it and retrying", _redact(self._url)
            )

    async def disconnect(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        self._connected.clear()
        await self._publisher.aclose()

    async def subscribe(self, channel: str) -> None:
        # Everything under the pattern is received; routing happens in-process.
        return None

    async def unsubscribe(self, channel: str) -> None:
        return None

    async def publish(self, channel: str, message: Any) -> None:
        await self._publisher.publish(channel, message)

    async def next_published(self) -> Event:
        return await self._inbox.get()

    async def ping(self) -> bool:
        try:
            pong: bool = await self._publisher.ping()  # type: ignore[misc]
        except (RedisError, OSError):
            return False
        return pong

    async def _run(self) -> None:
        backoff = 0.1
        first = True
        while True:
            client = aioredis.Redis.from_url(
                self._url, socket_connect_timeout=2, health_check_interval=10
            )
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.psubscribe(self._pattern)
                self._connected.set()
                metrics.BROADCAST_CONNECTED.set(1)
                backoff = 0.1
                if not first:
                    self.reconnects += 1
                    logger.warning("reconnected to Redis; catching up on missed events")
                first = False
                # Also after a first connection that came late: what was committed while
                # Redis was away is delivered now.
                if self.on_reconnect is not None:
                    try:
                        await self.on_reconnect()
                    except Exception:
                        # The database may be away too; the next trigger retries.
                        logger.exception("could not catch up after connecting to Redis")
                await self._read(pubsub)
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as exc:
                if self._connected.is_set():
                    logger.warning("lost Redis connection (%s); reconnecting", exc)
                self._connected.clear()
                metrics.BROADCAST_CONNECTED.set(0)
                await asyncio.sleep(backoff * (1 + random.random() / 2))
                backoff = min(backoff * 2, self._max_backoff)
            finally:
                await _close_quietly(pubsub, client)

    async def _read(self, pubsub: Any) -> None:
        while True:
            message = await pubsub.get_message(timeout=5.0)
            if message is None:
                # Quiet channel: prove the connection is alive (raises when it is not).
                await pubsub.ping()
                continue
            if message.get("type") not in ("message", "pmessage"):
                continue  # the answer to our ping, and other control replies
            try:
                event = Event(channel=message["channel"].decode(), message=message["data"].decode())
            except (UnicodeDecodeError, AttributeError, KeyError, TypeError):
                self.malformed_messages += 1
                metrics.EVENTS_DROPPED.labels("malformed").inc()
                logger.warning("skipped a malformed broadcast message")
                continue
            try:
                self._inbox.put_nowait(event)
            except asyncio.QueueFull:
                # The hub reloads from the history table, so a dropped trigger is caught up
                # by the next one; never block the socket reader.
                self.dropped_messages += 1
                metrics.EVENTS_DROPPED.labels("inbox_full").inc()


async def _close_quietly(pubsub: Any, client: aioredis.Redis) -> None:
    for closer in (pubsub.aclose, client.aclose):
        with contextlib.suppress(RedisError, OSError, RuntimeError):
            await closer()


class InProcessBackend(MemoryBackend):
    """broadcaster's memory backend, delivering every channel (like our Redis pattern
    subscription) instead of only channels subscribed one by one: routing is the hub's job."""

    async def next_published(self) -> Event:
        event: Event = await self._published.get()
        return event


def _redact(url: str) -> str:
    parsed = urlparse(url)
    return parsed._replace(netloc=parsed.hostname or "").geturl() if parsed.password else url


def create_backend(url: str, pattern: str = CHANNEL_PATTERN) -> BroadcastBackend:
    """memory:// (one process) or redis:// / rediss:// (all instances), receiving the
    channels of `pattern`."""
    scheme = urlparse(url).scheme
    if scheme == "memory":
        return InProcessBackend(url)
    if scheme in ("redis", "rediss"):
        return ResilientRedisBackend(url, pattern=pattern)
    raise ValueError(f"unsupported BROADCAST_URL scheme {scheme!r}: use memory:// or redis://")
