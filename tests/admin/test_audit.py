"""The audit log: every admin action (who, when, what), readable by the organization's admins
only, newest first."""

from __future__ import annotations

import pytest

from models import TeamRole
from tests.admin.helpers import AUDIT_LOG, CREATE_TEAM, INVITE_MEMBER, UPDATE_TEAM
from tests.api.mutation_helpers import call, payload_of
from tests.conftest import Stack
from tests.factories import World, create_member, create_world
from tests.graphql import assert_refused_at, error_codes, global_id


@pytest.fixture
async def world(session) -> World:
    return await create_world(session)


async def test_admins_read_who_did_what_newest_first(db: Stack, world: World) -> None:
    team = payload_of(
        await call(db, world.admin, CREATE_TEAM, {"input": {"name": "Billing"}}), "createTeam"
    )["team"]
    await call(db, world.admin, UPDATE_TEAM, {"input": {"id": team["id"], "name": "Money"}})
    await call(db, world.admin, INVITE_MEMBER, {"input": {"email": "n@example.com", "name": "N"}})
    # A refused action writes nothing.
    await call(db, world.admin, CREATE_TEAM, {"input": {"name": "money"}})

    page = await call(db, world.admin, AUDIT_LOG, {"first": 2})
    rest = await call(
        db,
        world.admin,
        AUDIT_LOG,
        {"first": 2, "before": page["data"]["auditLog"]["entries"][-1]["id"]},
    )

    entries = page["data"]["auditLog"]["entries"]
    assert [e["action"] for e in entries] == ["member.invited", "team.updated"]
    assert page["data"]["auditLog"]["hasMore"] is True
    assert entries[1]["targetType"] == "team"
    assert entries[1]["targetId"] == team["id"]
    assert entries[1]["details"] == {"name": ["Billing", "Money"]}
    assert entries[1]["actor"] == {"id": global_id("TeamMember", world.admin.id)}
    assert [e["action"] for e in rest["data"]["auditLog"]["entries"]] == ["team.created"]
    assert rest["data"]["auditLog"]["hasMore"] is False


@pytest.mark.parametrize("who", ["agent", "customer"])
async def test_only_admins_read_the_audit_log(db: Stack, world: World, who: str) -> None:
    await call(db, world.admin, CREATE_TEAM, {"input": {"name": "Billing"}})
    body = await call(db, getattr(world, who), AUDIT_LOG)
    assert_refused_at(body, "auditLog", "FORBIDDEN")


async def test_an_admin_reads_only_their_organizations_log(
    db: Stack, world: World, session
) -> None:
    other_admin = await create_member(session, world.other_org, TeamRole.ADMIN)
    await session.commit()
    await call(db, world.admin, CREATE_TEAM, {"input": {"name": "Billing"}})

    theirs = await call(db, other_admin, AUDIT_LOG)
    bad = await call(db, world.admin, AUDIT_LOG, {"first": 101})

    assert theirs["data"]["auditLog"]["entries"] == []
    assert error_codes(bad) == ["BAD_USER_INPUT"]
