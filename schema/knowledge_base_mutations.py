"""Knowledge-base mutations: staff write articles, admins manage categories, readers record
the suggestions they opened."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry import relay

from models.knowledge_base import ArticleState as ArticleStateModel
from models.knowledge_base import ArticleVisibility as ArticleVisibilityModel
from permissions.fields import IsAuthenticated
from resolvers import knowledge_base_write as writes
from resolvers.knowledge_base_write import UNSET as NOT_GIVEN
from schema.context import Info
from schema.knowledge_base import Article, ArticleVisibility, Category
from schema.user_errors import UserError, given, input_id, optional_input_id, run_write


def _given(value: Any) -> Any:
    return given(value, NOT_GIVEN)


def _optional_id(value: Any, type_name: str) -> Any:
    if value is strawberry.UNSET:
        return NOT_GIVEN
    return optional_input_id(value, type_name)


@strawberry.input(description="Write a new article (staff). A draft unless publish is true.")
class CreateArticleInput:
    title: str = strawberry.field(description="At most 300 characters.")
    body: str = strawberry.field(default="", description="Markdown; raw HTML is shown as text.")
    category_id: relay.GlobalID | None = None
    visibility: ArticleVisibility = ArticleVisibilityModel.PUBLIC  # type: ignore[valid-type]
    tags: list[str] | None = None
    slug: str | None = strawberry.field(default=None, description="Default: from the title.")
    publish: bool = strawberry.field(default=False, description="Publish at once.")


@strawberry.input(description="Change an article (staff). Only the fields you send change.")
class UpdateArticleInput:
    id: relay.GlobalID
    expected_version: int | None = strawberry.field(
        default=None, description="Refuse with CONFLICT unless the article is at this version."
    )
    title: str | None = strawberry.UNSET
    body: str | None = strawberry.UNSET
    category_id: relay.GlobalID | None = strawberry.field(
        default=strawberry.UNSET, description="Move it; null: no category."
    )
    visibility: ArticleVisibility | None = strawberry.UNSET  # type: ignore[valid-type]
    tags: list[str] | None = strawberry.field(
        default=strawberry.UNSET, description="Replaces all tags."
    )
    slug: str | None = strawberry.UNSET


@strawberry.input(description="Publish or archive an article (staff).")
class ArticleStateInput:
    id: relay.GlobalID
    expected_version: int | None = None


@strawberry.type
class ArticlePayload:
    article: Article | None
    user_errors: list[UserError]


@strawberry.input(description="Create (no id) or change a category (admins).")
class CategoryInput:
    name: str | None = strawberry.UNSET
    slug: str | None = strawberry.UNSET
    parent_id: relay.GlobalID | None = strawberry.field(
        default=strawberry.UNSET, description="A top category; null: make it a top category."
    )
    position: int | None = strawberry.UNSET


@strawberry.input(description="Change a category (admins).")
class UpdateCategoryInput(CategoryInput):
    id: relay.GlobalID


@strawberry.type
class CategoryPayload:
    category: Category | None
    user_errors: list[UserError]


@strawberry.input(description="A reader opened a suggested article.")
class SuggestionOpenedInput:
    article_id: relay.GlobalID


def _null_refused(**values: Any) -> list[UserError]:
    from resolvers.errors import UserErrorCode

    return [
        UserError(field=name, message=f"{name} cannot be null", code=UserErrorCode.REQUIRED)
        for name, value in values.items()
        if value is None
    ]


@strawberry.type
class KnowledgeBaseMutation:
    @strawberry.mutation(
        description="Staff: write an article of your organization.",
        permission_classes=[IsAuthenticated],
    )
    async def create_article(self, info: Info, input: CreateArticleInput) -> ArticlePayload | None:
        actor = info.context.actor
        data = writes.CreateArticleInput(
            title=input.title,
            body=input.body,
            category_id=optional_input_id(input.category_id, "KnowledgeBaseCategory"),
            visibility=input.visibility,
            tags=input.tags or (),
            slug=input.slug,
            publish=input.publish,
        )
        article, errors = await run_write(info, lambda s: writes.create_article(s, actor, data))
        return ArticlePayload(article=article, user_errors=errors)  # type: ignore[arg-type]

    @strawberry.mutation(
        description=(
            "Staff: change an article's title, body, category (move), visibility, tags or "
            "slug. Every change keeps a revision."
        ),
        permission_classes=[IsAuthenticated],
    )
    async def update_article(self, info: Info, input: UpdateArticleInput) -> ArticlePayload | None:
        actor = info.context.actor
        nulls = _null_refused(
            title=input.title,
            body=input.body,
            visibility=input.visibility,
            tags=input.tags,
            slug=input.slug,
        )
        if nulls:
            return ArticlePayload(article=None, user_errors=nulls)
        data = writes.UpdateArticleInput(
            id=input_id(input.id, "Article"),
            expected_version=input.expected_version,
            title=_given(input.title),
            body=_given(input.body),
            category_id=_optional_id(input.category_id, "KnowledgeBaseCategory"),
            visibility=_given(input.visibility),
            tags=_given(input.tags),
            slug=_given(input.slug),
        )
        article, errors = await run_write(info, lambda s: writes.update_article(s, actor, data))
        return ArticlePayload(article=article, user_errors=errors)  # type: ignore[arg-type]

    @strawberry.mutation(
        description="Staff: publish a draft or archived article.",
        permission_classes=[IsAuthenticated],
    )
    async def publish_article(self, info: Info, input: ArticleStateInput) -> ArticlePayload | None:
        return await _set_state(info, input, ArticleStateModel.PUBLISHED)

    @strawberry.mutation(
        description="Staff: archive an article (readers no longer see it).",
        permission_classes=[IsAuthenticated],
    )
    async def archive_article(self, info: Info, input: ArticleStateInput) -> ArticlePayload | None:
        return await _set_state(info, input, ArticleStateModel.ARCHIVED)

    @strawberry.mutation(
        description="Admins: create a knowledge-base category.",
        permission_classes=[IsAuthenticated],
    )
    async def create_knowledge_base_category(
        self, info: Info, input: CategoryInput
    ) -> CategoryPayload | None:
        return await _save_category(info, None, input)

    @strawberry.mutation(
        description="Admins: rename, reorder or re-nest a knowledge-base category.",
        permission_classes=[IsAuthenticated],
    )
    async def update_knowledge_base_category(
        self, info: Info, input: UpdateCategoryInput
    ) -> CategoryPayload | None:
        return await _save_category(info, input_id(input.id, "KnowledgeBaseCategory"), input)

    @strawberry.mutation(
        description=(
            "Record that a reader (anonymous or a customer) opened a suggested article: the "
            "deflection report counts it unless the same customer opens a ticket soon after."
        )
    )
    async def record_article_suggestion_opened(
        self, info: Info, input: SuggestionOpenedInput
    ) -> ArticlePayload | None:
        actor = info.context.actor
        article_id = input_id(input.article_id, "Article")
        article, errors = await run_write(
            info, lambda s: writes.record_suggestion_open(s, actor, article_id)
        )
        return ArticlePayload(article=article, user_errors=errors)  # type: ignore[arg-type]


async def _set_state(
    info: Info, input: ArticleStateInput, state: ArticleStateModel
) -> ArticlePayload:
    actor = info.context.actor
    article_id = input_id(input.id, "Article")
    article, errors = await run_write(
        info,
        lambda s: writes.set_article_state(s, actor, article_id, state, input.expected_version),
    )
    return ArticlePayload(article=article, user_errors=errors)  # type: ignore[arg-type]


async def _save_category(
    info: Info, category_id: int | None, input: CategoryInput
) -> CategoryPayload:
    nulls = _null_refused(name=input.name, slug=input.slug, position=input.position)
    if nulls:
        return CategoryPayload(category=None, user_errors=nulls)
    actor = info.context.actor
    data = writes.CategoryInput(
        id=category_id,
        name=_given(input.name),
        slug=_given(input.slug),
        parent_id=_optional_id(input.parent_id, "KnowledgeBaseCategory"),
        position=_given(input.position),
    )
    category, errors = await run_write(info, lambda s: writes.save_category(s, actor, data))
    return CategoryPayload(category=category, user_errors=errors)  # type: ignore[arg-type]
