"""Who may read and write the knowledge base.

Every get, list, search, suggestion and count of articles goes through `article_visibility`:
anonymous readers and customers see the published public articles of every organization
(organizations have no visibility flag yet, so every organization is public); staff see
everything of their own organization, and what any reader sees of the others.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, Select, and_, false, or_, select

from models import Article, ArticleState, ArticleVisibility, KnowledgeBaseChange
from permissions.actor import Actor


def public_article() -> ColumnElement[bool]:
    """Published and public: what anyone may read."""
    return and_(
        Article.state == ArticleState.PUBLISHED, Article.visibility == ArticleVisibility.PUBLIC
    )


def article_visibility(actor: Actor) -> ColumnElement[bool]:
    """The WHERE clause that limits articles to those the actor may read."""
    if actor.is_staff:
        return or_(Article.organization_id == actor.organization_id, public_article())
    return public_article()


def readable_articles(actor: Actor) -> Select[Article]:
    """SELECT of the articles the actor may read."""
    return select(Article).where(article_visibility(actor))


def is_public(article: Article) -> bool:
    """Whether a customer may be sent (and read) this article."""
    return (
        article.state is ArticleState.PUBLISHED and article.visibility is ArticleVisibility.PUBLIC
    )


def may_write_articles(actor: Actor, organization_id: int | None = None) -> bool:
    """Staff write their own organization's articles (drafts, internal ones included)."""
    if not actor.is_staff:
        return False
    return organization_id is None or organization_id == actor.organization_id


def may_manage_categories(actor: Actor) -> bool:
    """Admins create and change their organization's categories."""
    return actor.is_admin


def may_read_article_history(actor: Actor, article: Article) -> bool:
    """An article's revisions are for staff of its organization."""
    return actor.is_staff and article.organization_id == actor.organization_id


def change_visibility(actor: Actor) -> ColumnElement[bool]:
    """The knowledge-base change log (revisions, events): staff of the organization only."""
    if actor.is_staff:
        return KnowledgeBaseChange.organization_id == actor.organization_id
    return false()


def may_link_articles(actor: Actor) -> bool:
    """Staff link articles in replies and notes; customers cannot."""
    return actor.is_staff
