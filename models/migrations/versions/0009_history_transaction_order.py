"""History rows remember their writing transaction, so writers need no global lock.

Event cursors had to become visible in id order, so every write transaction on PostgreSQL
took one advisory lock until commit: writers in the whole database took turns. Now each row
stores its transaction id (`pg_current_xact_id()`), events are read in (tx, id) order and only
below the oldest transaction still running (`pg_snapshot_xmin`), which can never commit a
row that sorts before one already delivered. Existing rows get tx 0: they were committed in
id order under the old lock. SQLite keeps 0 (its writers are serialized). Needs PostgreSQL 13.

Revision ID: 0009
Revises: 0006
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TRANSACTION_ID = "(pg_current_xact_id()::text)::bigint"


def upgrade() -> None:
    with op.batch_alter_table("ticket_history", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("tx", sa.BigInteger(), server_default=sa.text("0"), nullable=False)
        )
        batch_op.drop_index("ix_ticket_history_org_id")
        batch_op.create_index("ix_ticket_history_tx_id", ["tx", "id"], unique=False)
        batch_op.create_index(
            "ix_ticket_history_org_tx_id", ["organization_id", "tx", "id"], unique=False
        )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER TABLE ticket_history ALTER COLUMN tx SET DEFAULT {TRANSACTION_ID}")


def downgrade() -> None:
    with op.batch_alter_table("ticket_history", schema=None) as batch_op:
        batch_op.drop_index("ix_ticket_history_org_tx_id")
        batch_op.drop_index("ix_ticket_history_tx_id")
        batch_op.create_index("ix_ticket_history_org_id", ["organization_id", "id"], unique=False)
        batch_op.drop_column("tx")
