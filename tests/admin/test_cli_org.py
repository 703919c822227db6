"""`helpdesk org create`: the one step outside the API. The organization's first admin is
pending until they sign in with a token carrying their verified email (`helpdesk token`
makes one in development)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import select

from models import Organization, TeamMember, TeamRole
from tests.admin.helpers import AUDIT_LOG, as_token, audit_actions
from tests.conftest import TEST_SECRET, Stack
from tests.e2e.test_cli import one_line_error, run

ME = """query Me { me { __typename ... on TeamMember {
  name role isPending organization { slug name }
} } }"""


async def helpdesk(db: Stack, cwd: Path, *args: str):
    return await asyncio.to_thread(
        run, cwd, *args, DATABASE_URL=db.database_url, JWT_SECRET=TEST_SECRET
    )


async def test_org_create_makes_an_organization_whose_admin_signs_in(
    db: Stack, tmp_path: Path
) -> None:
    created = await helpdesk(
        db,
        tmp_path,
        "org",
        "create",
        "northwind",
        "--name",
        "Northwind Support",
        "--admin-email",
        "Ada@Northwind.example",
    )
    token = await helpdesk(db, tmp_path, "token", "ada@northwind.example")
    again = one_line_error(
        await helpdesk(
            db,
            tmp_path,
            "org",
            "create",
            "northwind",
            "--name",
            "Again",
            "--admin-email",
            "other@northwind.example",
        )
    )
    bad = one_line_error(
        await helpdesk(
            db,
            tmp_path,
            "org",
            "create",
            "Not A Slug",
            "--name",
            "X",
            "--admin-email",
            "x@northwind.example",
        )
    )

    assert created.returncode == 0, created.stderr
    assert "created organization 'northwind'" in created.stdout
    assert token.returncode == 0, token.stderr
    me = await as_token(db, token.stdout.strip(), ME)
    assert me["data"]["me"] == {
        "__typename": "TeamMember",
        "name": "ada",
        "role": "ADMIN",
        "isPending": False,
        "organization": {"slug": "northwind", "name": "Northwind Support"},
    }
    assert "already exists" in again
    assert "slug" in bad
    async with db.sessionmaker() as session:
        orgs = (await session.scalars(select(Organization))).all()
        admins = (await session.scalars(select(TeamMember))).all()
    assert [o.slug for o in orgs] == ["northwind"]
    assert [(m.email, m.role) for m in admins] == [("ada@northwind.example", TeamRole.ADMIN)]
    # The bootstrap is the organization's first audit entry, readable by its admin.
    assert await audit_actions(db, orgs[0].id) == ["organization.created"]
    log = await as_token(db, token.stdout.strip(), AUDIT_LOG)
    assert [e["action"] for e in log["data"]["auditLog"]["entries"]] == ["organization.created"]
    assert log["data"]["auditLog"]["entries"][0]["actor"] is None
