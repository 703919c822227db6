"""Ticket idempotency keys, and full-text search indexes on PostgreSQL.

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Kept out of the models (SQLite has no GIN); autogenerate ignores names ending in "_search".
SEARCH_INDEXES = {
    "ix_tickets_search": (
        "tickets",
        "to_tsvector('english', title || ' ' || description)",
    ),
    "ix_ticket_responses_search": ("ticket_responses", "to_tsvector('english', body)"),
}


def upgrade() -> None:
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("idempotency_key", sa.String(length=100), nullable=True))
        batch_op.create_unique_constraint(
            batch_op.f("uq_tickets_customer_id_idempotency_key"), ["customer_id", "idempotency_key"]
        )
    if op.get_bind().dialect.name == "postgresql":
        for name, (table, expression) in SEARCH_INDEXES.items():
            op.execute(f"CREATE INDEX {name} ON {table} USING gin ({expression})")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for name in SEARCH_INDEXES:
            op.execute(f"DROP INDEX {name}")
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_tickets_customer_id_idempotency_key"), type_="unique")
        batch_op.drop_column("idempotency_key")
