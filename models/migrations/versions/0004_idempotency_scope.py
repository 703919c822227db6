"""Idempotency keys belong to their sender and remember their request.

Keys were unique per customer, so another organization's staff reusing a customer's key hit a
uniqueness violation on a ticket that row security hides from them (INTERNAL). Now a key is
unique per sender: a customer ("customer:<id>", their own tickets) or a team member within an
organization ("staff:<org>:<member>"); a sender can read every ticket its keys can collide with.
The request's fingerprint is kept so that a key reused for another request is refused.

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("idempotency_scope", sa.String(length=64), nullable=True))
        batch_op.add_column(
            sa.Column("idempotency_fingerprint", sa.String(length=64), nullable=True)
        )
    if op.get_bind().dialect.name == "postgresql":
        # The tables force row security, also on their owner: act as the system to see them.
        op.execute("SELECT set_config('helpdesk.actor_kind', 'system', true)")
    # Existing keys go to whoever created the ticket (its "created" history entry).
    op.execute(
        """
        UPDATE tickets SET idempotency_scope = (
            SELECT CASE WHEN h.actor_type = 'customer'
                        THEN 'customer:' || CAST(tickets.customer_id AS VARCHAR)
                        ELSE 'staff:' || CAST(tickets.organization_id AS VARCHAR)
                             || ':' || CAST(h.actor_id AS VARCHAR) END
            FROM ticket_history h
            WHERE h.ticket_id = tickets.id AND h.action = 'created'
            ORDER BY h.id LIMIT 1
        )
        WHERE idempotency_key IS NOT NULL
        """
    )
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_constraint("uq_tickets_customer_id_idempotency_key", type_="unique")
        batch_op.create_unique_constraint(
            "uq_tickets_idempotency_scope_idempotency_key",
            ["idempotency_scope", "idempotency_key"],
        )


def downgrade() -> None:
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_constraint("uq_tickets_idempotency_scope_idempotency_key", type_="unique")
        batch_op.create_unique_constraint(
            "uq_tickets_customer_id_idempotency_key", ["customer_id", "idempotency_key"]
        )
        batch_op.drop_column("idempotency_fingerprint")
        batch_op.drop_column("idempotency_scope")
