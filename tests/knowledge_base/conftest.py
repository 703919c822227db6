"""A small knowledge-base world: two organizations with an admin, an agent, and a customer."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from models import Customer, Organization, TeamMember, TeamRole
from tests.conftest import Stack
from tests.factories import create_customer, create_member, create_organization


@dataclass
class People:
    org: Organization
    other_org: Organization
    admin: TeamMember
    agent: TeamMember
    other_agent: TeamMember
    customer: Customer


@pytest.fixture
async def people(db: Stack) -> People:
    async with db.sessionmaker() as session:
        org = await create_organization(session, name="Acme")
        other = await create_organization(session, name="Globex")
        admin = await create_member(session, org, TeamRole.ADMIN, name="Ada Admin")
        agent = await create_member(session, org, name="Alan Agent")
        other_agent = await create_member(session, other, name="Olga Other")
        customer = await create_customer(session, name="Cleo Customer")
        await session.commit()
    return People(org, other, admin, agent, other_agent, customer)
