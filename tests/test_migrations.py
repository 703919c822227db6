"""Alembic migrations: they build the models' schema exactly, and run down and up again."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, insert, inspect, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError

from models import (
    Attachment,
    Base,
    Customer,
    Organization,
    TeamMember,
    Ticket,
    TicketHistory,
    TicketResponse,
    migrate,
)
from models.engine import create_engine
from tests.backends import Backend, configured_backends
from tests.conftest import _maintenance

# Owns the databases of the migration tests that run as production does (see owner_engine).
OWNER_ROLE = "helpdesk_owner_test"


@pytest.fixture(params=configured_backends(), ids=lambda b: b.name)
async def empty_engine(request: pytest.FixtureRequest, fresh_database):
    backend: Backend = request.param
    engine = create_engine(await fresh_database(backend))
    yield engine
    await engine.dispose()


@pytest.fixture(params=configured_backends(), ids=lambda b: b.name)
async def owner_engine(request: pytest.FixtureRequest, fresh_database):
    """An empty database migrated by its owner as in production: on PostgreSQL a plain role,
    to which row security applies (FORCE), not the superuser, which bypasses it."""
    backend: Backend = request.param
    url = await fresh_database(backend)
    if backend.is_postgres:
        await _maintenance(
            backend.database,
            f"""DO $$ BEGIN
              IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{OWNER_ROLE}') THEN
                CREATE ROLE {OWNER_ROLE} LOGIN NOSUPERUSER NOBYPASSRLS;
              END IF;
            END $$""",
        )
        parsed = make_url(url)
        await _maintenance(
            backend.database, f'ALTER DATABASE "{parsed.database}" OWNER TO {OWNER_ROLE}'
        )
        url = parsed.set(username=OWNER_ROLE).render_as_string(hide_password=False)
    engine = create_engine(url)
    yield engine
    await engine.dispose()


async def as_system(conn) -> None:
    """Row security (PostgreSQL) lets the owner see and write rows only as the system."""
    if conn.dialect.name == "postgresql":
        await conn.execute(text("SELECT set_config('helpdesk.actor_kind', 'system', true)"))


async def table_names(engine) -> set[str]:
    async with engine.connect() as conn:
        return set(await conn.run_sync(lambda sync: inspect(sync).get_table_names()))


async def test_upgrade_builds_exactly_the_models(empty_engine) -> None:
    assert await migrate.current_revision(empty_engine) is None

    await migrate.upgrade(empty_engine)

    assert await migrate.current_revision(empty_engine) == migrate.head_revision()
    assert await migrate.pending_model_changes(empty_engine) == []
    assert set(Base.metadata.tables) <= await table_names(empty_engine)


async def test_downgrade_to_base_and_up_again(empty_engine) -> None:
    await migrate.upgrade(empty_engine)

    await migrate.downgrade(empty_engine, "base")
    assert await table_names(empty_engine) <= {"alembic_version"}

    await migrate.upgrade(empty_engine)
    assert await migrate.pending_model_changes(empty_engine) == []


async def test_0004_gives_existing_keys_to_whoever_created_the_ticket(empty_engine) -> None:
    from sqlalchemy import text

    await migrate.upgrade(empty_engine, "0003")
    async with empty_engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            await conn.execute(text("SELECT set_config('helpdesk.actor_kind', 'system', true)"))
        await conn.execute(
            text(
                "INSERT INTO organizations (id, name, slug, next_ticket_number, created_at) "
                "VALUES (1, 'Org', 'org', 3, CURRENT_TIMESTAMP)"
            )
        )
        await conn.execute(
            text(
                "INSERT INTO customers (id, user_id, email, name, created_at, updated_at) "
                "VALUES (5, 'c', 'c@example.com', 'C', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            )
        )
        for ticket, key, actor_type, actor in (
            (1, "k1", "customer", 5),
            (2, "k2", "team_member", 9),
        ):
            await conn.execute(
                text(
                    "INSERT INTO tickets (id, organization_id, number, title, description, status,"
                    " priority, customer_id, tags, metadata, version, created_at, updated_at,"
                    " idempotency_key) VALUES (:id, 1, :id, 't', '', 'open', 'medium', 5, '[]',"
                    " '{}', 1, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, :key)"
                ),
                {"id": ticket, "key": key},
            )
            await conn.execute(
                text(
                    "INSERT INTO ticket_history (ticket_id, organization_id, actor_type, actor_id,"
                    " action, is_internal, created_at) VALUES (:id, 1, :type, :actor, 'created',"
                    " false, CURRENT_TIMESTAMP)"
                ),
                {"id": ticket, "type": actor_type, "actor": actor},
            )

    await migrate.upgrade(empty_engine)

    async with empty_engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            await conn.execute(text("SELECT set_config('helpdesk.actor_kind', 'system', true)"))
        rows = (
            await conn.execute(text("SELECT id, idempotency_scope FROM tickets ORDER BY id"))
        ).all()
    assert [tuple(r) for r in rows] == [(1, "customer:5"), (2, "staff:1:9")]
    # SQLite rebuilds the table to change it; its replies and history must survive that.
    async with empty_engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            await conn.execute(text("SELECT set_config('helpdesk.actor_kind', 'system', true)"))
        kept = await conn.scalar(text("SELECT count(*) FROM ticket_history"))
    assert kept == 2


async def test_0005_links_the_history_of_old_seeded_replies_to_their_responses(
    empty_engine,
) -> None:
    """The first demo seeder wrote reply and note entries without the response they are about;
    0005 finds it by ticket, author and timestamp, and leaves unmatched rows alone."""
    await migrate.upgrade(empty_engine, "0003")
    moment = dt.datetime(2024, 3, 1, 9, 0, tzinfo=dt.UTC)
    responses = TicketResponse.__table__
    history = TicketHistory.__table__
    async with empty_engine.begin() as conn:
        org = (
            await conn.execute(insert(Organization.__table__).values(name="O", slug="o"))
        ).inserted_primary_key[0]
        customer = (
            await conn.execute(
                insert(Customer.__table__).values(user_id="c", email="c@x.example", name="C")
            )
        ).inserted_primary_key[0]
        member = (
            await conn.execute(
                insert(TeamMember.__table__).values(
                    organization_id=org, user_id="m", email="m@x.example", name="M", role="agent"
                )
            )
        ).inserted_primary_key[0]
        ticket = (
            await conn.execute(
                insert(Ticket.__table__).values(
                    organization_id=org, number=1, title="T", customer_id=customer
                )
            )
        ).inserted_primary_key[0]

        async def respond(author_type: str, author: int, internal: bool, at: dt.datetime) -> int:
            result = await conn.execute(
                insert(responses).values(
                    ticket_id=ticket,
                    author_type=author_type,
                    author_id=author,
                    body="b",
                    is_internal=internal,
                    created_at=at,
                )
            )
            return int(result.inserted_primary_key[0])

        async def entry(action: str, actor_type: str, actor: int, at: dt.datetime) -> int:
            result = await conn.execute(
                insert(history).values(
                    ticket_id=ticket,
                    organization_id=org,
                    actor_type=actor_type,
                    actor_id=actor,
                    action=action,
                    is_internal=action == "note_added",
                    created_at=at,
                )
            )
            return int(result.inserted_primary_key[0])

        reply = await respond("team_member", member, False, moment)
        note = await respond("team_member", member, True, moment + dt.timedelta(minutes=1))
        answer = await respond("customer", customer, False, moment + dt.timedelta(minutes=2))
        expected = {
            await entry("response_added", "team_member", member, moment): str(reply),
            await entry("note_added", "team_member", member, moment + dt.timedelta(minutes=1)): str(
                note
            ),
            await entry(
                "response_added", "customer", customer, moment + dt.timedelta(minutes=2)
            ): str(answer),
        }
        orphan = await entry("response_added", "customer", customer, moment + dt.timedelta(hours=1))

    await migrate.upgrade(empty_engine)

    async with empty_engine.connect() as conn:
        rows = {
            row.id: (row.field_name, row.new_value)
            for row in await conn.execute(
                select(history.c.id, history.c.field_name, history.c.new_value)
            )
        }
    assert {i: rows[i] for i in expected} == {i: ("response", v) for i, v in expected.items()}
    assert rows[orphan] == (None, None)


async def test_0006_keeps_every_reply_and_entry_and_its_downgrade_removes_only_file_entries(
    owner_engine,
) -> None:
    """0006 changes `ticket_history` (SQLite rebuilds the table); nothing of 0005's data may be
    lost. Down again, the `attachment_added` entries and the files go, everything else stays
    (run by the database's owner: on PostgreSQL row security applies to the migration too)."""
    empty_engine = owner_engine
    await migrate.upgrade(empty_engine, "0005")
    history = TicketHistory.__table__
    async with empty_engine.begin() as conn:
        await as_system(conn)
        org = (
            await conn.execute(insert(Organization.__table__).values(name="O", slug="o"))
        ).inserted_primary_key[0]
        customer = (
            await conn.execute(
                insert(Customer.__table__).values(user_id="c", email="c@x.example", name="C")
            )
        ).inserted_primary_key[0]
        ticket = (
            await conn.execute(
                insert(Ticket.__table__).values(
                    organization_id=org, number=1, title="T", customer_id=customer
                )
            )
        ).inserted_primary_key[0]
        reply = (
            await conn.execute(
                insert(TicketResponse.__table__).values(
                    ticket_id=ticket, author_type="customer", author_id=customer, body="b"
                )
            )
        ).inserted_primary_key[0]
        for action, field, value in (
            ("created", None, None),
            ("response_added", "response", str(reply)),
        ):
            await conn.execute(
                insert(history).values(
                    ticket_id=ticket,
                    organization_id=org,
                    actor_type="customer",
                    actor_id=customer,
                    action=action,
                    field_name=field,
                    new_value=value,
                    is_internal=False,
                )
            )

    await migrate.upgrade(empty_engine)

    now = dt.datetime.now(dt.UTC)
    async with empty_engine.begin() as conn:
        await as_system(conn)
        assert await conn.scalar(select(func.count()).select_from(history)) == 2
        assert await conn.scalar(select(func.count()).select_from(TicketResponse.__table__)) == 1
        file = (
            await conn.execute(
                insert(Attachment.__table__).values(
                    organization_id=org,
                    ticket_id=ticket,
                    response_id=reply,
                    uploader_type="customer",
                    uploader_id=customer,
                    filename="a.png",
                    content_type="image/png",
                    byte_size=1,
                    checksum_sha256="0" * 64,
                    storage_key="k",
                    created_at=now,
                    uploaded_at=now,
                    attached_at=now,
                    expires_at=now,
                )
            )
        ).inserted_primary_key[0]
        await conn.execute(
            insert(history).values(
                ticket_id=ticket,
                organization_id=org,
                actor_type="customer",
                actor_id=customer,
                action="attachment_added",
                field_name="attachment",
                new_value=str(file),
                is_internal=False,
            )
        )

    await migrate.downgrade(empty_engine, "0005")

    async with empty_engine.begin() as conn:
        await as_system(conn)
        actions = sorted((await conn.scalars(select(history.c.action))).all())
        replies = await conn.scalar(select(func.count()).select_from(TicketResponse.__table__))
    assert actions == ["created", "response_added"]
    assert replies == 1
    assert "attachments" not in await table_names(empty_engine)

    await migrate.upgrade(empty_engine)
    assert await migrate.pending_model_changes(empty_engine) == []


async def test_0010_normalizes_member_emails_and_keeps_them_unique(owner_engine) -> None:
    """0010 stores team member emails trimmed and lower-cased and makes them unique across
    organizations (concurrent invites of one email: the index refuses the second). Down again,
    the index goes; up again, the schema is the models' (run by the database's owner)."""
    engine = owner_engine
    await migrate.upgrade(engine, "0009")
    members = TeamMember.__table__
    spelled = {"user_id": "idp|ada", "email": " Ada@Example.COM ", "name": "Ada", "role": "admin"}
    async with engine.begin() as conn:
        await as_system(conn)
        orgs = [
            (
                await conn.execute(insert(Organization.__table__).values(name=n, slug=n))
            ).inserted_primary_key[0]
            for n in ("one", "two")
        ]
        await conn.execute(insert(members).values(organization_id=orgs[0], **spelled))

    await migrate.upgrade(engine)

    async with engine.begin() as conn:
        assert (await conn.scalars(select(members.c.email))).all() == ["ada@example.com"]
    twin = {"user_id": None, "email": "ada@example.com", "name": "Twin", "role": "agent"}
    with pytest.raises(IntegrityError):
        async with engine.begin() as conn:
            await conn.execute(insert(members).values(organization_id=orgs[1], **twin))

    await migrate.downgrade(engine, "0009")
    async with engine.begin() as conn:
        # The index is gone (a signed-in twin may exist again at 0009)...
        await conn.execute(
            insert(members).values(organization_id=orgs[1], **(twin | {"user_id": "idp|twin"}))
        )
        assert await conn.scalar(select(func.count()).select_from(members)) == 2
        await conn.execute(members.delete().where(members.c.user_id == "idp|twin"))

    await migrate.upgrade(engine)
    assert await migrate.pending_model_changes(engine) == []
