"""The permission matrix of administration (issue 11): teams, members, customers, the
organization's settings, routing rules, the audit log and organizationEvents, one outcome per
identity (see test_permission_matrix.py for the identities and outcomes, reused here).

Each case runs on a fresh world, arranged with one routing rule, one audit entry and a team
description; refused mutations leave every table (tickets and administration) as it was.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from models import (
    ActorType,
    AuditEntry,
    Customer,
    HistoryAction,
    Organization,
    OrganizationCustomer,
    OrganizationVisibility,
    RoutingRule,
    Team,
    TeamMember,
    TicketHistory,
)
from tests.conftest import Stack
from tests.security.test_permission_matrix import (
    ALLOWED,
    FORBIDDEN,
    FORBIDDEN_INPUT,
    NOT_FOUND,
    NOT_FOUND_INPUT,
    Row,
    allowed,
    case_id,
    check_answer,
    check_texts,
    none,
    null_forbidden,
    roles,
    ticket_input,
)
from tests.security.test_permission_matrix import UNAUTHENTICATED as U
from tests.security.world import (
    CUSTOMER_NAME,
    IDENTITIES,
    ORG_NAME,
    OTHER_CUSTOMER_NAME,
    OTHER_ORG_NAME,
    OTHER_TEAM_NAME,
    World,
    build_world,
    database_state,
    gid,
    post,
)
from tests.ws import GraphQLWebSocket, serving, wait_until

RULE_NAME = "Routingrulenamemarker"
AUDIT_MARKER = "Auditdetailmarker"
TEAM_DESCRIPTION = "Teamdescriptionmarker"

ADMIN_ONLY = roles(U, FORBIDDEN, FORBIDDEN, FORBIDDEN, FORBIDDEN, ALLOWED, ALLOWED)
# An admin-only change to an object of the organization.
ADMIN_CHANGE = roles(
    U,
    FORBIDDEN_INPUT,
    FORBIDDEN_INPUT,
    FORBIDDEN_INPUT,
    FORBIDDEN_INPUT,
    ALLOWED,
    NOT_FOUND_INPUT,
)
# An admin-only change that names no object (each admin in their own organization).
ADMIN_CREATE = roles(
    U, FORBIDDEN_INPUT, FORBIDDEN_INPUT, FORBIDDEN_INPUT, FORBIDDEN_INPUT, ALLOWED, ALLOWED
)
STAFF_CREATE = roles(U, FORBIDDEN_INPUT, FORBIDDEN_INPUT, ALLOWED, ALLOWED, ALLOWED, ALLOWED)
OWN_TICKET_ONLY = dict(
    zip(IDENTITIES, (U, None, NOT_FOUND, None, NOT_FOUND, None, NOT_FOUND), strict=True)
)


async def arrange(session: AsyncSession, world: World) -> None:
    """The world of the main matrix, plus what administration reads: a routing rule that
    changed the owner's ticket, an audit entry, a team description, an assignee, and the
    other organization made INVITE_ONLY."""
    rule = RoutingRule(
        organization_id=world.org.id,
        name=RULE_NAME,
        position=1,
        conditions={},
        add_tags=["routed"],
        assign_round_robin=False,
        stop_processing=False,
    )
    session.add(rule)
    await session.flush()
    session.add(
        TicketHistory(
            ticket_id=world.ticket.id,
            organization_id=world.org.id,
            actor_type=ActorType.ROUTING_RULE,
            actor_id=rule.id,
            action=HistoryAction.FIELD_CHANGED,
            field_name="tags",
            old_value="[]",
            new_value='["routed"]',
        )
    )
    session.add(
        AuditEntry(
            organization_id=world.org.id,
            actor_type=ActorType.TEAM_MEMBER,
            actor_id=world.admin.id,
            action="team.updated",
            target_type="team",
            target_id=world.team.id,
            details={"description": [None, AUDIT_MARKER]},
        )
    )
    world.team.description = TEAM_DESCRIPTION
    world.ticket.assignee_id = world.agent.id
    world.other_org.visibility = OrganizationVisibility.INVITE_ONLY
    await session.commit()
    world.rule = rule  # type: ignore[attr-defined]


def rule_id(world: World, me: Any) -> str:
    return gid(world.rule)  # type: ignore[attr-defined]


def of(value: str) -> Any:
    return lambda world, me: gid(getattr(world, value))


def owner_and_staff(customer: Any, staff: Any) -> dict[str, Any]:
    return {**OWN_TICKET_ONLY, "customer": customer, "agent": staff, "admin": staff}


READ_ROWS = [
    Row(
        "customers",
        "query { customers { nodes { name email } } }",
        none,
        roles(
            U,
            FORBIDDEN,
            FORBIDDEN,
            allowed(CUSTOMER_NAME, OTHER_CUSTOMER_NAME),
            allowed(CUSTOMER_NAME, hides=(OTHER_CUSTOMER_NAME,)),
            allowed(CUSTOMER_NAME, OTHER_CUSTOMER_NAME),
            allowed(CUSTOMER_NAME, hides=(OTHER_CUSTOMER_NAME,)),
        ),
    ),
    Row(
        "routingRules",
        "query { routingRules { name addTags } }",
        none,
        {**ADMIN_ONLY, "admin": allowed(RULE_NAME), "other-admin": allowed(hides=(RULE_NAME,))},
    ),
    Row(
        "node-RoutingRule",
        "query($id: ID!) { node(id: $id) { ... on RoutingRule { name } } }",
        lambda world, me: {"id": rule_id(world, me)},
        roles(U, NOT_FOUND, NOT_FOUND, NOT_FOUND, NOT_FOUND, allowed(RULE_NAME), NOT_FOUND),
    ),
    Row(
        "auditLog",
        "query { auditLog { entries { action details } } }",
        none,
        {
            **ADMIN_ONLY,
            "admin": allowed(AUDIT_MARKER),
            "other-admin": allowed(hides=(AUDIT_MARKER,)),
        },
    ),
    Row(
        "Team.description",
        "query($id: ID!) { ticket(id: $id) { title team { name description archivedAt } } }",
        lambda world, me: {"id": gid(world.ticket)},
        owner_and_staff(null_forbidden(TEAM_DESCRIPTION), allowed(TEAM_DESCRIPTION)),
    ),
    Row(
        "TeamMember.isPending",
        "query($id: ID!) { ticket(id: $id) { title assignee { name isPending invitedAt } } }",
        lambda world, me: {"id": gid(world.ticket)},
        owner_and_staff(null_forbidden(), allowed('"isPending":false')),
    ),
    Row(
        "HistoryEntry.performedBy",
        """query($id: ID!) { ticket(id: $id) { history { nodes { performedBy {
          __typename ... on SystemActor { kind routingRule { name } }
        } } } } }""",
        lambda world, me: {"id": gid(world.ticket)},
        owner_and_staff(allowed("ROUTING_RULE", hides=(RULE_NAME,)), allowed(RULE_NAME)),
    ),
    Row(
        "organizations-visibility",
        "query { organizations { name visibility } }",
        none,
        roles(
            U,
            # The owner has a ticket with the INVITE_ONLY organization; the other customer not.
            allowed(ORG_NAME, OTHER_ORG_NAME, "INVITE_ONLY"),
            allowed(ORG_NAME, hides=(OTHER_ORG_NAME,)),
            allowed(ORG_NAME, hides=(OTHER_ORG_NAME,)),
            allowed(OTHER_ORG_NAME, hides=(ORG_NAME,)),
            allowed(ORG_NAME, hides=(OTHER_ORG_NAME,)),
            allowed(OTHER_ORG_NAME, hides=(ORG_NAME,)),
        ),
    ),
]


def reactivatable() -> Any:
    async def prepare(session: AsyncSession, world: World) -> None:
        world.agent2.is_active = False
        await session.commit()

    return prepare


def second_rule() -> Any:
    async def prepare(session: AsyncSession, world: World) -> None:
        rule = RoutingRule(
            organization_id=world.org.id,
            name="Second",
            position=2,
            conditions={},
            add_tags=["two"],
            assign_round_robin=False,
            stop_processing=False,
        )
        session.add(rule)
        await session.commit()
        world.rule2 = rule  # type: ignore[attr-defined]

    return prepare


E = "userErrors { field code }"
MUTATION_ROWS = [
    Row(
        "createTeam",
        f"""mutation($input: CreateTeamInput!) {{
          createTeam(input: $input) {{ team {{ id }} {E} }} }}""",
        ticket_input(name="Newteamname"),
        ADMIN_CREATE,
    ),
    Row(
        "updateTeam",
        f"""mutation($input: UpdateTeamInput!) {{
          updateTeam(input: $input) {{ team {{ id }} {E} }} }}""",
        ticket_input(id=of("team"), name="Renamedteam"),
        ADMIN_CHANGE,
    ),
    Row(
        "archiveTeam",
        f"""mutation($input: ArchiveTeamInput!) {{
          archiveTeam(input: $input) {{ team {{ id }} {E} }} }}""",
        ticket_input(id=of("team")),
        ADMIN_CHANGE,
    ),
    Row(
        "inviteTeamMember",
        f"""mutation($input: InviteTeamMemberInput!) {{
          inviteTeamMember(input: $input) {{ member {{ id }} {E} }} }}""",
        ticket_input(email="invitee@new.example", name="Invitee"),
        ADMIN_CREATE,
    ),
    Row(
        "updateTeamMember",
        f"""mutation($input: UpdateTeamMemberInput!) {{
          updateTeamMember(input: $input) {{ member {{ id }} {E} }} }}""",
        ticket_input(id=of("agent"), name="Renamedagent"),
        # The agent renames themself; another organization's agent is refused by role first.
        {**ADMIN_CHANGE, "agent": ALLOWED},
    ),
    Row(
        "deactivateTeamMember",
        f"""mutation($input: DeactivateTeamMemberInput!) {{
          deactivateTeamMember(input: $input) {{ member {{ id }} {E} }} }}""",
        ticket_input(id=of("agent2")),
        ADMIN_CHANGE,
    ),
    Row(
        "reactivateTeamMember",
        f"""mutation($input: ReactivateTeamMemberInput!) {{
          reactivateTeamMember(input: $input) {{ member {{ id }} {E} }} }}""",
        ticket_input(id=of("agent2")),
        ADMIN_CHANGE,
        arrange=reactivatable(),
    ),
    Row(
        "createCustomer",
        f"""mutation($input: CustomerInput!) {{
          createCustomer(input: $input) {{ customer {{ id }} {E} }} }}""",
        ticket_input(email="walkin@new.example", name="Walkin"),
        STAFF_CREATE,
    ),
    Row(
        "inviteCustomer",
        f"""mutation($input: CustomerInput!) {{
          inviteCustomer(input: $input) {{ customer {{ id }} {E} }} }}""",
        ticket_input(email="invited@new.example", name="Invited"),
        STAFF_CREATE,
    ),
    Row(
        "updateOrganization",
        f"""mutation($input: UpdateOrganizationInput!) {{
          updateOrganization(input: $input) {{ organization {{ id }} {E} }} }}""",
        # Each admin changes their own organization (the other one is INVITE_ONLY already).
        lambda world, me: {
            "input": {"visibility": "PUBLIC" if me is world.other_admin else "INVITE_ONLY"}
        },
        ADMIN_CREATE,
    ),
    Row(
        "createRoutingRule",
        f"""mutation($input: RoutingRuleInput!) {{
          createRoutingRule(input: $input) {{ rule {{ id }} {E} }} }}""",
        ticket_input(name="Newrule", addTags=["x"]),
        ADMIN_CREATE,
    ),
    Row(
        "updateRoutingRule",
        f"""mutation($input: UpdateRoutingRuleInput!) {{
          updateRoutingRule(input: $input) {{ rule {{ id }} {E} }} }}""",
        ticket_input(id=rule_id, rule={"name": "Renamedrule"}),
        ADMIN_CHANGE,
    ),
    Row(
        "deleteRoutingRule",
        f"""mutation($input: DeleteRoutingRuleInput!) {{
          deleteRoutingRule(input: $input) {{ rule {{ id }} {E} }} }}""",
        ticket_input(id=rule_id),
        ADMIN_CHANGE,
    ),
    Row(
        "reorderRoutingRules",
        f"""mutation($input: ReorderRoutingRulesInput!) {{
          reorderRoutingRules(input: $input) {{ rules {{ id }} {E} }} }}""",
        lambda world, me: {"input": {"ruleIds": [gid(world.rule2), rule_id(world, me)]}},  # type: ignore[attr-defined]
        # Another organization's admin names rules that are not among theirs.
        ADMIN_CHANGE,
        arrange=second_rule(),
    ),
]

ORGANIZATION_EVENTS = "subscription { organizationEvents { action team { name } } }"
COVERED_DOCUMENTS = [r.document for r in (*READ_ROWS, *MUTATION_ROWS)] + [ORGANIZATION_EVENTS]


async def full_state(db: Stack) -> dict[str, Any]:
    """The main matrix's ticket state, and every administration table."""
    state = await database_state(db)
    async with db.sessionmaker() as session:
        for model in (Organization, Team, TeamMember, Customer, OrganizationCustomer, RoutingRule):
            rows = (await session.scalars(select(model))).all()
            state[model.__tablename__] = sorted(
                tuple(repr(getattr(row, c.key)) for c in model.__table__.columns) for row in rows
            )
        state["audit_log"] = await session.scalar(select(func.count()).select_from(AuditEntry))
    return state


async def arranged_world(db: Stack, row: Row | None = None) -> World:
    async with db.sessionmaker() as session:
        world = await build_world(session)
        await arrange(session, world)
        if row is not None and row.arrange is not None:
            await row.arrange(session, world)
    return world


@pytest.mark.parametrize(
    ("row", "identity"),
    [pytest.param(r, i, id=case_id(r, i)) for r in READ_ROWS for i in IDENTITIES],
)
async def test_read(fresh: Stack, row: Row, identity: str) -> None:
    world = await arranged_world(fresh)
    me = world.person(identity)
    before = await full_state(fresh)

    response = await post(fresh, me, row.document, row.variables(world, me))

    check_answer(row, row.outcomes[identity], identity, response)
    assert await full_state(fresh) == before, "a query changed the database"


@pytest.mark.parametrize(
    ("row", "identity"),
    [pytest.param(r, i, id=case_id(r, i)) for r in MUTATION_ROWS for i in IDENTITIES],
)
async def test_write(fresh: Stack, row: Row, identity: str) -> None:
    """Allowed administration changes something and writes an audit entry; refused ones change
    nothing at all."""
    world = await arranged_world(fresh, row)
    me = world.person(identity)
    before = await full_state(fresh)

    response = await post(fresh, me, row.document, row.variables(world, me))

    outcome = row.outcomes[identity]
    check_answer(row, outcome, identity, response)
    after = await full_state(fresh)
    if outcome.kind == "ALLOWED":
        assert after["audit_log"] == before["audit_log"] + 1, "no audit entry"
    else:
        assert after == before, "a refused mutation changed something"


@pytest.fixture
async def ws_url(stack: Stack) -> AsyncIterator[str]:
    async with serving(stack.app) as url:
        yield url


# organizationEvents: a team created in the organization reaches its staff; the other
# organization's staff first hear of their own sentinel team; customers are refused.
EVENT_OUTCOMES = roles(
    U,
    FORBIDDEN,
    FORBIDDEN,
    allowed("Eventteamname"),
    allowed(OTHER_TEAM_NAME + "2", hides=("Eventteamname",)),
    allowed("Eventteamname"),
    allowed(OTHER_TEAM_NAME + "2", hides=("Eventteamname",)),
)


@pytest.mark.parametrize("identity", IDENTITIES, ids=lambda i: f"organizationEvents-{i}")
async def test_organization_events(fresh: Stack, ws_url: str, identity: str) -> None:
    world = await arranged_world(fresh)
    me = world.person(identity)
    outcome = EVENT_OUTCOMES[identity]
    hub = fresh.app.state.runtime.get().organization_hub
    await wait_until(lambda: hub.subscriber_count == 0)
    token = None if me is None else fresh.token(me.user_id)

    async with GraphQLWebSocket.connect(ws_url, token) as socket:
        await socket.subscribe(ORGANIZATION_EVENTS)
        if outcome.kind in ("UNAUTHENTICATED", "FORBIDDEN"):
            message = await socket.receive()
            assert message["type"] == "error", message
            assert message["payload"][0]["extensions"]["code"] == outcome.kind, message
        else:
            await wait_until(lambda: hub.subscriber_count == 1)
            for who, name in (
                (world.admin, "Eventteamname"),
                (world.other_admin, OTHER_TEAM_NAME + "2"),
            ):
                response = await post(
                    fresh, who, MUTATION_ROWS[0].document, {"input": {"name": name}}
                )
                assert 'userErrors":[]' in response.text, response.text
            message = await socket.receive()
            assert message["type"] == "next", message
        text = str(message)
    check_texts(outcome, identity, text)
