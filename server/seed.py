"""Demo data: two organizations, their teams and staff, customers, tickets in every state, and a
small knowledge base (server/seed_knowledge_base.py).

Deterministic (a fixed random seed) and idempotent: seeding twice changes nothing. Tickets are
opened, triaged, assigned, answered and moved through the same use cases as the API, with the
clock set back, so their rows and history are the ones the API writes.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models import Customer, Organization, Priority, Status, Team, TeamMember, TeamRole
from models.base import clock_at
from permissions import Actor
from resolvers.history import take_pending_events
from resolvers.responses import AddResponseInput, add_response
from resolvers.ticket_write import (
    AssignTicketInput,
    CreateTicketInput,
    TicketChanges,
    UpdateTicketInput,
    assign_ticket,
    create_ticket,
    update_ticket,
)
from server.seed_knowledge_base import seed_knowledge_base

T = TypeVar("T")
D = TypeVar("D")

DEMO_SLUG = "acme"


@dataclass(frozen=True)
class DemoUser:
    subject: str
    email: str
    role: str
    organization: str | None


TITLES = [
    "Cannot log in after password reset",
    "Invoice shows the wrong VAT number",
    "Export to CSV times out",
    "Two-factor codes are rejected",
    "Charged twice for the annual plan",
    "Webhook deliveries stopped yesterday",
    "How do I add a second admin?",
    "Mobile app crashes on start",
    "Refund for cancelled subscription",
    "Search returns no results for old tickets",
    "API rate limit too low for our import",
    "Dark mode makes charts unreadable",
]
PUBLIC_REPLIES = [
    "Thanks for reaching out, we're looking into it.",
    "Could you send us a screenshot of the error?",
    "We have deployed a fix, can you try again?",
    "Here is what I see on my side.",
    "That worked, thank you!",
]
INTERNAL_NOTES = [
    "Internal: looks like the known SSO bug, linking to the engineering issue.",
    "Internal: customer is on the enterprise plan, handle with priority.",
    "Internal: refund approved by finance.",
]


async def seed_demo(session: AsyncSession) -> bool:
    """Insert the demo data unless it is there already. True when something was inserted."""
    if await session.scalar(select(Organization.id).where(Organization.slug == DEMO_SLUG)):
        return False
    rng = random.Random(1042)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)

    acme = Organization(name="Acme Support", slug=DEMO_SLUG)
    globex = Organization(name="Globex Help Desk", slug="globex")
    session.add_all([acme, globex])
    await session.flush()
    billing = Team(organization_id=acme.id, name="Billing")
    technical = Team(organization_id=acme.id, name="Technical")
    globex_support = Team(organization_id=globex.id, name="Support")
    session.add_all([billing, technical, globex_support])
    await session.flush()

    def member(org: Organization, handle: str, name: str, role: TeamRole, team: Team) -> TeamMember:
        return TeamMember(
            organization_id=org.id,
            user_id=f"demo|{handle}",
            email=f"{handle}@{org.slug}.example.com",
            name=name,
            role=role,
            team_id=team.id,
        )

    acme_staff = [
        member(acme, "alice", "Alice Admin", TeamRole.ADMIN, technical),
        member(acme, "bob", "Bob Agent", TeamRole.AGENT, technical),
        member(acme, "carol", "Carol Agent", TeamRole.AGENT, billing),
        member(acme, "dave", "Dave Agent", TeamRole.AGENT, billing),
    ]
    globex_staff = [
        member(globex, "gina", "Gina Admin", TeamRole.ADMIN, globex_support),
        member(globex, "hank", "Hank Agent", TeamRole.AGENT, globex_support),
    ]
    customers = [
        Customer(
            user_id=f"demo|{handle}",
            email=f"{handle}@customer.example.com",
            name=name,
            company=company,
        )
        for handle, name, company in [
            ("erin", "Erin Customer", "Initech"),
            ("frank", "Frank Customer", "Initech"),
            ("grace", "Grace Customer", "Hooli"),
            ("heidi", "Heidi Customer", None),
            ("ivan", "Ivan Customer", "Umbrella"),
            ("judy", "Judy Customer", "Vandelay"),
        ]
    ]
    session.add_all([*acme_staff, *globex_staff, *customers])
    await session.flush()

    statuses = list(Status)
    priorities = list(Priority)
    plan: list[tuple[Organization, list[TeamMember], list[Team]]] = [
        (acme, acme_staff, [billing, technical])
    ] * 40 + [(globex, globex_staff, [globex_support])] * 8
    for index, (org, staff, teams) in enumerate(plan):
        created = now - dt.timedelta(days=30) + dt.timedelta(hours=14 * index + rng.randint(0, 10))
        status = statuses[index % len(statuses)]
        customer = customers[index % len(customers)] if org is acme else customers[(index * 5) % 3]
        await _seed_ticket(
            session,
            rng,
            org=org,
            customer=customer,
            staff=staff,
            team=teams[index % len(teams)],
            status=status,
            priority=priorities[(index // len(statuses)) % len(priorities)],
            created=created,
            title=TITLES[index % len(TITLES)],
        )
    await seed_knowledge_base(session, acme_staff[0], acme_staff[1], now - dt.timedelta(days=40))
    # Nobody listens to the past: the events the writes queued are not published.
    take_pending_events(session)
    return True


def _actor(person: Customer | TeamMember) -> Actor:
    if isinstance(person, Customer):
        return Actor.customer(person.id, person.user_id)
    return Actor.team_member(
        person.id, person.user_id, person.organization_id, person.role, person.team_id
    )


class _Story:
    """One ticket's life, written through the API's own write functions at moments in the past
    (so the demo holds exactly the rows, history and events the API would have written)."""

    def __init__(self, session: AsyncSession, rng: random.Random, start: dt.datetime) -> None:
        self.session = session
        self.rng = rng
        self.clock = start

    def later(self, low: int, high: int) -> None:
        self.clock += dt.timedelta(minutes=self.rng.randint(low, high))

    async def run(
        self, use_case: Callable[[AsyncSession, Actor, D], Awaitable[T]], actor: Actor, data: D
    ) -> T:
        """One write by `actor`, at the story's current moment."""
        with clock_at(self.clock):
            return await use_case(self.session, actor, data)


async def _seed_ticket(
    session: AsyncSession,
    rng: random.Random,
    *,
    org: Organization,
    customer: Customer,
    staff: list[TeamMember],
    team: Team,
    status: Status,
    priority: Priority,
    created: dt.datetime,
    title: str,
) -> None:
    agent = _actor(staff[1 + rng.randrange(len(staff) - 1)])
    by_customer = _actor(customer)
    story = _Story(session, rng, created)
    opened = CreateTicketInput(
        title=title,
        description=f"{title}. Details from the customer.",
        priority=priority,
        organization_id=org.id,
    )
    ticket = await story.run(create_ticket, by_customer, opened)
    story.later(1, 30)
    triage = TicketChanges(
        team_id=team.id,
        tags=rng.sample(["billing", "login", "bug", "question", "api", "mobile", "vip"], k=2),
        metadata={
            "source": rng.choice(["email", "web", "api"]),
            "plan": rng.choice(["free", "pro", "enterprise"]),
        },
    )
    await story.run(update_ticket, agent, UpdateTicketInput(ticket.id, triage))
    if status is Status.OPEN:
        return
    story.later(5, 300)
    await story.run(assign_ticket, agent, AssignTicketInput(ticket.id, agent.id))
    replies = [
        (agent, rng.choice(PUBLIC_REPLIES[:3]), False, (1, 10)),
        (agent, rng.choice(INTERNAL_NOTES), True, (1, 60)),
        (by_customer, rng.choice(PUBLIC_REPLIES[3:]), False, (10, 600)),
    ]
    for author, body, internal, (low, high) in replies:
        story.later(low, high)
        await story.run(add_response, author, AddResponseInput(ticket.id, body, internal))
    path = {
        Status.IN_PROGRESS: [Status.IN_PROGRESS],
        Status.WAITING_ON_CUSTOMER: [Status.IN_PROGRESS, Status.WAITING_ON_CUSTOMER],
        Status.RESOLVED: [Status.IN_PROGRESS, Status.RESOLVED],
        Status.CLOSED: [Status.IN_PROGRESS, Status.RESOLVED, Status.CLOSED],
    }[status]
    for step in path:
        story.later(10, 600)
        await story.run(
            update_ticket, agent, UpdateTicketInput(ticket.id, TicketChanges(status=step))
        )


async def demo_users(session: AsyncSession) -> list[DemoUser]:
    """The seeded users worth a token: staff of both organizations and the customers."""
    users: list[DemoUser] = []
    rows = await session.execute(
        select(TeamMember.user_id, TeamMember.email, TeamMember.role, Organization.slug)
        .join(Organization, Organization.id == TeamMember.organization_id)
        .where(TeamMember.user_id.like("demo|%"))
        .order_by(Organization.id, TeamMember.id)
    )
    users += [
        DemoUser(subject=subject, email=email, role=role.value, organization=slug)
        for subject, email, role, slug in rows
        if subject is not None
    ]
    customers = await session.execute(
        select(Customer.user_id, Customer.email)
        .where(Customer.user_id.like("demo|%"))
        .order_by(Customer.id)
    )
    users += [
        DemoUser(subject=subject, email=email, role="customer", organization=None)
        for subject, email in customers
        if subject is not None
    ]
    return users
