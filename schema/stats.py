"""Dashboard numbers: `ticketStats` for everyone, `metrics` for admins."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

import strawberry

from models import Team as TeamModel
from models import TeamMember as TeamMemberModel
from permissions.fields import IsAuthenticated
from resolvers import knowledge_base_metrics as kb_metrics
from resolvers import stats
from resolvers.knowledge_base_metrics import knowledge_base_metrics
from schema.context import Info
from schema.enums import TicketPriority, TicketStatus
from schema.knowledge_base import Article
from schema.people import Team, TeamMember
from schema.ticket import TicketFilter


@strawberry.type(description="How many tickets have a status.")
class StatusCount:
    status: TicketStatus
    count: int


@strawberry.type(description="How many tickets have a priority.")
class PriorityCount:
    priority: TicketPriority
    count: int


@strawberry.type(description="Counts over the tickets you can see.")
class TicketStats:
    total: int = strawberry.field(description="All tickets.")
    open: int = strawberry.field(description="Status OPEN.")
    in_progress: int = strawberry.field(description="Status IN_PROGRESS.")
    waiting_on_customer: int = strawberry.field(description="Status WAITING_ON_CUSTOMER.")
    high_priority: int = strawberry.field(description="HIGH or URGENT, and not resolved or closed.")
    unassigned: int = strawberry.field(description="Nobody assigned, and not resolved or closed.")
    by_status: list[StatusCount] = strawberry.field(description="Every status with its count.")
    by_priority: list[PriorityCount] = strawberry.field(
        description="Every priority with its count."
    )

    @classmethod
    def of(cls, data: stats.TicketStats) -> TicketStats:
        return cls(
            total=data.total,
            open=data.by_status[TicketStatus.OPEN],
            in_progress=data.by_status[TicketStatus.IN_PROGRESS],
            waiting_on_customer=data.by_status[TicketStatus.WAITING_ON_CUSTOMER],
            high_priority=data.high_priority,
            unassigned=data.unassigned,
            by_status=[StatusCount(status=s, count=n) for s, n in data.by_status.items()],
            by_priority=[PriorityCount(priority=p, count=n) for p, n in data.by_priority.items()],
        )


@strawberry.enum(description="The window of a metrics report.")
class MetricsPeriod(enum.Enum):
    LAST_24_HOURS = "LAST_24_HOURS"
    LAST_7_DAYS = "LAST_7_DAYS"
    LAST_30_DAYS = "LAST_30_DAYS"
    LAST_90_DAYS = "LAST_90_DAYS"
    ALL_TIME = "ALL_TIME"


@strawberry.type(description="A distribution of durations, in seconds.")
class DurationStats:
    count: int = strawberry.field(description="How many tickets it covers.")
    median_seconds: float | None = strawberry.field(description="The median; null with no data.")
    p90_seconds: float | None = strawberry.field(description="The 90th percentile.")


@strawberry.type(description="Tickets routed to a team (null team: not routed).")
class TeamCount:
    team_id: strawberry.Private[int | None]
    count: int

    @strawberry.field(graphql_type=Team | None)
    async def team(self, info: Info) -> TeamModel | None:
        return None if self.team_id is None else await info.context.loaders.team.load(self.team_id)


@strawberry.type(description="Tickets assigned to a member (null assignee: unassigned).")
class AssigneeCount:
    assignee_id: strawberry.Private[int | None]
    count: int

    @strawberry.field(graphql_type=TeamMember | None)
    async def assignee(self, info: Info) -> TeamMemberModel | None:
        if self.assignee_id is None:
            return None
        return await info.context.loaders.team_member.load(self.assignee_id)


@strawberry.type(description="How one article was used in the period.")
class ArticleUse:
    article_id: strawberry.Private[int]
    links: int = strawberry.field(description="Times linked in replies and notes.")
    suggestion_opens: int = strawberry.field(description="Times opened from a suggestion.")
    deflections: int = strawberry.field(description="Opens not followed by a ticket.")

    @strawberry.field(graphql_type=Article | None, description="Null if since deleted.")
    async def article(self, info: Info) -> Any:
        return await info.context.loaders.visible_article.load(self.article_id)


@strawberry.type(description="Knowledge-base use of an organization in a period.")
class KnowledgeBaseMetrics:
    article_links: int = strawberry.field(description="Articles linked in replies and notes.")
    suggestion_opens: int = strawberry.field(description="Suggested articles opened.")
    anonymous_opens: int = strawberry.field(
        description="Of those, by anonymous readers (counted as deflections: not followable)."
    )
    deflections: int = strawberry.field(description="Opens not followed by a ticket.")
    deflection_rate: float | None = strawberry.field(
        description="deflections / suggestionOpens; null without opens."
    )
    articles: list[ArticleUse] = strawberry.field(
        description="The most used articles (links + opens), at most 20."
    )

    @classmethod
    def of(cls, data: kb_metrics.KnowledgeBaseMetrics) -> KnowledgeBaseMetrics:
        return cls(
            article_links=data.links,
            suggestion_opens=data.suggestion_opens,
            anonymous_opens=data.anonymous_opens,
            deflections=data.deflections,
            deflection_rate=data.deflections / data.suggestion_opens
            if data.suggestion_opens
            else None,
            articles=[
                ArticleUse(
                    article_id=u.article_id,
                    links=u.links,
                    suggestion_opens=u.suggestion_opens,
                    deflections=u.deflections,
                )
                for u in data.articles
            ],
        )


@strawberry.type(description="An admin's report over tickets opened in a period.")
class Metrics:
    since: dt.datetime | None = strawberry.field(description="Start (null for all time).")
    until: dt.datetime = strawberry.field(description="End: when the report was made.")
    tickets_created: int = strawberry.field(description="Tickets opened in the period.")
    by_status: list[StatusCount] = strawberry.field(description="Their current statuses.")
    by_team: list[TeamCount] = strawberry.field(description="Per team, largest first.")
    by_assignee: list[AssigneeCount] = strawberry.field(description="Per assignee, largest first.")
    first_response_time: DurationStats = strawberry.field(
        description="From opening to the first public staff reply."
    )
    resolution_time: DurationStats = strawberry.field(description="From opening to resolution.")

    @strawberry.field(
        description=(
            "Knowledge-base use in the period: articles linked in replies, suggestions "
            "opened, and deflections (opens not followed by a ticket of the same customer "
            "within 24 hours)."
        )
    )
    async def knowledge_base(self, info: Info) -> KnowledgeBaseMetrics:
        ctx = info.context
        since = self.since
        data = await ctx.run(lambda s: knowledge_base_metrics(s, ctx.actor, since))
        return KnowledgeBaseMetrics.of(data)


def _durations(data: stats.Durations) -> DurationStats:
    return DurationStats(
        count=data.count, median_seconds=data.median_seconds, p90_seconds=data.p90_seconds
    )


@strawberry.type
class StatsQuery:
    @strawberry.field(
        description="Counts for dashboards over the tickets you can see (optionally filtered).",
        permission_classes=[IsAuthenticated],
    )
    async def ticket_stats(
        self, info: Info, filter: TicketFilter | None = None
    ) -> TicketStats | None:
        ctx = info.context
        filters = filter.to_filter() if filter else None
        return TicketStats.of(await ctx.run(lambda s: stats.ticket_stats(s, ctx.actor, filters)))

    @strawberry.field(
        description="Admins: volumes and response/resolution times of your organization.",
        permission_classes=[IsAuthenticated],
    )
    async def metrics(
        self, info: Info, period: MetricsPeriod = MetricsPeriod.LAST_30_DAYS
    ) -> Metrics | None:
        ctx = info.context
        data = await ctx.run(
            lambda s: stats.metrics(s, ctx.actor, stats.MetricsPeriod[period.value])
        )
        return Metrics(
            since=data.since,
            until=data.until,
            tickets_created=data.created,
            by_status=[StatusCount(status=s, count=n) for s, n in data.by_status.items()],
            by_team=[TeamCount(team_id=t, count=n) for t, n in data.by_team],
            by_assignee=[AssigneeCount(assignee_id=a, count=n) for a, n in data.by_assignee],
            first_response_time=_durations(data.first_response),
            resolution_time=_durations(data.resolution),
        )
