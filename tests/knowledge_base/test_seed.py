"""The demo seed's knowledge base: categories, published public articles readers find, an
internal article and a draft only staff see, written with their revisions."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from models import Article, ArticleState, ArticleVisibility, KnowledgeBaseChange, Organization
from server.seed import seed_demo
from tests.conftest import Stack
from tests.knowledge_base.helpers import LIST, SUGGEST, gid, ok


async def test_the_demo_has_a_small_knowledge_base(db: Stack, session: AsyncSession) -> None:
    assert await seed_demo(session) is True
    await session.commit()
    acme = await session.scalar(select(Organization).where(Organization.slug == "acme"))
    assert acme is not None
    articles = list(
        await session.scalars(select(Article).where(Article.organization_id == acme.id))
    )
    assert len(articles) == 7
    assert {a.state for a in articles} == {ArticleState.PUBLISHED, ArticleState.DRAFT}
    assert ArticleVisibility.INTERNAL in {a.visibility for a in articles}
    changes = await session.scalar(select(func.count()).select_from(KnowledgeBaseChange))
    assert changes == 3 + 7 + 1  # categories, articles, one edit

    org = gid("Organization", acme.id)
    public = await ok(db, None, LIST, org=org)
    assert public["articles"]["totalCount"] == 5
    # By position, then name: Security (a child of Account) shares Account's position 0.
    categories = [(c["name"], c["parent"]) for c in public["categories"]]
    assert categories == [("Account", None), ("Security", {"name": "Account"}), ("Billing", None)]
    found = await ok(db, None, LIST, org=org, filter={"search": "refund"})
    assert found["articles"]["edges"][0]["node"]["title"] == "Request a refund"
    suggested = await ok(db, None, SUGGEST, org=org, text="I was charged and want a refund")
    assert suggested[0]["article"]["title"] == "Request a refund"
    staff = await ok(db, "demo|bob", LIST, org=org)
    assert staff["articles"]["totalCount"] == 7
