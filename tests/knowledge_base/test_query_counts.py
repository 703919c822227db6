"""No N+1 in the knowledge base: Ticket.suggestedArticles and Response.articles cost the same
statements for 3 tickets as for 12, and an article list costs the same for 3 as for 12."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from models import Article, ArticleLink, ArticleState, TeamMember
from resolvers.markdown import render_markdown
from tests.api.test_query_counts import counting_statements
from tests.conftest import Stack
from tests.factories import add_response, create_customer, create_ticket
from tests.graphql import execute
from tests.knowledge_base.conftest import People
from tests.knowledge_base.helpers import LIST, gid

QUEUE = """
query($first: Int!) {
  tickets(first: $first) {
    nodes {
      title
      suggestedArticles(first: 2) { title category { name } author { name } }
      responses(first: 5) { nodes { body articles { title } } }
    }
  }
}
"""


async def seed(session: AsyncSession, people: People, tickets: int) -> None:
    agent: TeamMember = people.agent
    articles = []
    for n, topic in enumerate(["printer", "invoice", "password", "vpn"]):
        article = Article(
            organization_id=agent.organization_id,
            author_id=agent.id,
            title=f"Fix your {topic}",
            slug=f"fix-{topic}",
            body=f"How to fix a {topic}, step {n}.",
            body_html=render_markdown("x"),
            state=ArticleState.PUBLISHED,
            published_at=agent.created_at,
        )
        session.add(article)
        articles.append(article)
    await session.flush()
    customer = await create_customer(session)
    topics = ["printer", "invoice", "password", "vpn"]
    for n in range(tickets):
        ticket = await create_ticket(
            session, people.org, customer, title=f"My {topics[n % 4]} is broken"
        )
        reply = await add_response(session, ticket, agent, f"see {n}")
        session.add(
            ArticleLink(
                organization_id=people.org.id,
                article_id=articles[n % 4].id,
                ticket_id=ticket.id,
                response_id=reply.id,
            )
        )
    await session.commit()


async def statements(db: Stack, subject: str, document: str, variables: dict) -> int:
    async with db.client(db.token(subject)) as client:
        with counting_statements(db) as seen:
            body = await execute(client, document, variables)
    assert "errors" not in body, body
    return len(seen)


async def test_ticket_suggestions_and_linked_articles_are_batched(
    db: Stack, people: People, session: AsyncSession
) -> None:
    await seed(session, people, tickets=12)
    # The first search of a process looks up once whether SQLite has the FTS5 table.
    await statements(db, people.agent.user_id, QUEUE, {"first": 1})

    few = await statements(db, people.agent.user_id, QUEUE, {"first": 3})
    many = await statements(db, people.agent.user_id, QUEUE, {"first": 12})

    assert few == many, f"{few} statements for 3 tickets, {many} for 12"


async def test_article_lists_are_batched(db: Stack, people: People, session: AsyncSession) -> None:
    await seed(session, people, tickets=4)
    document = LIST.replace(
        "node { title state visibility }",
        "node { title category { name } author { name } organization { name } }",
    )
    variables = {"org": gid("Organization", people.org.id)}
    await statements(db, people.agent.user_id, document, {**variables, "filter": {"search": "x"}})

    few = await statements(db, people.agent.user_id, document, {**variables, "first": 1})
    many = await statements(db, people.agent.user_id, document, {**variables, "first": 4})
    searched = await statements(
        db, people.agent.user_id, document, {**variables, "first": 4, "filter": {"search": "fix"}}
    )

    assert few == many
    # Plus the snippets of the page's rows: one statement, whatever the page size.
    assert searched <= many + 1
