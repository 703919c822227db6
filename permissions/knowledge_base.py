"""Who may read and write the knowledge base.

Every get, list, search, suggestion and count of articles goes through `article_visibility`,
and every read of an organization's knowledge base itself and of its categories through
`knowledge_base_visibility`. An organization's knowledge base is open to the readers of the
organization: anonymous callers and staff of other organizations read those of PUBLIC
organizations; customers those of the organizations they may open tickets with
(`permissions.people.customer_may_use`: PUBLIC ones, and INVITE_ONLY ones that invited them or
where they have tickets). There they see the published public articles; staff see everything
of their own organization.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, Select, and_, false, or_, select
from sqlalchemy.orm import InstrumentedAttribute

from models import (
    Article,
    ArticleState,
    ArticleVisibility,
    KnowledgeBaseCategory,
    KnowledgeBaseChange,
    Organization,
    OrganizationVisibility,
)
from permissions.actor import Actor
from permissions.people import customer_may_use


def public_article() -> ColumnElement[bool]:
    """Published and public: what any reader of the organization may read."""
    return and_(
        Article.state == ArticleState.PUBLISHED, Article.visibility == ArticleVisibility.PUBLIC
    )


def reader_organizations(actor: Actor) -> Select[int]:
    """The ids of the organizations whose public knowledge base the actor may read as a
    reader (staff's own organization aside)."""
    # Not correlated: the outer statement may itself read organizations.
    statement = select(Organization.id).correlate(None)
    if actor.is_customer:
        return statement.where(customer_may_use(actor.id))
    return statement.where(Organization.visibility == OrganizationVisibility.PUBLIC)


def knowledge_base_visibility(
    actor: Actor, organization_id: ColumnElement[int] | InstrumentedAttribute[int]
) -> ColumnElement[bool]:
    """Whether the actor may open the knowledge base of `organization_id` (a column): staff
    their own organization's, and every reader (staff of others included) what
    `reader_organizations` allows."""
    readable = organization_id.in_(reader_organizations(actor))
    if actor.is_staff:
        return or_(organization_id == actor.organization_id, readable)
    return readable


def article_visibility(actor: Actor) -> ColumnElement[bool]:
    """The WHERE clause that limits articles to those the actor may read."""
    readable = and_(public_article(), Article.organization_id.in_(reader_organizations(actor)))
    if actor.is_staff:
        return or_(Article.organization_id == actor.organization_id, readable)
    return readable


def category_visibility(actor: Actor) -> ColumnElement[bool]:
    """Categories: those of the knowledge bases the actor may open."""
    return knowledge_base_visibility(actor, KnowledgeBaseCategory.organization_id)


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
