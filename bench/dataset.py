"""A realistic PostgreSQL dataset built with set-based SQL (seconds, even for 1M tickets)."""

from __future__ import annotations

import asyncpg

ORGANIZATIONS = 5
TEAMS_PER_ORG = 4
AGENTS = 50  # 10 per organization, the first of each an admin
CUSTOMERS = 2_000
RESPONSES_PER_TICKET = 5
HISTORY_PER_TICKET = 3

STATUSES = ["open", "in_progress", "waiting_on_customer", "resolved", "closed"]
PRIORITIES = ["low", "medium", "high", "urgent"]


async def build(conn: asyncpg.Connection, tickets: int) -> None:
    """Empty the tables and fill them: `tickets` tickets, 5 responses and 3 history rows each."""
    await conn.execute(
        "TRUNCATE ticket_history, ticket_responses, tickets, team_members, teams, customers,"
        " organizations RESTART IDENTITY CASCADE"
    )
    async with conn.transaction():
        await conn.execute(
            """INSERT INTO organizations (name, slug, next_ticket_number, created_at)
               SELECT 'Org ' || g, 'org-' || g, 1, now() - interval '400 days'
               FROM generate_series(1, $1) g""",
            ORGANIZATIONS,
        )
        await conn.execute(
            """INSERT INTO teams (organization_id, name, created_at)
               SELECT o, 'Team ' || t, now() FROM generate_series(1, $1) o,
               generate_series(1, $2) t ORDER BY o, t""",
            ORGANIZATIONS,
            TEAMS_PER_ORG,
        )
        per_org = AGENTS // ORGANIZATIONS
        await conn.execute(
            """INSERT INTO team_members (organization_id, user_id, email, name, role, team_id,
                                         is_active, created_at, updated_at)
               SELECT (g - 1) / $1 + 1, 'bench|agent-' || g, 'agent' || g || '@bench.example.com',
                      'Agent ' || g, CASE WHEN (g - 1) % $1 = 0 THEN 'admin' ELSE 'agent' END,
                      ((g - 1) / $1) * $2 + (g % $2) + 1, true, now(), now()
               FROM generate_series(1, $3) g""",
            per_org,
            TEAMS_PER_ORG,
            AGENTS,
        )
        await conn.execute(
            """INSERT INTO customers (user_id, email, name, company, created_at, updated_at)
               SELECT 'bench|customer-' || g, 'customer' || g || '@bench.example.com',
                      'Customer ' || g, 'Company ' || (g % 300), now(), now()
               FROM generate_series(1, $1) g""",
            CUSTOMERS,
        )
        # Ticket g: organization g % 5 + 1, a customer, an agent of that organization (every
        # fourth ticket unassigned), a team of it, statuses and priorities in rotation.
        await conn.execute(
            """INSERT INTO tickets (organization_id, number, title, description, status, priority,
                                    customer_id, assignee_id, team_id, tags, metadata, version,
                                    created_at, updated_at, first_responded_at)
               SELECT o, g, 'Ticket ' || g || ': printer ' || (g % 97) || ' is on fire',
                      'Details of problem ' || g || ' as the customer wrote them.',
                      ($2::text[])[g % 5 + 1], ($3::text[])[g % 4 + 1],
                      (g::bigint * 7919) % $4 + 1,
                      CASE WHEN g % 4 = 0 THEN NULL ELSE (o - 1) * $5 + 2 + g % ($5 - 1) END,
                      (o - 1) * $6 + g % $6 + 1,
                      '["bench"]'::jsonb, '{"source": "bench"}'::jsonb, 1,
                      now() - (($1 - g) * interval '30 seconds') - interval '1 day',
                      now() - (($1 - g) * interval '30 seconds'),
                      now() - (($1 - g) * interval '30 seconds') - interval '20 hours'
               FROM (SELECT g, g % $7 + 1 AS o FROM generate_series(1, $1) g) s""",
            tickets,
            STATUSES,
            PRIORITIES,
            CUSTOMERS,
            per_org,
            TEAMS_PER_ORG,
            ORGANIZATIONS,
        )
        await conn.execute(
            """INSERT INTO ticket_responses (ticket_id, author_type, author_id, body, is_internal,
                                             created_at)
               SELECT t.id,
                      CASE WHEN r % 2 = 1 THEN 'customer' ELSE 'team_member' END,
                      CASE WHEN r % 2 = 1 THEN t.customer_id
                           ELSE (t.organization_id - 1) * $2 + 2 + t.id % ($2 - 1) END,
                      'Message ' || r || ' on ticket ' || t.id || '. ' || repeat('Lorem ipsum ', 8),
                      r = 4,
                      t.created_at + r * interval '1 hour'
               FROM tickets t, generate_series(1, $1) r""",
            RESPONSES_PER_TICKET,
            per_org,
        )
        await conn.execute(
            """INSERT INTO ticket_history (ticket_id, organization_id, actor_type, actor_id,
                                           action, field_name, old_value, new_value, is_internal,
                                           created_at)
               SELECT t.id, t.organization_id,
                      CASE WHEN h = 1 THEN 'customer' ELSE 'team_member' END,
                      CASE WHEN h = 1 THEN t.customer_id
                           ELSE (t.organization_id - 1) * $2 + 2 END,
                      CASE h WHEN 1 THEN 'created' WHEN 2 THEN 'assigned' ELSE 'field_changed' END,
                      CASE h WHEN 1 THEN NULL WHEN 2 THEN 'assignee' ELSE 'status' END,
                      CASE h WHEN 3 THEN 'open' END,
                      CASE h WHEN 2 THEN t.assignee_id::text WHEN 3 THEN t.status END,
                      false, t.created_at + h * interval '10 minutes'
               FROM tickets t, generate_series(1, $1) h ORDER BY t.id, h""",
            HISTORY_PER_TICKET,
            per_org,
        )
        await conn.execute(
            """UPDATE organizations o SET next_ticket_number = m.n + 1
               FROM (SELECT organization_id, max(number) n FROM tickets GROUP BY 1) m
               WHERE m.organization_id = o.id"""
        )
    await conn.execute("ANALYZE")


async def ticket_count(conn: asyncpg.Connection) -> int:
    try:
        return int(await conn.fetchval("SELECT count(*) FROM tickets"))
    except asyncpg.UndefinedTableError:
        return 0
