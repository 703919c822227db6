"""Articles in replies: staff link them with addResponse(articleIds); a public reply carries
only published public articles, refused otherwise with nothing changed; suggestions on
tickets; the deflection report in `metrics`."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from models import Ticket
from tests.conftest import Stack
from tests.factories import create_ticket
from tests.knowledge_base.conftest import People
from tests.knowledge_base.helpers import OPENED, call, gid, kb_state, ok, write_article
from tests.security.world import database_state

REPLY = """
mutation($input: AddResponseInput!) {
  addResponse(input: $input) {
    response { body isInternal articles { title } }
    userErrors { field code }
  }
}
"""
CONVERSATION = """
query($id: ID!) {
  ticket(id: $id) { responses { nodes { body articles { title bodyHtml } } } }
}
"""
SUGGESTED = """
query($id: ID!) { ticket(id: $id) { title suggestedArticles(first: 2) { title } } }
"""
METRICS = """
query {
  metrics(period: ALL_TIME) {
    knowledgeBase {
      articleLinks suggestionOpens anonymousOpens deflections deflectionRate
      articles { article { title } links suggestionOpens deflections }
    }
  }
}
"""
CREATE_TICKET = """
mutation($org: ID!) {
  createTicket(input: {organizationId: $org, title: "Still stuck"}) { userErrors { code } }
}
"""


async def a_ticket(session: AsyncSession, people: People, **values: Any) -> Ticket:
    ticket = await create_ticket(session, people.org, people.customer, **values)
    await session.commit()
    return ticket


async def test_a_reply_links_public_articles_its_customer_reads(
    db: Stack, people: People, session: AsyncSession
) -> None:
    ticket = await a_ticket(session, people)
    guide = await write_article(db, people.agent.user_id, title="Printer guide", publish=True)

    sent = await ok(
        db,
        people.agent.user_id,
        REPLY,
        input={
            "ticketId": gid("Ticket", ticket.id),
            "body": "See this",
            "articleIds": [guide["id"]],
        },
    )

    assert sent["response"]["articles"] == [{"title": "Printer guide"}]
    seen = await ok(db, people.customer.user_id, CONVERSATION, id=gid("Ticket", ticket.id))
    (reply,) = seen["responses"]["nodes"]
    assert reply["articles"][0]["title"] == "Printer guide"


async def test_internal_or_draft_articles_cannot_go_to_a_customer(
    db: Stack, people: People, session: AsyncSession
) -> None:
    ticket = await a_ticket(session, people)
    internal = await write_article(
        db, people.agent.user_id, title="Internal override", visibility="INTERNAL", publish=True
    )
    draft = await write_article(db, people.agent.user_id, title="Draft answer")
    other_org = await write_article(db, people.other_agent.user_id, title="Globex", publish=True)
    public = await write_article(db, people.agent.user_id, title="Public", publish=True)
    before = (await kb_state(db), await database_state(db))
    cases = [
        (people.agent, [internal["id"]], False, "INVALID"),
        (people.agent, [public["id"], draft["id"]], False, "INVALID"),
        (people.agent, [other_org["id"]], False, "NOT_FOUND"),
        (people.agent, [other_org["id"]], True, "NOT_FOUND"),
        (people.agent, [gid("Ticket", ticket.id)], False, "NOT_FOUND"),
        (
            people.agent,
            [public["id"]] * 1 + [gid("Article", 10_000 + n) for n in range(10)],
            False,
            "TOO_MANY",
        ),
        (people.customer, [public["id"]], False, "FORBIDDEN"),
    ]
    for who, ids, internal_note, code in cases:
        body = await call(
            db,
            who.user_id,
            REPLY,
            input={
                "ticketId": gid("Ticket", ticket.id),
                "body": "Have a look",
                "internal": internal_note,
                "articleIds": ids,
            },
        )
        payload = body["data"]["addResponse"]
        assert payload["response"] is None, (ids, payload)
        assert payload["userErrors"] == [{"field": "articleIds", "code": code}], (ids, payload)
    assert (await kb_state(db), await database_state(db)) == before

    note = await ok(
        db,
        people.agent.user_id,
        REPLY,
        input={
            "ticketId": gid("Ticket", ticket.id),
            "body": "For us",
            "internal": True,
            "articleIds": [internal["id"], draft["id"]],
        },
    )
    assert [a["title"] for a in note["response"]["articles"]] == [
        "Internal override",
        "Draft answer",
    ]
    seen = await ok(db, people.customer.user_id, CONVERSATION, id=gid("Ticket", ticket.id))
    assert "Internal override" not in str(seen)
    assert "Draft answer" not in str(seen)


async def test_an_idempotent_retry_must_name_the_same_articles(
    db: Stack, people: People, session: AsyncSession
) -> None:
    ticket = await a_ticket(session, people)
    first = await write_article(db, people.agent.user_id, title="First", publish=True)
    second = await write_article(db, people.agent.user_id, title="Second", publish=True)
    values = {"ticketId": gid("Ticket", ticket.id), "body": "Read", "idempotencyKey": "k1"}
    await ok(db, people.agent.user_id, REPLY, input={**values, "articleIds": [first["id"]]})

    again = await ok(db, people.agent.user_id, REPLY, input={**values, "articleIds": [first["id"]]})
    other = await call(
        db, people.agent.user_id, REPLY, input={**values, "articleIds": [second["id"]]}
    )

    assert again["response"]["articles"] == [{"title": "First"}]
    assert other["data"]["addResponse"]["userErrors"] == [
        {"field": "idempotencyKey", "code": "IDEMPOTENCY_KEY_REUSED"}
    ]


async def test_staff_see_suggested_articles_for_a_ticket(
    db: Stack, people: People, session: AsyncSession
) -> None:
    ticket = await a_ticket(session, people, title="The printer is offline", description="again")
    await write_article(
        db, people.agent.user_id, title="Printer is offline", body="Restart it.", publish=True
    )
    await write_article(db, people.agent.user_id, title="Printer draft offline")
    await write_article(
        db, people.other_agent.user_id, title="Printer offline elsewhere", publish=True
    )

    staff = await ok(db, people.agent.user_id, SUGGESTED, id=gid("Ticket", ticket.id))
    customer = await call(db, people.customer.user_id, SUGGESTED, id=gid("Ticket", ticket.id))

    assert staff["suggestedArticles"] == [{"title": "Printer is offline"}]
    assert customer["data"]["ticket"]["suggestedArticles"] is None
    assert [e["extensions"]["code"] for e in customer["errors"]] == ["FORBIDDEN"]


async def test_metrics_count_links_opens_and_deflections(
    db: Stack, people: People, session: AsyncSession
) -> None:
    ticket = await a_ticket(session, people)
    guide = await write_article(db, people.agent.user_id, title="Guide", publish=True)
    faq = await write_article(db, people.agent.user_id, title="Faq", publish=True)
    draft = await write_article(db, people.agent.user_id, title="Draft")
    await ok(
        db,
        people.agent.user_id,
        REPLY,
        input={"ticketId": gid("Ticket", ticket.id), "body": "x", "articleIds": [guide["id"]]},
    )
    await ok(db, None, OPENED, id=guide["id"])
    await ok(db, people.customer.user_id, OPENED, id=guide["id"])
    await ok(db, people.customer.user_id, OPENED, id=faq["id"])
    # The customer then opened a ticket anyway: their opens were not deflections.
    await ok(db, people.customer.user_id, CREATE_TICKET, org=gid("Organization", people.org.id))
    refused = await call(db, None, OPENED, id=draft["id"])
    assert refused["data"]["recordArticleSuggestionOpened"]["userErrors"] == [
        {"field": "articleId", "code": "NOT_FOUND"}
    ]

    report = (await ok(db, people.admin.user_id, METRICS))["knowledgeBase"]

    assert report["articleLinks"] == 1
    assert report["suggestionOpens"] == 3
    assert report["anonymousOpens"] == 1
    assert report["deflections"] == 1
    assert abs(report["deflectionRate"] - 1 / 3) < 1e-9
    assert report["articles"][0] == {
        "article": {"title": "Guide"},
        "links": 1,
        "suggestionOpens": 2,
        "deflections": 1,
    }
    agent = await call(db, people.agent.user_id, METRICS)
    assert [e["extensions"]["code"] for e in agent["errors"]] == ["FORBIDDEN"]
