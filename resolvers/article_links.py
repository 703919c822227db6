"""Knowledge-base articles linked in replies and notes (addResponse articleIds)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models import Article, ArticleLink, Ticket, TicketResponse
from permissions import Actor
from permissions.knowledge_base import is_public, may_link_articles, readable_articles
from resolvers.errors import UserErrorCode, user_error

LINKS_MAX = 10


async def articles_to_link(
    session: AsyncSession,
    actor: Actor,
    ticket: Ticket,
    article_ids: Sequence[int],
    *,
    internal: bool,
) -> list[Article]:
    """The articles a reply may link, in the order asked; refused as a whole otherwise.

    Staff only; each must be an article of the ticket's organization the caller may read;
    a public reply may only carry published public articles (its customer must be able to
    read them), an internal note any of them.
    """
    if not may_link_articles(actor):
        raise user_error(
            "articleIds", "only team members may link articles", UserErrorCode.FORBIDDEN
        )
    if len(article_ids) > LINKS_MAX:
        raise user_error("articleIds", f"link at most {LINKS_MAX} articles", UserErrorCode.TOO_MANY)
    rows = await session.scalars(
        readable_articles(actor).where(
            Article.id.in_(article_ids), Article.organization_id == ticket.organization_id
        )
    )
    found = {a.id: a for a in rows}
    if set(found) != set(article_ids):
        raise user_error("articleIds", "article not found", UserErrorCode.NOT_FOUND)
    articles = [found[i] for i in article_ids]
    if not internal and not all(is_public(a) for a in articles):
        raise user_error(
            "articleIds",
            "a public reply can only link published public articles (its customer could not "
            "read the others); link them in an internal note",
            UserErrorCode.INVALID,
        )
    return articles


async def link_articles(
    session: AsyncSession, ticket: Ticket, response: TicketResponse, articles: Sequence[Article]
) -> None:
    for position, article in enumerate(articles):
        session.add(
            ArticleLink(
                organization_id=ticket.organization_id,
                article_id=article.id,
                ticket_id=ticket.id,
                response_id=response.id,
                position=position,
                created_at=response.created_at,
            )
        )
    await session.flush()


async def linked_article_ids(session: AsyncSession, response_id: int) -> tuple[int, ...]:
    rows = await session.scalars(
        select(ArticleLink.article_id)
        .where(ArticleLink.response_id == response_id)
        .order_by(ArticleLink.position, ArticleLink.id)
    )
    return tuple(rows)
