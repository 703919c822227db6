"""Teams: admins create, rename and archive them, inside their own organization only."""

from __future__ import annotations

import pytest

from models import Team, TeamRole
from tests.admin.helpers import (
    ARCHIVE_TEAM,
    CREATE_TEAM,
    UPDATE_TEAM,
    admin_state,
    audit_actions,
)
from tests.api.mutation_helpers import (
    call,
    call_anonymously,
    load_ticket,
    payload_of,
    user_error_codes,
)
from tests.conftest import Stack
from tests.factories import World, create_member, create_team, create_world
from tests.graphql import assert_authentication_required, global_id

TEAMS = "query Teams($all: Boolean!) { teams(includeArchived: $all) { id name archivedAt } }"
UPDATE_TICKET_TEAM = """mutation($input: UpdateTicketInput!) {
  updateTicket(input: $input) { ticket { team { id } } userErrors { field code } }
}"""


@pytest.fixture
async def world(session) -> World:
    return await create_world(session)


async def test_an_admin_creates_a_team_and_it_is_audited(db: Stack, world: World) -> None:
    body = await call(
        db, world.admin, CREATE_TEAM, {"input": {"name": " Billing ", "description": "Money"}}
    )
    payload = payload_of(body, "createTeam")

    assert payload["userErrors"] == []
    assert payload["team"]["name"] == "Billing"
    assert payload["team"]["description"] == "Money"
    assert payload["team"]["archivedAt"] is None
    listed = await call(db, world.agent, TEAMS, {"all": False})
    assert "Billing" in [t["name"] for t in listed["data"]["teams"]]
    assert await audit_actions(db, world.org.id) == ["team.created"]


@pytest.mark.parametrize("name", ["billing", "BILLING"])
async def test_a_team_name_is_unique_per_organization(
    db: Stack, world: World, session, name: str
) -> None:
    await create_team(session, world.org, name="Billing")
    await create_team(session, world.other_org, name="Refunds")
    await session.commit()
    before = await admin_state(db)

    taken = await call(db, world.admin, CREATE_TEAM, {"input": {"name": name}})
    # Another organization's names do not count.
    free = await call(db, world.admin, CREATE_TEAM, {"input": {"name": "Refunds"}})

    assert user_error_codes(payload_of(taken, "createTeam")) == [("name", "TAKEN")]
    assert payload_of(taken, "createTeam")["team"] is None
    assert payload_of(free, "createTeam")["userErrors"] == []
    after = await admin_state(db)
    assert len(after["teams"]) == len(before["teams"]) + 1
    assert after["audit_log"] == before["audit_log"] + 1


@pytest.mark.parametrize(
    ("variables", "field", "code"),
    [
        ({"name": ""}, "name", "REQUIRED"),
        ({"name": "   "}, "name", "REQUIRED"),
        ({"name": "x" * 101}, "name", "TOO_LONG"),
        ({"name": "ok", "description": "d" * 1001}, "description", "TOO_LONG"),
        ({"name": "nul\x00"}, "name", "INVALID"),
    ],
)
async def test_bad_team_input_changes_nothing(
    db: Stack, world: World, variables: dict[str, str], field: str, code: str
) -> None:
    before = await admin_state(db)
    body = await call(db, world.admin, CREATE_TEAM, {"input": variables})

    assert user_error_codes(payload_of(body, "createTeam")) == [(field, code)]
    assert await admin_state(db) == before


@pytest.mark.parametrize("who", ["agent", "customer"])
async def test_only_admins_manage_teams(db: Stack, world: World, session, who: str) -> None:
    team = await create_team(session, world.org)
    await session.commit()
    before = await admin_state(db)
    caller = getattr(world, who)
    team_id = global_id("Team", team.id)

    created = await call(db, caller, CREATE_TEAM, {"input": {"name": "New"}})
    updated = await call(db, caller, UPDATE_TEAM, {"input": {"id": team_id, "name": "Renamed"}})
    archived = await call(db, caller, ARCHIVE_TEAM, {"input": {"id": team_id}})

    for body, name in ((created, "createTeam"), (updated, "updateTeam"), (archived, "archiveTeam")):
        assert user_error_codes(payload_of(body, name)) == [(None, "FORBIDDEN")]
    assert await admin_state(db) == before


async def test_anonymous_callers_must_authenticate(db: Stack) -> None:
    response = await call_anonymously(db, CREATE_TEAM, {"input": {"name": "x"}})
    assert_authentication_required(response)


async def test_an_admin_renames_and_describes_a_team(db: Stack, world: World, session) -> None:
    team = await create_team(session, world.org, name="Support")
    await create_team(session, world.org, name="Sales")
    await session.commit()
    team_id = global_id("Team", team.id)

    renamed = await call(
        db, world.admin, UPDATE_TEAM, {"input": {"id": team_id, "name": "Help", "description": "x"}}
    )
    before = await admin_state(db)
    clash = await call(db, world.admin, UPDATE_TEAM, {"input": {"id": team_id, "name": "sales"}})
    null_name = await call(db, world.admin, UPDATE_TEAM, {"input": {"id": team_id, "name": None}})

    assert payload_of(renamed, "updateTeam")["team"]["name"] == "Help"
    assert payload_of(renamed, "updateTeam")["team"]["description"] == "x"
    assert user_error_codes(payload_of(clash, "updateTeam")) == [("name", "TAKEN")]
    assert user_error_codes(payload_of(null_name, "updateTeam")) == [("name", "REQUIRED")]
    assert await admin_state(db) == before
    assert await audit_actions(db, world.org.id) == ["team.updated"]


async def test_admins_of_two_organizations_cannot_touch_each_others_teams(
    db: Stack, world: World, session
) -> None:
    other_admin = await create_member(session, world.other_org, TeamRole.ADMIN)
    theirs = await create_team(session, world.other_org, name="Theirs")
    await session.commit()
    before = await admin_state(db)
    theirs_id = global_id("Team", theirs.id)

    updated = await call(db, world.admin, UPDATE_TEAM, {"input": {"id": theirs_id, "name": "Mine"}})
    archived = await call(db, world.admin, ARCHIVE_TEAM, {"input": {"id": theirs_id}})
    listed = await call(db, world.admin, TEAMS, {"all": True})
    own = await call(db, other_admin, TEAMS, {"all": True})

    assert user_error_codes(payload_of(updated, "updateTeam")) == [("id", "NOT_FOUND")]
    assert user_error_codes(payload_of(archived, "archiveTeam")) == [("id", "NOT_FOUND")]
    assert "Theirs" not in [t["name"] for t in listed["data"]["teams"]]
    assert [t["name"] for t in own["data"]["teams"]] == ["Theirs"]
    assert await admin_state(db) == before


async def test_an_archived_team_keeps_its_tickets_and_takes_no_new_ones(
    db: Stack, world: World
) -> None:
    team_id = world.ticket.team_id
    assert team_id is not None
    gid = global_id("Team", team_id)

    archived = await call(db, world.admin, ARCHIVE_TEAM, {"input": {"id": gid}})
    again = await call(db, world.admin, ARCHIVE_TEAM, {"input": {"id": gid}})
    active = await call(db, world.agent, TEAMS, {"all": False})
    every = await call(db, world.agent, TEAMS, {"all": True})

    assert payload_of(archived, "archiveTeam")["team"]["archivedAt"] is not None
    assert user_error_codes(payload_of(again, "archiveTeam")) == [("id", "ARCHIVED")]
    assert gid not in [t["id"] for t in active["data"]["teams"]]
    assert gid in [t["id"] for t in every["data"]["teams"]]
    # The ticket keeps its team.
    assert (await load_ticket(db, world.ticket)).team_id == team_id


async def test_an_archived_team_cannot_be_set_on_a_ticket_or_a_member(
    db: Stack, world: World, session
) -> None:
    archived = await create_team(session, world.org, name="Old")
    archived_id = archived.id
    await session.commit()
    await call(db, world.admin, ARCHIVE_TEAM, {"input": {"id": global_id("Team", archived_id)}})
    other = await create_team(session, world.org, name="Current")
    await session.commit()
    ticket = global_id("Ticket", world.ticket.id)
    await call(
        db,
        world.agent,
        UPDATE_TICKET_TEAM,
        {"input": {"id": ticket, "teamId": global_id("Team", other.id)}},
    )
    before = await admin_state(db)

    moved = await call(
        db,
        world.agent,
        UPDATE_TICKET_TEAM,
        {"input": {"id": ticket, "teamId": global_id("Team", archived_id)}},
    )
    member = await call(
        db,
        world.admin,
        """mutation($input: UpdateTeamMemberInput!) {
          updateTeamMember(input: $input) { member { id } userErrors { field code } }
        }""",
        {
            "input": {
                "id": global_id("TeamMember", world.agent.id),
                "teamId": global_id("Team", archived_id),
            }
        },
    )

    assert user_error_codes(payload_of(moved, "updateTicket")) == [("teamId", "ARCHIVED")]
    assert user_error_codes(payload_of(member, "updateTeamMember")) == [("teamId", "ARCHIVED")]
    assert await admin_state(db) == before
    async with db.sessionmaker() as s:
        assert (await s.get(Team, archived_id)).archived_at is not None  # type: ignore[union-attr]
