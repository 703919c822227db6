"""Reading the knowledge base: categories, articles (listed, searched, suggested), revisions.

Every article read goes through `permissions.knowledge_base.article_visibility`: what it
does not return does not exist for the caller (NOT_FOUND), and lists, counts, searches and
snippets are computed over visible rows only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Select, exists, func, literal, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from models import (
    Article,
    ArticleLink,
    ArticleState,
    KnowledgeBaseCategory,
    KnowledgeBaseChange,
    Organization,
)
from permissions import Actor
from permissions.knowledge_base import (
    article_visibility,
    category_visibility,
    change_visibility,
    knowledge_base_visibility,
    may_read_article_history,
    readable_articles,
)
from resolvers.errors import BadUserInputError, NotFoundError
from resolvers.knowledge_search import (
    DEFAULT_LANGUAGE,
    SearchPlan,
    search_engine,
    search_words,
    snippets_for,
)
from resolvers.pagination import (
    Page,
    PageRequest,
    SortKey,
    _after,
    encode_cursor,
    paginate,
)

SUGGESTIONS_MAX = 10
CHANGES_PAGE = 100

UPDATED_ORDER = SortKey(
    name="article_updated",
    expression=Article.updated_at,
    id_column=Article.id,
    descending=True,
    value_of=lambda a: a.updated_at,
    timestamp=True,
)


@dataclass(frozen=True)
class ArticleFilter:
    category_id: int | None = None
    tags: Sequence[str] = ()
    states: Sequence[ArticleState] = ()
    search: str | None = None


@dataclass
class ArticleHit:
    """An article in a list: with its highlighted snippet when found by a search."""

    article: Article
    snippet: str | None = None
    rank: int | None = field(default=None, repr=False)


async def get_knowledge_base(session: AsyncSession, actor: Actor, org_id: int) -> Organization:
    """The organization whose knowledge base is asked for: NOT_FOUND unless the caller may
    open it (an INVITE_ONLY organization's is for its staff and the customers it lets in)."""
    organization = await session.scalar(
        select(Organization).where(
            Organization.id == org_id, knowledge_base_visibility(actor, Organization.id)
        )
    )
    if organization is None:
        raise NotFoundError("organization not found")
    return organization


async def list_categories(
    session: AsyncSession, actor: Actor, org_id: int
) -> list[KnowledgeBaseCategory]:
    """The organization's categories, parents before children, in their order."""
    rows = await session.scalars(
        select(KnowledgeBaseCategory)
        .where(KnowledgeBaseCategory.organization_id == org_id, category_visibility(actor))
        .order_by(
            KnowledgeBaseCategory.position, KnowledgeBaseCategory.name, KnowledgeBaseCategory.id
        )
    )
    return list(rows)


async def get_article(session: AsyncSession, actor: Actor, article_id: int) -> Article:
    article = await session.scalar(readable_articles(actor).where(Article.id == article_id))
    if article is None:
        raise NotFoundError("article not found")
    return article


async def get_article_by_slug(
    session: AsyncSession, actor: Actor, org_id: int, slug: str
) -> Article:
    article = await session.scalar(
        readable_articles(actor).where(Article.organization_id == org_id, Article.slug == slug)
    )
    if article is None:
        raise NotFoundError("article not found")
    return article


async def articles_by_id(session: AsyncSession, actor: Actor, ids: Sequence[int]) -> list[Any]:
    """Visible articles for ids, in order; None where not visible."""
    rows = await session.scalars(readable_articles(actor).where(Article.id.in_(ids)))
    found = {a.id: a for a in rows}
    return [found.get(i) for i in ids]


async def categories_by_id(
    session: AsyncSession, actor: Actor, ids: Sequence[int]
) -> list[KnowledgeBaseCategory | None]:
    rows = await session.scalars(
        select(KnowledgeBaseCategory).where(
            KnowledgeBaseCategory.id.in_(ids), category_visibility(actor)
        )
    )
    found = {c.id: c for c in rows}
    return [found.get(i) for i in ids]


def _filtered(
    session: AsyncSession, actor: Actor, org_id: int, filters: ArticleFilter
) -> Select[Article]:
    statement = readable_articles(actor).where(Article.organization_id == org_id)
    if filters.category_id is not None:
        statement = statement.where(Article.category_id == filters.category_id)
    if filters.states:
        statement = statement.where(Article.state.in_(list(filters.states)))
    for tag in filters.tags:
        statement = statement.where(_has_tag(session, tag))
    return statement


def _has_tag(session: AsyncSession, tag: str) -> ColumnElement[bool]:
    if session.get_bind().dialect.name == "postgresql":
        return Article.tags.op("@>")(func.jsonb_build_array(tag))
    each = func.json_each(Article.tags).table_valued("value")
    return exists(select(1).select_from(each).where(each.c.value == tag))


async def list_articles(
    session: AsyncSession,
    actor: Actor,
    org_id: int,
    filters: ArticleFilter,
    request: PageRequest,
    language: str = DEFAULT_LANGUAGE,
) -> Page[ArticleHit]:
    """A page of the organization's articles the caller may read: most recently updated
    first, or best match first with `search` (with snippets)."""
    await get_knowledge_base(session, actor, org_id)
    statement = _filtered(session, actor, org_id, filters)
    words = search_words(filters.search) if filters.search else []
    if not words:

        async def count() -> int:
            total = await session.scalar(select(func.count()).select_from(statement.subquery()))
            return int(total or 0)

        page = await paginate(session, statement, UPDATED_ORDER, request, count)
        return Page(
            items=[ArticleHit(a) for a in page.items],
            cursors=page.cursors,
            has_next_page=page.has_next_page,
            has_previous_page=page.has_previous_page,
            count=count,
        )
    plan = SearchPlan(await search_engine(session), tuple(words), any_word=False, language=language)
    return await _search_page(session, actor, plan, statement, request)


async def _search_page(
    session: AsyncSession,
    actor: Actor,
    plan: SearchPlan,
    statement: Select[Article],
    request: PageRequest,
) -> Page[ArticleHit]:
    if request.last is not None or request.before:
        raise BadUserInputError("search results page forwards only: use first and after")
    size, _ = request.size()
    matched = plan.apply(statement)
    rank = plan.rank()
    key = SortKey(
        name="article_relevance",
        expression=rank,
        id_column=Article.id,
        descending=True,
        value_of=lambda hit: hit.rank,
    )
    ranked = matched.add_columns(rank.label("rank"))
    if request.after:
        ranked = ranked.where(_after(key, request.after, forward=True))
    rows = (
        await session.execute(ranked.order_by(rank.desc(), Article.id.desc()).limit(size + 1))
    ).all()
    more = len(rows) > size
    hits = [ArticleHit(article, rank=int(value)) for article, value in rows[:size]]
    snippets = await snippets_for(
        session, plan, article_visibility(actor), [h.article.id for h in hits]
    )
    for hit in hits:
        hit.snippet = snippets.get(hit.article.id)

    async def count() -> int:
        total = await session.scalar(select(func.count()).select_from(matched.subquery()))
        return int(total or 0)

    return Page(
        items=hits,
        cursors=[encode_cursor(key, h.rank, h.article.id) for h in hits],
        has_next_page=more,
        has_previous_page=request.after is not None,
        count=count,
    )


async def suggest_articles(
    session: AsyncSession,
    actor: Actor,
    org_id: int,
    text: str,
    first: int = 5,
    language: str = DEFAULT_LANGUAGE,
) -> list[ArticleHit]:
    """The published articles that best match a text being written (a ticket's title and
    description): any of its words, best first. Readers get only what they may read; staff
    get published articles too (drafts and archived ones are not suggestions)."""
    if not 0 <= first <= SUGGESTIONS_MAX:
        raise BadUserInputError(f"first must be between 0 and {SUGGESTIONS_MAX}")
    await get_knowledge_base(session, actor, org_id)
    words = search_words(text)
    if not words or first == 0:
        return []
    plan = SearchPlan(await search_engine(session), tuple(words), any_word=True, language=language)
    statement = _suggestable(actor, org_id)
    rank = plan.rank()
    rows = (
        await session.execute(
            plan.apply(statement.add_columns(rank.label("rank")))
            .order_by(rank.desc(), Article.id.desc())
            .limit(first)
        )
    ).all()
    hits = [ArticleHit(article, rank=int(value)) for article, value in rows]
    snippets = await snippets_for(
        session, plan, article_visibility(actor), [h.article.id for h in hits]
    )
    for hit in hits:
        hit.snippet = snippets.get(hit.article.id)
    return hits


def _suggestable(actor: Actor, org_id: int) -> Select[Article]:
    return readable_articles(actor).where(
        Article.organization_id == org_id, Article.state == ArticleState.PUBLISHED
    )


async def suggestions_for_tickets(
    session: AsyncSession,
    actor: Actor,
    tickets: Sequence[tuple[int, int, str]],
    first: int,
    language: str = DEFAULT_LANGUAGE,
) -> dict[int, list[Article]]:
    """Suggested articles of many tickets at once, (ticket id, organization id, text) each:
    one statement ranks them all, one more loads the articles."""
    result: dict[int, list[Article]] = {ticket_id: [] for ticket_id, _, _ in tickets}
    engine = await search_engine(session)
    parts = []
    for ticket_id, org_id, text in tickets:
        words = search_words(text[:500])
        if not words:
            continue
        plan = SearchPlan(engine, tuple(words), any_word=True, language=language)
        rank = plan.rank()
        part = (
            plan.apply(
                select(
                    literal(ticket_id).label("ticket_id"), Article.id.label("article_id"), rank
                ).where(_suggestable(actor, org_id).whereclause)  # type: ignore[arg-type]
            )
            .order_by(rank.desc(), Article.id.desc())
            .limit(first)
        )
        parts.append(select(part.subquery()))
    if not parts:
        return result
    ranked = (await session.execute(union_all(*parts))).all()
    articles = await articles_by_id(session, actor, sorted({row[1] for row in ranked}))
    by_id = {a.id: a for a in articles if a is not None}
    for row in ranked:
        if row[1] in by_id:
            result[row[0]].append(by_id[row[1]])
    return result


async def article_history(
    session: AsyncSession, actor: Actor, article: Article
) -> list[KnowledgeBaseChange]:
    """Every change of an article, oldest first: staff of its organization only (empty for
    anyone else, who cannot ask for it anyway)."""
    if not may_read_article_history(actor, article):
        return []
    rows = await session.scalars(
        select(KnowledgeBaseChange)
        .where(KnowledgeBaseChange.article_id == article.id, change_visibility(actor))
        .order_by(KnowledgeBaseChange.id)
    )
    return list(rows)


async def articles_for_responses(
    session: AsyncSession, actor: Actor, response_ids: Sequence[int]
) -> dict[int, list[Article]]:
    """The articles linked in each response (of responses the caller may read), in the order
    they were linked, the caller's article visibility applied (an article archived since is
    not shown to customers)."""
    found: dict[int, list[Article]] = {i: [] for i in response_ids}
    if not response_ids:
        return found
    rows = await session.execute(
        select(ArticleLink.response_id, Article)
        .join(Article, Article.id == ArticleLink.article_id)
        .where(ArticleLink.response_id.in_(response_ids), article_visibility(actor))
        .order_by(ArticleLink.response_id, ArticleLink.position, ArticleLink.id)
    )
    for response_id, article in rows:
        found[response_id].append(article)
    return found


async def latest_change_id(session: AsyncSession, actor: Actor) -> int:
    """The newest change of the caller's organization (0 without any)."""
    found = await session.scalar(
        select(func.max(KnowledgeBaseChange.id)).where(change_visibility(actor))
    )
    return int(found or 0)


async def changes_after(
    session: AsyncSession, actor: Actor, after: int, limit: int = CHANGES_PAGE
) -> list[KnowledgeBaseChange]:
    """The caller's organization's changes after `after`, in id order (staff only)."""
    rows = await session.scalars(
        select(KnowledgeBaseChange)
        .where(KnowledgeBaseChange.id > after, change_visibility(actor))
        .order_by(KnowledgeBaseChange.id)
        .limit(limit)
    )
    return list(rows)


async def change_exists(session: AsyncSession, actor: Actor, change_id: int) -> bool:
    found = await session.scalar(
        select(KnowledgeBaseChange.id).where(
            KnowledgeBaseChange.id == change_id, change_visibility(actor)
        )
    )
    return found is not None
