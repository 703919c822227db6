"""The knowledge base: categories, articles, their change log (revisions and events), the
articles linked in replies and the suggestions readers opened.

Row-level security (PostgreSQL): the readers of an organization's knowledge base read its
categories and published public articles; readers are anonymous callers and staff of other
organizations for PUBLIC organizations, and customers for the organizations they may open
tickets with (PUBLIC, or INVITE_ONLY that invited them or where they have tickets: the same
rule as permissions/people.py customer_may_use); staff read everything of their own
organization; only staff of the organization write articles,
only its admins categories; the change log is staff-only. Full-text search: a weighted GIN
index on PostgreSQL (for the default 'english' configuration), an FTS5 table kept in step by
triggers on SQLite when the library has FTS5 (otherwise searches fall back to LIKE).

Revision ID: 0011
Revises: 0010
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KIND = "current_setting('helpdesk.actor_kind', true)"
ACTOR = "NULLIF(current_setting('helpdesk.actor_id', true), '')::bigint"
ORG = "NULLIF(current_setting('helpdesk.organization_id', true), '')::bigint"
SYSTEM = f"{KIND} = 'system'"
OWN_STAFF = f"({KIND} IN ('agent', 'admin') AND organization_id = {ORG})"
READERS = f"{KIND} IN ('anonymous', 'customer', 'agent', 'admin')"
# The organization (of the row's organization_id) opens its knowledge base to the caller. A
# customer's subqueries of organization_customers and tickets see only their own rows (row
# security); the customer is named as well so the rule does not rest on that alone.
OPEN_ORG = (
    "EXISTS (SELECT 1 FROM organizations o WHERE o.id = organization_id AND ("
    "o.visibility = 'public' "
    f"OR ({KIND} = 'customer' AND ("
    "EXISTS (SELECT 1 FROM organization_customers oc WHERE oc.organization_id = o.id "
    f"AND oc.customer_id = {ACTOR} AND oc.invited_at IS NOT NULL) "
    "OR EXISTS (SELECT 1 FROM tickets t WHERE t.organization_id = o.id "
    f"AND t.customer_id = {ACTOR})))))"
)
STAFF_WRITE = f"{SYSTEM} OR {OWN_STAFF}"
ADMIN_WRITE = f"{SYSTEM} OR ({KIND} = 'admin' AND organization_id = {ORG})"
# (command, USING, WITH CHECK) per policy; permissive policies of a table add up.
POLICIES: dict[str, dict[str, tuple[str, str | None, str | None]]] = {
    "kb_categories": {
        "read": ("SELECT", f"{STAFF_WRITE} OR ({READERS} AND {OPEN_ORG})", None),
        "write": ("ALL", ADMIN_WRITE, ADMIN_WRITE),
    },
    "kb_articles": {
        "read": (
            "SELECT",
            f"{STAFF_WRITE} OR ({READERS} AND state = 'published' AND visibility = 'public' "
            f"AND {OPEN_ORG})",
            None,
        ),
        "write": ("ALL", STAFF_WRITE, STAFF_WRITE),
    },
    "kb_changes": {"staff": ("ALL", STAFF_WRITE, STAFF_WRITE)},
    "kb_article_links": {
        "read": (
            "SELECT",
            f"{STAFF_WRITE} OR ({KIND} = 'customer' "
            "AND EXISTS (SELECT 1 FROM ticket_responses r WHERE r.id = response_id))",
            None,
        ),
        "write": ("ALL", STAFF_WRITE, STAFF_WRITE),
    },
    "kb_suggestion_opens": {
        "staff": ("ALL", STAFF_WRITE, STAFF_WRITE),
        # Readers record what they opened (never reading the log back): an article they may
        # read, as themselves.
        "record": (
            "INSERT",
            None,
            f"(({KIND} = 'anonymous' AND customer_id IS NULL) "
            f"OR ({KIND} = 'customer' AND customer_id = {ACTOR})) "
            "AND EXISTS (SELECT 1 FROM kb_articles a WHERE a.id = article_id)",
        ),
    },
}
# Kept out of the models (SQLite has no GIN); autogenerate ignores names ending in "_search".
# The same expression as resolvers/knowledge_search.py with the 'english' configuration.
SEARCH_VECTOR = (
    "setweight(to_tsvector('english'::regconfig, title), 'A') || "
    "setweight(to_tsvector('english'::regconfig, body), 'B')"
)
SQLITE_SEARCH = (
    "CREATE VIRTUAL TABLE kb_article_search USING fts5(title, body, content='kb_articles', "
    "content_rowid='id', tokenize='porter unicode61')",
    "CREATE TRIGGER kb_article_search_ai AFTER INSERT ON kb_articles BEGIN "
    "INSERT INTO kb_article_search(rowid, title, body) VALUES (new.id, new.title, new.body); END",
    "CREATE TRIGGER kb_article_search_ad AFTER DELETE ON kb_articles BEGIN "
    "INSERT INTO kb_article_search(kb_article_search, rowid, title, body) "
    "VALUES ('delete', old.id, old.title, old.body); END",
    "CREATE TRIGGER kb_article_search_au AFTER UPDATE ON kb_articles BEGIN "
    "INSERT INTO kb_article_search(kb_article_search, rowid, title, body) "
    "VALUES ('delete', old.id, old.title, old.body); "
    "INSERT INTO kb_article_search(rowid, title, body) VALUES (new.id, new.title, new.body); END",
)


def upgrade() -> None:
    op.create_table('kb_categories',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('organization_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('parent_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('slug', sa.String(length=100), nullable=False),
    sa.Column('position', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('length(name) > 0', name=op.f('ck_kb_categories_name_not_empty')),
    sa.CheckConstraint('parent_id IS NULL OR parent_id <> id', name=op.f('ck_kb_categories_not_own_parent')),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_kb_categories_organization_id_organizations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['parent_id', 'organization_id'], ['kb_categories.id', 'kb_categories.organization_id'], name=op.f('fk_kb_categories_parent_id_organization_id_kb_categories')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_kb_categories')),
    sa.UniqueConstraint('id', 'organization_id', name=op.f('uq_kb_categories_id_organization_id')),
    sa.UniqueConstraint('organization_id', 'slug', name=op.f('uq_kb_categories_organization_id_slug'))
    )
    op.create_table('kb_articles',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('organization_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('category_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('author_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('slug', sa.String(length=200), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('body_html', sa.Text(), nullable=False),
    sa.Column('state', sa.Enum('draft', 'published', 'archived', name='article_state', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('visibility', sa.Enum('public', 'internal', name='article_visibility', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('tags', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('version', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("(state = 'draft') = (published_at IS NULL) OR state = 'archived'", name=op.f('ck_kb_articles_published_at_when_published')),
    sa.CheckConstraint('length(title) > 0', name=op.f('ck_kb_articles_title_not_empty')),
    sa.CheckConstraint('version >= 1', name=op.f('ck_kb_articles_version_positive')),
    sa.ForeignKeyConstraint(['author_id', 'organization_id'], ['team_members.id', 'team_members.organization_id'], name=op.f('fk_kb_articles_author_id_organization_id_team_members')),
    sa.ForeignKeyConstraint(['category_id', 'organization_id'], ['kb_categories.id', 'kb_categories.organization_id'], name=op.f('fk_kb_articles_category_id_organization_id_kb_categories')),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_kb_articles_organization_id_organizations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_kb_articles')),
    sa.UniqueConstraint('id', 'organization_id', name=op.f('uq_kb_articles_id_organization_id')),
    sa.UniqueConstraint('organization_id', 'slug', name=op.f('uq_kb_articles_organization_id_slug'))
    )
    with op.batch_alter_table('kb_articles', schema=None) as batch_op:
        batch_op.create_index('ix_kb_articles_category', ['category_id'], unique=False)
        batch_op.create_index('ix_kb_articles_org_state_updated', ['organization_id', 'state', 'updated_at'], unique=False)

    op.create_table('kb_changes',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('organization_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('article_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('category_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('actor_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('action', sa.Enum('created', 'updated', 'published', 'archived', 'category_created', 'category_updated', name='kb_action', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('version', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('changed_fields', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=True),
    sa.Column('body', sa.Text(), nullable=True),
    sa.Column('previous_title', sa.String(length=300), nullable=True),
    sa.Column('previous_body', sa.Text(), nullable=True),
    sa.Column('state', sa.String(length=32), nullable=True),
    sa.Column('visibility', sa.String(length=32), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['article_id'], ['kb_articles.id'], name=op.f('fk_kb_changes_article_id_kb_articles'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['category_id'], ['kb_categories.id'], name=op.f('fk_kb_changes_category_id_kb_categories'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_kb_changes_organization_id_organizations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_kb_changes'))
    )
    with op.batch_alter_table('kb_changes', schema=None) as batch_op:
        batch_op.create_index('ix_kb_changes_article', ['article_id', 'id'], unique=False)
        batch_op.create_index('ix_kb_changes_org_id', ['organization_id', 'id'], unique=False)

    op.create_table('kb_suggestion_opens',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('organization_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('article_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('customer_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('opened_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['article_id', 'organization_id'], ['kb_articles.id', 'kb_articles.organization_id'], name=op.f('fk_kb_suggestion_opens_article_id_organization_id_kb_articles'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_kb_suggestion_opens_customer_id_customers'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_kb_suggestion_opens_organization_id_organizations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_kb_suggestion_opens'))
    )
    with op.batch_alter_table('kb_suggestion_opens', schema=None) as batch_op:
        batch_op.create_index('ix_kb_suggestion_opens_org_opened', ['organization_id', 'opened_at'], unique=False)

    op.create_table('kb_article_links',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('organization_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('article_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('ticket_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('response_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('position', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['article_id', 'organization_id'], ['kb_articles.id', 'kb_articles.organization_id'], name=op.f('fk_kb_article_links_article_id_organization_id_kb_articles')),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_kb_article_links_organization_id_organizations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['response_id'], ['ticket_responses.id'], name=op.f('fk_kb_article_links_response_id_ticket_responses'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['ticket_id', 'organization_id'], ['tickets.id', 'tickets.organization_id'], name=op.f('fk_kb_article_links_ticket_id_organization_id_tickets'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_kb_article_links')),
    sa.UniqueConstraint('response_id', 'article_id', name=op.f('uq_kb_article_links_response_id_article_id'))
    )
    with op.batch_alter_table('kb_article_links', schema=None) as batch_op:
        batch_op.create_index('ix_kb_article_links_article', ['article_id', 'created_at'], unique=False)

    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute(f"CREATE INDEX ix_kb_articles_search ON kb_articles USING gin (({SEARCH_VECTOR}))")
        for table, policies in POLICIES.items():
            op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
            op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
            for name, (command, using, check) in policies.items():
                clauses = "" if using is None else f" USING ({using})"
                clauses += "" if check is None else f" WITH CHECK ({check})"
                op.execute(f"CREATE POLICY {table}_{name} ON {table} FOR {command}{clauses}")
    else:
        try:
            with bind.begin_nested():
                for statement in SQLITE_SEARCH:
                    bind.exec_driver_sql(statement)
        except sa.exc.OperationalError:
            # No FTS5 in this SQLite: searches use LIKE (resolvers/knowledge_search.py).
            pass


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute("DROP INDEX ix_kb_articles_search")
    else:
        for trigger in ("ai", "ad", "au"):
            op.execute(f"DROP TRIGGER IF EXISTS kb_article_search_{trigger}")
        op.execute("DROP TABLE IF EXISTS kb_article_search")
    with op.batch_alter_table('kb_article_links', schema=None) as batch_op:
        batch_op.drop_index('ix_kb_article_links_article')

    op.drop_table('kb_article_links')
    with op.batch_alter_table('kb_suggestion_opens', schema=None) as batch_op:
        batch_op.drop_index('ix_kb_suggestion_opens_org_opened')

    op.drop_table('kb_suggestion_opens')
    with op.batch_alter_table('kb_changes', schema=None) as batch_op:
        batch_op.drop_index('ix_kb_changes_org_id')
        batch_op.drop_index('ix_kb_changes_article')

    op.drop_table('kb_changes')
    with op.batch_alter_table('kb_articles', schema=None) as batch_op:
        batch_op.drop_index('ix_kb_articles_org_state_updated')
        batch_op.drop_index('ix_kb_articles_category')

    op.drop_table('kb_articles')
    op.drop_table('kb_categories')
