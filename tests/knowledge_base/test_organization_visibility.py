"""An INVITE_ONLY organization's knowledge base is for its staff and the customers it lets in
(invited, or with tickets there): everyone else gets NOT_FOUND for the knowledge base and its
articles, and finds nothing of it in lists, searches, suggestions, counts or node lookups.
Switching the organization to PUBLIC opens it to every reader.

The security world (tests/security/world.py): `other_org` has `other_article` (published,
public, slug "other") and a category; `customer` has a ticket with other_org,
`other_customer` has none; agent and admin are staff of `org`.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Stack
from tests.security.kb_world import OTHER_ORG_ARTICLE, KbWorld, build_knowledge_base
from tests.security.world import Person, World, build_world, call, call_ok, gid

HIDDEN_WHILE_INVITE_ONLY = ("anonymous", "other-customer", "agent", "admin")
ALWAYS_SEE = ("customer", "other-agent", "other-admin")

BY_ID = "query($id: ID!) { article(id: $id) { title } }"
BY_SLUG = 'query($org: ID!) { articleBySlug(organizationId: $org, slug: "other") { title } }'
KNOWLEDGE_BASE = """
query($org: ID!) {
  knowledgeBase(organizationId: $org) {
    categories { name }
    articles(filter: {state: [PUBLISHED]}) { totalCount nodes { title } }
    found: articles(filter: {search: "Kbotherorgarticle"}) {
      totalCount edges { snippet node { title } }
    }
  }
}
"""
SUGGEST = """
query($org: ID!) { suggestArticles(organizationId: $org, text: "vpn guide") { article { title } } }
"""
NODE = "query($id: ID!) { node(id: $id) { ... on KnowledgeBaseCategory { name } } }"
SET_VISIBILITY = """
mutation($v: OrganizationVisibility!) {
  updateOrganization(input: {visibility: $v}) { organization { visibility } userErrors { code } }
}
"""
INVITE = """
mutation($email: String!) {
  inviteCustomer(input: {email: $email, name: "Invited"}) { customer { id } userErrors { code } }
}
"""


@pytest.fixture
async def world(db: Stack) -> tuple[World, KbWorld]:
    async with db.sessionmaker() as session:
        world = await build_world(session)
        kb = await build_knowledge_base(session, world)
    await set_visibility(db, world, "INVITE_ONLY")
    return world, kb


async def set_visibility(db: Stack, world: World, visibility: str) -> None:
    data = await call_ok(db, world.other_admin, SET_VISIBILITY, {"v": visibility})
    assert data["updateOrganization"] == {
        "organization": {"visibility": visibility},
        "userErrors": [],
    }


def codes(body: dict[str, Any]) -> list[str]:
    return [e["extensions"]["code"] for e in body.get("errors", [])]


async def sees(db: Stack, world: World, kb: KbWorld, me: Person | None) -> bool:
    """Whether `me` finds other_org's article on every surface (True) or on none (False); a
    mix fails the test."""
    org = {"org": gid(world.other_org)}
    results: dict[str, bool] = {}
    for name, document, variables in (
        ("article", BY_ID, {"id": gid(kb.other_article)}),
        ("articleBySlug", BY_SLUG, org),
    ):
        body, text = await call(db, me, document, variables)
        if body["data"][name] is None:
            assert codes(body) == ["NOT_FOUND"], body
            assert OTHER_ORG_ARTICLE not in text
            results[name] = False
        else:
            assert body["data"][name] == {"title": OTHER_ORG_ARTICLE}, body
            results[name] = True
    body, text = await call(db, me, KNOWLEDGE_BASE, org)
    base = body["data"]["knowledgeBase"]
    if base is None:
        assert codes(body) == ["NOT_FOUND"], body
        assert OTHER_ORG_ARTICLE not in text
        assert "Elsewherecategory" not in text
        results["knowledgeBase"] = False
    else:
        assert "errors" not in body, body
        assert base["categories"] == [{"name": "Elsewherecategory"}]
        assert base["articles"] == {"totalCount": 1, "nodes": [{"title": OTHER_ORG_ARTICLE}]}
        assert base["found"]["totalCount"] == 1
        assert base["found"]["edges"][0]["snippet"] == "the other org"
        results["knowledgeBase"] = True
    body, text = await call(db, me, SUGGEST, org)
    if body["data"]["suggestArticles"] is None:
        assert codes(body) == ["NOT_FOUND"], body
        results["suggestArticles"] = False
    else:
        assert body["data"]["suggestArticles"] == [{"article": {"title": OTHER_ORG_ARTICLE}}]
        results["suggestArticles"] = True
    if me is not None:  # node() is for signed-in callers
        body, text = await call(db, me, NODE, {"id": gid(kb.other_category)})
        results["node"] = body["data"]["node"] is not None
        if not results["node"]:
            assert "Elsewherecategory" not in text
    assert len(set(results.values())) == 1, results
    return results["article"]


async def test_invite_only_knowledge_base_is_for_its_staff_and_its_customers(
    db: Stack, world: tuple[World, KbWorld]
) -> None:
    people, kb = world
    for identity in HIDDEN_WHILE_INVITE_ONLY:
        assert not await sees(db, people, kb, people.person(identity)), identity
    for identity in ALWAYS_SEE:
        assert await sees(db, people, kb, people.person(identity)), identity


async def test_an_invitation_opens_it(db: Stack, world: tuple[World, KbWorld]) -> None:
    people, kb = world
    data = await call_ok(db, people.other_admin, INVITE, {"email": people.other_customer.email})
    assert data["inviteCustomer"]["userErrors"] == []

    assert await sees(db, people, kb, people.other_customer)
    # An invitation to one organization opens no other: anonymous and org's staff still not.
    assert not await sees(db, people, kb, None)
    assert not await sees(db, people, kb, people.agent)


async def test_switching_to_public_opens_it_to_every_reader(
    db: Stack, world: tuple[World, KbWorld]
) -> None:
    people, kb = world
    await set_visibility(db, people, "PUBLIC")

    for identity in (*HIDDEN_WHILE_INVITE_ONLY, *ALWAYS_SEE):
        assert await sees(db, people, kb, people.person(identity)), identity


async def test_a_public_organizations_knowledge_base_stays_open(
    db: Stack, world: tuple[World, KbWorld]
) -> None:
    """`org` is still PUBLIC: other_org's staff and uninvited readers read its public article."""
    people, kb = world
    for me in (None, people.other_agent, people.other_customer):
        data = await call_ok(db, me, BY_ID, {"id": gid(kb.public_article)})
        assert data["article"] is not None
