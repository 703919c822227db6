"""The load generator: a minimal keep-alive HTTP/1.1 client (cheap enough not to be the
bottleneck on one core), and WebSocket subscribers for the fan-out workload."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field

Request = tuple[str, str, bytes, dict[str, str]]  # method, path, body, headers


@dataclass
class Stats:
    latencies: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def rps(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0

    def percentile(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


class Connection:
    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    async def send(self, request: Request) -> tuple[int, bytes]:
        assert self.reader is not None
        assert self.writer is not None
        method, path, body, headers = request
        head = [f"{method} {path} HTTP/1.1", f"Host: {self.host}", f"Content-Length: {len(body)}"]
        head += [f"{k}: {v}" for k, v in headers.items()]
        self.writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        status_line = await self.reader.readline()
        if not status_line:
            raise ConnectionError("the server closed the connection")
        status = int(status_line.split()[1])
        length = 0
        chunked = False
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            lowered = name.strip().lower()
            if lowered == b"content-length":
                length = int(value.strip())
            elif lowered == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
        if not chunked:
            return status, await self.reader.readexactly(length)
        parts = []
        while (size := int((await self.reader.readline()).strip(), 16)) > 0:
            parts.append(await self.reader.readexactly(size))
            await self.reader.readline()
        await self.reader.readline()
        return status, b"".join(parts)

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


async def run_http(
    host: str,
    port: int,
    make_request: Callable[[int], Request],
    *,
    connections: int,
    duration: float,
    warmup: float = 1.0,
    check: Callable[[bytes], bool] = lambda body: b'"errors":' not in body,
) -> Stats:
    """Closed-loop load: `connections` clients send back-to-back for warmup + duration."""
    stats = Stats()
    started = time.perf_counter()
    measure_from = started + warmup
    stop_at = measure_from + duration
    counter = 0

    async def client() -> None:
        nonlocal counter
        connection = Connection(host, port)
        await connection.open()
        try:
            while (now := time.perf_counter()) < stop_at:
                counter += 1
                status, body = await connection.send(make_request(counter))
                done = time.perf_counter()
                if now >= measure_from:
                    if status != 200 or not check(body):
                        stats.failures.append(f"{status} {body[:200]!r}")
                    else:
                        stats.latencies.append(done - now)
        finally:
            await connection.close()

    await asyncio.gather(*(client() for _ in range(connections)))
    stats.seconds = duration
    return stats


def summary(values: list[float]) -> tuple[float, float, float]:
    """p50, p99, max in milliseconds."""
    if not values:
        return float("nan"), float("nan"), float("nan")
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
    return statistics.median(ordered) * 1000, p99 * 1000, ordered[-1] * 1000
