"""Row-level security on tickets, responses and history (PostgreSQL).

Defense in depth: even a resolver that forgot its policy cannot read another organization's
tickets, or internal notes as a customer. The application sets, per transaction,
`helpdesk.actor_kind` (system, customer, agent, admin), `helpdesk.actor_id` and
`helpdesk.organization_id`; without them nothing is visible (fail closed). Superusers and
roles with BYPASSRLS are not subject to these policies: run the app as a plain role.

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KIND = "current_setting('helpdesk.actor_kind', true)"
ACTOR = "NULLIF(current_setting('helpdesk.actor_id', true), '')::bigint"
ORG = "NULLIF(current_setting('helpdesk.organization_id', true), '')::bigint"
STAFF = f"{KIND} IN ('agent', 'admin')"
SYSTEM = f"{KIND} = 'system'"
# Tickets the current actor may see; used by the policies of the child tables.
TICKET_VISIBLE = "EXISTS (SELECT 1 FROM tickets t WHERE t.id = ticket_id)"

POLICIES = {
    "tickets": (
        f"{SYSTEM} OR ({STAFF} AND organization_id = {ORG}) "
        f"OR ({KIND} = 'customer' AND customer_id = {ACTOR})"
    ),
    "ticket_responses": (
        f"{SYSTEM} OR ({STAFF} AND {TICKET_VISIBLE}) "
        f"OR ({KIND} = 'customer' AND NOT is_internal AND {TICKET_VISIBLE})"
    ),
    "ticket_history": (
        f"{SYSTEM} OR ({STAFF} AND organization_id = {ORG}) "
        f"OR ({KIND} = 'customer' AND NOT is_internal AND {TICKET_VISIBLE})"
    ),
}


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, rule in POLICIES.items():
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        op.execute(f"CREATE POLICY {table}_actor ON {table} USING ({rule}) WITH CHECK ({rule})")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in POLICIES:
        op.execute(f"DROP POLICY {table}_actor ON {table}")
        op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
