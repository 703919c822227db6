"""The knowledge base of the security world: articles of `org` in every state and visibility,
each text a unique marker, and revisions whose earlier text is secret too.

| article            | org       | state     | visibility | readers see it |
|--------------------|-----------|-----------|------------|----------------|
| `public_article`   | org       | published | public     | yes            |
| `internal_article` | org       | published | internal   | no (staff)     |
| `draft_article`    | org       | draft     | public     | no (staff)     |
| `archived_article` | org       | archived  | public     | no (staff)     |
| `other_article`    | other_org | published | public     | yes            |
| `other_draft`      | other_org | draft     | public     | no (its staff) |

`public_article` was once a draft with a secret title and body (its revisions keep them), and
the internal note of `ticket` links the internal article, the public reply the public one.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from models import (
    Article,
    ArticleLink,
    ArticleState,
    ArticleVisibility,
    KnowledgeBaseAction,
    KnowledgeBaseCategory,
    KnowledgeBaseChange,
)
from models.base import utcnow
from resolvers.markdown import render_markdown
from tests.security.world import World

CATEGORY_NAME = "Printingcategory"
PUBLIC_TITLE = "Kbpublicarticle printer troubleshooting"
PUBLIC_BODY = "Kbpublicbody restart the printer and wait"
OTHER_ORG_ARTICLE = "Kbotherorgarticle vpn printer guide"
OTHER_ORG_DRAFT = "Kbotherorgdraft printer plans"
# Secrets: plain words (search must have something to find) that only staff of org may read.
INTERNAL_WORD = "wallabyinternalarticle"
INTERNAL_TITLE = f"KBINTERNALTITLE {INTERNAL_WORD} printer override"
INTERNAL_BODY = "KBINTERNALBODY agents may reset printer quotas quietly"
DRAFT_WORD = "numbatdraftarticle"
DRAFT_TITLE = f"KBDRAFTTITLE {DRAFT_WORD} printer recall"
DRAFT_BODY = "KBDRAFTBODY the printer recall is not announced"
ARCHIVED_WORD = "quollarchivedarticle"
ARCHIVED_TITLE = f"KBARCHIVEDTITLE {ARCHIVED_WORD} printer pricing"
REVISION_WORD = "bilbyoldrevision"
REVISION_TITLE = f"KBREVISIONTITLE {REVISION_WORD} printer"
REVISION_BODY = "KBREVISIONBODY the first printer draft said too much"

KB_SECRETS = (
    INTERNAL_WORD,
    "KBINTERNALTITLE",
    "KBINTERNALBODY",
    DRAFT_WORD,
    "KBDRAFTTITLE",
    "KBDRAFTBODY",
    ARCHIVED_WORD,
    "KBARCHIVEDTITLE",
    REVISION_WORD,
    "KBREVISIONTITLE",
    "KBREVISIONBODY",
    "Kbotherorgdraft",
)


@dataclass
class KbWorld:
    category: KnowledgeBaseCategory
    public_article: Article
    internal_article: Article
    draft_article: Article
    archived_article: Article
    other_article: Article
    # The other organization's category and draft: what a foreign id names.
    other_category: KnowledgeBaseCategory
    other_draft: Article


def _article(
    world: World,
    title: str,
    body: str,
    state: ArticleState = ArticleState.PUBLISHED,
    visibility: ArticleVisibility = ArticleVisibility.PUBLIC,
    slug: str = "",
    other_org: bool = False,
) -> Article:
    author = world.other_agent if other_org else world.agent
    return Article(
        organization_id=author.organization_id,
        author_id=author.id,
        title=title,
        slug=slug,
        body=body,
        body_html=render_markdown(body),
        state=state,
        visibility=visibility,
        tags=["printer"],
        version=2 if title == PUBLIC_TITLE else 1,
        published_at=None if state is ArticleState.DRAFT else utcnow(),
    )


async def build_knowledge_base(session: AsyncSession, world: World) -> KbWorld:
    """Seed the knowledge base into a built world and commit it."""
    category = KnowledgeBaseCategory(
        organization_id=world.org.id, name=CATEGORY_NAME, slug="printing"
    )
    other_category = KnowledgeBaseCategory(
        organization_id=world.other_org.id, name="Elsewherecategory", slug="elsewhere"
    )
    session.add_all([category, other_category])
    await session.flush()
    public = _article(world, PUBLIC_TITLE, PUBLIC_BODY, slug="public-article")
    public.category_id = category.id
    internal = _article(
        world, INTERNAL_TITLE, INTERNAL_BODY, visibility=ArticleVisibility.INTERNAL, slug="internal"
    )
    draft = _article(world, DRAFT_TITLE, DRAFT_BODY, state=ArticleState.DRAFT, slug="draft")
    archived = _article(
        world, ARCHIVED_TITLE, "archived text", state=ArticleState.ARCHIVED, slug="archived"
    )
    other = _article(world, OTHER_ORG_ARTICLE, "the other org", slug="other", other_org=True)
    other_draft = _article(
        world,
        OTHER_ORG_DRAFT,
        "not yet",
        state=ArticleState.DRAFT,
        slug="other-draft",
        other_org=True,
    )
    session.add_all([public, internal, draft, archived, other, other_draft])
    await session.flush()
    for article in (internal, draft, archived, other, other_draft):
        session.add(_change(article, KnowledgeBaseAction.CREATED))
    session.add(_change(public, KnowledgeBaseAction.CREATED, version=1))
    session.add(
        _change(
            public,
            KnowledgeBaseAction.PUBLISHED,
            previous_title=REVISION_TITLE,
            previous_body=REVISION_BODY,
        )
    )
    session.add_all(
        [
            ArticleLink(
                organization_id=world.org.id,
                article_id=internal.id,
                ticket_id=world.ticket.id,
                response_id=world.internal_note.id,
            ),
            ArticleLink(
                organization_id=world.org.id,
                article_id=public.id,
                ticket_id=world.ticket.id,
                response_id=world.public_reply.id,
            ),
        ]
    )
    await session.commit()
    return KbWorld(category, public, internal, draft, archived, other, other_category, other_draft)


def _change(
    article: Article,
    action: KnowledgeBaseAction,
    *,
    version: int | None = None,
    previous_title: str | None = None,
    previous_body: str | None = None,
) -> KnowledgeBaseChange:
    first = action is KnowledgeBaseAction.CREATED and article.title == PUBLIC_TITLE
    return KnowledgeBaseChange(
        organization_id=article.organization_id,
        article_id=article.id,
        actor_id=article.author_id,
        action=action,
        version=version or article.version,
        changed_fields=["title", "body"],
        title=REVISION_TITLE if first else article.title,
        body=REVISION_BODY if first else article.body,
        previous_title=previous_title,
        previous_body=previous_body,
        state=ArticleState.DRAFT.value if first else article.state.value,
        visibility=article.visibility.value,
    )
