"""Metrics, access log fields, JSON logs, quiet client disconnects, optional tracing."""

from __future__ import annotations

import functools
import json
import logging
import re
import sys
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from server import metrics
from server.observability import JsonFormatter, TextFormatter
from tests.conftest import Stack
from tests.factories import World, create_world

SECRET = "s3cret-search-text"


@pytest.fixture
async def world(session) -> World:
    return await create_world(session)


@functools.cache
def span_exporter() -> InMemorySpanExporter:
    """OpenTelemetry's global tracer provider can be set once per process: one for all tests."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    return exporter


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample in Prometheus' text format (0 when absent)."""
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        metric, _, value = line.rpartition(" ")
        if "{" in metric:
            base, _, rest = metric.partition("{")
            found = dict(re.findall(r'(\w+)="([^"]*)"', rest))
        else:
            base, found = metric, {}
        if base == name and all(found.get(k) == v for k, v in labels.items()):
            return float(value)
    return 0.0


async def scrape(db: Stack) -> str:
    async with db.client() as client:
        response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return response.text


async def test_operations_are_counted_by_name_type_and_outcome(db: Stack, world: World) -> None:
    before = await scrape(db)
    async with db.client(db.token(world.agent.user_id)) as client:
        for _ in range(3):
            await client.post("/graphql", json={"query": "query CountMe { ticketStats { total } }"})
        await client.post("/graphql", json={"query": "query CountMe { nope }"})
        # Metrics are for admins: the agent's request executes and fails at the field.
        await client.post(
            "/graphql", json={"query": "query CountMe { metrics { ticketsCreated } }"}
        )
    after = await scrape(db)

    def delta(outcome: str) -> float:
        labels = {"operation": "CountMe", "type": "query", "outcome": outcome}
        return sample(after, "helpdesk_graphql_operations_total", **labels) - sample(
            before, "helpdesk_graphql_operations_total", **labels
        )

    assert delta("ok") == 3
    assert delta("request_error") == 1
    assert delta("error") == 1  # FORBIDDEN at the field
    duration = "helpdesk_graphql_operation_duration_seconds_count"
    assert (
        sample(after, duration, operation="CountMe", type="query")
        - sample(before, duration, operation="CountMe", type="query")
        == 5
    )  # the invalid one parsed, so it is a query too
    assert sample(after, "helpdesk_http_requests_total", route="/graphql", status="200") >= 5


async def test_rate_limited_requests_are_counted(db: Stack, world: World) -> None:
    before = sample(await scrape(db), "helpdesk_rate_limited_total", transport="http")
    token = db.token(world.customer.user_id)
    async with db.variant(rate_limit_per_minute=1) as app, db.client(token, app=app) as client:
        statuses = [
            (await client.post("/graphql", json={"query": "{ __typename }"})).status_code
            for _ in range(3)
        ]
    after = sample(await scrape(db), "helpdesk_rate_limited_total", transport="http")

    assert statuses == [200, 429, 429]
    assert after - before == 2


async def test_pool_and_event_metrics_are_exported(db: Stack, world: World) -> None:
    async with db.client(db.token(world.agent.user_id)) as client:
        await client.post("/graphql", json={"query": "{ ticketStats { total } }"})
    text = await scrape(db)

    assert sample(text, "helpdesk_db_pool_limit") >= 20  # 10 + 10 for the suite's app
    assert sample(text, "helpdesk_db_pool_connections") >= 1
    assert sample(text, "helpdesk_db_pool_checked_out") >= 0
    assert sample(text, "helpdesk_broadcast_connected") == 1
    for name in (
        "helpdesk_websocket_connections",
        "helpdesk_subscriptions",
        "helpdesk_events_delivered_total",
        "helpdesk_event_fanout_lag_seconds_count",
    ):
        assert f"\n{name}" in text or text.startswith(name), name


def test_operation_names_are_a_bounded_label() -> None:
    assert metrics.operation_label(None) == "anonymous"
    assert metrics.operation_label("Queue") == "Queue"
    assert metrics.operation_label("not a name!") == "other"
    assert metrics.operation_label("x" * 65) == "other"
    many = [metrics.operation_label(f"Op{n}") for n in range(metrics.MAX_OPERATION_NAMES + 10)]
    assert many[-1] == "other"
    assert len(metrics._known_operations) <= metrics.MAX_OPERATION_NAMES


async def test_access_line_names_operation_actor_and_duration(
    db: Stack, world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="helpdesk.access")
    async with db.client(db.token(world.customer.user_id)) as client:
        await client.post(
            "/graphql",
            json={
                "query": "query MyTickets($s: String) { tickets(filter: {search: $s}) "
                "{ totalCount } }",
                "variables": {"s": SECRET},
            },
        )
    (record,) = [r for r in caplog.records if r.name == "helpdesk.access"]

    assert record.operation == "MyTickets"
    assert record.operation_type == "query"
    assert record.outcome == "ok"
    assert record.actor == "customer"
    assert record.status == 200
    assert record.duration_ms > 0
    assert SECRET not in record.getMessage()
    line = json.loads(JsonFormatter().format(record))
    assert line["operation"] == "MyTickets"
    assert line["actor"] == "customer"
    assert line["request_id"] == record.request_id != "-"
    assert {"time", "level", "logger", "message", "pid", "duration_ms", "status"} <= set(line)
    assert SECRET not in json.dumps(line)


def test_json_formatter_keeps_extras_and_the_traceback() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.makeLogRecord(
            {
                "name": "helpdesk.test",
                "levelno": logging.ERROR,
                "levelname": "ERROR",
                "msg": "failed %s",
                "args": ("x",),
                "exc_info": sys.exc_info(),
                "ticket": 7,
            }
        )
    line = json.loads(JsonFormatter().format(record))
    text = TextFormatter().format(record)

    assert line["message"] == "failed x"
    assert line["level"] == "error"
    assert line["ticket"] == 7
    assert line["request_id"] == "-"
    assert "ValueError: boom" in line["exception"]
    assert "[-] failed x" in text


async def test_a_client_that_hangs_up_is_not_an_error(
    db: Stack, world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    sent: list[dict[str, Any]] = []
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/graphql",
        "raw_path": b"/graphql",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"content-type", b"application/json"), (b"content-length", b"40")],
        "client": ("127.0.0.1", 5000),
        "server": ("test", 80),
    }

    async def receive() -> dict[str, Any]:
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await db.app(scope, receive, send)

    assert sent == []  # nobody to answer
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    access = [r for r in caplog.records if r.name == "helpdesk.access"]
    assert access[-1].status == 499


async def test_tracing_records_one_span_per_operation_without_arguments(
    db: Stack, world: World
) -> None:
    exporter = span_exporter()
    exporter.clear()
    query = "query Find($s: String) { tickets(filter: {search: $s}) { totalCount } }"
    literal = '{ tickets(filter: {search: "SECRET"}) { totalCount } }'.replace("SECRET", SECRET)
    token = db.token(world.agent.user_id)
    async with db.variant(tracing=True) as app, db.client(token, app=app) as client:
        await client.post("/graphql", json={"query": query, "variables": {"s": SECRET}})
        await client.post("/graphql", json={"query": literal})
    spans = exporter.get_finished_spans()

    assert [s.name for s in spans] == ["query Find", "graphql query"]
    assert spans[0].attributes["graphql.operation.name"] == "Find"
    assert spans[0].attributes["helpdesk.actor.kind"] == "agent"
    assert spans[0].attributes["helpdesk.outcome"] == "ok"
    for span in spans:
        assert SECRET not in json.dumps(dict(span.attributes or {}))
        assert SECRET not in span.name
