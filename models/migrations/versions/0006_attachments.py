"""Attachments: files on tickets, replies and internal notes; the attachment_added history action.

Row-level security (PostgreSQL) guards the new table like the others: staff see their
organization's files, customers the files they uploaded and the attached, non-internal files
of their own tickets.

Revision ID: 0006
Revises: 0005
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIGINT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
OLD_ACTIONS = ("created", "field_changed", "response_added", "note_added", "assigned")
NEW_ACTIONS = (*OLD_ACTIONS, "attachment_added")


def _actions(values: tuple[str, ...]) -> sa.Enum:
    return sa.Enum(
        *values, name="history_action", native_enum=False, create_constraint=True, length=32
    )


KIND = "current_setting('helpdesk.actor_kind', true)"
ACTOR = "NULLIF(current_setting('helpdesk.actor_id', true), '')::bigint"
ORG = "NULLIF(current_setting('helpdesk.organization_id', true), '')::bigint"
POLICY = (
    f"{KIND} = 'system' "
    f"OR ({KIND} IN ('agent', 'admin') AND organization_id = {ORG}) "
    f"OR ({KIND} = 'customer' AND ("
    f"(uploader_type = 'customer' AND uploader_id = {ACTOR}) "
    "OR (attached_at IS NOT NULL AND NOT is_internal "
    "AND EXISTS (SELECT 1 FROM tickets t WHERE t.id = ticket_id))))"
)


def upgrade() -> None:
    op.create_table(
        "attachments",
        sa.Column("id", BIGINT, nullable=False),
        sa.Column("organization_id", BIGINT, nullable=False),
        sa.Column("ticket_id", BIGINT, nullable=True),
        sa.Column("response_id", BIGINT, nullable=True),
        sa.Column(
            "uploader_type",
            sa.Enum(
                "customer",
                "team_member",
                name="uploader_type",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("uploader_id", BIGINT, nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("content_type", sa.String(length=127), nullable=False),
        sa.Column("byte_size", BIGINT, nullable=False),
        sa.Column("checksum_sha256", sa.String(length=64), nullable=False),
        sa.Column("storage_key", sa.String(length=255), nullable=True),
        sa.Column("is_internal", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attached_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("byte_size >= 0", name=op.f("ck_attachments_byte_size_not_negative")),
        sa.CheckConstraint("length(filename) > 0", name=op.f("ck_attachments_filename_not_empty")),
        sa.CheckConstraint(
            "attached_at IS NULL OR ticket_id IS NOT NULL",
            name=op.f("ck_attachments_attached_to_a_ticket"),
        ),
        sa.CheckConstraint(
            "attached_at IS NULL OR storage_key IS NOT NULL",
            name=op.f("ck_attachments_attached_when_stored"),
        ),
        sa.CheckConstraint(
            "uploader_type = 'team_member' OR is_internal = false",
            name=op.f("ck_attachments_customer_not_internal"),
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_attachments_organization_id_organizations"),
        ),
        sa.ForeignKeyConstraint(
            ["response_id"],
            ["ticket_responses.id"],
            name=op.f("fk_attachments_response_id_ticket_responses"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id", "organization_id"],
            ["tickets.id", "tickets.organization_id"],
            name=op.f("fk_attachments_ticket_id_organization_id_tickets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attachments")),
    )
    with op.batch_alter_table("attachments", schema=None) as batch_op:
        batch_op.create_index("ix_attachments_response", ["response_id"], unique=False)
        batch_op.create_index(
            "ix_attachments_ticket", ["ticket_id", "created_at", "id"], unique=False
        )
        batch_op.create_index(
            "ix_attachments_unattached_expiry", ["attached_at", "expires_at"], unique=False
        )
    with op.batch_alter_table("ticket_history", schema=None) as batch_op:
        batch_op.alter_column(
            "action", existing_type=_actions(OLD_ACTIONS), type_=_actions(NEW_ACTIONS)
        )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE attachments ENABLE ROW LEVEL SECURITY")
        op.execute("ALTER TABLE attachments FORCE ROW LEVEL SECURITY")
        op.execute(
            f"CREATE POLICY attachments_actor ON attachments USING ({POLICY}) WITH CHECK ({POLICY})"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        # Row-level security applies to the owner too (FORCE): act as the system, or the
        # DELETE below would see no rows and the narrower action check would then fail.
        op.execute("SELECT set_config('helpdesk.actor_kind', 'system', true)")
    op.execute("DELETE FROM ticket_history WHERE action = 'attachment_added'")
    with op.batch_alter_table("ticket_history", schema=None) as batch_op:
        batch_op.alter_column(
            "action", existing_type=_actions(NEW_ACTIONS), type_=_actions(OLD_ACTIONS)
        )
    with op.batch_alter_table("attachments", schema=None) as batch_op:
        batch_op.drop_index("ix_attachments_unattached_expiry")
        batch_op.drop_index("ix_attachments_ticket")
        batch_op.drop_index("ix_attachments_response")
    op.drop_table("attachments")
