"""W6: live fan-out. Many subscribers on graphql-transport-ws while mutations commit at a fixed
rate; counts what each subscriber received, commit-to-receipt latency and closes.

The subscribers are a minimal WebSocket client over asyncio streams (handshake, masked client
frames, unmasked server frames, pongs for pings): the websockets library costs the load
generator's core more per message than the server spends, which would measure the client.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import os
import struct
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from bench.load import summary

W6 = "subscription W6 { ticketEvents { cursor occurredAt } }"


@dataclass
class Listener:
    """One subscriber's tally."""

    received: int = 0
    closed: int | None = None
    latencies: list[float] = field(default_factory=list)


class FrameClient:
    """Just enough of RFC 6455 for a subscriber."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def connect(cls, host: str, port: int, path: str) -> FrameClient:
        reader, writer = await asyncio.open_connection(host, port)
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write(
            (
                f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: graphql-transport-ws\r\n\r\n"
            ).encode()
        )
        status = await reader.readline()
        if b" 101 " not in status:
            raise ConnectionError(f"no upgrade: {status!r}")
        while await reader.readline() not in (b"\r\n", b""):
            pass
        return cls(reader, writer)

    def send(self, payload: bytes, opcode: int = 0x1) -> None:
        mask = os.urandom(4)
        length = len(payload)
        if length < 126:
            head = struct.pack("!BB", 0x80 | opcode, 0x80 | length)
        elif length < 65536:
            head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, length)
        else:
            head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, length)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.writer.write(head + mask + masked)

    def send_json(self, message: dict[str, Any]) -> None:
        self.send(orjson.dumps(message))

    async def frame(self) -> tuple[int, bytes]:
        first, second = await self.reader.readexactly(2)
        length = second & 0x7F
        if length == 126:
            (length,) = struct.unpack("!H", await self.reader.readexactly(2))
        elif length == 127:
            (length,) = struct.unpack("!Q", await self.reader.readexactly(8))
        return first & 0x0F, await self.reader.readexactly(length)

    def close(self) -> None:
        self.writer.close()


async def subscriber(
    host: str, port: int, token: str, tally: Listener, ready: Callable[[], None]
) -> None:
    client = await FrameClient.connect(host, port, "/graphql")
    try:
        init = {"Authorization": f"Bearer {token}"}
        client.send_json({"type": "connection_init", "payload": init})
        await client.frame()  # connection_ack
        client.send_json({"id": "1", "type": "subscribe", "payload": {"query": W6}})
        ready()
        while True:
            opcode, payload = await client.frame()
            if opcode == 0x9:  # ping
                client.send(payload, opcode=0xA)
            elif opcode == 0x8:  # close
                tally.closed = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
                return
            elif opcode == 0x1:
                message = orjson.loads(payload)
                if message.get("type") == "next":
                    occurred = message["payload"]["data"]["ticketEvents"]["occurredAt"]
                    when = dt.datetime.fromisoformat(occurred).timestamp()
                    tally.latencies.append(time.time() - when)
                    tally.received += 1
    except (asyncio.IncompleteReadError, ConnectionError):
        if tally.closed is None:
            tally.closed = 1006
    finally:
        client.close()


async def fan_out(
    host: str,
    port: int,
    tokens: list[str],
    mutate: Callable[[int], Awaitable[bool]],
    *,
    rate: float,
    seconds: float,
) -> dict[str, Any]:
    """len(tokens) subscribers; `mutate(n)` commits one change that every one of them should
    receive (True when it did), started `rate` times a second for `seconds`."""
    tallies = [Listener() for _ in tokens]
    connected = 0
    everyone = asyncio.Event()

    def ready() -> None:
        nonlocal connected
        connected += 1
        if connected == len(tokens):
            everyone.set()

    tasks = []
    for start in range(0, len(tokens), 100):
        for i in range(start, min(len(tokens), start + 100)):
            tasks.append(asyncio.create_task(subscriber(host, port, tokens[i], tallies[i], ready)))
        await asyncio.sleep(0.2)
    async with asyncio.timeout(60):
        await everyone.wait()
    await asyncio.sleep(2)  # let every subscription reach the hub
    # Open loop: the n-th change starts at started + n / rate whether or not the earlier ones
    # have been answered (a closed loop would measure the mutation's latency, not the fan-out).
    started = time.perf_counter()
    calls: list[asyncio.Task[bool]] = []
    while (due := started + len(calls) / rate) < started + seconds:
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        calls.append(asyncio.create_task(mutate(len(calls))))
    sent = sum(await asyncio.gather(*calls))
    elapsed = time.perf_counter() - started
    deadline = time.monotonic() + 15
    while (  # noqa: ASYNC110 - waiting on the subscribers' counts
        sum(t.received for t in tallies) < sent * len(tallies) and time.monotonic() < deadline
    ):
        await asyncio.sleep(0.1)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    p50, p99, worst = summary([x for t in tallies for x in t.latencies])
    return {
        "rate": rate,
        "achieved": sent / elapsed,
        "sent": sent,
        "expected": sent * len(tallies),
        "delivered": sum(t.received for t in tallies),
        "complete": sum(1 for t in tallies if t.received == sent),
        "closes": sum(1 for t in tallies if t.closed is not None),
        "p50": p50,
        "p99": p99,
        "max": worst,
    }
