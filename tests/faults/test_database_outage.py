"""PostgreSQL goes away and comes back: clear errors, /readyz 503, recovery without a restart;
and a client that hangs up mid-request leaves no transaction open.

PostgreSQL only; these tests exist when the suite runs on PostgreSQL, as CI always does.
"""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url

from models import TicketHistory
from resolvers.locks import LockClass
from tests.backends import POSTGRES_URL, configured_backends
from tests.conftest import Stack
from tests.factories import World, create_world
from tests.faults.proxy import CuttableProxy
from tests.graphql import error_codes, global_id
from tests.ws import serving, wait_until

TICKET = "query($id: ID!) { ticket(id: $id) { number status } }"
UPDATE = """
mutation($id: ID!, $status: TicketStatus!) {
  updateTicket(input: {id: $id, status: $status}) { ticket { status } userErrors { code } }
}
"""

if POSTGRES_URL:
    pytestmark = pytest.mark.parametrize(
        "stack",
        [b for b in configured_backends() if b.is_postgres],
        indirect=True,
        ids=lambda b: b.name,
    )

    @pytest.fixture
    async def world(db: Stack, session) -> World:
        return await create_world(session)

    async def test_outage_gives_clear_errors_then_recovers_without_restart(
        db: Stack, world: World
    ) -> None:
        url = make_url(db.settings.database_url)
        proxy = CuttableProxy(url.host or "127.0.0.1", url.port or 5432)
        await proxy.start()
        through_proxy = url.set(port=proxy.port).render_as_string(hide_password=False)
        variables = {"id": global_id("Ticket", world.ticket.id)}
        async with db.variant(database_url=through_proxy) as app:
            token = db.token(world.agent.user_id)
            async with db.client(token, app=app) as client:
                before = await client.post(
                    "/graphql", json={"query": TICKET, "variables": variables}
                )
                await proxy.cut()
                during = await client.post(
                    "/graphql", json={"query": TICKET, "variables": variables}
                )
                ready_during = await client.get("/readyz")
                await proxy.start()
                after = await client.post(
                    "/graphql", json={"query": TICKET, "variables": variables}
                )
                ready_after = await client.get("/readyz")
        await proxy.cut()

        assert before.json()["data"]["ticket"]["number"] == world.ticket.number
        # Authentication needs the database too: the request is refused as a whole, clearly.
        assert during.status_code == 503
        assert error_codes(during.json()) == ["UNAVAILABLE"]
        assert "asyncpg" not in during.text
        assert "Traceback" not in during.text
        assert ready_during.status_code == 503
        assert ready_during.json()["database"] == "unreachable"
        assert after.json()["data"]["ticket"]["number"] == world.ticket.number
        assert ready_after.status_code == 200

    async def test_client_hanging_up_mid_request_leaves_no_open_transaction(
        db: Stack, world: World
    ) -> None:
        # Hold the ticket's lock elsewhere, so the mutation stops inside its transaction.
        blocker = db.engine
        lock = {"c": LockClass.TICKET.value, "k": world.ticket.id}
        async with blocker.connect() as holder:
            await holder.execute(text("SELECT pg_advisory_lock(:c, :k)"), lock)
            async with serving(db.app) as ws_url:
                host, port = ws_url.removeprefix("ws://").split("/")[0].split(":")
                _reader, writer = await asyncio.open_connection(host, int(port))
                body = (
                    '{"query": "mutation($id: ID!) { updateTicket(input: {id: $id, '
                    'status: IN_PROGRESS}) { ticket { status } } }", "variables": {"id": "'
                    + global_id("Ticket", world.ticket.id)
                    + '"}}'
                ).encode()
                writer.write(
                    b"POST /graphql HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
                    + f"Authorization: Bearer {db.token(world.agent.user_id)}\r\n".encode()
                    + f"Content-Length: {len(body)}\r\n\r\n".encode()
                    + body
                )
                await writer.drain()
                async with asyncio.timeout(10):
                    while not await _count_lock_waiters(db):  # noqa: ASYNC110 - server state
                        await asyncio.sleep(0.02)
                writer.transport.abort()  # the client hangs up mid-request
                await asyncio.sleep(0.2)
                await holder.execute(text("SELECT pg_advisory_unlock(:c, :k)"), lock)
                await holder.commit()
                engine = db.app.state.runtime.get().engine
                await wait_until(lambda: engine.pool.checkedout() == 0, within=10)
                open_transactions = await _open_app_transactions(db)

        async with db.sessionmaker() as check:
            history = await check.scalar(
                select(func.count()).where(TicketHistory.ticket_id == world.ticket.id)
            )
        assert open_transactions == 0
        # The change finished as a whole (with its history) or not at all; nothing half-done.
        assert history in (0, 1)

    async def _count_lock_waiters(db: Stack) -> int:
        async with db.engine.connect() as conn:
            return int(
                await conn.scalar(
                    text(
                        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                        " AND datname = current_database()"
                    )
                )
                or 0
            )

    async def _open_app_transactions(db: Stack) -> int:
        async with db.engine.connect() as conn:
            return int(
                await conn.scalar(
                    text(
                        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                        " AND usename <> current_user AND state LIKE 'idle in transaction%'"
                    )
                )
                or 0
            )
