"""A compiled read is one round trip to PostgreSQL, row-security context included; the
reference path needs BEGIN, set_config, its queries and ROLLBACK. Counted on the wire: a proxy
in front of PostgreSQL counts the frontend's Sync and simple Query messages, after each of
which the client waits for the server (a round trip)."""

from __future__ import annotations

import asyncio
import contextlib
import struct
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from bench.run import W1, W2
from schema.compiled import outcomes
from tests.compiled.conftest import Differential
from tests.graphql import global_id
from tests.ws import free_port

SSL_OR_GSS_REQUEST = (80877103, 80877104)


class CountingProxy:
    """Forwards TCP to PostgreSQL and counts the round trips the clients start."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.port = free_port()
        self.round_trips = 0
        self._tasks: set[asyncio.Task[None]] = set()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self.target)
        for task in (self._frontend(reader, up_writer), self._pipe(up_reader, writer)):
            self._tasks.add(asyncio.create_task(task))

    async def _frontend(self, reader: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            while True:  # untyped startup messages: SSL/GSS requests, then the startup packet
                header = await reader.readexactly(8)
                length, code = struct.unpack("!ii", header)
                sink.write(header + await reader.readexactly(length - 8))
                await sink.drain()
                if code not in SSL_OR_GSS_REQUEST:
                    break
            while True:
                kind = await reader.readexactly(1)
                length = struct.unpack("!i", await reader.readexactly(4))[0]
                body = await reader.readexactly(length - 4)
                if kind in (b"S", b"Q"):
                    self.round_trips += 1
                sink.write(kind + struct.pack("!i", length) + body)
                await sink.drain()
        sink.close()

    async def _pipe(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            while data := await source.read(65536):
                sink.write(data)
                await sink.drain()
        sink.close()

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[CountingProxy]:
        server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)
        try:
            yield self
        finally:
            server.close()
            for task in self._tasks:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)


async def _round_trips(
    differential: Differential, compiled: bool, query: str, variables: dict[str, Any]
) -> tuple[int, int]:
    """Round trips of the third identical request (the first two create the plan's function
    and prepare its call on the connection, and fill the actor cache); and how many of the
    three requests the compiled path answered."""
    stack = differential.stack
    url = make_url(stack.settings.database_url)
    proxy = CountingProxy(url.host or "127.0.0.1", url.port or 5432)
    proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    token = differential.tokens["agent"]
    body = {"query": query, "variables": variables}
    before = outcomes["compiled"] + outcomes["lane"]
    async with (
        proxy.running(),
        stack.variant(
            database_url=proxied,
            compiled_queries=compiled,
            actor_cache_seconds=60,
            db_pool_size=1,
            db_max_overflow=0,
        ) as app,
        stack.client(token, app=app) as client,
    ):
        for _ in range(2):
            assert "errors" not in (await client.post("/graphql", json=body)).json()
        proxy.round_trips = 0
        answer = (await client.post("/graphql", json=body)).json()
        assert "errors" not in answer, answer
        assert answer["data"], answer
        return proxy.round_trips, outcomes["compiled"] + outcomes["lane"] - before


@pytest.mark.parametrize("workload", ["W1", "W2"])
async def test_a_compiled_read_is_one_round_trip(differential: Differential, workload: str) -> None:
    if not differential.compiles:
        # SQLite has no round trips to count; its reads are the reference path's (see
        # test_differential): nothing to prove here beyond that.
        assert not differential.stack.settings.database_url.startswith("postgresql")
        return
    query, variables = {
        "W1": (W1, {"id": global_id("Ticket", differential.world.ticket.id)}),
        "W2": (W2, {"after": None}),
    }[workload]
    compiled, answered = await _round_trips(differential, True, query, variables)
    assert answered == 3
    assert compiled == 1
    reference, answered = await _round_trips(differential, False, query, variables)
    assert answered == 0
    # BEGIN, set_config, at least one query, ROLLBACK.
    assert reference >= 4, reference


async def test_a_connection_drops_its_functions_past_the_limit(
    differential: Differential, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past MAX_FUNCTIONS a connection discards its temporary functions and makes them again:
    answers stay right (and compiled) while documents alternate."""
    from resolvers.compiled import run

    monkeypatch.setattr(run, "MAX_FUNCTIONS", 1)
    documents = ["query { tickets(first: 1) { totalCount } }", "query { me { __typename } }"]
    for _ in range(3):
        for document in documents:
            body, used = await differential.compare("agent", document)
            assert "errors" not in body, body
            assert used == differential.compiles, dict(outcomes)
