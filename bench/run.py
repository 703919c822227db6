"""`make bench`: seed PostgreSQL, start the API and the floor pinned to one core, drive load
from this process pinned to the other, and print the table.

    python -m bench.run [--tickets 20000] [--duration 8] [--connections 32]
                        [--subscribers 1000] [--rates 5,20,50] [--fanout-seconds 10] [--scale]

W6 runs 1,000 subscribers at each rate in turn; W8 compares W4's throughput from one and from
eight connections (writers that serialize in the database gain nothing from eight).

--scale also builds a 1M-ticket database and compares W2/W3 latency at 20k and 1M (W7).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import datetime as dt
import os
import random
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import asyncpg
import jwt
import orjson

from bench import dataset, live
from bench.cpu import CpuMeter
from bench.load import Connection, Request, Stats, run_http
from models import migrate
from models.engine import create_engine

MAINTENANCE_URL = os.environ.get(
    "HELPDESK_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("HELPDESK_BENCH_REDIS_URL", "redis://127.0.0.1:6379/2")
APP_ROLE = "helpdesk_bench_app"
SERVER_CPU, LOAD_CPU = 0, 1
APP_PORT, FLOOR_PORT = 8111, 8112

W1 = """query W1($id: ID!) { ticket(id: $id) {
  id number title status priority createdAt
  customer { id name } assignee { id name }
  responses(first: 100) { nodes { id body isInternal createdAt
    author { __typename ... on Customer { id name } ... on TeamMember { id name } } } }
} }"""
W2 = """query W2($after: String) { tickets(first: 50, after: $after) {
  nodes { id number title status priority updatedAt customer { id name } assignee { id name }
          responses(last: 3) { nodes { id body createdAt } } }
  pageInfo { endCursor hasNextPage }
} }"""
W3 = """query W3 { tickets(first: 20) { nodes { id number title status updatedAt } } }"""
W4 = """mutation W4($id: ID!, $status: TicketStatus!) {
  updateTicket(input: {id: $id, status: $status}) {
    ticket { id status version } userErrors { code }
  }
}"""
W5 = """mutation W5($id: ID!, $body: String!) {
  addResponse(input: {ticketId: $id, body: $body}) { response { id createdAt } userErrors { code } }
}"""

WORKING = ["open", "in_progress", "waiting_on_customer"]


def gid(type_name: str, pk: int) -> str:
    return base64.b64encode(f"{type_name}:{pk}".encode()).decode()


def database_url(name: str, user: str = "postgres") -> str:
    base = MAINTENANCE_URL.rsplit("/", 1)[0]
    scheme, rest = base.split("://", 1)
    host = rest.split("@", 1)[-1]
    return f"{scheme}://{user}@{host}/{name}"


async def prepare(name: str, tickets: int) -> None:
    """The database at the newest migration, the app role, and the dataset (kept between
    runs when it already has the right size)."""
    admin = await asyncpg.connect(MAINTENANCE_URL)
    try:
        if not await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            await admin.execute(f'CREATE DATABASE "{name}"')
        await admin.execute(
            f"""DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{APP_ROLE}')
            THEN CREATE ROLE {APP_ROLE} LOGIN NOSUPERUSER NOBYPASSRLS; END IF; END $$"""
        )
    finally:
        await admin.close()
    engine = create_engine(database_url(name))
    try:
        await migrate.upgrade(engine)
        await migrate.grant_app_role(engine, APP_ROLE)
    finally:
        await engine.dispose()
    conn = await asyncpg.connect(database_url(name))
    try:
        if await dataset.ticket_count(conn) != tickets:
            started = time.perf_counter()
            print(f"seeding {name}: {tickets:,} tickets ...", flush=True)
            await dataset.build(conn, tickets)
            print(f"  seeded in {time.perf_counter() - started:.1f} s", flush=True)
    finally:
        await conn.close()


@dataclass
class Fixtures:
    """Ids and tokens that make every request different."""

    secret: str
    tickets: list[tuple[int, int]]  # (ticket id, organization id)
    working: dict[int, list[int]]  # organization -> tickets in a working status
    open_tickets: dict[int, list[int]]  # organization -> tickets whose status is OPEN
    agents: dict[int, list[tuple[int, str]]]  # organization -> (member id, user id)
    customers: list[tuple[int, str]]
    pages: dict[int, list[tuple[dt.datetime, int] | None]]  # organization -> page cursors

    def token(self, subject: str) -> str:
        now = int(time.time())
        return jwt.encode({"sub": subject, "iat": now, "exp": now + 3600}, self.secret, "HS256")


async def load_fixtures(name: str, secret: str) -> Fixtures:
    conn = await asyncpg.connect(database_url(name))
    try:
        tickets = [
            (r["id"], r["organization_id"])
            for r in await conn.fetch(
                "SELECT id, organization_id FROM tickets ORDER BY random() LIMIT 5000"
            )
        ]
        # 200 open tickets per organization are kept for W6 (which must know their status);
        # W4 and W5 work on the other tickets in a working status.
        open_tickets: dict[int, list[int]] = {}
        reserved: set[int] = set()
        for r in await conn.fetch(
            "SELECT id, organization_id FROM tickets WHERE status = 'open' ORDER BY id"
        ):
            kept = open_tickets.setdefault(r["organization_id"], [])
            if len(kept) < 200:
                kept.append(r["id"])
                reserved.add(r["id"])
        working: dict[int, list[int]] = {}
        for r in await conn.fetch(
            "SELECT id, organization_id FROM tickets WHERE status = ANY($1) ORDER BY random()"
            " LIMIT 6000",
            WORKING,
        ):
            if r["id"] not in reserved:
                working.setdefault(r["organization_id"], []).append(r["id"])
        agents: dict[int, list[tuple[int, str]]] = {}
        for r in await conn.fetch("SELECT id, organization_id, user_id FROM team_members"):
            agents.setdefault(r["organization_id"], []).append((r["id"], r["user_id"]))
        customers = [
            (r["id"], r["user_id"])
            for r in await conn.fetch(
                "SELECT DISTINCT c.id, c.user_id FROM customers c"
                " JOIN tickets t ON t.customer_id = c.id LIMIT 1000"
            )
        ]
        pages: dict[int, list[tuple[dt.datetime, int] | None]] = {}
        for org in agents:
            rows = await conn.fetch(
                "SELECT updated_at, id FROM tickets WHERE organization_id = $1"
                " ORDER BY updated_at DESC, id DESC LIMIT 250",
                org,
            )
            pages[org] = [None] + [
                (rows[i]["updated_at"], rows[i]["id"]) for i in (49, 99, 149, 199)
            ]
    finally:
        await conn.close()
    return Fixtures(secret, tickets, working, open_tickets, agents, customers, pages)


def app_cursor(position: tuple[dt.datetime, int] | None) -> str | None:
    if position is None:
        return None
    value, row_id = position
    return base64.urlsafe_b64encode(
        orjson.dumps(["tickets.updated_at.desc", value.isoformat(), row_id])
    ).decode()


class Workloads:
    """Request makers per workload, for the API and for the floor, drawing the same data."""

    def __init__(self, fx: Fixtures, seed: int = 7) -> None:
        self.fx = fx
        self.rng = random.Random(seed)
        self._tokens: dict[str, str] = {}

    def token(self, subject: str) -> str:
        if subject not in self._tokens:
            self._tokens[subject] = self.fx.token(subject)
        return self._tokens[subject]

    def _gql(self, subject: str, query: str, variables: dict[str, Any]) -> Request:
        body = orjson.dumps({"query": query, "variables": variables})
        headers = {
            "Content-Type": "application/json",
            "Authorization": f"Bearer {self.token(subject)}",
        }
        return "POST", "/graphql", body, headers

    def _agent(self, org: int) -> tuple[int, str]:
        return self.rng.choice(self.fx.agents[org])

    def w1(self, floor: bool) -> Callable[[int], Request]:
        def make(_: int) -> Request:
            ticket, org = self.rng.choice(self.fx.tickets)
            if floor:
                return "GET", f"/w1?id={ticket}&org={org}", b"", {}
            return self._gql(self._agent(org)[1], W1, {"id": gid("Ticket", ticket)})

        return make

    def w2(self, floor: bool) -> Callable[[int], Request]:
        def make(_: int) -> Request:
            org = self.rng.choice(list(self.fx.pages))
            position = self.rng.choice(self.fx.pages[org])
            if floor:
                query = f"/w2?org={org}"
                if position is not None:
                    stamp = position[0].isoformat().replace("+", "%2B")
                    query += f"&after_ts={stamp}&after_id={position[1]}"
                return "GET", query, b"", {}
            return self._gql(self._agent(org)[1], W2, {"after": app_cursor(position)})

        return make

    def w3(self, floor: bool) -> Callable[[int], Request]:
        def make(_: int) -> Request:
            customer, subject = self.rng.choice(self.fx.customers)
            if floor:
                return "GET", f"/w3?customer={customer}", b"", {}
            return self._gql(subject, W3, {})

        return make

    def w4(self, floor: bool) -> Callable[[int], Request]:
        def make(_: int) -> Request:
            org = self.rng.choice(list(self.fx.working))
            ticket = self.rng.choice(self.fx.working[org])
            status = self.rng.choice(WORKING)
            agent, subject = self._agent(org)
            if floor:
                body = orjson.dumps({"id": ticket, "org": org, "agent": agent, "status": status})
                return "POST", "/w4", body, {"Content-Type": "application/json"}
            return self._gql(subject, W4, {"id": gid("Ticket", ticket), "status": status.upper()})

        return make

    def w5(self, floor: bool) -> Callable[[int], Request]:
        def make(n: int) -> Request:
            org = self.rng.choice(list(self.fx.working))
            ticket = self.rng.choice(self.fx.working[org])
            agent, subject = self._agent(org)
            text = f"Benchmark reply {n}: we are looking into it."
            if floor:
                body = orjson.dumps({"id": ticket, "org": org, "agent": agent, "body": text})
                return "POST", "/w5", body, {"Content-Type": "application/json"}
            return self._gql(subject, W5, {"id": gid("Ticket", ticket), "body": text})

        return make


def ok_write(body: bytes) -> bool:
    """No errors and no userErrors. Parsed: compiled answers carry PostgreSQL's JSON spacing."""
    answer = orjson.loads(body)
    if "errors" in answer or not isinstance(answer.get("data"), dict):
        return False
    return all(payload and payload.get("userErrors") == [] for payload in answer["data"].values())


@contextmanager
def server(command: list[str], env: dict[str, str], port: int) -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(
        command,
        env=env,
        preexec_fn=lambda: os.sched_setaffinity(0, {SERVER_CPU}),
        stdout=subprocess.DEVNULL,
        stderr=sys.stderr,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"server {command} did not start")
            time.sleep(0.1)
        yield process
    finally:
        process.terminate()
        process.wait(timeout=20)


def app_env(name: str, secret: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HELPDESK_", "JWT_"))}
    env.update(
        HELPDESK_ENV="production",
        DATABASE_URL=database_url(name, APP_ROLE),
        BROADCAST_URL=REDIS_URL,
        JWT_SECRET=secret,
        LOG_LEVEL="warning",
        RATE_LIMIT_PER_MINUTE="0",
        HELPDESK_DATA_DIR="/tmp/helpdesk-bench",
    )
    return env


class StatusToggler:
    """W6's change: flip one of the organization's reserved open tickets between OPEN and
    IN_PROGRESS (every call changes something, so every call emits one event). Calls may
    overlap (the rate is kept by the clock, not by waiting for answers): each takes an idle
    keep-alive connection or opens one."""

    def __init__(self, fx: Fixtures, org: int) -> None:
        self.tickets = fx.open_tickets[org][:200]
        self.statuses = dict.fromkeys(self.tickets, "open")
        token = fx.token(fx.agents[org][1][1])
        self.headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
        self.idle: list[Connection] = []
        self.opened: list[Connection] = []

    async def __call__(self, n: int) -> bool:
        ticket = self.tickets[n % len(self.tickets)]
        target = "in_progress" if self.statuses[ticket] != "in_progress" else "open"
        variables = {"id": gid("Ticket", ticket), "status": target.upper()}
        body = orjson.dumps({"query": W4, "variables": variables})
        # An idle keep-alive connection may have been closed by the server meanwhile (uvicorn's
        # keep-alive timeout, while the next rate's subscribers connect): then a new one.
        for _ in range(2):
            connection = self.idle.pop() if self.idle else await self._open()
            try:
                status, reply = await connection.send(("POST", "/graphql", body, self.headers))
            except (ConnectionError, asyncio.IncompleteReadError):
                await connection.close()
                continue
            self.idle.append(connection)
            if status == 200 and ok_write(reply):
                self.statuses[ticket] = target
                return True
            return False
        return False

    async def _open(self) -> Connection:
        connection = Connection("127.0.0.1", APP_PORT)
        await connection.open()
        self.opened.append(connection)
        return connection

    async def close(self) -> None:
        for connection in self.opened:
            await connection.close()


async def fan_out(
    fx: Fixtures, subscribers: int, rates: list[float], seconds: float
) -> list[dict[str, Any]]:
    """W6: `subscribers` agents of one organization on ticketEvents while status changes
    commit at each of `rates` per second in turn (fresh subscribers for each rate). The
    organization is one with open tickets to toggle (the dataset rotates statuses with
    organizations, so not every organization has them)."""
    org = max(fx.open_tickets, key=lambda o: len(fx.open_tickets[o]))
    agents = fx.agents[org]
    tokens = [fx.token(agents[i % len(agents)][1]) for i in range(subscribers)]
    toggler = StatusToggler(fx, org)
    try:
        return [
            await live.fan_out("127.0.0.1", APP_PORT, tokens, toggler, rate=rate, seconds=seconds)
            for rate in rates
        ]
    finally:
        await toggler.close()


async def writers(fx: Fixtures, duration: float) -> tuple[Stats, Stats]:
    """W8: W4's status updates (random tickets of 6,000, so writers rarely meet) from one
    connection, then from eight: writes that serialize in the database gain nothing."""
    workloads = Workloads(fx, seed=8)
    single = await run_http(
        "127.0.0.1", APP_PORT, workloads.w4(False), connections=1, duration=duration, check=ok_write
    )
    eight = await run_http(
        "127.0.0.1", APP_PORT, workloads.w4(False), connections=8, duration=duration, check=ok_write
    )
    return single, eight


def report(
    args: argparse.Namespace,
    plan: list[Any],
    results: dict[str, tuple[Stats, Stats | None]],
    fans: list[dict[str, Any]],
    eight_writers: tuple[Stats, Stats],
    scale: list[str],
) -> None:
    t = args.tickets
    print()
    print(
        f"Dataset: {t:,} tickets, {t * 5:,} responses, {t * 3:,} history rows,"
        f" {dataset.AGENTS} agents, {dataset.CUSTOMERS:,} customers,"
        f" {dataset.ORGANIZATIONS} organizations"
    )
    print(
        f"Pinning: API and floor servers on CPU {SERVER_CPU} (sched_setaffinity, one process"
        f" each, one after the other); load generator on CPU {LOAD_CPU};"
        " PostgreSQL and Redis unpinned."
    )
    print(
        f"Load: closed loop, {args.connections} connections, {args.duration:.0f} s per workload"
        " after 1 s warm-up; every response checked (HTTP 200, no errors; writes: no userErrors)."
    )
    print()
    print(
        f"{'workload':<26} {'API rps':>8} {'p50 ms':>7} {'p99 ms':>7} {'floor rps':>8}"
        f" {'p50 ms':>7} {'p99 ms':>7} {'ratio':>7} {'target':>9} {'errors':>6}"
    )
    for label, _, target, _ in plan:
        app, floor = results[label]
        print(row(label, app, floor, target))
    for fan in fans:
        print(
            f"W6 fan-out: {args.subscribers} subscribers, {fan['rate']:.0f} changes/s asked,"
            f" {fan['achieved']:.1f}/s achieved for {args.fanout_seconds:.0f} s:"
            f" delivered {fan['delivered']:,}/{fan['expected']:,}"
            f" ({fan['complete']}/{args.subscribers} subscribers got every event,"
            f" {fan['closes']} closed); commit-to-receipt p50 {fan['p50']:.1f} ms,"
            f" p99 {fan['p99']:.1f} ms, max {fan['max']:.1f} ms (target at 20/s: all delivered,"
            " 0 closes, p99 < 250 ms)"
        )
    one, eight = eight_writers
    if one.latencies:  # not with --reads-only
        print(
            f"W8 writers: 1 connection {one.rps:.0f} updates/s"
            f" (p50 {one.percentile(0.5):.1f} ms), 8 connections {eight.rps:.0f} updates/s"
            f" (p50 {eight.percentile(0.5):.1f} ms):"
            f" {eight.rps / one.rps if one.rps else 0:.2f}x (target >= 3x)"
        )
    for line in scale:
        print(line)


def report_paths(
    plan: list[Any],
    results: dict[str, tuple[Stats, Stats | None]],
    cpu: dict[str, tuple[float, float]],
    reference: dict[str, tuple[Stats, tuple[float, float]]],
) -> None:
    """The compiled path (reads, and the writes of the compiled lane) beside the reference
    path, with CPU per request of the server and of PostgreSQL."""
    print()
    print(
        f"{'workload':<26} {'path':<9} {'rps':>7} {'p50 ms':>7} {'p99 ms':>7} {'ratio':>7}"
        f" {'server ms/req':>13} {'pg ms/req':>9}"
    )
    for label, *_ in plan:
        app, floor = results[label]
        rows = [("default" if label not in reference else "compiled", app, cpu[label])]
        if label in reference:
            rows.append(("reference", *reference[label]))
        for path, stats, (server_ms, pg_ms) in rows:
            ratio = f"{100 * stats.rps / floor.rps:5.1f}%" if floor and floor.rps else "-"
            print(
                f"{label:<26} {path:<9} {stats.rps:7.0f} {stats.percentile(0.5):7.1f}"
                f" {stats.percentile(0.99):7.1f} {ratio:>7} {server_ms:13.2f} {pg_ms:9.2f}"
            )


def row(name: str, app: Stats, floor: Stats | None, target: str) -> str:
    ratio = f"{100 * app.rps / floor.rps:5.1f}%" if floor and floor.rps else "   -  "
    floor_cols = (
        f"{floor.rps:8.0f} {floor.percentile(0.5):7.1f} {floor.percentile(0.99):7.1f}"
        if floor
        else " " * 24
    )
    errors = len(app.failures) + (len(floor.failures) if floor else 0)
    return (
        f"{name:<26} {app.rps:8.0f} {app.percentile(0.5):7.1f} {app.percentile(0.99):7.1f}"
        f" {floor_cols} {ratio:>7} {target:>9} {errors:>6}"
    )


async def main_async(args: argparse.Namespace) -> None:
    os.sched_setaffinity(0, {LOAD_CPU})
    name = "helpdesk_bench"
    await prepare(name, args.tickets)
    secret = secrets.token_urlsafe(48)
    fx = await load_fixtures(name, secret)
    env = app_env(name, secret)
    helpdesk = [sys.executable, "-m", "server.cli", "serve", "--port", str(APP_PORT)]
    floor_cmd = [sys.executable, "-m", "bench.floor", "--port", str(FLOOR_PORT)]
    workloads = Workloads(fx)
    plan = [
        ("W1 ticket + responses", workloads.w1, ">=50%", None),
        ("W2 queue 50 + 3 latest", workloads.w2, ">=45%", None),
        ("W3 my tickets (20)", workloads.w3, ">=45%", None),
        ("W4 updateTicket status", workloads.w4, ">=75%", ok_write),
        ("W5 addResponse", workloads.w5, ">=75%", ok_write),
    ]
    results: dict[str, tuple[Stats, Stats | None]] = {}
    measured: dict[str, Stats] = {}
    cpu: dict[str, tuple[float, float]] = {}
    with server(helpdesk, env, APP_PORT) as process:
        meter = CpuMeter(database_url(name), name, process.pid)
        for label, maker, _, check in plan:
            await meter.start()
            measured[label] = await run_http(
                "127.0.0.1",
                APP_PORT,
                maker(False),
                connections=args.connections,
                duration=args.duration,
                **({"check": check} if check else {}),
            )
            cpu[label] = await meter.stop(len(measured[label].latencies))
        eight_writers: tuple[Stats, Stats] = (Stats(), Stats())
        fans: list[dict[str, Any]] = []
        if not args.reads_only:
            eight_writers = await writers(fx, args.duration)
            fans = await fan_out(fx, args.subscribers, args.rates, args.fanout_seconds)
    # Every workload again through the reference path (Strawberry execution, the ORM use
    # cases), side by side.
    reference: dict[str, tuple[Stats, tuple[float, float]]] = {}
    with server(helpdesk, env | {"COMPILED_QUERIES": "false"}, APP_PORT) as process:
        meter = CpuMeter(database_url(name), name, process.pid)
        for label, maker, _, check in plan:
            await meter.start()
            stats = await run_http(
                "127.0.0.1",
                APP_PORT,
                maker(False),
                connections=args.connections,
                duration=args.duration,
                **({"check": check} if check else {}),
            )
            reference[label] = (stats, await meter.stop(len(stats.latencies)))
    with server(floor_cmd, env | {"DATABASE_URL": database_url(name)}, FLOOR_PORT):
        for label, maker, _, check in plan:
            floor = await run_http(
                "127.0.0.1",
                FLOOR_PORT,
                maker(True),
                connections=args.connections,
                duration=args.duration,
                **({"check": check} if check else {}),
            )
            results[label] = (measured[label], floor)
    scale: list[str] = []
    if args.scale:
        big = "helpdesk_bench_1m"
        await prepare(big, 1_000_000)
        fx_big = await load_fixtures(big, secret)
        with server(helpdesk, app_env(big, secret), APP_PORT):
            for label, maker in (("W2", Workloads(fx_big).w2), ("W3", Workloads(fx_big).w3)):
                at_1m = await run_http(
                    "127.0.0.1",
                    APP_PORT,
                    maker(False),
                    connections=args.connections,
                    duration=args.duration,
                )
                small = results[next(k for k in results if k.startswith(label))][0]
                before, after = small.percentile(0.5), at_1m.percentile(0.5)
                scale.append(
                    f"W7 {label}: p50 {before:.1f} ms at {args.tickets:,} tickets vs"
                    f" {after:.1f} ms at 1M ({after / before:.2f}x, target <= 1.5x);"
                    f" rps {small.rps:.0f} vs {at_1m.rps:.0f}"
                )
    report(args, plan, results, fans, eight_writers, scale)
    report_paths(plan, results, cpu, reference)
    failures = [
        f
        for app, floor in results.values()
        for f in app.failures + (floor.failures if floor else [])
    ] + [f for stats in eight_writers for f in stats.failures]
    failures += [f for stats, _ in reference.values() for f in stats.failures]
    if failures:
        print(f"\n{len(failures)} failed responses, first: {failures[0]}")
        raise SystemExit(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tickets", type=int, default=20_000)
    parser.add_argument("--duration", type=float, default=8.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument(
        "--rates",
        type=lambda text: [float(x) for x in text.split(",")],
        default=[5.0, 20.0, 50.0],
        help="W6 changes per second, comma-separated",
    )
    parser.add_argument("--fanout-seconds", type=float, default=10.0)
    parser.add_argument("--scale", action="store_true", help="also W7: 1M tickets")
    parser.add_argument(
        "--reads-only", action="store_true", help="skip W6 and W8 (live delivery, writers)"
    )
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
