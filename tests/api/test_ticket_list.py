"""Reading tickets: the `tickets` list (visibility, filters, search, order, keyset pagination),
`ticketByNumber`, `node`/`nodes`, and the `responses` and `history` connections of a ticket.

What a caller may not see neither appears, nor counts, nor matches a search (DESIGN §4).
"""

from __future__ import annotations

import base64
import datetime as dt
from dataclasses import dataclass
from typing import Any

import orjson
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from models import Customer, Organization, Priority, Status, Team, TeamMember
from tests.conftest import Stack
from tests.factories import (
    INTERNAL_MARKER,
    METADATA_MARKER,
    World,
    add_response,
    create_customer,
    create_member,
    create_organization,
    create_team,
    create_ticket,
    create_world,
)
from tests.graphql import (
    assert_authentication_required,
    assert_refused_at,
    error_codes,
    execute,
    global_id,
    post_anonymously,
)

TICKETS = """
query Tickets(
  $filter: TicketFilter, $orderBy: TicketOrder,
  $first: Int, $after: String, $last: Int, $before: String
) {
  tickets(
    filter: $filter, orderBy: $orderBy, first: $first, after: $after, last: $last, before: $before
  ) {
    totalCount
    edges { cursor node { id number title } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}
"""

TICKET_BY_NUMBER = """
query ByNumber($organizationId: ID!, $number: Int!) {
  ticketByNumber(organizationId: $organizationId, number: $number) { id number title }
}
"""

NODE = "query Node($id: ID!) { node(id: $id) { __typename id } }"

NODES = "query Nodes($ids: [ID!]!) { nodes(ids: $ids) { __typename id } }"

CONVERSATION = """
query Conversation($id: ID!, $last: Int) {
  ticket(id: $id) {
    responses(last: $last) {
      totalCount
      edges { cursor node { body isInternal } }
      pageInfo { hasNextPage hasPreviousPage }
    }
    history(last: $last) {
      totalCount
      edges { cursor node { action field isInternal newValue } }
      pageInfo { hasNextPage hasPreviousPage }
    }
  }
}
"""

RESPONSES_PAGE = """
query Responses($id: ID!, $first: Int, $after: String, $last: Int, $before: String) {
  ticket(id: $id) {
    page: responses(first: $first, after: $after, last: $last, before: $before) {
      totalCount
      edges { cursor node { body isInternal } }
      pageInfo { hasNextPage hasPreviousPage }
    }
  }
}
"""

HISTORY_PAGE = """
query History($id: ID!, $first: Int, $after: String, $last: Int, $before: String) {
  ticket(id: $id) {
    page: history(first: $first, after: $after, last: $last, before: $before) {
      totalCount
      edges { cursor node { action field isInternal newValue } }
      pageInfo { hasNextPage hasPreviousPage }
    }
  }
}
"""

LATEST_REPLY_IN_LIST = """
query LatestReplies {
  tickets {
    nodes {
      title
      responses(last: 1) { totalCount nodes { body } }
      history(last: 1) { totalCount nodes { action isInternal } }
    }
  }
}
"""

CREATE_TICKET = """
mutation Create($input: CreateTicketInput!) {
  createTicket(input: $input) { ticket { id } userErrors { code message } }
}
"""

ADD_RESPONSE = """
mutation Reply($input: AddResponseInput!) {
  addResponse(input: $input) { response { id } userErrors { code message } }
}
"""

UPDATE_TICKET = """
mutation Update($input: UpdateTicketInput!) {
  updateTicket(input: $input) { ticket { id } userErrors { code message } }
}
"""

T0 = dt.datetime(2024, 3, 1, 9, 0, tzinfo=dt.UTC)


def at(minutes: int) -> dt.datetime:
    """A fixed instant, `minutes` after T0."""
    return T0 + dt.timedelta(minutes=minutes)


async def run(
    db: Stack, subject: str | None, query: str, variables: dict[str, Any] | None = None
) -> dict[str, Any]:
    """One operation as `subject` (a user id), or anonymously with None."""
    async with db.client(db.token(subject) if subject else None) as client:
        return await execute(client, query, variables)


def ok(body: dict[str, Any]) -> dict[str, Any]:
    assert "errors" not in body, body["errors"]
    data: dict[str, Any] = body["data"]
    return data


def titles(body: dict[str, Any]) -> list[str]:
    return [edge["node"]["title"] for edge in ok(body)["tickets"]["edges"]]


# --- a support queue: two organizations, two teams, two customers ------------------------------


@dataclass
class Queue:
    org: Organization
    other_org: Organization
    team_a: Team
    team_b: Team
    agent: TeamMember
    colleague: TeamMember
    other_agent: TeamMember
    alice: Customer
    bob: Customer


ORG_TITLES = {"Printer on fire", "Invoice missing", "Password reset", "Slow dashboard"}
OTHER_ORG_TITLE = "Elsewhere entirely"


async def given_a_queue(session: AsyncSession) -> Queue:
    """Four tickets with the organization, one with another organization, all distinct in
    status, priority, assignee, team, customer, tags and timestamps."""
    org = await create_organization(session)
    other_org = await create_organization(session)
    team_a = await create_team(session, org)
    team_b = await create_team(session, org)
    agent = await create_member(session, org, team_id=team_a.id)
    colleague = await create_member(session, org, team_id=team_b.id)
    other_agent = await create_member(session, other_org)
    alice = await create_customer(session)
    bob = await create_customer(session)
    await create_ticket(
        session, org, alice, title="Printer on fire", status=Status.OPEN,
        priority=Priority.URGENT, assignee_id=agent.id, team_id=team_a.id,
        tags=["hardware", "billing"], created_at=at(0), updated_at=at(50),
    )  # fmt: skip
    await create_ticket(
        session, org, bob, title="Invoice missing", status=Status.IN_PROGRESS,
        priority=Priority.HIGH, assignee_id=colleague.id, team_id=team_b.id,
        tags=["billing"], created_at=at(10), updated_at=at(40),
    )  # fmt: skip
    await create_ticket(
        session, org, alice, title="Password reset", status=Status.WAITING_ON_CUSTOMER,
        priority=Priority.LOW, tags=["account", "billing"], created_at=at(20), updated_at=at(30),
    )  # fmt: skip
    await create_ticket(
        session, org, bob, title="Slow dashboard", status=Status.RESOLVED,
        priority=Priority.MEDIUM, team_id=team_a.id, created_at=at(30), updated_at=at(60),
    )  # fmt: skip
    await create_ticket(
        session, other_org, alice, title=OTHER_ORG_TITLE, status=Status.OPEN,
        priority=Priority.URGENT, assignee_id=other_agent.id, tags=["billing"],
        created_at=at(5), updated_at=at(5),
    )  # fmt: skip
    await session.commit()
    return Queue(org, other_org, team_a, team_b, agent, colleague, other_agent, alice, bob)


@pytest.fixture
async def queue(session: AsyncSession) -> Queue:
    return await given_a_queue(session)


# --- who sees which tickets --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "expected"),
    [
        ("alice", {"Printer on fire", "Password reset", OTHER_ORG_TITLE}),
        ("bob", {"Invoice missing", "Slow dashboard"}),
        ("agent", ORG_TITLES),
        ("colleague", ORG_TITLES),
        ("other_agent", {OTHER_ORG_TITLE}),
    ],
)
async def test_each_caller_lists_exactly_the_tickets_they_may_read(
    db: Stack, queue: Queue, who: str, expected: set[str]
) -> None:
    body = await run(db, getattr(queue, who).user_id, TICKETS)

    assert set(titles(body)) == expected
    assert len(titles(body)) == len(expected)
    assert ok(body)["tickets"]["totalCount"] == len(expected)


async def test_an_agent_of_another_organization_never_sees_nor_counts_them(
    db: Stack, queue: Queue
) -> None:
    # The other organization's ticket is #1 there, as "Printer on fire" is #1 here.
    probes = {
        "no filter": {},
        "title": {"search": "Printer"},
        "number": {"search": "#1"},
        "tag": {"tags": ["billing"]},
        "status": {"status": ["OPEN", "IN_PROGRESS", "WAITING_ON_CUSTOMER", "RESOLVED"]},
        "customer": {"customerId": global_id("Customer", queue.bob.id)},
    }
    org = {"organizationId": global_id("Organization", queue.org.id)}

    found = {}
    async with db.client(db.token(queue.other_agent.user_id)) as client:
        for name, filter_ in probes.items():
            page = ok(await execute(client, TICKETS, {"filter": {**filter_, **org}}))["tickets"]
            found[name] = (page["totalCount"], page["edges"])

    assert found == dict.fromkeys(probes, (0, []))


async def test_anonymous_must_authenticate_to_list(db: Stack, queue: Queue) -> None:
    async with db.client() as client:
        response = await post_anonymously(client, TICKETS)

    assert_authentication_required(response)
    assert "Printer" not in response.text


# --- filters -----------------------------------------------------------------------------------

Filters = dict[str, tuple[dict[str, Any], set[str]]]


def agent_filters(q: Queue) -> Filters:
    """Name: (filter, the titles it leaves of the organization's four tickets)."""
    team_a, team_b = global_id("Team", q.team_a.id), global_id("Team", q.team_b.id)
    return {
        "status": ({"status": ["OPEN"]}, {"Printer on fire"}),
        "status any of": (
            {"status": ["IN_PROGRESS", "RESOLVED"]},
            {"Invoice missing", "Slow dashboard"},
        ),
        "priority any of": (
            {"priority": ["HIGH", "URGENT"]},
            {"Printer on fire", "Invoice missing"},
        ),
        "assigned to me": ({"assignee": "ME"}, {"Printer on fire"}),
        "unassigned": ({"assignee": "UNASSIGNED"}, {"Password reset", "Slow dashboard"}),
        "assigned to a colleague": (
            {"assigneeId": global_id("TeamMember", q.colleague.id)},
            {"Invoice missing"},
        ),
        "team": ({"teamId": [team_a]}, {"Printer on fire", "Slow dashboard"}),
        "teams any of": (
            {"teamId": [team_a, team_b]},
            {"Printer on fire", "Invoice missing", "Slow dashboard"},
        ),
        "customer": (
            {"customerId": global_id("Customer", q.bob.id)},
            {"Invoice missing", "Slow dashboard"},
        ),
        "own organization": (
            {"organizationId": global_id("Organization", q.org.id)},
            ORG_TITLES,
        ),
        "other organization": (
            {"organizationId": global_id("Organization", q.other_org.id)},
            set(),
        ),
        "tag": (
            {"tags": ["billing"]},
            {"Printer on fire", "Invoice missing", "Password reset"},
        ),
        "tags all of": ({"tags": ["billing", "hardware"]}, {"Printer on fire"}),
        "tags normalized": ({"tags": [" Billing ", "ACCOUNT"]}, {"Password reset"}),
        "one tag missing": ({"tags": ["billing", "nope"]}, set()),
        "created after (inclusive)": (
            {"createdAfter": at(10).isoformat()},
            {"Invoice missing", "Password reset", "Slow dashboard"},
        ),
        "created before (exclusive)": (
            {"createdBefore": at(20).isoformat()},
            {"Printer on fire", "Invoice missing"},
        ),
        "created between": (
            {"createdAfter": at(10).isoformat(), "createdBefore": at(30).isoformat()},
            {"Invoice missing", "Password reset"},
        ),
        # 11:10+02:00 is 09:10 UTC, the instant "Invoice missing" was opened.
        "created after, another offset": (
            {"createdAfter": "2024-03-01T11:10:00+02:00"},
            {"Invoice missing", "Password reset", "Slow dashboard"},
        ),
        "updated after (inclusive)": (
            {"updatedAfter": at(40).isoformat()},
            {"Printer on fire", "Invoice missing", "Slow dashboard"},
        ),
        "updated before (exclusive)": ({"updatedBefore": at(40).isoformat()}, {"Password reset"}),
        "all conditions hold": (
            {
                "status": ["OPEN", "IN_PROGRESS", "RESOLVED"],
                "teamId": [team_a],
                "tags": ["billing"],
            },
            {"Printer on fire"},
        ),
    }


def customer_filters(q: Queue) -> Filters:
    """Name: (filter, the titles it leaves of Alice's three tickets)."""
    return {
        "organization": (
            {"organizationId": global_id("Organization", q.other_org.id)},
            {OTHER_ORG_TITLE},
        ),
        "assigned to me is nobody": ({"assignee": "ME"}, set()),
        "status": ({"status": ["OPEN"]}, {"Printer on fire", OTHER_ORG_TITLE}),
        "another customer": ({"customerId": global_id("Customer", q.bob.id)}, set()),
        "tag across organizations": (
            {"tags": ["billing"]},
            {"Printer on fire", "Password reset", OTHER_ORG_TITLE},
        ),
    }


async def apply_filters(
    db: Stack, subject: str, filters: Filters
) -> dict[str, tuple[set[str], int]]:
    """For each filter: the titles listed and the totalCount."""
    found = {}
    async with db.client(db.token(subject)) as client:
        for name, (filter_, _) in filters.items():
            page = ok(await execute(client, TICKETS, {"filter": filter_}))["tickets"]
            found[name] = ({e["node"]["title"] for e in page["edges"]}, page["totalCount"])
    return found


def expected_of(filters: Filters) -> dict[str, tuple[set[str], int]]:
    return {name: (titles, len(titles)) for name, (_, titles) in filters.items()}


async def test_agent_filters_the_queue_by_every_field(db: Stack, queue: Queue) -> None:
    filters = agent_filters(queue)

    found = await apply_filters(db, queue.agent.user_id, filters)

    assert found == expected_of(filters)


async def test_customer_filters_only_their_own_tickets(db: Stack, queue: Queue) -> None:
    filters = customer_filters(queue)

    found = await apply_filters(db, queue.alice.user_id, filters)

    assert found == expected_of(filters)


async def test_a_filter_id_of_the_wrong_type_is_bad_user_input(db: Stack, queue: Queue) -> None:
    wrong = {
        "teamId": {"teamId": [global_id("Customer", queue.alice.id)]},
        "assigneeId": {"assigneeId": global_id("Team", queue.team_a.id)},
        "customerId": {"customerId": global_id("TeamMember", queue.agent.id)},
        "organizationId": {"organizationId": global_id("Ticket", 1)},
        "non-numeric": {"customerId": global_id("Customer", "abc")},  # type: ignore[arg-type]
    }

    found = {}
    async with db.client(db.token(queue.agent.user_id)) as client:
        for name, filter_ in wrong.items():
            body = await execute(client, TICKETS, {"filter": filter_})
            found[name] = (body["data"], error_codes(body))

    assert found == dict.fromkeys(wrong, ({"tickets": None}, ["BAD_USER_INPUT"]))


async def test_a_date_filter_without_offset_is_bad_user_input(db: Stack, queue: Queue) -> None:
    # Every stored instant is UTC-aware; a bare local time cannot be compared with them.
    body = await run(
        db, queue.agent.user_id, TICKETS, {"filter": {"createdAfter": "2024-03-01T09:10:00"}}
    )

    assert_refused_at(body, "tickets", "BAD_USER_INPUT")


# --- search ------------------------------------------------------------------------------------


@dataclass
class SearchWorld:
    org: Organization
    agent: TeamMember
    customer: Customer
    numbers: dict[str, int]


async def given_searchable_tickets(session: AsyncSession) -> SearchWorld:
    """Words that appear in one place each: a title, a description, a public reply, and an
    internal note."""
    org = await create_organization(session)
    agent = await create_member(session, org)
    customer = await create_customer(session)
    by_title = await create_ticket(
        session, org, customer, title="Zeppelin landing gear", description="Please help."
    )
    by_description = await create_ticket(
        session, org, customer, title="Question", description="The kerfuffle spreads."
    )
    by_reply = await create_ticket(session, org, customer, title="Login", description="Stuck.")
    await add_response(session, by_reply, agent, "Have you tried the marmalade setting?")
    by_note = await create_ticket(session, org, customer, title="Billing", description="Odd.")
    await add_response(session, by_note, agent, "Customer seems like a gazebo", internal=True)
    await session.commit()
    numbers = {t.title: t.number for t in (by_title, by_description, by_reply, by_note)}
    return SearchWorld(org, agent, customer, numbers)


@pytest.fixture
async def searchable(session: AsyncSession) -> SearchWorld:
    return await given_searchable_tickets(session)


SEARCHES = {
    "a word of a title": ("zeppelin", {"Zeppelin landing gear"}),
    "a word of a description, any case": ("KERFUFFLE", {"Question"}),
    "a word of a public reply": ("marmalade", {"Login"}),
    "a word found nowhere": ("xylophone", set()),
}


@pytest.mark.parametrize("who", ["agent", "customer"])
async def test_search_matches_title_description_and_public_replies(
    db: Stack, searchable: SearchWorld, who: str
) -> None:
    filters = {name: ({"search": text}, found) for name, (text, found) in SEARCHES.items()}

    found = await apply_filters(db, getattr(searchable, who).user_id, filters)

    assert found == expected_of(filters)


async def test_only_staff_search_finds_words_of_internal_notes(
    db: Stack, searchable: SearchWorld
) -> None:
    variables = {"filter": {"search": "gazebo"}}

    as_agent = await run(db, searchable.agent.user_id, TICKETS, variables)
    as_customer = await run(db, searchable.customer.user_id, TICKETS, variables)

    assert titles(as_agent) == ["Billing"]
    assert titles(as_customer) == []
    assert ok(as_customer)["tickets"]["totalCount"] == 0


@pytest.mark.parametrize("who", ["agent", "customer"])
async def test_search_finds_a_ticket_by_number(
    db: Stack, searchable: SearchWorld, who: str
) -> None:
    number = searchable.numbers["Login"]
    filters = {
        spelling: ({"search": spelling}, {"Login"}) for spelling in (f"#{number}", f"{number}")
    }

    found = await apply_filters(db, getattr(searchable, who).user_id, filters)

    assert found == expected_of(filters)


async def test_a_blank_search_is_no_search(db: Stack, searchable: SearchWorld) -> None:
    body = await run(db, searchable.agent.user_id, TICKETS, {"filter": {"search": "   "}})

    assert ok(body)["tickets"]["totalCount"] == 4


async def test_a_search_longer_than_200_characters_is_bad_user_input(
    db: Stack, searchable: SearchWorld
) -> None:
    body = await run(db, searchable.agent.user_id, TICKETS, {"filter": {"search": "x" * 201}})

    assert_refused_at(body, "tickets", "BAD_USER_INPUT")


# --- order -------------------------------------------------------------------------------------


@dataclass
class Ordered:
    agent: TeamMember


async def given_tickets_with_ties(session: AsyncSession) -> Ordered:
    """Tickets A..F, created in that order (so ids ascend A to F), with ties in every field but
    the number, and creation times that do not follow the ids."""
    org = await create_organization(session)
    agent = await create_member(session, org)
    customer = await create_customer(session)
    for title, created, updated, priority in [
        ("A", 25, 30, Priority.HIGH),
        ("B", 10, 30, Priority.LOW),
        ("C", 10, 20, Priority.HIGH),
        ("D", 20, 40, Priority.URGENT),
        ("E", 20, 30, Priority.LOW),
        ("F", 5, 10, Priority.MEDIUM),
    ]:
        await create_ticket(
            session,
            org,
            customer,
            title=title,
            priority=priority,
            created_at=at(created),
            updated_at=at(updated),
        )
    await session.commit()
    return Ordered(agent)


@pytest.fixture
async def ordered(session: AsyncSession) -> Ordered:
    return await given_tickets_with_ties(session)


ORDERS = [
    # Ties are broken by id, in the direction of the order.
    ("UPDATED_AT", "DESC", "DEBACF"),
    ("UPDATED_AT", "ASC", "FCABED"),
    ("CREATED_AT", "DESC", "AEDCBF"),
    ("CREATED_AT", "ASC", "FBCDEA"),
    ("PRIORITY", "DESC", "DCAFEB"),
    ("PRIORITY", "ASC", "BEFACD"),
    ("NUMBER", "DESC", "FEDCBA"),
    ("NUMBER", "ASC", "ABCDEF"),
]


@pytest.mark.parametrize(("field", "direction", "expected"), ORDERS)
async def test_order_by_each_field_and_direction(
    db: Stack, ordered: Ordered, field: str, direction: str, expected: str
) -> None:
    order = {"field": field, "direction": direction}

    body = await run(db, ordered.agent.user_id, TICKETS, {"orderBy": order})

    assert "".join(titles(body)) == expected


@pytest.mark.parametrize(
    ("order", "expected"),
    [(None, "DEBACF"), ({"field": "PRIORITY"}, "DCAFEB"), ({"direction": "ASC"}, "FCABED")],
    ids=["none", "field-only", "direction-only"],
)
async def test_order_defaults_to_most_recently_updated_first(
    db: Stack, ordered: Ordered, order: dict[str, str] | None, expected: str
) -> None:
    body = await run(db, ordered.agent.user_id, TICKETS, {"orderBy": order})

    assert "".join(titles(body)) == expected


# --- pagination --------------------------------------------------------------------------------


async def walk_forward(
    db: Stack, subject: str, size: int, **variables: Any
) -> list[dict[str, Any]]:
    """Every page from the start with `first: size`, following endCursor."""
    pages: list[dict[str, Any]] = []
    after = None
    async with db.client(db.token(subject)) as client:
        while True:
            body = await execute(client, TICKETS, {**variables, "first": size, "after": after})
            page = ok(body)["tickets"]
            pages.append(page)
            if not page["pageInfo"]["hasNextPage"]:
                return pages
            after = page["pageInfo"]["endCursor"]
            assert len(pages) < 20, "pagination does not end"


async def walk_backward(
    db: Stack, subject: str, size: int, **variables: Any
) -> list[dict[str, Any]]:
    """Every page from the end with `last: size`, following startCursor."""
    pages: list[dict[str, Any]] = []
    before = None
    async with db.client(db.token(subject)) as client:
        while True:
            body = await execute(client, TICKETS, {**variables, "last": size, "before": before})
            page = ok(body)["tickets"]
            pages.append(page)
            if not page["pageInfo"]["hasPreviousPage"]:
                return pages
            before = page["pageInfo"]["startCursor"]
            assert len(pages) < 20, "pagination does not end"


def page_titles(page: dict[str, Any]) -> str:
    return "".join(edge["node"]["title"] for edge in page["edges"])


def flags(page: dict[str, Any]) -> tuple[bool, bool]:
    return page["pageInfo"]["hasPreviousPage"], page["pageInfo"]["hasNextPage"]


@pytest.mark.parametrize(("field", "direction", "expected"), ORDERS)
async def test_cursors_walk_every_order_both_ways_without_duplicates_or_gaps(
    db: Stack, ordered: Ordered, field: str, direction: str, expected: str
) -> None:
    order = {"field": field, "direction": direction}

    forward = await walk_forward(db, ordered.agent.user_id, 4, orderBy=order)
    backward = await walk_backward(db, ordered.agent.user_id, 4, orderBy=order)

    assert [page_titles(p) for p in forward] == [expected[:4], expected[4:]]
    assert [flags(p) for p in forward] == [(False, True), (True, False)]
    assert [page_titles(p) for p in backward] == [expected[2:], expected[:2]]
    assert [flags(p) for p in backward] == [(True, False), (False, True)]
    assert {p["totalCount"] for p in forward + backward} == {6}


async def test_pages_of_two_report_where_they_sit(db: Stack, ordered: Ordered) -> None:
    forward = await walk_forward(db, ordered.agent.user_id, 2)
    backward = await walk_backward(db, ordered.agent.user_id, 2)

    assert [page_titles(p) for p in forward] == ["DE", "BA", "CF"]
    assert [flags(p) for p in forward] == [(False, True), (True, True), (True, False)]
    assert [page_titles(p) for p in backward] == ["CF", "BA", "DE"]
    assert [flags(p) for p in backward] == [(True, False), (True, True), (False, True)]
    for page in forward + backward:
        assert page["pageInfo"]["startCursor"] == page["edges"][0]["cursor"]
        assert page["pageInfo"]["endCursor"] == page["edges"][-1]["cursor"]


async def test_total_count_is_the_filtered_count_on_every_page(db: Stack, ordered: Ordered) -> None:
    pages = await walk_forward(db, ordered.agent.user_id, 1, filter={"priority": ["HIGH", "LOW"]})

    assert [page_titles(p) for p in pages] == ["E", "B", "A", "C"]
    assert {p["totalCount"] for p in pages} == {4}


async def test_a_page_after_the_last_item_is_empty(db: Stack, ordered: Ordered) -> None:
    last = ok(await run(db, ordered.agent.user_id, TICKETS, {"last": 1}))["tickets"]

    body = await run(db, ordered.agent.user_id, TICKETS, {"after": last["pageInfo"]["endCursor"]})

    page = ok(body)["tickets"]
    assert page["edges"] == []
    assert flags(page) == (True, False)
    assert page["totalCount"] == 6


async def test_first_defaults_to_twenty(db: Stack, session: AsyncSession) -> None:
    org = await create_organization(session)
    agent = await create_member(session, org)
    customer = await create_customer(session)
    for minute in range(21):
        await create_ticket(session, org, customer, updated_at=at(minute))
    await session.commit()

    page = ok(await run(db, agent.user_id, TICKETS))["tickets"]

    assert len(page["edges"]) == 20
    assert page["pageInfo"]["hasNextPage"] is True
    assert page["totalCount"] == 21


async def test_page_sizes_out_of_range_are_bad_user_input(db: Stack, ordered: Ordered) -> None:
    wrong = {
        "first > 100": {"first": 101},
        "last > 100": {"last": 101},
        "first < 0": {"first": -1},
        "last < 0": {"last": -1},
        "first and last": {"first": 2, "last": 2},
    }

    found = {}
    async with db.client(db.token(ordered.agent.user_id)) as client:
        for name, arguments in wrong.items():
            body = await execute(client, TICKETS, arguments)
            found[name] = (body["data"], error_codes(body))

    assert found == dict.fromkeys(wrong, ({"tickets": None}, ["BAD_USER_INPUT"]))


async def test_a_full_page_of_a_hundred_is_allowed(db: Stack, ordered: Ordered) -> None:
    body = await run(db, ordered.agent.user_id, TICKETS, {"first": 100})

    assert len(titles(body)) == 6


def cursor_of(value: Any) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(value)).decode()


TIMESTAMP = {"t": "2024-03-01T09:00:00+00:00"}


async def cursor_answers(
    db: Stack, subject: str, cursors: dict[str, tuple[str, dict[str, str] | None]]
) -> dict[str, tuple[Any, list[str]]]:
    """For each cursor, as `after` and as `before`: the data and the error codes."""
    found = {}
    async with db.client(db.token(subject)) as client:
        for name, (cursor, order) in cursors.items():
            for argument in ("after", "before"):
                body = await execute(client, TICKETS, {argument: cursor, "orderBy": order})
                found[f"{name} ({argument})"] = (body["data"], error_codes(body))
    return found


async def test_a_malformed_cursor_is_bad_user_input(db: Stack, ordered: Ordered) -> None:
    cursors = {
        "not base64": ("garbage!", None),
        "not JSON": (base64.urlsafe_b64encode(b"not json").decode(), None),
        "one element": (cursor_of([1]), None),
        "an object": (cursor_of({"t": 1}), None),
        "a bad timestamp": (cursor_of([{"t": "yesterday"}, 1]), None),
        "a string id": (cursor_of([TIMESTAMP, "1"]), None),
        "a boolean id": (cursor_of([TIMESTAMP, True]), None),
    }

    found = await cursor_answers(db, ordered.agent.user_id, cursors)

    assert found == dict.fromkeys(found, ({"tickets": None}, ["BAD_USER_INPUT"]))
    assert len(found) == 2 * len(cursors)


async def test_a_cursor_that_does_not_fit_the_order_is_bad_user_input(
    db: Stack, ordered: Ordered
) -> None:
    # Well-formed cursors whose value is not of the order's type: made by hand, or kept by a
    # client from a list in another order.
    cursors = {
        "a number for a timestamp": (cursor_of([5, 1]), None),
        "text for a priority": (cursor_of(["high", 1]), {"field": "PRIORITY"}),
        "a timestamp for a number": (cursor_of([TIMESTAMP, 1]), {"field": "NUMBER"}),
        "a timestamp without offset": (cursor_of([{"t": "2024-03-01T09:00:00"}, 1]), None),
        "an id beyond 64 bits": (cursor_of([TIMESTAMP, 2**63]), None),
    }

    found = await cursor_answers(db, ordered.agent.user_id, cursors)

    assert found == dict.fromkeys(found, ({"tickets": None}, ["BAD_USER_INPUT"]))
    assert len(found) == 2 * len(cursors)


@pytest.mark.parametrize(
    "other",
    [
        {"field": "CREATED_AT", "direction": "DESC"},
        {"field": "UPDATED_AT", "direction": "ASC"},
        {"field": "NUMBER", "direction": "ASC"},
        None,  # the default: UPDATED_AT DESC
    ],
    ids=["other-direction", "other-field", "other-field-of-another-type", "default-order"],
)
async def test_a_cursor_is_refused_by_another_order(
    db: Stack, ordered: Ordered, other: dict[str, str] | None
) -> None:
    """A cursor made for CREATED_AT ASC names its field and direction: used with any other
    order it is BAD_USER_INPUT, not a silently different page."""
    mine = {"field": "CREATED_AT", "direction": "ASC"}
    first = ok(await run(db, ordered.agent.user_id, TICKETS, {"first": 2, "orderBy": mine}))
    cursor = first["tickets"]["pageInfo"]["endCursor"]
    same = await run(
        db, ordered.agent.user_id, TICKETS, {"first": 2, "after": cursor, "orderBy": mine}
    )

    for argument in ("after", "before"):
        body = await run(
            db, ordered.agent.user_id, TICKETS, {"first": 2, argument: cursor, "orderBy": other}
        )
        assert_refused_at(body, "tickets", "BAD_USER_INPUT")
    assert ok(same)["tickets"]["edges"]


# --- ticketByNumber ----------------------------------------------------------------------------


@pytest.fixture
async def world(session: AsyncSession) -> World:
    return await create_world(session)


async def by_number(db: Stack, subject: str, org: Organization, number: int) -> dict[str, Any]:
    variables = {"organizationId": global_id("Organization", org.id), "number": number}
    return await run(db, subject, TICKET_BY_NUMBER, variables)


async def test_ticket_by_number_finds_only_readable_tickets(db: Stack, world: World) -> None:
    readers = ["customer", "agent", "admin"]
    strangers = ["other_customer", "other_agent"]

    found = {
        who: await by_number(db, getattr(world, who).user_id, world.org, world.ticket.number)
        for who in readers + strangers
    }

    ticket = {
        "id": global_id("Ticket", world.ticket.id),
        "number": world.ticket.number,
        "title": world.ticket.title,
    }
    assert {who: body["data"] for who, body in found.items()} == {
        **{who: {"ticketByNumber": ticket} for who in readers},
        **{who: {"ticketByNumber": None} for who in strangers},
    }
    assert [error_codes(found[who]) for who in strangers] == [["NOT_FOUND"]] * len(strangers)
    assert world.ticket.title not in str([found[who] for who in strangers])


async def test_ticket_by_number_stays_inside_the_organization(
    db: Stack, world: World, session: AsyncSession
) -> None:
    # Both organizations now have a ticket #1.
    theirs = await create_ticket(session, world.other_org, world.other_customer, title="Theirs")
    await session.commit()
    assert theirs.number == world.ticket.number

    mine = await by_number(db, world.agent.user_id, world.org, theirs.number)
    not_mine = await by_number(db, world.agent.user_id, world.other_org, theirs.number)
    missing = await by_number(db, world.agent.user_id, world.org, 999)

    assert ok(mine)["ticketByNumber"]["title"] == world.ticket.title
    assert error_codes(not_mine) == ["NOT_FOUND"]
    assert "Theirs" not in str(not_mine)
    assert error_codes(missing) == ["NOT_FOUND"]


# --- node and nodes ----------------------------------------------------------------------------


async def agent_writes_a_reply_and_a_note(db: Stack, world: World) -> None:
    """History rows are written by the API only: one public entry and one internal entry."""
    async with db.client(db.token(world.agent.user_id)) as client:
        for internal in (False, True):
            body = await execute(
                client,
                ADD_RESPONSE,
                {
                    "input": {
                        "ticketId": global_id("Ticket", world.ticket.id),
                        "body": f"written through the API, internal={internal}",
                        "internal": internal,
                    }
                },
            )
            assert ok(body)["addResponse"]["userErrors"] == []


HISTORY_IDS = "query H($id: ID!) { ticket(id: $id) { history { nodes { id isInternal } } } }"


async def history_ids(db: Stack, world: World) -> dict[bool, str]:
    """The ids of the ticket's public (False) and internal (True) history entries."""
    body = await run(
        db, world.agent.user_id, HISTORY_IDS, {"id": global_id("Ticket", world.ticket.id)}
    )
    nodes = ok(body)["ticket"]["history"]["nodes"]
    assert [n["isInternal"] for n in nodes] == [False, True]
    return {n["isInternal"]: n["id"] for n in nodes}


async def every_kind_of_node(db: Stack, world: World) -> dict[str, str]:
    await agent_writes_a_reply_and_a_note(db, world)
    history = await history_ids(db, world)
    team_id = world.agent.team_id
    assert team_id is not None
    return {
        "ticket": global_id("Ticket", world.ticket.id),
        "public reply": global_id("Response", world.public_reply.id),
        "internal note": global_id("Response", world.internal_note.id),
        "public history": history[False],
        "internal history": history[True],
        "customer": global_id("Customer", world.customer.id),
        "other customer": global_id("Customer", world.other_customer.id),
        "agent": global_id("TeamMember", world.agent.id),
        "other agent": global_id("TeamMember", world.other_agent.id),
        "team": global_id("Team", team_id),
        "organization": global_id("Organization", world.org.id),
        "other organization": global_id("Organization", world.other_org.id),
    }


STAFF_VIEW = {
    "ticket",
    "public reply",
    "internal note",
    "public history",
    "internal history",
    "customer",
    "agent",
    "team",
    "organization",
}
VISIBLE_NODES = {
    "customer": {
        "ticket",
        "public reply",
        "public history",
        "customer",
        "organization",
        "other organization",
    },
    # Customers meet no staff, teams or other customers by id; every organization is public.
    "other_customer": {"other customer", "organization", "other organization"},
    "agent": STAFF_VIEW,
    "admin": STAFF_VIEW,
    # The other organization has no ticket, so no customer, with the world's.
    "other_agent": {"other agent", "other organization"},
}
STAFF = {"agent", "admin", "other_agent"}
TYPENAMES = {
    "ticket": "Ticket",
    "public reply": "Response",
    "internal note": "Response",
    # History entries are typed; their ids stay HistoryEntry:<id>.
    "public history": "ResponseAdded",
    "internal history": "NoteAdded",
    "customer": "Customer",
    "other customer": "Customer",
    "agent": "TeamMember",
    "other agent": "TeamMember",
    "team": "Team",
    "organization": "Organization",
    "other organization": "Organization",
}


@pytest.mark.parametrize("who", sorted(VISIBLE_NODES))
async def test_node_and_nodes_find_only_what_the_caller_may_see(
    db: Stack, world: World, who: str
) -> None:
    ids = await every_kind_of_node(db, world)

    one_by_one: dict[str, Any] = {}
    async with db.client(db.token(getattr(world, who).user_id)) as client:
        for name, node_id in ids.items():
            body = await execute(client, NODE, {"id": node_id})
            one_by_one[name] = body["data"]["node"] or error_codes(body)
        all_at_once = await execute(client, NODES, {"ids": list(ids.values())})

    visible = {name: {"__typename": TYPENAMES[name], "id": ids[name]} for name in ids}
    assert one_by_one == {
        name: visible[name] if name in VISIBLE_NODES[who] else ["NOT_FOUND"] for name in ids
    }
    assert ok(all_at_once)["nodes"] == [
        visible[name] if name in VISIBLE_NODES[who] else None for name in ids
    ]
    if who not in STAFF:
        assert INTERNAL_MARKER not in str(one_by_one) + str(all_at_once)


async def test_node_of_an_unknown_id_is_not_found(db: Stack, world: World) -> None:
    unknown = {
        "missing": global_id("Ticket", 999_999),
        "unknown type": global_id("Nonsense", 1),
        "non-numeric": global_id("Ticket", "abc"),  # type: ignore[arg-type]
    }
    ticket = global_id("Ticket", world.ticket.id)

    found = {}
    async with db.client(db.token(world.agent.user_id)) as client:
        for name, node_id in unknown.items():
            single = await execute(client, NODE, {"id": node_id})
            many = await execute(client, NODES, {"ids": [node_id, ticket]})
            found[name] = (single["data"], error_codes(single), many)

    assert found == dict.fromkeys(
        unknown,
        (
            {"node": None},
            ["NOT_FOUND"],
            {"data": {"nodes": [None, {"__typename": "Ticket", "id": ticket}]}},
        ),
    )


async def test_node_of_an_id_beyond_64_bits_is_not_found(db: Stack, world: World) -> None:
    # ticket(id) refuses such ids as NOT_FOUND; node and nodes must answer the same.
    huge = global_id("Ticket", 10**20)

    single = await run(db, world.agent.user_id, NODE, {"id": huge})
    many = await run(db, world.agent.user_id, NODES, {"ids": [huge]})

    assert (single["data"], error_codes(single)) == ({"node": None}, ["NOT_FOUND"])
    assert many == {"data": {"nodes": [None]}}


async def test_nodes_takes_at_most_a_hundred_ids(db: Stack, world: World) -> None:
    ids = [global_id("Ticket", world.ticket.id)] * 101

    body = await run(db, world.agent.user_id, NODES, {"ids": ids})

    assert_refused_at(body, "nodes", "BAD_USER_INPUT")


async def test_anonymous_must_authenticate_for_nodes(db: Stack, world: World) -> None:
    node_id = global_id("Organization", world.org.id)

    async with db.client() as client:
        single = await post_anonymously(client, NODE, {"id": node_id})
        many = await post_anonymously(client, NODES, {"ids": [node_id]})

    assert_authentication_required(single)
    assert_authentication_required(many)


# --- a ticket's responses and history ----------------------------------------------------------

PUBLIC_REPLIES = ["Looking into it", "Thanks, waiting", "Fixed the cache"]
ALL_REPLIES = [
    "Looking into it",
    "Suspect the cache",
    "Thanks, waiting",
    "Fixed the cache",
    "Root cause was the CDN",
]
INTERNAL_REPLIES = {"Suspect the cache", "Root cause was the CDN"}
ALL_HISTORY = [
    ("CREATED", None, False),
    ("RESPONSE_ADDED", "response", False),
    ("NOTE_ADDED", "response", True),
    ("FIELD_CHANGED", "metadata", True),
    ("RESPONSE_ADDED", "response", False),
    ("FIELD_CHANGED", "priority", False),
    ("RESPONSE_ADDED", "response", False),
    ("NOTE_ADDED", "response", True),
]
PUBLIC_HISTORY = [entry for entry in ALL_HISTORY if not entry[2]]


@dataclass
class Conversation:
    org: Organization
    ticket_id: str
    customer: Customer
    agent: TeamMember
    other_customer: Customer


async def given_a_conversation(db: Stack, session: AsyncSession) -> Conversation:
    """A customer opens a ticket; an agent and the customer talk; the agent adds internal notes
    and changes the staff-only metadata and the priority. Everything through the API."""
    org = await create_organization(session)
    agent = await create_member(session, org)
    customer = await create_customer(session)
    other_customer = await create_customer(session)
    await session.commit()

    async def act(who: Customer | TeamMember, document: str, input_: dict[str, Any]) -> Any:
        body = await run(db, who.user_id, document, {"input": input_})
        (payload,) = ok(body).values()
        assert payload["userErrors"] == []
        return payload

    created = await act(
        customer,
        CREATE_TICKET,
        {"title": "Site is slow", "organizationId": global_id("Organization", org.id)},
    )
    ticket_id = created["ticket"]["id"]

    async def reply(who: Customer | TeamMember, text: str, internal: bool = False) -> None:
        await act(who, ADD_RESPONSE, {"ticketId": ticket_id, "body": text, "internal": internal})

    await reply(agent, "Looking into it")
    await reply(agent, "Suspect the cache", internal=True)
    await act(agent, UPDATE_TICKET, {"id": ticket_id, "metadata": {"x": METADATA_MARKER}})
    await reply(customer, "Thanks, waiting")
    await act(agent, UPDATE_TICKET, {"id": ticket_id, "priority": "HIGH"})
    await reply(agent, "Fixed the cache")
    await reply(agent, "Root cause was the CDN", internal=True)
    return Conversation(org, ticket_id, customer, agent, other_customer)


@pytest.fixture
async def conversation(db: Stack, session: AsyncSession) -> Conversation:
    return await given_a_conversation(db, session)


async def read_conversation(
    db: Stack, who: Customer | TeamMember, ticket_id: str, **paging: Any
) -> dict[str, Any]:
    body = await run(db, who.user_id, CONVERSATION, {"id": ticket_id, **paging})
    ticket: dict[str, Any] = ok(body)["ticket"]
    return ticket


def bodies(connection: dict[str, Any]) -> list[str]:
    return [edge["node"]["body"] for edge in connection["edges"]]


def entries(connection: dict[str, Any]) -> list[tuple[str, str | None, bool]]:
    return [
        (e["node"]["action"], e["node"]["field"], e["node"]["isInternal"])
        for e in connection["edges"]
    ]


async def test_staff_read_the_whole_conversation(db: Stack, conversation: Conversation) -> None:
    ticket = await read_conversation(db, conversation.agent, conversation.ticket_id)

    assert bodies(ticket["responses"]) == ALL_REPLIES
    assert ticket["responses"]["totalCount"] == 5
    assert entries(ticket["history"]) == ALL_HISTORY
    assert ticket["history"]["totalCount"] == 8


async def test_customer_reads_public_replies_and_history_only(
    db: Stack, conversation: Conversation
) -> None:
    ticket = await read_conversation(db, conversation.customer, conversation.ticket_id)

    assert bodies(ticket["responses"]) == PUBLIC_REPLIES
    assert ticket["responses"]["totalCount"] == 3
    assert entries(ticket["history"]) == PUBLIC_HISTORY
    assert ticket["history"]["totalCount"] == 5
    for secret in [*INTERNAL_REPLIES, METADATA_MARKER, "metadata", "NOTE_ADDED"]:
        assert secret not in str(ticket)


@pytest.mark.parametrize(
    ("who", "replies", "history"),
    [
        ("agent", ALL_REPLIES, ALL_HISTORY),
        ("customer", PUBLIC_REPLIES, PUBLIC_HISTORY),
    ],
)
async def test_last_two_are_the_two_latest_the_caller_may_see(
    db: Stack,
    conversation: Conversation,
    who: str,
    replies: list[str],
    history: list[tuple[str, str | None, bool]],
) -> None:
    ticket = await read_conversation(db, getattr(conversation, who), conversation.ticket_id, last=2)

    assert bodies(ticket["responses"]) == replies[-2:]
    assert flags(ticket["responses"]) == (True, False)
    assert ticket["responses"]["totalCount"] == len(replies)
    assert entries(ticket["history"]) == history[-2:]
    assert flags(ticket["history"]) == (True, False)
    assert ticket["history"]["totalCount"] == len(history)


async def walk_children(
    db: Stack, who: Customer | TeamMember, ticket_id: str, document: str, **paging: Any
) -> list[dict[str, Any]]:
    """Every page of a ticket's responses or history: `first` with `after`, or `last` with
    `before`, following the cursor at the far end of each page."""
    backwards = "last" in paging
    pages: list[dict[str, Any]] = []
    cursor = None
    async with db.client(db.token(who.user_id)) as client:
        while True:
            variables = {"id": ticket_id, **paging, ("before" if backwards else "after"): cursor}
            page = ok(await execute(client, document, variables))["ticket"]["page"]
            pages.append(page)
            more = page["pageInfo"]["hasPreviousPage" if backwards else "hasNextPage"]
            if not more:
                return pages
            cursor = page["edges"][0 if backwards else -1]["cursor"]
            assert len(pages) < 20, "pagination does not end"


PAGING_CASES = [
    ("agent", RESPONSES_PAGE, ALL_REPLIES),
    ("customer", RESPONSES_PAGE, PUBLIC_REPLIES),
    ("agent", HISTORY_PAGE, ALL_HISTORY),
    ("customer", HISTORY_PAGE, PUBLIC_HISTORY),
]
PAGING_IDS = ["agent-responses", "customer-responses", "agent-history", "customer-history"]


def items(page: dict[str, Any]) -> list[Any]:
    return bodies(page) if page["edges"] and "body" in page["edges"][0]["node"] else entries(page)


@pytest.mark.parametrize(("who", "document", "expected"), PAGING_CASES, ids=PAGING_IDS)
async def test_responses_and_history_page_both_ways_with_cursors(
    db: Stack, conversation: Conversation, who: str, document: str, expected: list[Any]
) -> None:
    caller = getattr(conversation, who)

    forward = await walk_children(db, caller, conversation.ticket_id, document, first=2)
    backward = await walk_children(db, caller, conversation.ticket_id, document, last=2)

    middle = [(True, True)] * (len(forward) - 2)
    assert [item for page in forward for item in items(page)] == expected
    assert [len(page["edges"]) for page in forward][:-1] == [2] * (len(forward) - 1)
    assert [flags(p) for p in forward] == [(False, True), *middle, (True, False)]
    assert [item for page in reversed(backward) for item in items(page)] == expected
    assert items(backward[0]) == expected[-2:]
    assert [flags(p) for p in backward] == [(True, False), *middle, (False, True)]
    assert {page["totalCount"] for page in forward + backward} == {len(expected)}


@pytest.mark.parametrize(
    ("who", "latest_reply", "latest_entry", "replies", "entries_"),
    [
        ("agent", "Root cause was the CDN", ("NOTE_ADDED", True), 5, 8),
        ("customer", "Fixed the cache", ("RESPONSE_ADDED", False), 3, 5),
    ],
)
async def test_latest_reply_inside_the_list_hides_internal_items_from_customers(
    db: Stack,
    conversation: Conversation,
    session: AsyncSession,
    who: str,
    latest_reply: str,
    latest_entry: tuple[str, bool],
    replies: int,
    entries_: int,
) -> None:
    # The list batches every ticket's responses in one query; a second ticket shares the batch.
    quiet = await create_ticket(session, conversation.org, conversation.customer, title="Quiet")
    await add_response(session, quiet, conversation.agent, "Quiet internal", internal=True)
    await session.commit()

    body = await run(db, getattr(conversation, who).user_id, LATEST_REPLY_IN_LIST)

    rows = {n["title"]: n for n in ok(body)["tickets"]["nodes"]}
    slow = rows["Site is slow"]
    assert slow["responses"] == {"totalCount": replies, "nodes": [{"body": latest_reply}]}
    assert slow["history"]["totalCount"] == entries_
    assert [(n["action"], n["isInternal"]) for n in slow["history"]["nodes"]] == [latest_entry]
    if who == "customer":
        assert rows["Quiet"]["responses"] == {"totalCount": 0, "nodes": []}
        assert "Quiet internal" not in str(body)
    else:
        assert rows["Quiet"]["responses"] == {
            "totalCount": 1,
            "nodes": [{"body": "Quiet internal"}],
        }


async def test_another_customer_cannot_read_the_conversation(
    db: Stack, conversation: Conversation
) -> None:
    body = await run(
        db, conversation.other_customer.user_id, CONVERSATION, {"id": conversation.ticket_id}
    )

    assert_refused_at(body, "ticket", "NOT_FOUND")
    assert "Looking into it" not in str(body)


@pytest.mark.parametrize(
    "paging",
    [{"first": 101}, {"last": 101}, {"first": 1, "last": 1}, {"after": "garbage!"}],
    ids=["first>100", "last>100", "first+last", "garbage-cursor"],
)
async def test_bad_paging_of_responses_and_history_is_bad_user_input(
    db: Stack, conversation: Conversation, paging: dict[str, Any]
) -> None:
    variables = {"id": conversation.ticket_id, **paging}

    responses = await run(db, conversation.agent.user_id, RESPONSES_PAGE, variables)
    history = await run(db, conversation.agent.user_id, HISTORY_PAGE, variables)

    # A connection is never null, so the error nulls the ticket (and only the ticket).
    assert_refused_at(responses, "ticket", "BAD_USER_INPUT")
    assert_refused_at(history, "ticket", "BAD_USER_INPUT")


async def test_a_cursor_of_another_connection_is_bad_user_input(
    db: Stack, conversation: Conversation
) -> None:
    # A response cursor holds a timestamp; history is ordered by id.
    responses = await run(
        db, conversation.agent.user_id, RESPONSES_PAGE, {"id": conversation.ticket_id, "first": 1}
    )
    cursor = ok(responses)["ticket"]["page"]["edges"][0]["cursor"]

    body = await run(
        db,
        conversation.agent.user_id,
        HISTORY_PAGE,
        {"id": conversation.ticket_id, "first": 1, "after": cursor},
    )

    assert_refused_at(body, "ticket", "BAD_USER_INPUT")
