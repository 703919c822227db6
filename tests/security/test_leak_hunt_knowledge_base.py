"""Leak hunt in the knowledge base: internal, draft and archived articles and old revisions
carry unique markers (seeded in tests/security/kb_world.py, and more written through the API
below); every surface a customer or an anonymous reader can reach is walked and its raw
answer searched for them: lists, counts, searches and their snippets, suggestions, lookups
by id, node and slug, the articles linked in a conversation, history, metrics and events.
An INVITE_ONLY organization's published public article is a secret too, for everyone it does
not let in (`test_invite_only_organization`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.conftest import Stack
from tests.graphql import global_id
from tests.knowledge_base.helpers import ARTICLE_FIELDS
from tests.security.kb_world import (
    ARCHIVED_WORD,
    DRAFT_WORD,
    INTERNAL_WORD,
    KB_SECRETS,
    PUBLIC_TITLE,
    REVISION_WORD,
    KbWorld,
    build_knowledge_base,
)
from tests.security.world import (
    World,
    build_world,
    call_ok,
    empty_tables,
    gid,
    post,
)
from tests.ws import GraphQLWebSocket, serving

# Written through the API by staff in `stir`: an internal article, a draft, and an edit of
# the public article whose previous text is secret.
API_INTERNAL_WORD = "echidnaapiinternal"
API_DRAFT_WORD = "dingoapidraft"
API_REVISION_WORD = "platypusapirevision"
SECRETS = (*KB_SECRETS, API_INTERNAL_WORD, API_DRAFT_WORD, API_REVISION_WORD)
SECRET_WORDS = (
    INTERNAL_WORD,
    DRAFT_WORD,
    ARCHIVED_WORD,
    REVISION_WORD,
    API_INTERNAL_WORD,
    API_DRAFT_WORD,
    API_REVISION_WORD,
)
READERS = ("anonymous", "customer", "other-customer")

CREATE = """
mutation($input: CreateArticleInput!) {
  createArticle(input: $input) { article { id } userErrors { code } }
}
"""
UPDATE = """
mutation($input: UpdateArticleInput!) {
  updateArticle(input: $input) { article { id } userErrors { code } }
}
"""
EVERYTHING = f"""
query($org: ID!, $q: String) {{
  knowledgeBase(organizationId: $org) {{
    organization {{ name }}
    categories {{ id name slug position parent {{ name }} }}
    articles(first: 100, filter: {{search: $q}}) {{
      totalCount
      pageInfo {{ hasNextPage endCursor }}
      edges {{ cursor snippet node {{ {ARTICLE_FIELDS} }} }}
    }}
  }}
}}
"""
BY_STATE = """
query($org: ID!, $states: [ArticleState!]) {
  knowledgeBase(organizationId: $org) { articles(filter: {state: $states}) { totalCount } }
}
"""
SUGGEST = """
query($org: ID!, $text: String!) {
  suggestArticles(organizationId: $org, text: $text, first: 10) { snippet article { title body } }
}
"""
ONE = f"query($id: ID!) {{ article(id: $id) {{ {ARTICLE_FIELDS} history {{ title body }} }} }}"
NODES = "query($ids: [ID!]!) { nodes(ids: $ids) { ... on Article { title body } } }"
SLUG = """
query($org: ID!, $slug: String!) { articleBySlug(organizationId: $org, slug: $slug) { title } }
"""
CONVERSATION = """
query($id: ID!) {
  ticket(id: $id) {
    suggestedArticles { title }
    responses { nodes { body articles { title body bodyHtml history { body } } } }
  }
}
"""
METRICS = "query { metrics { knowledgeBase { articles { article { title } } } } }"


def assert_clean(text: str, identity: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"{secret!r} reached {identity}: {text[:2000]}"


async def stir(db: Stack, world: World, kb: KbWorld) -> None:
    """More secrets, written the way staff write them."""
    for values in (
        {"title": f"Printer {API_INTERNAL_WORD}", "visibility": "INTERNAL", "publish": True},
        {"title": f"Printer {API_DRAFT_WORD}", "body": "printer draft"},
    ):
        data = await call_ok(db, world.agent, CREATE, {"input": values})
        assert data["createArticle"]["userErrors"] == []
    for body in (f"printer {API_REVISION_WORD} secret first", "printer now public"):
        data = await call_ok(
            db, world.admin, UPDATE, {"input": {"id": gid(kb.public_article), "body": body}}
        )
        assert data["updateArticle"]["userErrors"] == []


@pytest.fixture(scope="module")
async def seeded(stack: Stack) -> AsyncIterator[tuple[Stack, World, KbWorld]]:
    async with stack.sessionmaker() as session:
        world = await build_world(session)
        kb = await build_knowledge_base(session, world)
    await stir(stack, world, kb)
    try:
        yield stack, world, kb
    finally:
        await empty_tables(stack.engine)


async def answer(db: Stack, world: World, identity: str, document: str, **variables: Any) -> str:
    response = await post(db, world.person(identity), document, variables)
    assert response.status_code in (200, 401), response.text
    return response.text


@pytest.mark.parametrize("identity", READERS)
async def test_lists_counts_searches_and_snippets(
    seeded: tuple[Stack, World, KbWorld], identity: str
) -> None:
    db, world, _ = seeded
    org = gid(world.org)
    listed = await answer(db, world, identity, EVERYTHING, org=org)
    assert PUBLIC_TITLE in listed
    assert '"totalCount":1' in listed.replace(" ", "")
    assert_clean(listed, identity)
    for word in (*SECRET_WORDS, "printer", "KBINTERNALBODY", "quietly recall"):
        found = await answer(db, world, identity, EVERYTHING, org=org, q=word)
        assert_clean(found, identity)
        suggested = await answer(db, world, identity, SUGGEST, org=org, text=f"printer {word}")
        assert_clean(suggested, identity)
    for states in (["DRAFT"], ["ARCHIVED"], ["DRAFT", "ARCHIVED", "PUBLISHED"]):
        counted = await answer(db, world, identity, BY_STATE, org=org, states=states)
        expected = 1 if "PUBLISHED" in states else 0
        assert f'"totalCount":{expected}' in counted.replace(" ", ""), counted


@pytest.mark.parametrize("identity", READERS)
async def test_lookups_history_conversations_and_metrics(
    seeded: tuple[Stack, World, KbWorld], identity: str
) -> None:
    db, world, kb = seeded
    hidden = (kb.internal_article, kb.draft_article, kb.archived_article)
    for article in (kb.public_article, *hidden):
        assert_clean(await answer(db, world, identity, ONE, id=gid(article)), identity)
    ids = [gid(a) for a in (kb.public_article, *hidden)] + [
        global_id("Article", n) for n in range(50)
    ]
    assert_clean(await answer(db, world, identity, NODES, ids=ids), identity)
    for slug in ("internal", "draft", "archived", "public-article", "printer-" + API_DRAFT_WORD):
        text = await answer(db, world, identity, SLUG, org=gid(world.org), slug=slug)
        assert_clean(text, identity)
    for ticket in (world.ticket, world.other_ticket):
        assert_clean(await answer(db, world, identity, CONVERSATION, id=gid(ticket)), identity)
    assert_clean(await answer(db, world, identity, METRICS), identity)


@pytest.mark.parametrize("identity", READERS)
async def test_events_are_not_for_readers(
    seeded: tuple[Stack, World, KbWorld], identity: str
) -> None:
    db, world, _ = seeded
    me = world.person(identity)
    async with serving(db.app) as url:
        token = None if me is None else db.token(me.user_id)
        async with GraphQLWebSocket.connect(url, token) as socket:
            await socket.subscribe(
                'subscription { knowledgeBaseEvents(after: "0") { article { title body } } }'
            )
            message = await socket.receive()
    assert message["type"] == "error", message
    assert_clean(str(message), identity)


INVITE_ONLY_WORD = "quokkainviteonly"
SET_VISIBILITY = """
mutation($v: OrganizationVisibility!) {
  updateOrganization(input: {visibility: $v}) { userErrors { code } }
}
"""
CREATE_WITH_ID = """
mutation($input: CreateArticleInput!) {
  createArticle(input: $input) { article { id slug } userErrors { code } }
}
"""


async def test_invite_only_organization(seeded: tuple[Stack, World, KbWorld]) -> None:
    """other_org publishes a public article with a marker and turns INVITE_ONLY: anonymous
    callers, `other-customer` (no ticket there, not invited) and org's staff find the marker
    nowhere; `customer` (a ticket there) and other_org's staff do."""
    db, world, kb = seeded
    data = await call_ok(
        db,
        world.other_admin,
        CREATE_WITH_ID,
        {"input": {"title": f"Printer {INVITE_ONLY_WORD}", "body": "vpn", "publish": True}},
    )
    created = data["createArticle"]["article"]
    org = gid(world.other_org)
    assert (await call_ok(db, world.other_admin, SET_VISIBILITY, {"v": "INVITE_ONLY"})) == {
        "updateOrganization": {"userErrors": []}
    }
    try:
        for identity in ("anonymous", "other-customer", "agent", "admin"):
            texts = [
                await answer(db, world, identity, EVERYTHING, org=org),
                await answer(db, world, identity, EVERYTHING, org=org, q=INVITE_ONLY_WORD),
                await answer(db, world, identity, EVERYTHING, org=gid(world.org), q="printer"),
                await answer(db, world, identity, SUGGEST, org=org, text=INVITE_ONLY_WORD),
                await answer(db, world, identity, ONE, id=created["id"]),
                await answer(
                    db, world, identity, NODES, ids=[created["id"], gid(kb.other_article)]
                ),
                await answer(db, world, identity, SLUG, org=org, slug=created["slug"]),
                await answer(db, world, identity, BY_STATE, org=org, states=["PUBLISHED"]),
            ]
            for text in texts:
                assert INVITE_ONLY_WORD not in text, f"{identity}: {text[:2000]}"
                assert "Kbotherorgarticle" not in text, f"{identity}: {text[:2000]}"
        for identity in ("customer", "other-agent", "other-admin"):
            text = await answer(db, world, identity, ONE, id=created["id"])
            assert INVITE_ONLY_WORD in text, f"{identity}: {text}"
            found = await answer(db, world, identity, EVERYTHING, org=org, q=INVITE_ONLY_WORD)
            assert INVITE_ONLY_WORD in found, f"{identity}: {found}"
    finally:
        await call_ok(db, world.other_admin, SET_VISIBILITY, {"v": "PUBLIC"})
