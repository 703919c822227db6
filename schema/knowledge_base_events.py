"""`knowledgeBaseEvents`: the organization's article and category changes, live, for staff."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncGenerator

import strawberry

from models import KnowledgeBaseChange as ChangeModel
from permissions.fields import IsAuthenticated, IsStaff
from resolvers import knowledge_base as kb
from resolvers.errors import BadUserInputError
from schema.context import Context, Info
from schema.knowledge_base import Article, Category, KnowledgeBaseAction
from subscriptions.knowledge_base import next_wake, notifier


@strawberry.type(description="A committed change to your organization's knowledge base.")
class KnowledgeBaseEvent:
    cursor: str = strawberry.field(description="Pass as `after` to resume after this event.")
    action: KnowledgeBaseAction  # type: ignore[valid-type]
    occurred_at: dt.datetime
    changed_fields: list[str]
    row: strawberry.Private[ChangeModel]

    @strawberry.field(description="The article as it is now (null for category changes).")
    async def article(self, info: Info) -> Article | None:
        if self.row.article_id is None:
            return None
        return await info.context.loaders.visible_article.load(self.row.article_id)  # type: ignore[return-value]

    @strawberry.field(description="The category, for category changes.")
    async def category(self, info: Info) -> Category | None:
        if self.row.category_id is None:
            return None
        return await info.context.loaders.kb_category.load(self.row.category_id)  # type: ignore[return-value]


def _cursor(after: str | None) -> int | None:
    if after is None:
        return None
    if not after.isdigit() or len(after) > 18:
        raise BadUserInputError("after must be the cursor of an event you received")
    return int(after)


@strawberry.type
class KnowledgeBaseSubscription:
    @strawberry.subscription(
        description=(
            "Staff: your organization's knowledge-base changes (articles created, updated, "
            "published, archived; categories) as they are committed. With `after`, first "
            "every change since that cursor, then live, without gaps or duplicates."
        ),
        permission_classes=[IsAuthenticated, IsStaff],
    )
    async def knowledge_base_events(
        self, info: Info, after: str | None = None
    ) -> AsyncGenerator[KnowledgeBaseEvent, None]:
        ctx = info.context
        actor = ctx.actor
        assert actor.organization_id is not None
        resume = _cursor(after)
        if resume is not None and resume > 0:
            exists = await ctx.run(lambda s: kb.change_exists(s, actor, resume))
            if not exists:
                raise BadUserInputError("after must be the cursor of an event you received")
        last = (
            resume if resume is not None else await ctx.run(lambda s: kb.latest_change_id(s, actor))
        )
        await ctx.close()
        with notifier.listening(actor.organization_id) as wake:
            ctx.live()
            while True:
                wake.clear()
                changes = await _changes_after(ctx, last)
                for change in changes:
                    last = change.id
                    if ctx.access_revoked:
                        return
                    scope = ctx.new_scope()
                    with ctx.event_scope(scope):
                        yield KnowledgeBaseEvent(
                            cursor=str(change.id),
                            action=change.action,
                            occurred_at=change.created_at,
                            changed_fields=list(change.changed_fields),
                            row=change,
                        )
                    await scope.close()
                if len(changes) < kb.CHANGES_PAGE:
                    await next_wake(wake)


async def _changes_after(ctx: Context, last: int) -> list[ChangeModel]:
    scope = ctx.new_scope()
    try:
        return await scope.run(lambda s: kb.changes_after(s, ctx.actor, last))
    finally:
        await scope.close()
