"""Dashboards and directories: `ticketStats` over what the caller can see, `metrics` for admins,
and `organizations`, `teams` and `teamMembers` as each role may list them (DESIGN §4)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from models import Customer, Organization, Priority, Status, Team, TeamMember, TeamRole
from tests.conftest import Stack
from tests.factories import (
    add_response,
    create_customer,
    create_member,
    create_organization,
    create_team,
    create_ticket,
)
from tests.graphql import (
    assert_authentication_required,
    assert_refused_at,
    error_codes,
    execute,
    global_id,
    post_anonymously,
)

TICKET_STATS = """
query Stats($filter: TicketFilter) {
  ticketStats(filter: $filter) {
    total open inProgress waitingOnCustomer highPriority unassigned
    byStatus { status count }
    byPriority { priority count }
  }
}
"""

METRICS = """
query Metrics($period: MetricsPeriod!) {
  metrics(period: $period) {
    since until ticketsCreated
    byStatus { status count }
    byTeam { count team { id } }
    byAssignee { count assignee { id } }
    firstResponseTime { count medianSeconds p90Seconds }
    resolutionTime { count medianSeconds p90Seconds }
  }
}
"""

DEFAULT_METRICS = "query { metrics { ticketsCreated } }"

ORGANIZATIONS = "query { organizations { id name slug } }"

TEAMS = "query { teams { id name } }"

TEAM_MEMBERS = """
query Members($includeInactive: Boolean!) {
  teamMembers(includeInactive: $includeInactive) { id name isActive }
}
"""

STATUSES = ["OPEN", "IN_PROGRESS", "WAITING_ON_CUSTOMER", "RESOLVED", "CLOSED"]
PRIORITIES = ["LOW", "MEDIUM", "HIGH", "URGENT"]


async def run(
    db: Stack, subject: str | None, query: str, variables: dict[str, Any] | None = None
) -> dict[str, Any]:
    """One operation as `subject` (a user id), or anonymously with None."""
    async with db.client(db.token(subject) if subject else None) as client:
        return await execute(client, query, variables)


async def anonymously(
    db: Stack, query: str, variables: dict[str, Any] | None = None
) -> httpx.Response:
    async with db.client() as client:
        return await post_anonymously(client, query, variables)


def ok(body: dict[str, Any]) -> dict[str, Any]:
    assert "errors" not in body, body["errors"]
    data: dict[str, Any] = body["data"]
    return data


@dataclass
class Helpdesk:
    org: Organization
    other_org: Organization
    team_a: Team
    team_b: Team
    other_team: Team
    admin: TeamMember
    agent: TeamMember
    retired: TeamMember
    other_agent: TeamMember
    alice: Customer
    bob: Customer


async def given_a_helpdesk(session: AsyncSession) -> Helpdesk:
    """Five tickets with the organization and one with another one:

    | # | customer | organization | status              | priority | assignee |
    |---|----------|--------------|---------------------|----------|----------|
    | 1 | alice    | org          | OPEN                | HIGH     | -        |
    | 2 | alice    | org          | IN_PROGRESS         | URGENT   | agent    |
    | 3 | alice    | org          | CLOSED              | MEDIUM   | -        |
    | 4 | bob      | org          | WAITING_ON_CUSTOMER | LOW      | -        |
    | 5 | bob      | org          | RESOLVED            | URGENT   | -        |
    | 6 | alice    | other_org    | OPEN                | URGENT   | -        |

    Ticket 1 carries an internal note with the word "gazebo".
    """
    org = await create_organization(session, name="Acme Support")
    other_org = await create_organization(session, name="Globex Help")
    team_a = await create_team(session, org, name="Billing")
    team_b = await create_team(session, org, name="Hardware")
    other_team = await create_team(session, other_org, name="Elsewhere")
    admin = await create_member(session, org, TeamRole.ADMIN, name="Ada Admin", team_id=team_a.id)
    agent = await create_member(session, org, name="Alan Agent", team_id=team_a.id)
    retired = await create_member(session, org, name="Rita Retired", is_active=False)
    other_agent = await create_member(session, other_org, name="Otto Other")
    alice = await create_customer(session)
    bob = await create_customer(session)
    first = await create_ticket(session, org, alice, status=Status.OPEN, priority=Priority.HIGH)
    await add_response(session, first, agent, "Customer seems like a gazebo", internal=True)
    await create_ticket(
        session,
        org,
        alice,
        status=Status.IN_PROGRESS,
        priority=Priority.URGENT,
        assignee_id=agent.id,
    )
    await create_ticket(session, org, alice, status=Status.CLOSED, priority=Priority.MEDIUM)
    await create_ticket(session, org, bob, status=Status.WAITING_ON_CUSTOMER, priority=Priority.LOW)
    await create_ticket(session, org, bob, status=Status.RESOLVED, priority=Priority.URGENT)
    await create_ticket(session, other_org, alice, status=Status.OPEN, priority=Priority.URGENT)
    await session.commit()
    return Helpdesk(
        org, other_org, team_a, team_b, other_team, admin, agent, retired, other_agent, alice, bob
    )


@pytest.fixture
async def helpdesk(session: AsyncSession) -> Helpdesk:
    return await given_a_helpdesk(session)


def stats(
    by_status: list[int], by_priority: list[int], high_priority: int, unassigned: int
) -> dict[str, Any]:
    """The expected `ticketStats` from counts in STATUSES and PRIORITIES order."""
    return {
        "total": sum(by_status),
        "open": by_status[0],
        "inProgress": by_status[1],
        "waitingOnCustomer": by_status[2],
        "highPriority": high_priority,
        "unassigned": unassigned,
        "byStatus": [{"status": s, "count": n} for s, n in zip(STATUSES, by_status, strict=True)],
        "byPriority": [
            {"priority": p, "count": n} for p, n in zip(PRIORITIES, by_priority, strict=True)
        ],
    }


# --- ticketStats -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "expected"),
    [
        # Tickets 1-5; the resolved and closed ones are neither high priority nor unassigned.
        ("agent", stats([1, 1, 1, 1, 1], [1, 1, 1, 2], high_priority=2, unassigned=2)),
        ("admin", stats([1, 1, 1, 1, 1], [1, 1, 1, 2], high_priority=2, unassigned=2)),
        # Tickets 1, 2, 3 and 6: her own, with both organizations.
        ("alice", stats([2, 1, 0, 0, 1], [0, 1, 1, 2], high_priority=3, unassigned=2)),
        ("bob", stats([0, 0, 1, 1, 0], [1, 0, 0, 1], high_priority=0, unassigned=1)),
        ("other_agent", stats([1, 0, 0, 0, 0], [0, 0, 0, 1], high_priority=1, unassigned=1)),
    ],
)
async def test_ticket_stats_count_only_the_tickets_the_caller_can_see(
    db: Stack, helpdesk: Helpdesk, who: str, expected: dict[str, Any]
) -> None:
    body = await run(db, getattr(helpdesk, who).user_id, TICKET_STATS)

    assert ok(body)["ticketStats"] == expected


@pytest.mark.parametrize(
    ("who", "filter_of", "expected"),
    [
        pytest.param(
            "agent",
            lambda h: {"assignee": "UNASSIGNED"},
            stats([1, 0, 1, 1, 1], [1, 1, 1, 1], high_priority=1, unassigned=2),
            id="agent-unassigned",
        ),
        pytest.param(
            "agent",
            lambda h: {"assignee": "ME"},
            stats([0, 1, 0, 0, 0], [0, 0, 0, 1], high_priority=1, unassigned=0),
            id="agent-mine",
        ),
        pytest.param(
            "alice",
            lambda h: {"organizationId": global_id("Organization", h.other_org.id)},
            stats([1, 0, 0, 0, 0], [0, 0, 0, 1], high_priority=1, unassigned=1),
            id="customer-organization",
        ),
        pytest.param(
            "agent",
            lambda h: {"search": "gazebo"},
            stats([1, 0, 0, 0, 0], [0, 0, 1, 0], high_priority=1, unassigned=1),
            id="agent-search-internal-note",
        ),
        pytest.param(
            "alice",
            lambda h: {"search": "gazebo"},
            stats([0, 0, 0, 0, 0], [0, 0, 0, 0], high_priority=0, unassigned=0),
            id="customer-search-internal-note",
        ),
    ],
)
async def test_ticket_stats_apply_the_filter(
    db: Stack, helpdesk: Helpdesk, who: str, filter_of: Any, expected: dict[str, Any]
) -> None:
    body = await run(
        db, getattr(helpdesk, who).user_id, TICKET_STATS, {"filter": filter_of(helpdesk)}
    )

    assert ok(body)["ticketStats"] == expected


async def test_ticket_stats_with_a_wrong_filter_id_are_bad_user_input(
    db: Stack, helpdesk: Helpdesk
) -> None:
    filter_ = {"teamId": [global_id("Customer", helpdesk.alice.id)]}

    body = await run(db, helpdesk.agent.user_id, TICKET_STATS, {"filter": filter_})

    assert_refused_at(body, "ticketStats", "BAD_USER_INPUT")


async def test_ticket_stats_need_authentication(db: Stack, helpdesk: Helpdesk) -> None:
    assert_authentication_required(await anonymously(db, TICKET_STATS))


# --- metrics -----------------------------------------------------------------------------------


@dataclass
class Reporting:
    admin: TeamMember
    agent: TeamMember
    customer: Customer
    team_a: Team
    team_b: Team


async def given_a_month_of_tickets(session: AsyncSession) -> Reporting:
    """Three tickets opened in the last 30 days (two answered, one resolved), one older one,
    and one of another organization."""
    now = dt.datetime.now(dt.UTC)
    org = await create_organization(session)
    other_org = await create_organization(session)
    team_a = await create_team(session, org)
    team_b = await create_team(session, org)
    admin = await create_member(session, org, TeamRole.ADMIN)
    agent = await create_member(session, org)
    other_admin = await create_member(session, other_org, TeamRole.ADMIN)
    customer = await create_customer(session)

    async def opened(ago: dt.timedelta, **values: Any) -> None:
        created = now - ago
        for moment in ("first_responded_at", "resolved_at"):
            if moment in values:
                values[moment] = created + dt.timedelta(seconds=values[moment])
        await create_ticket(
            session,
            values.pop("org", org),
            customer,
            created_at=created,
            updated_at=created,
            **values,
        )

    await opened(
        dt.timedelta(days=2),
        status=Status.RESOLVED,
        team_id=team_a.id,
        assignee_id=agent.id,
        first_responded_at=60,
        resolved_at=3600,
    )
    await opened(
        dt.timedelta(days=1),
        team_id=team_a.id,
        assignee_id=agent.id,
        first_responded_at=180,
    )
    await opened(dt.timedelta(hours=3))
    await opened(dt.timedelta(days=40), status=Status.RESOLVED, team_id=team_b.id, resolved_at=7200)
    await opened(
        dt.timedelta(days=1),
        org=other_org,
        assignee_id=other_admin.id,
        first_responded_at=5,
        resolved_at=10,
        status=Status.RESOLVED,
    )
    await session.commit()
    return Reporting(admin, agent, customer, team_a, team_b)


@pytest.fixture
async def reporting(session: AsyncSession) -> Reporting:
    return await given_a_month_of_tickets(session)


def counts(**by_status: int) -> list[dict[str, Any]]:
    return [{"status": s, "count": by_status.get(s, 0)} for s in STATUSES]


async def test_admin_reads_metrics_of_the_last_30_days(db: Stack, reporting: Reporting) -> None:
    body = await run(db, reporting.admin.user_id, METRICS, {"period": "LAST_30_DAYS"})

    metrics = ok(body)["metrics"]
    since = dt.datetime.fromisoformat(metrics.pop("since"))
    until = dt.datetime.fromisoformat(metrics.pop("until"))
    assert until - since == dt.timedelta(days=30)
    assert abs(until - dt.datetime.now(dt.UTC)) < dt.timedelta(minutes=1)
    team_a, agent = (
        global_id("Team", reporting.team_a.id),
        global_id("TeamMember", reporting.agent.id),
    )
    assert metrics == {
        "ticketsCreated": 3,
        "byStatus": counts(OPEN=2, RESOLVED=1),
        "byTeam": [{"count": 2, "team": {"id": team_a}}, {"count": 1, "team": None}],
        "byAssignee": [{"count": 2, "assignee": {"id": agent}}, {"count": 1, "assignee": None}],
        "firstResponseTime": {"count": 2, "medianSeconds": 120.0, "p90Seconds": 168.0},
        "resolutionTime": {"count": 1, "medianSeconds": 3600.0, "p90Seconds": 3600.0},
    }


async def test_metrics_of_all_time_include_older_tickets(db: Stack, reporting: Reporting) -> None:
    body = await run(db, reporting.admin.user_id, METRICS, {"period": "ALL_TIME"})

    metrics = ok(body)["metrics"]
    assert metrics["since"] is None
    assert metrics["ticketsCreated"] == 4
    assert metrics["byStatus"] == counts(OPEN=2, RESOLVED=2)
    assert metrics["resolutionTime"] == {
        "count": 2,
        "medianSeconds": 5400.0,
        "p90Seconds": pytest.approx(6840.0),
    }


async def test_metrics_of_the_last_day_without_answers_have_no_durations(
    db: Stack, reporting: Reporting
) -> None:
    body = await run(db, reporting.admin.user_id, METRICS, {"period": "LAST_24_HOURS"})

    metrics = ok(body)["metrics"]
    assert metrics["ticketsCreated"] == 1
    assert metrics["firstResponseTime"] == {"count": 0, "medianSeconds": None, "p90Seconds": None}
    assert metrics["resolutionTime"] == {"count": 0, "medianSeconds": None, "p90Seconds": None}


async def test_metrics_default_to_the_last_30_days(db: Stack, reporting: Reporting) -> None:
    body = await run(db, reporting.admin.user_id, DEFAULT_METRICS)

    assert ok(body) == {"metrics": {"ticketsCreated": 3}}


@pytest.mark.parametrize("who", ["agent", "customer"])
async def test_metrics_are_for_admins_only(db: Stack, reporting: Reporting, who: str) -> None:
    body = await run(db, getattr(reporting, who).user_id, METRICS, {"period": "ALL_TIME"})

    assert_refused_at(body, "metrics", "FORBIDDEN")


async def test_metrics_need_authentication(db: Stack, reporting: Reporting) -> None:
    assert_authentication_required(await anonymously(db, METRICS, {"period": "ALL_TIME"}))


# --- organizations, teams, team members --------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "expected"),
    [
        ("alice", {"Acme Support", "Globex Help"}),
        ("bob", {"Acme Support", "Globex Help"}),
        ("agent", {"Acme Support"}),
        ("admin", {"Acme Support"}),
        ("other_agent", {"Globex Help"}),
    ],
)
async def test_customers_see_every_organization_and_staff_only_their_own(
    db: Stack, helpdesk: Helpdesk, who: str, expected: set[str]
) -> None:
    body = await run(db, getattr(helpdesk, who).user_id, ORGANIZATIONS)

    organizations = ok(body)["organizations"]
    assert {o["name"] for o in organizations} == expected
    assert len(organizations) == len(expected)
    by_name = {helpdesk.org.name: helpdesk.org, helpdesk.other_org.name: helpdesk.other_org}
    for o in organizations:
        org = by_name[o["name"]]
        assert o == {"id": global_id("Organization", org.id), "name": org.name, "slug": org.slug}


@pytest.mark.parametrize(
    ("who", "expected"),
    [
        ("agent", {"Billing", "Hardware"}),
        ("admin", {"Billing", "Hardware"}),
        ("other_agent", {"Elsewhere"}),
    ],
)
async def test_staff_list_the_teams_of_their_organization(
    db: Stack, helpdesk: Helpdesk, who: str, expected: set[str]
) -> None:
    body = await run(db, getattr(helpdesk, who).user_id, TEAMS)

    assert {t["name"] for t in ok(body)["teams"]} == expected
    assert len(ok(body)["teams"]) == len(expected)


@pytest.mark.parametrize(
    ("who", "include_inactive", "expected"),
    [
        ("agent", False, {"Ada Admin", "Alan Agent"}),
        ("admin", False, {"Ada Admin", "Alan Agent"}),
        ("agent", True, {"Ada Admin", "Alan Agent", "Rita Retired"}),
        ("other_agent", True, {"Otto Other"}),
    ],
)
async def test_staff_list_the_members_of_their_organization(
    db: Stack, helpdesk: Helpdesk, who: str, include_inactive: bool, expected: set[str]
) -> None:
    body = await run(
        db,
        getattr(helpdesk, who).user_id,
        TEAM_MEMBERS,
        {"includeInactive": include_inactive},
    )

    members = ok(body)["teamMembers"]
    assert {m["name"] for m in members} == expected
    assert len(members) == len(expected)
    assert {m["name"]: m["isActive"] for m in members} == {
        name: name != "Rita Retired" for name in expected
    }


@pytest.mark.parametrize(
    ("query", "variables"),
    [(TEAMS, None), (TEAM_MEMBERS, {"includeInactive": True})],
    ids=["teams", "teamMembers"],
)
async def test_customers_cannot_list_staff(
    db: Stack, helpdesk: Helpdesk, query: str, variables: dict[str, Any] | None
) -> None:
    body = await run(db, helpdesk.alice.user_id, query, variables)

    (root,) = [name for name in ("teams", "teamMembers") if name in query]
    assert_refused_at(body, root, "FORBIDDEN")
    for name in ("Billing", "Ada Admin", "Rita Retired"):
        assert name not in str(body)


@pytest.mark.parametrize(
    ("query", "variables"),
    [(TEAMS, None), (TEAM_MEMBERS, {"includeInactive": True}), (ORGANIZATIONS, None)],
    ids=["teams", "teamMembers", "organizations"],
)
async def test_anonymous_callers_cannot_list_the_directory(
    db: Stack, helpdesk: Helpdesk, query: str, variables: dict[str, Any] | None
) -> None:
    response = await anonymously(db, query, variables)

    assert_authentication_required(response)
    for name in ("Billing", "Ada Admin", "Rita Retired", "Acme Support"):
        assert name not in response.text


async def test_a_customer_asking_for_the_whole_directory_keeps_the_organizations(
    db: Stack, helpdesk: Helpdesk
) -> None:
    """Staff-only roots refused beside one the customer may use: only they are null."""
    body = await run(
        db, helpdesk.alice.user_id, "{ teams { name } teamMembers { name } organizations { name } }"
    )

    assert sorted(error_codes(body)) == ["FORBIDDEN", "FORBIDDEN"]
    assert sorted(e["path"][0] for e in body["errors"]) == ["teamMembers", "teams"]
    assert body["data"]["teams"] is None
    assert body["data"]["teamMembers"] is None
    assert {o["name"] for o in body["data"]["organizations"]} == {"Acme Support", "Globex Help"}
