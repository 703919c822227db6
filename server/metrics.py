"""Prometheus metrics of the API (HTTP, GraphQL operations, database pool, WebSockets) and
the `/metrics` endpoint.

With `helpdesk serve --workers N`, every worker writes its samples to files in
`PROMETHEUS_MULTIPROC_DIR` (the command sets up and wipes a folder when the variable is not
set), and a scrape served by any worker adds up all of them.
"""

from __future__ import annotations

import os
import re
import time
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import Request
from starlette.responses import Response

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# Operation names come from clients: keep the label set bounded.
MAX_OPERATION_NAMES = 200
OPERATION_NAME = re.compile(r"^[_A-Za-z][_0-9A-Za-z]{0,63}$")

HTTP_REQUESTS = Counter(
    "helpdesk_http_requests", "HTTP requests, by route and status code.", ["route", "status"]
)
HTTP_DURATION = Histogram(
    "helpdesk_http_request_duration_seconds",
    "HTTP request latency, by route.",
    ["route"],
    buckets=LATENCY_BUCKETS,
)
RATE_LIMITED = Counter(
    "helpdesk_rate_limited", "Requests refused by the rate limiter (HTTP 429).", ["transport"]
)
OPERATIONS = Counter(
    "helpdesk_graphql_operations",
    "GraphQL operations, by operation name, type and outcome (ok, error, request_error, "
    "internal, unavailable).",
    ["operation", "type", "outcome"],
)
OPERATION_DURATION = Histogram(
    "helpdesk_graphql_operation_duration_seconds",
    "GraphQL query and mutation latency (parse to result), by operation name and type.",
    ["operation", "type"],
    buckets=LATENCY_BUCKETS,
)
WEBSOCKETS = Gauge(
    "helpdesk_websocket_connections", "Open WebSocket connections.", multiprocess_mode="livesum"
)
DB_POOL_CHECKED_OUT = Gauge(
    "helpdesk_db_pool_checked_out",
    "Database connections in use.",
    multiprocess_mode="livesum",
)
DB_POOL_CONNECTIONS = Gauge(
    "helpdesk_db_pool_connections",
    "Database connections open (in use or idle in the pool).",
    multiprocess_mode="livesum",
)
DB_POOL_LIMIT = Gauge(
    "helpdesk_db_pool_limit",
    "The most connections the pools may open (DB_POOL_SIZE + DB_MAX_OVERFLOW per worker).",
    multiprocess_mode="livesum",
)

_known_operations: set[str] = set()


def operation_label(name: str | None) -> str:
    """A bounded label for a client-chosen operation name."""
    if not name:
        return "anonymous"
    if name in _known_operations:
        return name
    if not OPERATION_NAME.match(name) or len(_known_operations) >= MAX_OPERATION_NAMES:
        return "other"
    _known_operations.add(name)
    return name


def route_label(path: str) -> str:
    if path in ("/graphql", "/healthz", "/readyz", "/metrics", "/dashboard"):
        return path
    if path.startswith("/static/"):
        return "/static"
    return "other"


def observe_http(path: str, status: int, seconds: float) -> None:
    route = route_label(path)
    HTTP_REQUESTS.labels(route, str(status)).inc()
    HTTP_DURATION.labels(route).observe(seconds)
    if status == 429:
        RATE_LIMITED.labels("http").inc()


def instrument_pool(engine: AsyncEngine, limit: int) -> None:
    """Follow the engine's pool through its events: no polling, exact at every scrape."""
    DB_POOL_LIMIT.inc(limit)
    pool = engine.sync_engine.pool

    @event.listens_for(pool, "connect")
    def _connect(*_: Any) -> None:
        DB_POOL_CONNECTIONS.inc()

    @event.listens_for(pool, "close")
    def _close(*_: Any) -> None:
        DB_POOL_CONNECTIONS.dec()

    @event.listens_for(pool, "close_detached")
    def _close_detached(*_: Any) -> None:
        DB_POOL_CONNECTIONS.dec()

    @event.listens_for(pool, "checkout")
    def _checkout(*_: Any) -> None:
        DB_POOL_CHECKED_OUT.inc()

    @event.listens_for(pool, "checkin")
    def _checkin(*_: Any) -> None:
        DB_POOL_CHECKED_OUT.dec()


def uninstrument_pool(limit: int) -> None:
    DB_POOL_LIMIT.dec(limit)


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROC_ENV) or None


def worker_exited() -> None:
    """Drop this worker's live gauges (with several workers) when it stops."""
    if multiprocess_dir():
        multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]


async def metrics_endpoint(request: Request) -> Response:
    if multiprocess_dir():
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        data = generate_latest(registry)
    else:
        data = generate_latest()
    return Response(data, media_type=CONTENT_TYPE_LATEST)


class Stopwatch:
    """Monotonic seconds since construction."""

    def __init__(self) -> None:
        self.started = time.perf_counter()

    @property
    def seconds(self) -> float:
        return time.perf_counter() - self.started
