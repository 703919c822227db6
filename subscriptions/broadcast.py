"""The broadcast connection: memory:// in one process, redis:// across instances."""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlparse

from broadcaster import Broadcast
from redis import asyncio as aioredis

from subscriptions.events import TicketEventEnvelope, organization_channel


class EventBus:
    """Owns the broadcaster connection and can tell whether the backend is reachable."""

    def __init__(self, url: str) -> None:
        scheme = urlparse(url).scheme
        if scheme not in ("memory", "redis", "rediss"):
            raise ValueError(
                f"unsupported BROADCAST_URL scheme {scheme!r}: use memory:// or redis://"
            )
        self.url = url
        self.broadcast = Broadcast(url)
        self._redis: aioredis.Redis | None = (
            aioredis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
            if scheme != "memory"
            else None
        )
        self.connected = False

    async def connect(self) -> None:
        await self.broadcast.connect()
        self.connected = True

    async def disconnect(self) -> None:
        if self.connected:
            await self.broadcast.disconnect()
            self.connected = False
        if self._redis is not None:
            await self._redis.aclose()

    async def publish(self, events: Sequence[TicketEventEnvelope]) -> None:
        """Send committed changes to every instance's subscribers of the organization."""
        for event in events:
            await self.broadcast.publish(
                channel=organization_channel(event.organization_id), message=event.to_json()
            )

    async def is_ready(self) -> bool:
        """True when events can be published now."""
        if not self.connected:
            return False
        if self._redis is None:
            return True
        try:
            pong: bool = await self._redis.ping()  # type: ignore[misc]
            return pong
        except (aioredis.RedisError, OSError):
            return False
