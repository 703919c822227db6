"""Search and suggestions: relevance on a 50-article corpus, snippets that are escaped and
highlighted and never carry text the reader may not read, paging, and SQLite's LIKE fallback.

The relevance numbers are printed (run with -s): how many of the 20 queries put the expected
article first, per backend and per kind of search.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from models import Article, ArticleState, ArticleVisibility, TeamMember
from resolvers.knowledge_search import force_like_fallback
from resolvers.markdown import render_markdown
from tests.conftest import Stack
from tests.graphql import error_codes
from tests.knowledge_base.conftest import People
from tests.knowledge_base.corpus import ARTICLES, QUERIES
from tests.knowledge_base.helpers import LIST, SUGGEST, call, gid, ok

# The search must get at least this many of the 20 queries right on every backend.
RELEVANCE_FLOOR = 18


async def seed(
    session: AsyncSession,
    author: TeamMember,
    articles: list[tuple[str, str]],
    state: ArticleState = ArticleState.PUBLISHED,
    visibility: ArticleVisibility = ArticleVisibility.PUBLIC,
) -> list[Article]:
    rows = []
    for n, (title, body) in enumerate(articles):
        row = Article(
            organization_id=author.organization_id,
            author_id=author.id,
            title=title,
            slug=f"{state.value}-{visibility.value}-{n}",
            body=body,
            body_html=render_markdown(body),
            state=state,
            visibility=visibility,
            tags=[],
            published_at=None if state is ArticleState.DRAFT else author.created_at,
        )
        session.add(row)
        rows.append(row)
    await session.flush()
    await session.commit()
    return rows


async def top_titles(db: Stack, people: People, query: str, first: int = 1) -> list[str]:
    data = await ok(
        db,
        None,
        LIST,
        org=gid("Organization", people.org.id),
        filter={"search": query},
        first=first,
    )
    return [edge["node"]["title"] for edge in data["articles"]["edges"]]


async def top_suggestions(db: Stack, people: People, text: str) -> list[str]:
    data = await ok(db, None, SUGGEST, org=gid("Organization", people.org.id), text=text, first=3)
    return [s["article"]["title"] for s in data]


async def relevance(db: Stack, people: People) -> tuple[int, int, list[Any]]:
    searched = suggested = 0
    misses = []
    for query, expected in QUERIES:
        found = await top_titles(db, people, query)
        searched += found[:1] == [expected]
        suggestions = await top_suggestions(db, people, query)
        suggested += suggestions[:1] == [expected]
        if found[:1] != [expected] or suggestions[:1] != [expected]:
            misses.append((query, expected, found, suggestions))
    return searched, suggested, misses


async def test_relevance_on_the_corpus(
    db: Stack, people: People, session: AsyncSession, capsys: pytest.CaptureFixture[str]
) -> None:
    await seed(session, people.agent, ARTICLES)

    searched, suggested, misses = await relevance(db, people)

    with capsys.disabled():
        print(  # noqa: T201
            f"\n[{db.backend.name}] knowledge-base relevance: search {searched}/{len(QUERIES)}, "
            f"suggestions {suggested}/{len(QUERIES)}; misses: {misses}"
        )
    assert searched >= RELEVANCE_FLOOR, misses
    assert suggested >= RELEVANCE_FLOOR, misses


async def test_the_like_fallback_without_fts5(
    db: Stack, people: People, session: AsyncSession, capsys: pytest.CaptureFixture[str]
) -> None:
    # Built for an SQLite without FTS5, and portable: it runs on both backends.
    await seed(session, people.agent, ARTICLES)
    app_engine = db.app.state.runtime.get().engine
    force_like_fallback(app_engine, True)
    try:
        searched, suggested, misses = await relevance(db, people)
        snippet = await ok(
            db, None, LIST, org=gid("Organization", people.org.id), filter={"search": "ammed"}
        )
    finally:
        force_like_fallback(app_engine, False)
    with capsys.disabled():
        print(  # noqa: T201
            f"\n[{db.backend.name}, LIKE fallback] relevance: search {searched}/{len(QUERIES)}, "
            f"suggestions {suggested}/{len(QUERIES)}"
        )
    assert searched >= 15, misses
    assert suggested >= 15, misses
    (edge,) = snippet["articles"]["edges"]
    # A substring match (full-text search matches words only), marked by the fallback.
    assert "j<mark>ammed</mark>" in edge["snippet"]


async def test_snippets_are_escaped_and_highlight_the_words(
    db: Stack, people: People, session: AsyncSession
) -> None:
    await seed(
        session,
        people.agent,
        [
            (
                "Resetting a router",
                "Hold <b>reset</b> for ten seconds & wait until the router restarts.",
            )
        ],
    )

    data = await ok(
        db, None, LIST, org=gid("Organization", people.org.id), filter={"search": "router reset"}
    )

    (edge,) = data["articles"]["edges"]
    # Escaped (SQLite) or left out as markup (PostgreSQL's headline parser): never a tag.
    assert "<b>" not in edge["snippet"]
    assert "&lt;b&gt;" in edge["snippet"] or "b&gt;" not in edge["snippet"]
    assert "&amp;" in edge["snippet"]
    assert "<mark>" in edge["snippet"]
    assert edge["snippet"].count("<mark>") == edge["snippet"].count("</mark>")
    plain = await ok(db, None, LIST, org=gid("Organization", people.org.id))
    assert plain["articles"]["edges"][0]["snippet"] is None


INTERNAL = [("Wombatsecret refund override", "Wombatsecret: agents may refund twice. Quietly.")]
DRAFT = [("Wombatdraft refund policy", "Wombatdraft refund rules we have not announced.")]
PUBLIC = [("Refund policy", "Refunds are possible within 14 days.")]


async def test_search_counts_and_snippets_never_reach_hidden_articles(
    db: Stack, people: People, session: AsyncSession
) -> None:
    await seed(session, people.agent, INTERNAL, visibility=ArticleVisibility.INTERNAL)
    await seed(session, people.agent, DRAFT, state=ArticleState.DRAFT)
    await seed(session, people.agent, PUBLIC)
    org = gid("Organization", people.org.id)

    for reader in (None, people.customer.user_id, people.other_agent.user_id):
        for query in ("refund", "wombatsecret", "wombatdraft"):
            body = await call(db, reader, LIST, org=org, filter={"search": query})
            assert "errors" not in body, body
            text = str(body)
            assert "ombatsecret" not in text
            assert "ombatdraft" not in text
            articles = body["data"]["knowledgeBase"]["articles"]
            assert articles["totalCount"] == (1 if query == "refund" else 0)
            suggestions = await call(db, reader, SUGGEST, org=org, text=f"{query} twice")
            assert "ombatsecret" not in str(suggestions)
            assert "ombatdraft" not in str(suggestions)

    staff = await ok(db, people.agent.user_id, LIST, org=org, filter={"search": "refund"})
    assert staff["articles"]["totalCount"] == 3
    assert any("Wombatsecret" in e["snippet"] for e in staff["articles"]["edges"])
    staff_suggestions = await ok(db, people.agent.user_id, SUGGEST, org=org, text="wombatdraft")
    assert staff_suggestions == []  # drafts are not suggestions, even for staff


async def test_search_results_page_by_relevance(
    db: Stack, people: People, session: AsyncSession
) -> None:
    await seed(session, people.agent, ARTICLES)
    org = gid("Organization", people.org.id)
    everything = await ok(db, None, LIST, org=org, filter={"search": "ticket"}, first=50)
    expected = [e["node"]["title"] for e in everything["articles"]["edges"]]
    assert len(expected) >= 5

    seen: list[str] = []
    after = None
    while True:
        page = await ok(db, None, LIST, org=org, filter={"search": "ticket"}, first=2, after=after)
        seen += [e["node"]["title"] for e in page["articles"]["edges"]]
        assert page["articles"]["totalCount"] == len(expected)
        if not page["articles"]["pageInfo"]["hasNextPage"]:
            break
        after = page["articles"]["pageInfo"]["endCursor"]

    assert seen == expected


async def test_bad_searches_are_refused(db: Stack, people: People) -> None:
    org = gid("Organization", people.org.id)
    long = await call(db, None, LIST, org=org, filter={"search": "x" * 501})
    assert error_codes(long) == ["BAD_USER_INPUT"]
    cursor = await call(db, None, LIST, org=org, filter={"search": "x"}, after="bm90IGEgY3Vyc29y")
    assert error_codes(cursor) == ["BAD_USER_INPUT"]
    many = await call(db, None, SUGGEST, org=org, text="x", first=11)
    assert error_codes(many) == ["BAD_USER_INPUT"]
    unknown = await call(db, None, SUGGEST, org=gid("Organization", 999), text="x")
    assert error_codes(unknown) == ["NOT_FOUND"]
    # Punctuation and query syntax are words, not operators, on every backend.
    odd = await call(db, None, LIST, org=org, filter={"search": "a & b | !c ' \" (* NEAR"})
    assert "errors" not in odd, odd
