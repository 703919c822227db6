"""The knowledge base: categories and articles per organization, every change to them (the
revision log, which doubles as the knowledge-base event log), the articles linked in replies,
and the suggestions that were opened (deflection)."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, BigIntPK, JSONType, str_enum, utcnow


class ArticleState(enum.StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    ARCHIVED = "archived"


class ArticleVisibility(enum.StrEnum):
    # Customers and anonymous readers (once published).
    PUBLIC = "public"
    # Staff of the organization only.
    INTERNAL = "internal"


class KnowledgeBaseAction(enum.StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    PUBLISHED = "published"
    ARCHIVED = "archived"
    CATEGORY_CREATED = "category_created"
    CATEGORY_UPDATED = "category_updated"


class KnowledgeBaseCategory(Base):
    __tablename__ = "kb_categories"
    __table_args__ = (
        UniqueConstraint("organization_id", "slug"),
        UniqueConstraint("id", "organization_id"),
        # A subcategory's parent is in the same organization.
        ForeignKeyConstraint(
            ["parent_id", "organization_id"], ["kb_categories.id", "kb_categories.organization_id"]
        ),
        CheckConstraint("length(name) > 0", name="name_not_empty"),
        CheckConstraint("parent_id IS NULL OR parent_id <> id", name="not_own_parent"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    # Categories nest one level: a parent never has a parent itself (checked on write).
    parent_id: Mapped[int | None]
    name: Mapped[str] = mapped_column(String(100))
    slug: Mapped[str] = mapped_column(String(100))
    position: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Article(Base):
    __tablename__ = "kb_articles"
    __table_args__ = (
        UniqueConstraint("organization_id", "slug"),
        UniqueConstraint("id", "organization_id"),
        ForeignKeyConstraint(
            ["category_id", "organization_id"],
            ["kb_categories.id", "kb_categories.organization_id"],
        ),
        ForeignKeyConstraint(
            ["author_id", "organization_id"], ["team_members.id", "team_members.organization_id"]
        ),
        CheckConstraint("length(title) > 0", name="title_not_empty"),
        CheckConstraint("version >= 1", name="version_positive"),
        CheckConstraint(
            "(state = 'draft') = (published_at IS NULL) OR state = 'archived'",
            name="published_at_when_published",
        ),
        # What readers list: an organization's articles by state and recency.
        Index("ix_kb_articles_org_state_updated", "organization_id", "state", "updated_at"),
        Index("ix_kb_articles_category", "category_id"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    category_id: Mapped[int | None]
    author_id: Mapped[int]
    title: Mapped[str] = mapped_column(String(300))
    slug: Mapped[str] = mapped_column(String(200))
    # Markdown as written; `body_html` is its rendering, sanitized, made on every write.
    body: Mapped[str] = mapped_column(Text, default="")
    body_html: Mapped[str] = mapped_column(Text, default="")
    state: Mapped[ArticleState] = mapped_column(
        str_enum(ArticleState, "article_state"), default=ArticleState.DRAFT
    )
    visibility: Mapped[ArticleVisibility] = mapped_column(
        str_enum(ArticleVisibility, "article_visibility"), default=ArticleVisibility.PUBLIC
    )
    tags: Mapped[list[str]] = mapped_column(JSONType, default=list)
    version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    published_at: Mapped[dt.datetime | None]


class KnowledgeBaseChange(Base):
    """One change to an article (a revision: who, when, the text before and after) or to a
    category. Ids are taken under the organization's knowledge-base lock, so within an
    organization they are committed in id order: the log is the resumable event stream."""

    __tablename__ = "kb_changes"
    __table_args__ = (
        Index("ix_kb_changes_article", "article_id", "id"),
        Index("ix_kb_changes_org_id", "organization_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    article_id: Mapped[int | None] = mapped_column(ForeignKey("kb_articles.id", ondelete="CASCADE"))
    category_id: Mapped[int | None] = mapped_column(
        ForeignKey("kb_categories.id", ondelete="CASCADE")
    )
    actor_id: Mapped[int | None]
    action: Mapped[KnowledgeBaseAction] = mapped_column(str_enum(KnowledgeBaseAction, "kb_action"))
    # The article's version after the change (null for categories).
    version: Mapped[int | None]
    changed_fields: Mapped[list[str]] = mapped_column(JSONType, default=list)
    title: Mapped[str | None] = mapped_column(String(300))
    body: Mapped[str | None] = mapped_column(Text)
    previous_title: Mapped[str | None] = mapped_column(String(300))
    previous_body: Mapped[str | None] = mapped_column(Text)
    state: Mapped[str | None] = mapped_column(String(32))
    visibility: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ArticleLink(Base):
    """An article sent in a reply (or noted in an internal note)."""

    __tablename__ = "kb_article_links"
    __table_args__ = (
        UniqueConstraint("response_id", "article_id"),
        ForeignKeyConstraint(
            ["article_id", "organization_id"], ["kb_articles.id", "kb_articles.organization_id"]
        ),
        ForeignKeyConstraint(
            ["ticket_id", "organization_id"],
            ["tickets.id", "tickets.organization_id"],
            ondelete="CASCADE",
        ),
        Index("ix_kb_article_links_article", "article_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    article_id: Mapped[int]
    ticket_id: Mapped[int]
    response_id: Mapped[int] = mapped_column(ForeignKey("ticket_responses.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class SuggestionOpen(Base):
    """A suggested article that a reader opened from the ticket form. Deflected unless the
    same customer opened a ticket with the organization within the deflection window after."""

    __tablename__ = "kb_suggestion_opens"
    __table_args__ = (
        ForeignKeyConstraint(
            ["article_id", "organization_id"],
            ["kb_articles.id", "kb_articles.organization_id"],
            ondelete="CASCADE",
        ),
        Index("ix_kb_suggestion_opens_org_opened", "organization_id", "opened_at"),
        # Readers insert rows they may not read back (row security): no RETURNING.
        {"implicit_returning": False},
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    article_id: Mapped[int]
    # Null for anonymous readers (their later tickets cannot be told apart).
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    opened_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
