"""Done when (issue 11): a new organization is set up end to end through the API alone. The
command line makes the organization and its first admin (resolvers.organization, as
`helpdesk org create` does); then the admin signs in, creates teams, invites members, sets
routing, invites a customer, and the customer's first ticket is routed and assigned."""

from __future__ import annotations

from typing import Any

from models.engine import set_row_security
from resolvers.organization import create_organization
from tests.admin.helpers import (
    AUDIT_LOG,
    CREATE_RULE,
    CREATE_TEAM,
    INVITE_CUSTOMER,
    INVITE_MEMBER,
    UPDATE_ORGANIZATION,
    as_token,
    token_with_email,
)
from tests.conftest import Stack

ME = """query Me { me { __typename
  ... on TeamMember { id role organization { id } }
  ... on Customer { id }
} }"""
ORGANIZATIONS = "query Orgs { organizations { id name visibility } }"
OPEN = """mutation Open($input: CreateTicketInput!) {
  createTicket(input: $input) {
    ticket {
      id number title priority tags
      team { id name }
      assignee { id name }
      history { nodes { __typename performedBy { __typename ... on SystemActor { kind } } } }
    }
    userErrors { field code }
  }
}"""
QUEUE = """query Queue { tickets(first: 10) { nodes { id title assignee { id }
  history { nodes { performedBy { __typename ... on SystemActor { routingRule { name } } } } }
} } }"""


def ok(body: dict[str, Any], name: str) -> dict[str, Any]:
    assert "errors" not in body, body
    payload: dict[str, Any] = body["data"][name]
    assert payload["userErrors"] == [], payload
    return payload


async def test_a_new_organization_is_set_up_through_the_api(db: Stack) -> None:
    async with db.sessionmaker() as session:
        set_row_security(session, "system")
        await create_organization(session, "fabrikam", "Fabrikam Help", "Boss@Fabrikam.example")
        await session.commit()
    admin = token_with_email(db, "idp|boss", "boss@fabrikam.example")

    me = await as_token(db, admin, ME)
    assert me["data"]["me"]["role"] == "ADMIN"
    billing = ok(
        await as_token(db, admin, CREATE_TEAM, {"input": {"name": "Billing"}}), "createTeam"
    )
    ok(await as_token(db, admin, CREATE_TEAM, {"input": {"name": "Hardware"}}), "createTeam")
    team = billing["team"]["id"]
    agents = []
    for handle in ("ana", "ben"):
        invited = ok(
            await as_token(
                db,
                admin,
                INVITE_MEMBER,
                {
                    "input": {
                        "email": f"{handle}@fabrikam.example",
                        "name": handle.title(),
                        "teamId": team,
                    }
                },
            ),
            "inviteTeamMember",
        )
        assert invited["member"]["isPending"] is True
        token = token_with_email(db, f"idp|{handle}", f"{handle}@fabrikam.example")
        signed_in = await as_token(db, token, ME)
        assert signed_in["data"]["me"]["id"] == invited["member"]["id"]
        agents.append((invited["member"]["id"], token))
    ok(
        await as_token(
            db,
            admin,
            CREATE_RULE,
            {
                "input": {
                    "name": "Invoices to billing",
                    "titleWords": ["invoice", "refund"],
                    "setTeamId": team,
                    "assignRoundRobin": True,
                    "addTags": ["billing"],
                }
            },
        ),
        "createRoutingRule",
    )
    ok(
        await as_token(
            db,
            admin,
            CREATE_RULE,
            {
                "input": {
                    "name": "Outage is urgent",
                    "titleWords": ["down"],
                    "setPriority": "URGENT",
                }
            },
        ),
        "createRoutingRule",
    )
    ok(
        await as_token(db, admin, UPDATE_ORGANIZATION, {"input": {"visibility": "INVITE_ONLY"}}),
        "updateOrganization",
    )
    ok(
        await as_token(
            db,
            admin,
            INVITE_CUSTOMER,
            {"input": {"email": "carla@contoso.example", "name": "Carla", "company": "Contoso"}},
        ),
        "inviteCustomer",
    )
    stranger = token_with_email(db, "idp|stranger", "stranger@else.example")

    # The invited customer signs in, finds the organization, opens tickets.
    carla = token_with_email(db, "idp|carla", "carla@contoso.example")
    organizations = (await as_token(db, carla, ORGANIZATIONS))["data"]["organizations"]
    (organization,) = [o for o in organizations if o["name"] == "Fabrikam Help"]
    assert organization["visibility"] == "INVITE_ONLY"
    first = ok(
        await as_token(
            db,
            carla,
            OPEN,
            {"input": {"title": "Refund for my invoice", "organizationId": organization["id"]}},
        ),
        "createTicket",
    )["ticket"]
    second = ok(
        await as_token(
            db,
            carla,
            OPEN,
            {"input": {"title": "Wrong invoice again", "organizationId": organization["id"]}},
        ),
        "createTicket",
    )["ticket"]
    plain = ok(
        await as_token(
            db,
            carla,
            OPEN,
            {"input": {"title": "Portal is down", "organizationId": organization["id"]}},
        ),
        "createTicket",
    )["ticket"]

    assert first["team"]["name"] == "Billing"
    assert first["tags"] == ["billing"]
    # Round robin: the two billing tickets went to the two agents, in turn.
    assert {first["assignee"]["id"], second["assignee"]["id"]} == {a for a, _ in agents}
    assert (plain["team"], plain["assignee"], plain["priority"]) == (None, None, "URGENT")
    assert [e["performedBy"]["__typename"] for e in first["history"]["nodes"]] == [
        "Customer",
        "SystemActor",
        "SystemActor",
        "SystemActor",
    ]
    # The assignee sees the ticket in the queue, and which rule routed it.
    queue = (await as_token(db, agents[0][1], QUEUE))["data"]["tickets"]["nodes"]
    routed = next(t for t in queue if t["id"] == first["id"])
    assert {"__typename": "SystemActor", "routingRule": {"name": "Invoices to billing"}} in [
        e["performedBy"] for e in routed["history"]["nodes"]
    ]
    # Someone nobody invited cannot sign in (self-signup is off by default).
    async with db.client(stranger) as client:
        refused = await client.post("/graphql", json={"query": ORGANIZATIONS})
    assert refused.status_code == 401
    # Every admin step is in the audit log.
    log = (await as_token(db, admin, AUDIT_LOG, {"first": 50}))["data"]["auditLog"]["entries"]
    assert [e["action"] for e in reversed(log)] == [
        "organization.created",
        "team.created",
        "team.created",
        "member.invited",
        "member.invited",
        "routing_rule.created",
        "routing_rule.created",
        "organization.updated",
        "customer.invited",
    ]
