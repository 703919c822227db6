"""Members: admins invite, change, deactivate and reactivate them; an agent edits only their
own name and avatar; an organization always keeps an active admin."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from models import Status, TeamMember, TeamRole
from tests.admin.helpers import (
    DEACTIVATE_MEMBER,
    INVITE_MEMBER,
    REACTIVATE_MEMBER,
    UPDATE_MEMBER,
    admin_state,
    as_token,
    audit_actions,
    status_of,
    token_with_email,
)
from tests.api.mutation_helpers import call, change, history_of, load_ticket, payload_of
from tests.api.mutation_helpers import user_error_codes as codes
from tests.conftest import Stack
from tests.factories import World, create_member, create_team, create_ticket, create_world
from tests.graphql import error_codes, global_id

ME = "query Me { me { __typename ... on TeamMember { id name role isPending } } }"


@pytest.fixture
async def world(session) -> World:
    return await create_world(session)


def member_id(member: TeamMember) -> str:
    return global_id("TeamMember", member.id)


async def test_an_invited_member_is_pending_until_a_verified_email_signs_in(
    db: Stack, world: World, session
) -> None:
    team = await create_team(session, world.org)
    await session.commit()
    invite = {"email": "New.Agent@Example.com", "name": "Nia", "teamId": global_id("Team", team.id)}

    body = await call(db, world.admin, INVITE_MEMBER, {"input": invite})
    member = payload_of(body, "inviteTeamMember")["member"]
    unverified = await status_of(
        db, token_with_email(db, "idp|nia", "new.agent@example.com", verified=False), ME
    )
    no_flag = await status_of(
        db, token_with_email(db, "idp|nia", "new.agent@example.com", verified=None), ME
    )
    other_email = await status_of(db, token_with_email(db, "idp|nia", "nia@elsewhere.example"), ME)
    signed_in = await as_token(db, token_with_email(db, "idp|nia", "NEW.AGENT@example.com"), ME)
    later = await as_token(db, db.token("idp|nia"), ME)

    assert member["isPending"] is True
    assert member["email"] == "new.agent@example.com"
    assert member["role"] == "AGENT"
    assert member["team"] == {"id": global_id("Team", team.id)}
    assert unverified == (401, ["UNAUTHENTICATED"])
    assert no_flag == (401, ["UNAUTHENTICATED"])
    assert other_email == (401, ["UNAUTHENTICATED"])
    assert signed_in["data"]["me"] == {
        "__typename": "TeamMember",
        "id": member["id"],
        "name": "Nia",
        "role": "AGENT",
        "isPending": False,
    }
    # The subject is the member's now; later tokens need no email.
    assert later["data"]["me"]["id"] == member["id"]
    assert await audit_actions(db, world.org.id) == ["member.invited"]


@pytest.mark.parametrize(
    ("invite", "field", "code"),
    [
        ({"email": "not-an-email", "name": "X"}, "email", "INVALID"),
        ({"email": "", "name": "X"}, "email", "REQUIRED"),
        ({"email": "x@example.com", "name": ""}, "name", "REQUIRED"),
        (
            {"email": "x@example.com", "name": "X", "teamId": global_id("Team", 9999)},
            "teamId",
            "NOT_FOUND",
        ),
        (
            {"email": "x@example.com", "name": "X", "teamId": global_id("Ticket", 1)},
            "teamId",
            "NOT_FOUND",
        ),
    ],
)
async def test_bad_invites_change_nothing(
    db: Stack, world: World, invite: dict[str, str], field: str, code: str
) -> None:
    before = await admin_state(db)
    body = await call(db, world.admin, INVITE_MEMBER, {"input": invite})

    assert codes(payload_of(body, "inviteTeamMember")) == [(field, code)]
    assert await admin_state(db) == before


async def test_an_email_that_is_a_member_anywhere_is_taken(db: Stack, world: World) -> None:
    before = await admin_state(db)
    # The other organization's agent, in another spelling; and a member of this organization.
    elsewhere = await call(
        db,
        world.admin,
        INVITE_MEMBER,
        {"input": {"email": world.other_agent.email.upper(), "name": "Dup"}},
    )
    here = await call(
        db, world.admin, INVITE_MEMBER, {"input": {"email": world.agent.email, "name": "Dup"}}
    )
    bad_role = await call(
        db,
        world.admin,
        INVITE_MEMBER,
        {"input": {"email": "r@example.com", "name": "R", "role": "OWNER"}},
    )

    assert codes(payload_of(elsewhere, "inviteTeamMember")) == [("email", "TAKEN")]
    assert codes(payload_of(here, "inviteTeamMember")) == [("email", "TAKEN")]
    # A role that does not exist does not coerce: refused before anything runs.
    assert error_codes(bad_role) == ["BAD_USER_INPUT"]
    assert await admin_state(db) == before


async def test_an_admin_changes_a_members_role_team_and_profile(
    db: Stack, world: World, session
) -> None:
    team = await create_team(session, world.org)
    await session.commit()
    changes = {
        "id": member_id(world.agent),
        "name": "Agent Smith",
        "role": "ADMIN",
        "teamId": global_id("Team", team.id),
        "avatarUrl": "https://img.example/a.png",
    }

    body = await call(db, world.admin, UPDATE_MEMBER, {"input": changes})
    member = payload_of(body, "updateTeamMember")["member"]

    assert (member["name"], member["role"], member["avatarUrl"]) == (
        "Agent Smith",
        "ADMIN",
        "https://img.example/a.png",
    )
    assert member["team"] == {"id": global_id("Team", team.id)}
    assert await audit_actions(db, world.org.id) == ["member.updated"]


async def test_an_agent_edits_only_their_own_name_and_avatar(db: Stack, world: World) -> None:
    own = await call(
        db,
        world.agent,
        UPDATE_MEMBER,
        {"input": {"id": member_id(world.agent), "name": "Me", "avatarUrl": None}},
    )
    before = await admin_state(db)
    own_role = await call(
        db, world.agent, UPDATE_MEMBER, {"input": {"id": member_id(world.agent), "role": "ADMIN"}}
    )
    someone_else = await call(
        db, world.agent, UPDATE_MEMBER, {"input": {"id": member_id(world.admin), "name": "Boss"}}
    )
    customer = await call(
        db, world.customer, UPDATE_MEMBER, {"input": {"id": member_id(world.agent), "name": "x"}}
    )

    assert payload_of(own, "updateTeamMember")["member"]["name"] == "Me"
    assert codes(payload_of(own_role, "updateTeamMember")) == [("role", "FORBIDDEN")]
    assert codes(payload_of(someone_else, "updateTeamMember")) == [("name", "FORBIDDEN")]
    assert codes(payload_of(customer, "updateTeamMember")) == [(None, "FORBIDDEN")]
    assert await admin_state(db) == before


async def test_the_last_active_admin_cannot_be_demoted_or_deactivated(
    db: Stack, world: World, session
) -> None:
    before = await admin_state(db)
    demoted = await call(
        db, world.admin, UPDATE_MEMBER, {"input": {"id": member_id(world.admin), "role": "AGENT"}}
    )
    deactivated = await call(
        db, world.admin, DEACTIVATE_MEMBER, {"input": {"id": member_id(world.admin)}}
    )
    assert codes(payload_of(demoted, "updateTeamMember")) == [("role", "LAST_ADMIN")]
    assert codes(payload_of(deactivated, "deactivateTeamMember")) == [("id", "LAST_ADMIN")]
    assert await admin_state(db) == before

    # With a second admin, either may go (once).
    second = await create_member(session, world.org, TeamRole.ADMIN)
    await session.commit()
    first_goes = await call(
        db, second, DEACTIVATE_MEMBER, {"input": {"id": member_id(world.admin)}}
    )
    second_stays = await call(
        db, second, UPDATE_MEMBER, {"input": {"id": member_id(second), "role": "AGENT"}}
    )
    assert payload_of(first_goes, "deactivateTeamMember")["member"]["isActive"] is False
    assert codes(payload_of(second_stays, "updateTeamMember")) == [("role", "LAST_ADMIN")]


async def test_deactivating_unassigns_open_tickets_with_history(
    db: Stack, world: World, session
) -> None:
    closed = await create_ticket(
        session, world.org, world.customer, assignee_id=world.agent.id, status=Status.CLOSED
    )
    await session.commit()

    body = await call(db, world.admin, DEACTIVATE_MEMBER, {"input": {"id": member_id(world.agent)}})
    payload = payload_of(body, "deactivateTeamMember")
    ticket = await load_ticket(db, world.ticket)

    assert payload["member"]["isActive"] is False
    assert payload["reassignedTickets"] == [
        {"id": global_id("Ticket", world.ticket.id), "assignee": None}
    ]
    assert ticket.assignee_id is None
    assert ticket.version == world.ticket.version + 1
    assert (await history_of(db, world.ticket))[-1] == change(
        world.admin, "assigned", "assignee", world.agent.id, None
    )
    # Closed tickets keep their assignee (their history is finished).
    assert (await load_ticket(db, closed)).assignee_id == world.agent.id
    assert await status_of(db, db.token(world.agent.user_id), ME) == (403, ["FORBIDDEN"])
    assert await audit_actions(db, world.org.id) == ["member.deactivated"]


async def test_deactivating_can_hand_open_tickets_to_someone(
    db: Stack, world: World, session
) -> None:
    colleague = await create_member(session, world.org)
    inactive = await create_member(session, world.org, is_active=False)
    pending = await create_member(session, world.org, user_id=None)
    await session.commit()
    before = await admin_state(db)
    for target, field, code in (
        (inactive, "reassignTo", "INVALID"),
        (pending, "reassignTo", "INVALID"),
        (world.other_agent, "reassignTo", "NOT_FOUND"),
        (world.agent, "reassignTo", "INVALID"),
    ):
        refused = await call(
            db,
            world.admin,
            DEACTIVATE_MEMBER,
            {"input": {"id": member_id(world.agent), "reassignTo": member_id(target)}},
        )
        assert codes(payload_of(refused, "deactivateTeamMember")) == [(field, code)]
    assert await admin_state(db) == before

    body = await call(
        db,
        world.admin,
        DEACTIVATE_MEMBER,
        {"input": {"id": member_id(world.agent), "reassignTo": member_id(colleague)}},
    )

    assert payload_of(body, "deactivateTeamMember")["reassignedTickets"] == [
        {"id": global_id("Ticket", world.ticket.id), "assignee": {"id": member_id(colleague)}}
    ]
    assert (await history_of(db, world.ticket))[-1] == change(
        world.admin, "assigned", "assignee", world.agent.id, colleague.id
    )


async def test_a_reactivated_member_signs_in_again(db: Stack, world: World) -> None:
    await call(db, world.admin, DEACTIVATE_MEMBER, {"input": {"id": member_id(world.agent)}})
    again = await call(
        db, world.admin, DEACTIVATE_MEMBER, {"input": {"id": member_id(world.agent)}}
    )
    body = await call(db, world.admin, REACTIVATE_MEMBER, {"input": {"id": member_id(world.agent)}})
    twice = await call(
        db, world.admin, REACTIVATE_MEMBER, {"input": {"id": member_id(world.agent)}}
    )
    me = await call(db, world.agent, ME)

    assert codes(payload_of(again, "deactivateTeamMember")) == [("id", "INVALID")]
    assert payload_of(body, "reactivateTeamMember")["member"]["isActive"] is True
    # Reactivating an active member changes nothing and records nothing.
    assert payload_of(twice, "reactivateTeamMember")["member"]["isActive"] is True
    assert await audit_actions(db, world.org.id) == ["member.deactivated", "member.reactivated"]
    assert me["data"]["me"]["id"] == member_id(world.agent)


async def test_admins_cannot_manage_another_organizations_members(
    db: Stack, world: World, session
) -> None:
    await create_member(session, world.other_org, TeamRole.ADMIN)
    await session.commit()
    before = await admin_state(db)
    theirs = member_id(world.other_agent)

    for document, name, variables in (
        (UPDATE_MEMBER, "updateTeamMember", {"id": theirs, "name": "x"}),
        (DEACTIVATE_MEMBER, "deactivateTeamMember", {"id": theirs}),
        (REACTIVATE_MEMBER, "reactivateTeamMember", {"id": theirs}),
    ):
        body = await call(db, world.admin, document, {"input": variables})
        assert codes(payload_of(body, name)) == [("id", "NOT_FOUND")]
    for document, name, variables in (
        (INVITE_MEMBER, "inviteTeamMember", {"email": "a@b.example", "name": "A"}),
        (DEACTIVATE_MEMBER, "deactivateTeamMember", {"id": theirs}),
    ):
        body = await call(db, world.agent, document, {"input": variables})
        assert codes(payload_of(body, name)) == [(None, "FORBIDDEN")]
    assert await admin_state(db) == before
    async with db.sessionmaker() as s:
        assert await s.scalar(select(TeamMember).where(TeamMember.id == world.other_agent.id))
