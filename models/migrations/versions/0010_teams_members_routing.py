"""Teams, members, customers and routing: administration through the API.

Teams get a description, an archive date and a round-robin position; members and customers
may exist before their first sign-in (user_id null until a token with their verified email
claims the row); organizations get a visibility (PUBLIC or INVITE_ONLY) and remember the
customers they created or invited; routing rules; the admin audit log; history entries may be
written by a routing rule (actor_type routing_rule).

Row-level security (PostgreSQL) covers the new tenant tables: staff see their organization's
rules, audit entries and customer links; a customer sees only their own links. Routing a
customer's new ticket reads the rules as the system (resolvers/routing.py).

Revision ID: 0010
Revises: 0009
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from models.base import UTCDateTime

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIGINT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
OLD_ACTORS = ("customer", "team_member", "system")
NEW_ACTORS = (*OLD_ACTORS, "routing_rule")


def _actors(values: tuple[str, ...]) -> sa.Enum:
    return sa.Enum(*values, name="actor_type", native_enum=False, create_constraint=True, length=32)


KIND = "current_setting('helpdesk.actor_kind', true)"
ACTOR = "NULLIF(current_setting('helpdesk.actor_id', true), '')::bigint"
ORG = "NULLIF(current_setting('helpdesk.organization_id', true), '')::bigint"
SYSTEM = f"{KIND} = 'system'"
OWN_ORG = f"({KIND} IN ('agent', 'admin') AND organization_id = {ORG})"
POLICIES = {
    "routing_rules": f"{SYSTEM} OR {OWN_ORG}",
    "audit_log": f"{SYSTEM} OR {OWN_ORG}",
    "organization_customers": (
        f"{SYSTEM} OR {OWN_ORG} OR ({KIND} = 'customer' AND customer_id = {ACTOR})"
    ),
}


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", BIGINT, nullable=False),
        sa.Column("organization_id", BIGINT, nullable=False),
        sa.Column("actor_type", _actors(NEW_ACTORS), nullable=False),
        sa.Column("actor_id", BIGINT, nullable=True),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("target_type", sa.String(length=32), nullable=False),
        sa.Column("target_id", BIGINT, nullable=True),
        sa.Column("details", JSON, nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_audit_log_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index("ix_audit_log_org_id", ["organization_id", "id"], unique=False)

    op.create_table(
        "organization_customers",
        sa.Column("organization_id", BIGINT, nullable=False),
        sa.Column("customer_id", BIGINT, nullable=False),
        sa.Column("invited_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_by_member_id", BIGINT, nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_organization_customers_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_organization_customers_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "organization_id", "customer_id", name=op.f("pk_organization_customers")
        ),
    )
    with op.batch_alter_table("organization_customers", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_organization_customers_customer_id"), ["customer_id"], unique=False
        )

    op.create_table(
        "routing_rules",
        sa.Column("id", BIGINT, nullable=False),
        sa.Column("organization_id", BIGINT, nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("position", BIGINT, nullable=False),
        sa.Column("is_enabled", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("conditions", JSON, nullable=False),
        sa.Column("set_team_id", BIGINT, nullable=True),
        sa.Column("set_priority", sa.String(length=32), nullable=True),
        sa.Column("add_tags", JSON, nullable=False),
        sa.Column("assign_round_robin", sa.Boolean(), nullable=False),
        sa.Column("stop_processing", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint("length(name) > 0", name=op.f("ck_routing_rules_name_not_empty")),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_routing_rules_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["set_team_id", "organization_id"],
            ["teams.id", "teams.organization_id"],
            name=op.f("fk_routing_rules_set_team_id_organization_id_teams"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_routing_rules")),
    )
    with op.batch_alter_table("routing_rules", schema=None) as batch_op:
        batch_op.create_index(
            "ix_routing_rules_org_position", ["organization_id", "position"], unique=False
        )

    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.alter_column("user_id", existing_type=sa.VARCHAR(length=255), nullable=True)

    with op.batch_alter_table("organizations", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "visibility",
                sa.Enum(
                    "public",
                    "invite_only",
                    name="organization_visibility",
                    native_enum=False,
                    create_constraint=True,
                    length=32,
                ),
                server_default="public",
                nullable=False,
            )
        )

    # Emails are compared normalized; store them so, and let the database refuse a second
    # member with the same address in any organization (two concurrent invites: one wins).
    # Rows of one address under two subjects (possible before) stop the upgrade here, to be
    # settled by hand: which of them is the member.
    op.execute("UPDATE team_members SET email = lower(trim(email))")
    with op.batch_alter_table("team_members", schema=None) as batch_op:
        batch_op.add_column(sa.Column("invited_at", UTCDateTime(timezone=True), nullable=True))
        batch_op.alter_column("user_id", existing_type=sa.VARCHAR(length=255), nullable=True)
        batch_op.create_index(batch_op.f("ix_team_members_email"), ["email"], unique=True)

    with op.batch_alter_table("teams", schema=None) as batch_op:
        batch_op.add_column(sa.Column("description", sa.String(length=1000), nullable=True))
        batch_op.add_column(sa.Column("archived_at", UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("last_assigned_member_id", BIGINT, nullable=True))

    with op.batch_alter_table("ticket_history", schema=None) as batch_op:
        batch_op.alter_column(
            "actor_type", existing_type=_actors(OLD_ACTORS), type_=_actors(NEW_ACTORS)
        )

    if op.get_bind().dialect.name == "postgresql":
        for table, rule in POLICIES.items():
            op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
            op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
            op.execute(
                f"CREATE POLICY {table}_actor ON {table} USING ({rule}) WITH CHECK ({rule})"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        # Row security applies to the owner too (FORCE): act as the system.
        op.execute("SELECT set_config('helpdesk.actor_kind', 'system', true)")
    # Entries written by routing rules become the system's.
    op.execute(
        "UPDATE ticket_history SET actor_type = 'system', actor_id = NULL "
        "WHERE actor_type = 'routing_rule'"
    )
    # Rows nobody ever signed in to cannot keep a null subject.
    op.execute("DELETE FROM team_members WHERE user_id IS NULL")
    op.execute(
        "DELETE FROM customers WHERE user_id IS NULL "
        "AND NOT EXISTS (SELECT 1 FROM tickets t WHERE t.customer_id = customers.id)"
    )
    op.execute("UPDATE customers SET user_id = 'pending:' || id WHERE user_id IS NULL")
    with op.batch_alter_table("ticket_history", schema=None) as batch_op:
        batch_op.alter_column(
            "actor_type", existing_type=_actors(NEW_ACTORS), type_=_actors(OLD_ACTORS)
        )
    with op.batch_alter_table("teams", schema=None) as batch_op:
        batch_op.drop_column("last_assigned_member_id")
        batch_op.drop_column("archived_at")
        batch_op.drop_column("description")
    with op.batch_alter_table("team_members", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_team_members_email"))
        batch_op.alter_column("user_id", existing_type=sa.VARCHAR(length=255), nullable=False)
        batch_op.drop_column("invited_at")
    with op.batch_alter_table("organizations", schema=None) as batch_op:
        batch_op.drop_constraint("organization_visibility", type_="check")
        batch_op.drop_column("visibility")
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.alter_column("user_id", existing_type=sa.VARCHAR(length=255), nullable=False)
    op.drop_table("routing_rules")
    op.drop_table("organization_customers")
    op.drop_table("audit_log")
