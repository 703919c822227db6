"""Writing and reading articles: drafts are staff-only, publishing makes public articles
readable by everyone, every change keeps a revision, stale versions conflict."""

from __future__ import annotations

from models import ArticleVisibility
from tests.conftest import Stack
from tests.graphql import error_codes
from tests.knowledge_base.conftest import People
from tests.knowledge_base.helpers import (
    ARCHIVE,
    ARTICLE,
    BY_SLUG,
    CREATE,
    HISTORY,
    LIST,
    PUBLISH,
    UPDATE,
    call,
    gid,
    kb_state,
    ok,
    write_article,
)


async def test_a_draft_is_read_by_staff_only_until_published(db: Stack, people: People) -> None:
    article = await write_article(
        db, people.agent.user_id, title="Reset your password", body="Go to **Settings**."
    )
    assert article["state"] == "DRAFT"
    assert article["slug"] == "reset-your-password"
    assert article["author"] == {"name": "Alan Agent"}
    for reader in (None, people.customer.user_id, people.other_agent.user_id):
        body = await call(db, reader, ARTICLE, id=article["id"])
        assert error_codes(body) == ["NOT_FOUND"], body
        assert "Reset your password" not in str(body)

    published = await ok(db, people.admin.user_id, PUBLISH, id=article["id"], v=1)

    assert published["article"]["state"] == "PUBLISHED"
    assert published["article"]["version"] == 2
    for reader in (None, people.customer.user_id, people.other_agent.user_id):
        found = await ok(db, reader, ARTICLE, id=article["id"])
        assert found["title"] == "Reset your password"
        assert found["bodyHtml"] == "<p>Go to <strong>Settings</strong>.</p>\n"
    by_slug = await ok(
        db, None, BY_SLUG, org=gid("Organization", people.org.id), slug="reset-your-password"
    )
    assert by_slug == {"title": "Reset your password"}


async def test_internal_articles_stay_with_the_organizations_staff(
    db: Stack, people: People
) -> None:
    article = await write_article(
        db, people.agent.user_id, title="Refund override", visibility="INTERNAL", publish=True
    )
    assert (await ok(db, people.admin.user_id, ARTICLE, id=article["id"]))[
        "visibility"
    ] == "INTERNAL"
    for reader in (None, people.customer.user_id, people.other_agent.user_id):
        body = await call(db, reader, ARTICLE, id=article["id"])
        assert error_codes(body) == ["NOT_FOUND"], body
        listed = await ok(db, reader, LIST, org=gid("Organization", people.org.id))
        assert listed["articles"]["totalCount"] == 0
        assert "Refund override" not in str(listed)


async def test_raw_html_of_an_author_is_never_rendered(db: Stack, people: People) -> None:
    article = await write_article(
        db,
        people.agent.user_id,
        body="<script>alert(1)</script>\n\n[a](javascript:alert(2)) <img src=x onerror=alert(3)>",
    )
    html = article["bodyHtml"]
    assert "<script" not in html
    assert "href" not in html
    assert "<img" not in html
    assert "&lt;script&gt;" in html


async def test_every_change_keeps_a_revision_and_stale_versions_conflict(
    db: Stack, people: People
) -> None:
    article = await write_article(
        db, people.agent.user_id, title="Printer setup", body="Plug it in."
    )
    changed = await ok(
        db,
        people.admin.user_id,
        UPDATE,
        input={
            "id": article["id"],
            "expectedVersion": 1,
            "body": "Plug it in and *switch it on*.",
            "tags": ["printer"],
        },
    )
    assert changed["article"]["version"] == 2
    assert changed["article"]["bodyHtml"] == "<p>Plug it in and <em>switch it on</em>.</p>\n"
    before = await kb_state(db)

    stale = await call(
        db,
        people.agent.user_id,
        UPDATE,
        input={"id": article["id"], "expectedVersion": 1, "title": "Lost"},
    )

    payload = stale["data"]["updateArticle"]
    assert payload["article"] is None
    assert [e["code"] for e in payload["userErrors"]] == ["CONFLICT"]
    assert await kb_state(db) == before
    history = (await ok(db, people.agent.user_id, HISTORY, id=article["id"]))["history"]
    assert [(h["version"], h["action"]) for h in history] == [(1, "CREATED"), (2, "UPDATED")]
    assert history[1]["previousBody"] == "Plug it in."
    assert history[1]["body"] == "Plug it in and *switch it on*."
    assert history[1]["previousTitle"] is None
    assert set(history[1]["changedFields"]) == {"body", "tags"}
    assert history[1]["editor"] == {"name": "Ada Admin"}


async def test_history_is_for_the_organizations_staff(db: Stack, people: People) -> None:
    article = await write_article(db, people.agent.user_id, title="Open to all", publish=True)
    for reader in (None, people.customer.user_id, people.other_agent.user_id):
        body = await call(db, reader, HISTORY, id=article["id"])
        if reader is None:
            assert error_codes(body) == ["FORBIDDEN"], body
        else:
            assert error_codes(body) == ["FORBIDDEN"], body
        assert body["data"]["article"]["history"] is None


async def test_archiving_hides_a_public_article_from_readers(db: Stack, people: People) -> None:
    article = await write_article(db, people.agent.user_id, title="Old pricing", publish=True)
    archived = await ok(db, people.agent.user_id, ARCHIVE, id=article["id"])
    assert archived["article"]["state"] == "ARCHIVED"
    body = await call(db, None, ARTICLE, id=article["id"])
    assert error_codes(body) == ["NOT_FOUND"]
    again = await call(db, people.agent.user_id, ARCHIVE, id=article["id"])
    assert [e["code"] for e in again["data"]["archiveArticle"]["userErrors"]] == [
        "ILLEGAL_TRANSITION"
    ]


async def test_bad_input_is_refused_and_changes_nothing(db: Stack, people: People) -> None:
    await write_article(db, people.agent.user_id, title="Taken", slug="taken")
    before = await kb_state(db)
    cases = [
        ({"title": ""}, "title", "REQUIRED"),
        ({"title": "x" * 301}, "title", "TOO_LONG"),
        ({"title": "Bell\x07"}, "title", "INVALID"),
        ({"title": "Ok", "slug": "Not A Slug"}, "slug", "INVALID"),
        ({"title": "Ok", "slug": "taken"}, "slug", "DUPLICATE"),
        ({"title": "Ok", "tags": ["NOT OK!"]}, "tags", "INVALID"),
        (
            {"title": "Ok", "categoryId": gid("KnowledgeBaseCategory", 999)},
            "categoryId",
            "NOT_FOUND",
        ),
        ({"title": "Ok", "body": "b" * 100_001}, "body", "TOO_LONG"),
    ]
    for values, field, code in cases:
        body = await call(db, people.agent.user_id, CREATE, input=values)
        payload = body["data"]["createArticle"]
        assert payload["article"] is None, values
        assert [(e["field"], e["code"]) for e in payload["userErrors"]] == [(field, code)], values
    customer = await call(db, people.customer.user_id, CREATE, input={"title": "Mine"})
    assert [e["code"] for e in customer["data"]["createArticle"]["userErrors"]] == ["FORBIDDEN"]
    other = await call(
        db, people.other_agent.user_id, UPDATE, input={"id": gid("Article", 1), "title": "Hijack"}
    )
    assert [e["code"] for e in other["data"]["updateArticle"]["userErrors"]] == ["NOT_FOUND"]
    assert await kb_state(db) == before
    assert ArticleVisibility.PUBLIC.value == "public"
