"""Demo data: two organizations, their teams and staff, customers, and tickets in every state.

Deterministic (a fixed random seed) and idempotent: seeding twice changes nothing.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models import (
    Customer,
    HistoryAction,
    Organization,
    Priority,
    Status,
    Team,
    TeamMember,
    TeamRole,
    Ticket,
    TicketHistory,
    TicketResponse,
)
from models.enums import ActorType, AuthorType

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
    return True


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
    number = org.next_ticket_number
    org.next_ticket_number += 1
    agent = staff[1 + rng.randrange(len(staff) - 1)]
    worked = status is not Status.OPEN
    ticket = Ticket(
        organization_id=org.id,
        number=number,
        title=title,
        description=f"{title}. Details from the customer.",
        status=Status.OPEN,
        priority=priority,
        customer_id=customer.id,
        team_id=team.id,
        tags=rng.sample(["billing", "login", "bug", "question", "api", "mobile", "vip"], k=2),
        metadata_={
            "source": rng.choice(["email", "web", "api"]),
            "plan": rng.choice(["free", "pro", "enterprise"]),
        },
        created_at=created,
        updated_at=created,
    )
    session.add(ticket)
    await session.flush()
    history: list[TicketHistory] = []
    clock = created

    def record(
        action: HistoryAction,
        actor: Customer | TeamMember,
        field: str | None = None,
        old: str | None = None,
        new: str | None = None,
        internal: bool = False,
    ) -> None:
        history.append(
            TicketHistory(
                ticket_id=ticket.id,
                organization_id=org.id,
                actor_type=ActorType.CUSTOMER
                if isinstance(actor, Customer)
                else ActorType.TEAM_MEMBER,
                actor_id=actor.id,
                action=action,
                field_name=field,
                old_value=old,
                new_value=new,
                is_internal=internal,
                created_at=clock,
            )
        )

    record(HistoryAction.CREATED, customer)
    responses: list[TicketResponse] = []
    if worked:
        clock += dt.timedelta(minutes=rng.randint(5, 300))
        ticket.assignee_id = agent.id
        record(HistoryAction.ASSIGNED, agent, "assignee", None, str(agent.id))
        responses.append(
            TicketResponse(
                ticket_id=ticket.id,
                author_type=AuthorType.TEAM_MEMBER,
                author_id=agent.id,
                body=rng.choice(PUBLIC_REPLIES[:3]),
                created_at=clock,
            )
        )
        record(HistoryAction.RESPONSE_ADDED, agent)
        ticket.first_responded_at = clock
        clock += dt.timedelta(minutes=rng.randint(1, 60))
        responses.append(
            TicketResponse(
                ticket_id=ticket.id,
                author_type=AuthorType.TEAM_MEMBER,
                author_id=agent.id,
                body=rng.choice(INTERNAL_NOTES),
                is_internal=True,
                created_at=clock,
            )
        )
        record(HistoryAction.NOTE_ADDED, agent, internal=True)
        clock += dt.timedelta(minutes=rng.randint(10, 600))
        responses.append(
            TicketResponse(
                ticket_id=ticket.id,
                author_type=AuthorType.CUSTOMER,
                author_id=customer.id,
                body=rng.choice(PUBLIC_REPLIES[3:]),
                created_at=clock,
            )
        )
        record(HistoryAction.RESPONSE_ADDED, customer)
        path = {
            Status.IN_PROGRESS: [Status.IN_PROGRESS],
            Status.WAITING_ON_CUSTOMER: [Status.IN_PROGRESS, Status.WAITING_ON_CUSTOMER],
            Status.RESOLVED: [Status.IN_PROGRESS, Status.RESOLVED],
            Status.CLOSED: [Status.IN_PROGRESS, Status.RESOLVED, Status.CLOSED],
        }[status]
        previous = Status.OPEN
        for step in path:
            clock += dt.timedelta(minutes=rng.randint(10, 600))
            record(HistoryAction.FIELD_CHANGED, agent, "status", previous.value, step.value)
            if step is Status.RESOLVED:
                ticket.resolved_at = clock
            if step is Status.CLOSED:
                ticket.closed_at = clock
            previous = step
        ticket.status = status
    ticket.updated_at = clock
    session.add_all(responses)
    session.add_all(history)


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
    ]
    customers = await session.execute(
        select(Customer.user_id, Customer.email)
        .where(Customer.user_id.like("demo|%"))
        .order_by(Customer.id)
    )
    users += [
        DemoUser(subject=subject, email=email, role="customer", organization=None)
        for subject, email in customers
    ]
    return users
