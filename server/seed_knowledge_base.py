"""The demo's small knowledge base: Acme's categories and articles, written through the same
use cases as the API (so they have their revisions): published public articles for the
customer portal, an internal one for agents, and a draft."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.ext.asyncio import AsyncSession

from models import ArticleVisibility, TeamMember
from models.base import clock_at
from permissions import Actor
from resolvers.knowledge_base_write import (
    CategoryInput,
    CreateArticleInput,
    UpdateArticleInput,
    create_article,
    save_category,
    take_knowledge_base_changes,
    update_article,
)

# (category slug, title, body, visibility, published)
ARTICLES = [
    (
        "account",
        "Reset your password",
        "Open the sign-in page and choose **Forgot password**. We email you a link that "
        "works for one hour.\n\nStill locked out? Reply to this article's ticket.",
        ArticleVisibility.PUBLIC,
        True,
    ),
    (
        "security",
        "Set up two-factor authentication",
        "1. Open *Profile → Security*.\n2. Scan the QR code with an authenticator app.\n"
        "3. Enter the six-digit code.\n\nLost your phone? Use a recovery code.",
        ArticleVisibility.PUBLIC,
        True,
    ),
    (
        "billing",
        "Request a refund",
        "Refunds are possible within **14 days** of a charge. Open a ticket with the invoice "
        "number; cancelled annual plans are refunded pro rata.",
        ArticleVisibility.PUBLIC,
        True,
    ),
    (
        "billing",
        "Download an invoice as PDF",
        "Every invoice is under *Billing → History*. Invoices show the VAT number on file.",
        ArticleVisibility.PUBLIC,
        True,
    ),
    (
        "account",
        "Export your data to CSV",
        "Exports of more than 10,000 tickets run in the background; we email a download link.",
        ArticleVisibility.PUBLIC,
        True,
    ),
    (
        "billing",
        "Refunds above 500 EUR need finance approval",
        "Internal: tag the ticket `refund-approval` and assign it to Billing before replying.",
        ArticleVisibility.INTERNAL,
        True,
    ),
    (
        "account",
        "Single sign-on with SAML (draft)",
        "Draft: enterprise plans connect an identity provider through SAML 2.0.",
        ArticleVisibility.PUBLIC,
        False,
    ),
]


async def seed_knowledge_base(
    session: AsyncSession, admin: TeamMember, agent: TeamMember, start: dt.datetime
) -> None:
    """Acme's knowledge base, written as its admin (categories) and an agent (articles)."""
    assert admin.organization_id is not None
    as_admin = Actor.team_member(admin.id, admin.user_id, admin.organization_id, admin.role)
    as_agent = Actor.team_member(agent.id, agent.user_id, agent.organization_id, agent.role)
    with clock_at(start):
        account = await save_category(
            session, as_admin, CategoryInput(name="Account", slug="account")
        )
        billing = await save_category(
            session, as_admin, CategoryInput(name="Billing", slug="billing", position=1)
        )
        security = await save_category(
            session,
            as_admin,
            CategoryInput(name="Security", slug="security", parent_id=account.id),
        )
    categories = {"account": account.id, "billing": billing.id, "security": security.id}
    for index, (slug, title, body, visibility, published) in enumerate(ARTICLES):
        with clock_at(start + dt.timedelta(hours=index + 1)):
            article = await create_article(
                session,
                as_agent,
                CreateArticleInput(
                    title=title,
                    body=body,
                    category_id=categories[slug],
                    visibility=visibility,
                    publish=published,
                ),
            )
    # One article with a second revision.
    with clock_at(start + dt.timedelta(days=2)):
        await update_article(
            session,
            as_admin,
            UpdateArticleInput(id=article.id, tags=["sso", "enterprise"]),
        )
    # Nobody listens to the past.
    take_knowledge_base_changes(session)
