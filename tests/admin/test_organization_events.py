"""`organizationEvents`: staff of the organization receive team and member changes as they
are committed, admins every admin action; customers and other organizations get nothing."""

from __future__ import annotations

import pytest

from models import TeamRole
from tests.admin.helpers import CREATE_RULE, CREATE_TEAM, INVITE_MEMBER
from tests.conftest import Stack
from tests.factories import World, create_member, create_world
from tests.graphql import execute
from tests.subscriptions.test_revocation import LIVE_APPS, live_app
from tests.ws import GraphQLWebSocket, wait_until

EVENTS = """subscription OrgEvents { organizationEvents {
  cursor action targetType targetId team { name } member { name email isPending }
  actor { id }
} }"""


@pytest.fixture
async def world(session) -> World:
    return await create_world(session)


async def test_staff_receive_their_organizations_changes_and_nobody_else_does(
    db: Stack, world: World, session
) -> None:
    other_admin = await create_member(session, world.other_org, TeamRole.ADMIN)
    await session.commit()
    async with (
        live_app(db) as url,
        GraphQLWebSocket.connect(url, db.token(world.admin.user_id)) as admin,
        GraphQLWebSocket.connect(url, db.token(world.agent.user_id)) as agent,
        GraphQLWebSocket.connect(url, db.token(other_admin.user_id)) as stranger,
        GraphQLWebSocket.connect(url, db.token(world.customer.user_id)) as customer,
    ):
        app = LIVE_APPS[url]
        for socket in (admin, agent, stranger):
            await socket.subscribe(EVENTS)
        await customer.subscribe(EVENTS)
        refused = await customer.receive()
        hub = app.state.runtime.get().organization_hub
        await wait_until(lambda: hub.subscriber_count == 3)
        async with db.client(db.token(world.admin.user_id), app=app) as client:
            team = await execute(client, CREATE_TEAM, {"input": {"name": "Billing"}})
            await execute(client, CREATE_RULE, {"input": {"name": "R", "addTags": ["x"]}})
            await execute(
                client, INVITE_MEMBER, {"input": {"email": "new@example.com", "name": "New"}}
            )

        admin_events = [(await admin.next_data())["data"]["organizationEvents"] for _ in range(3)]
        agent_events = [(await agent.next_data())["data"]["organizationEvents"] for _ in range(2)]
        await agent.nothing_for(0.3)
        await stranger.nothing_for(0.3)

    assert [e["action"] for e in admin_events] == [
        "team.created",
        "routing_rule.created",
        "member.invited",
    ]
    # Agents: team and member changes only.
    assert [e["action"] for e in agent_events] == ["team.created", "member.invited"]
    created = agent_events[0]
    assert created["team"] == {"name": "Billing"}
    assert created["targetId"] == team["data"]["createTeam"]["team"]["id"]
    assert agent_events[1]["member"] == {
        "name": "New",
        "email": "new@example.com",
        "isPending": True,
    }
    assert int(admin_events[0]["cursor"]) < int(admin_events[1]["cursor"])
    # Customers are refused; nothing about the organization reaches them.
    assert refused["type"] == "error", refused
    assert "Billing" not in str(refused)
