"""Reply idempotency keys; history rows of replies and notes link their response.

Typed history (`ResponseAdded.response`, `NoteAdded.response`) reads the response from the
row (`field_name = 'response'`, `new_value` = its id), as every write since the first release
stores it. Rows written by the first demo seeder lack the link; they are matched to their
response by ticket, author and timestamp (the seeder stamped both alike). A row without a
match is left alone and shows `response: null`.

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MATCHING_RESPONSES = """
    FROM ticket_responses r
    WHERE r.ticket_id = ticket_history.ticket_id
      AND r.author_type = ticket_history.actor_type
      AND r.author_id = ticket_history.actor_id
      AND r.created_at = ticket_history.created_at
      AND r.is_internal = (ticket_history.action = 'note_added')
"""


def upgrade() -> None:
    with op.batch_alter_table("ticket_responses", schema=None) as batch_op:
        batch_op.add_column(sa.Column("idempotency_key", sa.String(length=100), nullable=True))
        batch_op.create_unique_constraint(
            batch_op.f("uq_ticket_responses_author_type_author_id_idempotency_key"),
            ["author_type", "author_id", "idempotency_key"],
        )
    if op.get_bind().dialect.name == "postgresql":
        # Row-level security (0003) applies to the owner too (FORCE): act as the system.
        op.execute("SELECT set_config('helpdesk.actor_kind', 'system', true)")
    op.execute(
        f"""
        UPDATE ticket_history
        SET field_name = 'response',
            new_value = CAST((SELECT MIN(r.id) {MATCHING_RESPONSES}) AS TEXT)
        WHERE action IN ('response_added', 'note_added')
          AND field_name IS NULL
          AND EXISTS (SELECT 1 {MATCHING_RESPONSES})
        """
    )


def downgrade() -> None:
    # The links stay: the first release reads them too.
    with op.batch_alter_table("ticket_responses", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("uq_ticket_responses_author_type_author_id_idempotency_key"),
            type_="unique",
        )
        batch_op.drop_column("idempotency_key")
