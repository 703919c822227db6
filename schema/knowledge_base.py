"""The knowledge base: categories, articles, revisions, search and suggestions (reading)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import strawberry
from strawberry import relay

from models import Article as ArticleModel
from models import KnowledgeBaseCategory as CategoryModel
from models import KnowledgeBaseChange as ChangeModel
from models import Organization as OrganizationModel
from models import TeamMember as TeamMemberModel
from models.knowledge_base import ArticleState as ArticleStateModel
from models.knowledge_base import ArticleVisibility as ArticleVisibilityModel
from models.knowledge_base import KnowledgeBaseAction as ActionModel
from permissions.fields import CanReadArticleHistory
from resolvers import knowledge_base as kb
from resolvers.errors import BadUserInputError
from resolvers.knowledge_base import ArticleHit
from resolvers.pagination import PageRequest
from resolvers.validation import storable_text
from schema.context import Info
from schema.ids import decode_filter_id, decode_id
from schema.pagination import PageInfo
from schema.people import Organization, TeamMember

ArticleState = strawberry.enum(
    ArticleStateModel, name="ArticleState", description="Where an article is in its life."
)
ArticleVisibility = strawberry.enum(
    ArticleVisibilityModel,
    name="ArticleVisibility",
    description="PUBLIC: customers and anonymous readers (once published). INTERNAL: staff.",
)
KnowledgeBaseAction = strawberry.enum(
    ActionModel, name="KnowledgeBaseAction", description="What a knowledge-base change did."
)


def language(info: Info) -> str:
    """The text-search configuration of this server (KNOWLEDGE_BASE_LANGUAGE)."""
    return str(getattr(info.context.services, "knowledge_base_language", "english"))


@strawberry.type(
    name="KnowledgeBaseCategory",
    description="A group of articles; categories nest one level (a parent and its children).",
)
class Category(relay.Node):
    id: relay.NodeID[int]
    name: str
    slug: str
    position: int = strawberry.field(description="Sort order among its siblings.")

    @strawberry.field(description="The parent category, if this is a subcategory.")
    async def parent(self, root: strawberry.Parent[CategoryModel], info: Info) -> Category | None:
        if root.parent_id is None:
            return None
        return await info.context.loaders.kb_category.load(root.parent_id)  # type: ignore[return-value]

    @classmethod
    def is_type_of(cls, obj: Any, info: Any) -> bool:
        return isinstance(obj, CategoryModel)


@strawberry.type(description="One change of an article: who, when, and its text before and after.")
class ArticleRevision:
    version: int | None = strawberry.field(description="The article's version after it.")
    action: KnowledgeBaseAction  # type: ignore[valid-type]
    changed_fields: list[str] = strawberry.field(description="title, body, state, ...")
    title: str | None = strawberry.field(description="The title after the change.")
    body: str | None = strawberry.field(description="The body (Markdown) after the change.")
    previous_title: str | None = strawberry.field(description="The title before, if it changed.")
    previous_body: str | None = strawberry.field(description="The body before, if it changed.")
    state: ArticleState | None  # type: ignore[valid-type]
    visibility: ArticleVisibility | None  # type: ignore[valid-type]
    created_at: dt.datetime = strawberry.field(description="When.")

    @strawberry.field(description="Who made the change.")
    async def editor(self, root: strawberry.Parent[ChangeModel], info: Info) -> TeamMember | None:
        if root.actor_id is None:
            return None
        return await info.context.loaders.team_member.load(root.actor_id)  # type: ignore[return-value]


@strawberry.type(description="A knowledge-base article.")
class Article(relay.Node):
    id: relay.NodeID[int]
    title: str
    slug: str = strawberry.field(description="Unique within the organization; for URLs.")
    body: str = strawberry.field(description="The text as written, in Markdown.")
    body_html: str = strawberry.field(
        description="The body rendered to HTML and sanitized on the server: safe to insert."
    )
    state: ArticleState  # type: ignore[valid-type]
    visibility: ArticleVisibility  # type: ignore[valid-type]
    tags: list[str]
    version: int = strawberry.field(
        description="Increments on every change; pass it as expectedVersion."
    )
    created_at: dt.datetime
    updated_at: dt.datetime
    published_at: dt.datetime | None = strawberry.field(description="When last published.")

    @strawberry.field(description="Its category, if any.")
    async def category(self, root: strawberry.Parent[ArticleModel], info: Info) -> Category | None:
        if root.category_id is None:
            return None
        return await info.context.loaders.kb_category.load(root.category_id)  # type: ignore[return-value]

    @strawberry.field(description="Who wrote it.", graphql_type=TeamMember | None)
    async def author(
        self, root: strawberry.Parent[ArticleModel], info: Info
    ) -> TeamMemberModel | None:
        return await info.context.loaders.team_member.load(root.author_id)

    @strawberry.field(description="Whose knowledge base it is in.", graphql_type=Organization)
    async def organization(
        self, root: strawberry.Parent[ArticleModel], info: Info
    ) -> OrganizationModel | None:
        return await info.context.loaders.organization.load(root.organization_id)

    @strawberry.field(
        description=(
            "Every change, oldest first. Staff of the organization only: null with a "
            "FORBIDDEN error for anyone else."
        ),
        permission_classes=[CanReadArticleHistory],
        graphql_type=list[ArticleRevision] | None,
    )
    async def history(self, root: strawberry.Parent[ArticleModel], info: Info) -> list[Any]:
        ctx = info.context
        return await ctx.run(lambda s: kb.article_history(s, ctx.actor, root))

    @classmethod
    def is_type_of(cls, obj: Any, info: Any) -> bool:
        return isinstance(obj, ArticleModel)


@strawberry.type(description="An article in a list, with its search snippet.")
class ArticleEdge:
    cursor: str
    node: Article = strawberry.field(graphql_type=Article)
    snippet: str | None = strawberry.field(
        description=(
            "With a search: HTML-escaped text around the matches, matched words in <mark>. "
            "Null without a search."
        )
    )


@strawberry.type(description="A page of articles (Relay connection).")
class ArticleConnection:
    edges: list[ArticleEdge]
    page_info: PageInfo
    count: strawberry.Private[Any] = None

    @strawberry.field(description="The articles of this page, without cursors.")
    def nodes(self) -> list[Article]:
        return [edge.node for edge in self.edges]

    @strawberry.field(description="How many articles match, across all pages. Costs one query.")
    async def total_count(self, info: Info) -> int:
        counter = self.count
        total: int = await info.context.run(lambda s: counter())
        return total


def article_connection(page: Any) -> ArticleConnection:
    hits: list[ArticleHit] = page.items
    return ArticleConnection(
        edges=[
            ArticleEdge(cursor=c, node=h.article, snippet=h.snippet)  # type: ignore[arg-type]
            for c, h in zip(page.cursors, hits, strict=True)
        ],
        page_info=PageInfo(
            has_next_page=page.has_next_page,
            has_previous_page=page.has_previous_page,
            start_cursor=page.cursors[0] if page.cursors else None,
            end_cursor=page.cursors[-1] if page.cursors else None,
        ),
        count=page.count,
    )


@strawberry.input(description="Narrow the article list. All given conditions must hold.")
class ArticleFilter:
    category_id: relay.GlobalID | None = None
    tags: list[str] | None = strawberry.field(default=None, description="Carries all of these.")
    state: list[ArticleState] | None = strawberry.field(  # type: ignore[valid-type]
        default=None, description="Any of (readers only ever see PUBLISHED)."
    )
    search: str | None = strawberry.field(
        default=None,
        description=(
            "Words that must all occur (stemmed), best match first: title counts more than "
            "body. Full-text search on PostgreSQL and on SQLite with FTS5."
        ),
    )

    def to_filter(self) -> kb.ArticleFilter:
        for text in [self.search or "", *(self.tags or [])]:
            if not storable_text(text):
                raise BadUserInputError("search and tags must be valid Unicode text without NUL")
        return kb.ArticleFilter(
            category_id=None
            if self.category_id is None
            else decode_filter_id(self.category_id, "KnowledgeBaseCategory", "categoryId"),
            tags=[t.strip().lower() for t in self.tags or []],
            states=list(self.state or []),
            search=self.search,
        )


@strawberry.type(description="An organization's knowledge base.")
class KnowledgeBase:
    organization_id: strawberry.Private[int]

    @strawberry.field(graphql_type=Organization)
    async def organization(self, info: Info) -> OrganizationModel | None:
        return await info.context.loaders.organization.load(self.organization_id)

    @strawberry.field(description="Its categories, in order (parents and children).")
    async def categories(self, info: Info) -> list[Category]:
        ctx = info.context
        org = self.organization_id
        return await ctx.run(lambda s: kb.list_categories(s, ctx.actor, org))  # type: ignore[arg-type,return-value]

    @strawberry.field(
        description=(
            "The articles you may read: readers the published public ones, staff all of "
            "theirs. Most recently updated first, or best match first with a search."
        )
    )
    async def articles(
        self,
        info: Info,
        filter: ArticleFilter | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> ArticleConnection:
        ctx = info.context
        filters = filter.to_filter() if filter else kb.ArticleFilter()
        request = PageRequest(first, after)
        org, lang = self.organization_id, language(info)
        page = await ctx.run(lambda s: kb.list_articles(s, ctx.actor, org, filters, request, lang))
        return article_connection(page)


@strawberry.type(description="An article suggested for a text being written.")
class ArticleSuggestion:
    article: Article = strawberry.field(graphql_type=Article)
    snippet: str | None = strawberry.field(
        description="HTML-escaped text around the matches, matched words in <mark>."
    )


@strawberry.type
class KnowledgeBaseQuery:
    @strawberry.field(
        description=(
            "An organization's knowledge base: a PUBLIC organization's is open to everyone "
            "(anonymous readers included), an INVITE_ONLY one's to its staff and the customers "
            "it invited or has tickets of; null with NOT_FOUND otherwise."
        )
    )
    async def knowledge_base(
        self, info: Info, organization_id: relay.GlobalID
    ) -> KnowledgeBase | None:
        ctx = info.context
        org_id = decode_id(organization_id, "Organization")
        organization = await ctx.run(lambda s: kb.get_knowledge_base(s, ctx.actor, org_id))
        return KnowledgeBase(organization_id=organization.id)

    @strawberry.field(
        description=(
            "One article; null with NOT_FOUND when it does not exist or is not yours to read."
        ),
        graphql_type=Article | None,
    )
    async def article(self, info: Info, id: relay.GlobalID) -> ArticleModel:
        article_id = decode_id(id, "Article")
        ctx = info.context
        return await ctx.run(lambda s: kb.get_article(s, ctx.actor, article_id))

    @strawberry.field(
        description="One article by its organization and slug; null with NOT_FOUND otherwise.",
        graphql_type=Article | None,
    )
    async def article_by_slug(
        self, info: Info, organization_id: relay.GlobalID, slug: str
    ) -> ArticleModel:
        org_id = decode_id(organization_id, "Organization")
        ctx = info.context
        if len(slug) > 200 or not storable_text(slug):
            raise BadUserInputError("slug must be at most 200 characters of text")
        return await ctx.run(lambda s: kb.get_article_by_slug(s, ctx.actor, org_id, slug))

    @strawberry.field(
        description=(
            "Published articles matching any words of a text being written (the ticket form), "
            "best first; only what you may read. At most 10."
        )
    )
    async def suggest_articles(
        self, info: Info, organization_id: relay.GlobalID, text: str, first: int = 5
    ) -> list[ArticleSuggestion] | None:
        org_id = decode_id(organization_id, "Organization")
        if not storable_text(text):
            raise BadUserInputError("text must be valid Unicode text without NUL")
        ctx = info.context
        lang = language(info)
        hits = await ctx.run(lambda s: kb.suggest_articles(s, ctx.actor, org_id, text, first, lang))
        return [ArticleSuggestion(article=h.article, snippet=h.snippet) for h in hits]  # type: ignore[arg-type]
