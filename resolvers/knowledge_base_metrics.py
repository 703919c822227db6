"""Deflection: how often articles were linked in replies and opened from suggestions.

A suggestion opened by a customer counts as a deflection unless the same customer opened a
ticket with the organization within DEFLECTION_WINDOW after it. Anonymous readers cannot be
followed to a ticket they might open after signing in, so their opens count as deflections;
the report gives them separately so the rate can be read either way.
"""

from __future__ import annotations

import bisect
import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from models import ArticleLink, SuggestionOpen, Ticket
from permissions import Actor
from permissions.ticket import may_read_metrics
from resolvers.errors import ForbiddenError

DEFLECTION_WINDOW = dt.timedelta(hours=24)
TOP_ARTICLES = 20


@dataclass
class ArticleUse:
    article_id: int
    links: int = 0
    suggestion_opens: int = 0
    deflections: int = 0


@dataclass
class KnowledgeBaseMetrics:
    links: int = 0
    suggestion_opens: int = 0
    anonymous_opens: int = 0
    deflections: int = 0
    articles: list[ArticleUse] = field(default_factory=list)


async def knowledge_base_metrics(
    session: AsyncSession, actor: Actor, since: dt.datetime | None
) -> KnowledgeBaseMetrics:
    """Admins: links and suggestion opens of the organization's articles since `since`."""
    if not may_read_metrics(actor):
        raise ForbiddenError("only organization admins may read metrics")
    org = actor.organization_id
    uses: dict[int, ArticleUse] = {}

    def use(article_id: int) -> ArticleUse:
        return uses.setdefault(article_id, ArticleUse(article_id))

    links = select(ArticleLink.article_id, func.count()).where(ArticleLink.organization_id == org)
    if since is not None:
        links = links.where(ArticleLink.created_at >= since)
    for article_id, n in await session.execute(links.group_by(ArticleLink.article_id)):
        use(article_id).links = int(n)

    opens = select(SuggestionOpen.article_id, SuggestionOpen.customer_id, SuggestionOpen.opened_at)
    opens = opens.where(SuggestionOpen.organization_id == org)
    if since is not None:
        opens = opens.where(SuggestionOpen.opened_at >= since)
    opened = (await session.execute(opens)).all()
    customers = sorted({c for _, c, _ in opened if c is not None})
    created: dict[int, list[dt.datetime]] = {c: [] for c in customers}
    if customers:
        tickets = select(Ticket.customer_id, Ticket.created_at).where(
            Ticket.organization_id == org, Ticket.customer_id.in_(customers)
        )
        if since is not None:
            tickets = tickets.where(Ticket.created_at >= since)
        for ticket_customer, created_at in await session.execute(tickets):
            created[ticket_customer].append(created_at)
        for times in created.values():
            times.sort()
    report = KnowledgeBaseMetrics()
    for article_id, customer_id, opened_at in opened:
        entry = use(article_id)
        entry.suggestion_opens += 1
        report.suggestion_opens += 1
        if customer_id is None:
            report.anonymous_opens += 1
            deflected = True
        else:
            times = created[customer_id]
            at = bisect.bisect_left(times, opened_at)
            deflected = at == len(times) or times[at] > opened_at + DEFLECTION_WINDOW
        if deflected:
            entry.deflections += 1
            report.deflections += 1
    report.links = sum(u.links for u in uses.values())
    ranked = sorted(uses.values(), key=lambda u: (-(u.links + u.suggestion_opens), u.article_id))
    report.articles = ranked[:TOP_ARTICLES]
    return report
