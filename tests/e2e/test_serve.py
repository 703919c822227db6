"""The real path a user takes: migrate, seed, serve, get a token, query over HTTP."""

from __future__ import annotations

import base64
import subprocess

import httpx
import pytest

from tests.backends import Backend, configured_backends
from tests.e2e.conftest import HELPDESK, ROOT, helpdesk, running_server, server_env

pytestmark = pytest.mark.e2e

QUERY = """
query($id: ID!) {
  me { __typename ... on Customer { email } ... on TeamMember { email role } }
  ticket(id: $id) { number responses { nodes { isInternal } } }
}
"""


@pytest.mark.parametrize("backend", configured_backends(), ids=lambda b: b.name)
async def test_migrate_seed_serve_and_query(backend: Backend, fresh_database, tmp_path) -> None:
    env = server_env(tmp_path, await fresh_database(backend), backend.broadcast or "memory://")
    assert "database at revision" in helpdesk(env, "db", "upgrade")
    seeded = helpdesk(env, "seed", "--demo")
    assert "demo data seeded" in seeded
    assert "alice@acme.example.com (admin @ acme)" in seeded
    customer_token = helpdesk(env, "token", "erin@customer.example.com").strip()
    agent_token = helpdesk(env, "token", "bob@acme.example.com", "--ttl", "5m").strip()
    # Ticket #2 of the demo belongs to another customer; #7 is Erin's and has an internal note.
    ticket_id = base64.b64encode(b"Ticket:7").decode()

    with running_server(env) as base:
        async with httpx.AsyncClient(base_url=base) as client:
            as_customer = await client.post(
                "/graphql",
                json={"query": QUERY, "variables": {"id": ticket_id}},
                headers={"Authorization": f"Bearer {customer_token}"},
            )
            as_agent = await client.post(
                "/graphql",
                json={"query": QUERY, "variables": {"id": ticket_id}},
                headers={"Authorization": f"Bearer {agent_token}"},
            )
            ready = await client.get("/readyz")

    assert ready.status_code == 200
    customer_data = as_customer.json()["data"]
    assert customer_data["me"] == {"__typename": "Customer", "email": "erin@customer.example.com"}
    assert customer_data["ticket"]["number"] == 7
    assert all(not r["isInternal"] for r in customer_data["ticket"]["responses"]["nodes"])
    agent_data = as_agent.json()["data"]
    assert agent_data["me"]["role"] == "AGENT"
    assert any(r["isInternal"] for r in agent_data["ticket"]["responses"]["nodes"])


def test_production_mode_refuses_to_start_without_a_real_secret(tmp_path) -> None:
    env = server_env(tmp_path, "sqlite:///" + str(tmp_path / "x.db"), "memory://")
    env["HELPDESK_ENV"] = "production"

    done = subprocess.run(
        [*HELPDESK, "serve"], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60
    )

    assert done.returncode != 0
    assert "development secret" in done.stderr
