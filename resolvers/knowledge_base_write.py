"""Writing the knowledge base: articles (staff) and categories (admins).

Each write takes its organization's knowledge-base lock first, changes rows, and records one
`kb_changes` row (a revision: who, when, the text before and after) in the same transaction.
The lock makes the organization's change log commit in id order, so a subscriber resuming
from a change id can never miss one committed later with a smaller id.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models import (
    Article,
    ArticleState,
    ArticleVisibility,
    KnowledgeBaseAction,
    KnowledgeBaseCategory,
    KnowledgeBaseChange,
    SuggestionOpen,
)
from models.base import utcnow
from permissions import Actor
from permissions.knowledge_base import (
    may_manage_categories,
    may_write_articles,
    readable_articles,
)
from resolvers.errors import UnauthenticatedError, UserErrorCode, UserInputError, user_error
from resolvers.knowledge_base import get_knowledge_base
from resolvers.locks import LockClass, is_postgres
from resolvers.markdown import render_markdown
from resolvers.validation import Problems

TITLE_MAX = 300
ARTICLE_BODY_MAX = 100_000
SLUG_MAX = 200
CATEGORY_NAME_MAX = 100
_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
# Control characters other than tab and line breaks (search snippets use two as markers).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class Unset(enum.Enum):
    UNSET = "unset"


UNSET = Unset.UNSET

# Which state changes are allowed: publish a draft or an archived article, archive any.
TRANSITIONS = {
    ArticleState.DRAFT: {ArticleState.PUBLISHED, ArticleState.ARCHIVED},
    ArticleState.PUBLISHED: {ArticleState.ARCHIVED},
    ArticleState.ARCHIVED: {ArticleState.PUBLISHED},
}


def slugify(text: str) -> str:
    words = re.findall(r"[a-z0-9]+", text.lower())
    return "-".join(words)[:SLUG_MAX].strip("-") or "article"


async def lock_knowledge_base(session: AsyncSession, organization_id: int) -> None:
    """Take the organization's knowledge-base lock (PostgreSQL; SQLite writers take turns)."""
    if is_postgres(session):
        from sqlalchemy import text

        await session.execute(
            text("SELECT pg_advisory_xact_lock(:class, (:org % 2147483648)::int)"),
            {"class": LockClass.KNOWLEDGE_BASE.value, "org": organization_id},
        )


def _require_staff(actor: Actor) -> None:
    if not actor.is_authenticated:
        raise UnauthenticatedError("authentication required")
    if not may_write_articles(actor):
        raise user_error(None, "only team members may write articles", UserErrorCode.FORBIDDEN)


def _article_text(
    problems: Problems, field: str, value: str, maximum: int, required: bool = True
) -> str:
    cleaned = problems.text(field, value, maximum=maximum, required=required)
    if _CONTROL.search(cleaned):
        problems.add(field, f"{field} must not contain control characters", UserErrorCode.INVALID)
    return cleaned


def _slug(problems: Problems, value: str) -> str:
    slug = value.strip().lower()
    if not _SLUG.match(slug) or len(slug) > SLUG_MAX:
        problems.add(
            "slug",
            f"slug must be lower-case words of a-z and 0-9 joined by '-', at most {SLUG_MAX}",
            UserErrorCode.INVALID,
        )
    return slug


async def _category(
    session: AsyncSession, actor: Actor, category_id: int | None, field: str = "categoryId"
) -> KnowledgeBaseCategory | None:
    if category_id is None:
        return None
    category = await session.get(KnowledgeBaseCategory, category_id)
    if category is None or category.organization_id != actor.organization_id:
        raise user_error(field, "category not found", UserErrorCode.NOT_FOUND)
    return category


async def _slug_taken(
    session: AsyncSession, org_id: int, slug: str, except_id: int | None = None
) -> bool:
    statement = select(Article.id).where(Article.organization_id == org_id, Article.slug == slug)
    if except_id is not None:
        statement = statement.where(Article.id != except_id)
    return (await session.scalar(statement)) is not None


def _record(
    session: AsyncSession,
    actor: Actor,
    article: Article,
    action: KnowledgeBaseAction,
    changed: Sequence[str],
    previous_title: str | None = None,
    previous_body: str | None = None,
) -> KnowledgeBaseChange:
    change = KnowledgeBaseChange(
        organization_id=article.organization_id,
        article_id=article.id,
        actor_id=actor.id,
        action=action,
        version=article.version,
        changed_fields=list(changed),
        title=article.title,
        body=article.body,
        previous_title=previous_title,
        previous_body=previous_body,
        state=article.state.value,
        visibility=article.visibility.value,
        created_at=article.updated_at,
    )
    session.add(change)
    queue_event(session, change)
    return change


def queue_event(session: AsyncSession, change: KnowledgeBaseChange) -> None:
    """Remembered until commit: the edge announces it then (subscriptions/knowledge_base)."""
    session.info.setdefault("kb_changes", []).append(change)


def take_knowledge_base_changes(session: AsyncSession) -> list[KnowledgeBaseChange]:
    """The changes the transaction wrote, forgotten by the session (publish after commit)."""
    found: list[KnowledgeBaseChange] = session.info.pop("kb_changes", [])
    return found


# --- articles --------------------------------------------------------------------------------


@dataclass(frozen=True)
class CreateArticleInput:
    title: str
    body: str = ""
    category_id: int | None = None
    visibility: ArticleVisibility = ArticleVisibility.PUBLIC
    tags: Sequence[str] = ()
    slug: str | None = None
    publish: bool = False


async def create_article(session: AsyncSession, actor: Actor, data: CreateArticleInput) -> Article:
    """A new article of the caller's organization: a draft, or published at once."""
    _require_staff(actor)
    assert actor.organization_id is not None
    problems = Problems()
    title = _article_text(problems, "title", data.title, TITLE_MAX)
    body = _article_text(problems, "body", data.body, ARTICLE_BODY_MAX, required=False)
    tags = problems.tags("tags", data.tags)
    slug = _slug(problems, data.slug) if data.slug is not None else slugify(title)
    if problems.errors:
        raise UserInputError(problems.errors)
    await lock_knowledge_base(session, actor.organization_id)
    category = await _category(session, actor, data.category_id)
    if await _slug_taken(session, actor.organization_id, slug):
        if data.slug is not None:
            raise user_error("slug", "another article has this slug", UserErrorCode.DUPLICATE)
        slug = await _free_slug(session, actor.organization_id, slug)
    now = utcnow()
    state = ArticleState.PUBLISHED if data.publish else ArticleState.DRAFT
    article = Article(
        organization_id=actor.organization_id,
        category_id=category.id if category else None,
        author_id=actor.id,
        title=title,
        slug=slug,
        body=body,
        body_html=render_markdown(body),
        state=state,
        visibility=data.visibility,
        tags=tags,
        version=1,
        created_at=now,
        updated_at=now,
        published_at=now if data.publish else None,
    )
    session.add(article)
    await session.flush()
    action = KnowledgeBaseAction.PUBLISHED if data.publish else KnowledgeBaseAction.CREATED
    _record(session, actor, article, action, ["title", "body"])
    await session.flush()
    return article


async def _free_slug(session: AsyncSession, org_id: int, slug: str) -> str:
    for n in range(2, 1000):
        candidate = f"{slug[: SLUG_MAX - 5]}-{n}"
        if not await _slug_taken(session, org_id, candidate):
            return candidate
    raise user_error("slug", "choose a slug: this title's are taken", UserErrorCode.DUPLICATE)


async def _article_for_write(
    session: AsyncSession, actor: Actor, article_id: int, expected_version: int | None
) -> Article:
    _require_staff(actor)
    assert actor.organization_id is not None
    await lock_knowledge_base(session, actor.organization_id)
    article = await session.scalar(
        readable_articles(actor)
        .where(Article.id == article_id, Article.organization_id == actor.organization_id)
        .with_for_update()
    )
    if article is None:
        raise user_error("id", "article not found", UserErrorCode.NOT_FOUND)
    if expected_version is not None and article.version != expected_version:
        raise user_error(
            "expectedVersion",
            f"the article changed meanwhile (now at version {article.version}); reload and retry",
            UserErrorCode.CONFLICT,
        )
    return article


@dataclass(frozen=True)
class UpdateArticleInput:
    id: int
    expected_version: int | None = None
    title: str | Unset = UNSET
    body: str | Unset = UNSET
    category_id: int | Unset | None = UNSET
    visibility: ArticleVisibility | Unset = UNSET
    tags: Sequence[str] | Unset = UNSET
    slug: str | Unset = UNSET


async def update_article(session: AsyncSession, actor: Actor, data: UpdateArticleInput) -> Article:
    """Change an article's text, category (move), visibility, tags or slug; one revision."""
    _require_staff(actor)
    problems = Problems()
    values: dict[str, Any] = {}
    if not isinstance(data.title, Unset):
        values["title"] = _article_text(problems, "title", data.title, TITLE_MAX)
    if not isinstance(data.body, Unset):
        values["body"] = _article_text(
            problems, "body", data.body, ARTICLE_BODY_MAX, required=False
        )
    if not isinstance(data.tags, Unset):
        values["tags"] = problems.tags("tags", data.tags)
    if not isinstance(data.slug, Unset):
        values["slug"] = _slug(problems, data.slug)
    if not isinstance(data.visibility, Unset):
        values["visibility"] = data.visibility
    if problems.errors:
        raise UserInputError(problems.errors)
    article = await _article_for_write(session, actor, data.id, data.expected_version)
    if not isinstance(data.category_id, Unset):
        category = await _category(session, actor, data.category_id)
        values["category_id"] = category.id if category else None
    if "slug" in values and await _slug_taken(
        session, article.organization_id, values["slug"], article.id
    ):
        raise user_error("slug", "another article has this slug", UserErrorCode.DUPLICATE)
    changed = [name for name, value in values.items() if getattr(article, name) != value]
    if not changed:
        return article
    previous_title, previous_body = article.title, article.body
    for name in changed:
        setattr(article, name, values[name])
    if "body" in changed:
        article.body_html = render_markdown(article.body)
    article.version += 1
    article.updated_at = utcnow()
    _record(
        session,
        actor,
        article,
        KnowledgeBaseAction.UPDATED,
        [_field_name(n) for n in changed],
        previous_title if "title" in changed else None,
        previous_body if "body" in changed else None,
    )
    await session.flush()
    return article


def _field_name(name: str) -> str:
    return {"category_id": "categoryId"}.get(name, name)


async def set_article_state(
    session: AsyncSession,
    actor: Actor,
    article_id: int,
    state: ArticleState,
    expected_version: int | None = None,
) -> Article:
    """Publish or archive an article (ILLEGAL_TRANSITION when it is already so)."""
    article = await _article_for_write(session, actor, article_id, expected_version)
    if state not in TRANSITIONS[article.state]:
        raise user_error(
            "id",
            f"a {article.state.value} article cannot become {state.value}",
            UserErrorCode.ILLEGAL_TRANSITION,
        )
    now = utcnow()
    article.state = state
    if state is ArticleState.PUBLISHED:
        article.published_at = now
    article.version += 1
    article.updated_at = now
    action = (
        KnowledgeBaseAction.PUBLISHED
        if state is ArticleState.PUBLISHED
        else KnowledgeBaseAction.ARCHIVED
    )
    _record(session, actor, article, action, ["state"])
    await session.flush()
    return article


# --- categories ------------------------------------------------------------------------------


@dataclass(frozen=True)
class CategoryInput:
    id: int | None = None
    name: str | Unset = UNSET
    slug: str | Unset = UNSET
    parent_id: int | Unset | None = UNSET
    position: int | Unset = UNSET


async def save_category(
    session: AsyncSession, actor: Actor, data: CategoryInput
) -> KnowledgeBaseCategory:
    """Create (no id) or change a category; admins only. Categories nest one level."""
    if not actor.is_authenticated:
        raise UnauthenticatedError("authentication required")
    if not may_manage_categories(actor):
        raise user_error(None, "only admins manage categories", UserErrorCode.FORBIDDEN)
    assert actor.organization_id is not None
    problems = Problems()
    name = None
    if not isinstance(data.name, Unset):
        name = problems.text("name", data.name, maximum=CATEGORY_NAME_MAX)
    elif data.id is None:
        problems.add("name", "name is required", UserErrorCode.REQUIRED)
    slug = None if isinstance(data.slug, Unset) else _slug(problems, data.slug)
    if not isinstance(data.position, Unset) and not 0 <= data.position <= 10_000:
        problems.add("position", "position must be between 0 and 10000", UserErrorCode.INVALID)
    if problems.errors:
        raise UserInputError(problems.errors)
    await lock_knowledge_base(session, actor.organization_id)
    before: tuple[Any, ...] = (None, None, None, None)
    if data.id is None:
        category = KnowledgeBaseCategory(
            organization_id=actor.organization_id, name=name, slug=slug or slugify(name or "")
        )
        action = KnowledgeBaseAction.CATEGORY_CREATED
    else:
        found = await _category(session, actor, data.id, "id")
        assert found is not None
        category = found
        before = (category.name, category.slug, category.parent_id, category.position)
        action = KnowledgeBaseAction.CATEGORY_UPDATED
        if name is not None:
            category.name = name
        if slug is not None:
            category.slug = slug
    if not isinstance(data.position, Unset):
        category.position = data.position
    if not isinstance(data.parent_id, Unset):
        await _check_parent(session, actor, category, data.parent_id)
        category.parent_id = data.parent_id
    taken = await session.scalar(
        select(KnowledgeBaseCategory.id).where(
            KnowledgeBaseCategory.organization_id == actor.organization_id,
            KnowledgeBaseCategory.slug == category.slug,
            KnowledgeBaseCategory.id != (category.id or 0),
        )
    )
    if taken is not None:
        raise user_error("slug", "another category has this slug", UserErrorCode.DUPLICATE)
    after = (category.name, category.slug, category.parent_id, category.position)
    changed = [
        name
        for name, old, new in zip(
            ("name", "slug", "parentId", "position"), before, after, strict=True
        )
        if old != new
    ]
    if data.id is not None and not changed:
        return category
    category.updated_at = utcnow()
    session.add(category)
    await session.flush()
    change = KnowledgeBaseChange(
        organization_id=category.organization_id,
        category_id=category.id,
        actor_id=actor.id,
        action=action,
        changed_fields=changed,
        title=category.name,
        created_at=category.updated_at,
    )
    session.add(change)
    queue_event(session, change)
    await session.flush()
    return category


async def _check_parent(
    session: AsyncSession, actor: Actor, category: KnowledgeBaseCategory, parent_id: int | None
) -> None:
    if parent_id is None:
        return
    parent = await _category(session, actor, parent_id, "parentId")
    assert parent is not None
    if parent.parent_id is not None or parent.id == category.id:
        raise user_error(
            "parentId", "categories nest one level: choose a top category", UserErrorCode.INVALID
        )
    if category.id is not None:
        children = await session.scalar(
            select(KnowledgeBaseCategory.id).where(KnowledgeBaseCategory.parent_id == category.id)
        )
        if children is not None:
            raise user_error(
                "parentId",
                "a category with subcategories cannot become one",
                UserErrorCode.INVALID,
            )


# --- deflection ------------------------------------------------------------------------------


async def record_suggestion_open(session: AsyncSession, actor: Actor, article_id: int) -> Article:
    """A reader opened a suggested article (anonymous readers and customers; staff opening
    suggestions are not deflection and are not recorded). The article must be readable."""
    article = await session.scalar(readable_articles(actor).where(Article.id == article_id))
    if article is None or article.state is not ArticleState.PUBLISHED:
        raise user_error("articleId", "article not found", UserErrorCode.NOT_FOUND)
    await get_knowledge_base(session, actor, article.organization_id)
    if actor.is_staff:
        return article
    # Readers may add rows here but not read them back (row security): the table is declared
    # without implicit RETURNING.
    session.add(
        SuggestionOpen(
            organization_id=article.organization_id,
            article_id=article.id,
            customer_id=actor.id if actor.is_customer else None,
            opened_at=utcnow(),
        )
    )
    await session.flush()
    return article
