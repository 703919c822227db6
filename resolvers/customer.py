"""The customer directory of an organization's staff, and bringing new customers in.

`createCustomer` makes a customer staff can open tickets for; `inviteCustomer` also lets them
open tickets with an INVITE_ONLY organization. Either way the customer signs in later with a
token whose verified email matches (resolvers/onboarding.py). Customers belong to no
organization: an email that is already a customer's links that customer instead of making a
second one.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import false, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from models import Customer, OrganizationCustomer
from models.base import utcnow
from permissions import Actor
from permissions.admin import may_manage_customers
from permissions.people import readable_customers
from resolvers.admin import NAME_MAX, email
from resolvers.audit import record_admin_action
from resolvers.errors import UnauthenticatedError, UserErrorCode, UserInputError, user_error
from resolvers.pagination import Page, PageRequest, SortKey, paginate
from resolvers.validation import Problems

SEARCH_MAX = 200
COMPANY_MAX = 200
BY_NAME_ID = SortKey("customers_id", Customer.id, Customer.id, False, lambda row: row.id)


async def list_customers(
    session: AsyncSession, actor: Actor, request: PageRequest, search: str | None = None
) -> Page[Customer]:
    """Staff: the customers known to their organization (tickets, created, invited), oldest
    first, optionally those whose name or email contains `search`."""
    statement = readable_customers(actor) if actor.is_staff else select(Customer).where(false())
    if search:
        needle = search.strip().lower()[:SEARCH_MAX]
        pattern = "%" + needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        statement = statement.where(
            or_(
                func.lower(Customer.name).like(pattern, escape="\\"),
                func.lower(Customer.email).like(pattern, escape="\\"),
            )
        )
    return await paginate(session, statement, BY_NAME_ID, request)


@dataclass(frozen=True)
class NewCustomerInput:
    email: str
    name: str
    company: str | None = None


async def add_customer(
    session: AsyncSession, actor: Actor, data: NewCustomerInput, *, invite: bool
) -> Customer:
    """Staff: a customer their organization knows (created or invited), new or existing."""
    if not actor.is_authenticated:
        raise UnauthenticatedError("authentication required")
    what = "invite" if invite else "create"
    if not may_manage_customers(actor):
        raise user_error(None, f"only team members may {what} customers", UserErrorCode.FORBIDDEN)
    assert actor.organization_id is not None
    problems = Problems()
    address = email(problems, "email", data.email)
    name = problems.text("name", data.name, maximum=NAME_MAX)
    company = (
        problems.text("company", data.company, maximum=COMPANY_MAX, required=False) or None
        if data.company is not None
        else None
    )
    if problems.errors:
        raise UserInputError(problems.errors)
    customer = await session.scalar(select(Customer).where(func.lower(Customer.email) == address))
    if customer is None:
        now = utcnow()
        customer = Customer(
            user_id=None, email=address, name=name, company=company, created_at=now, updated_at=now
        )
        session.add(customer)
        await session.flush()
    link = await session.get(OrganizationCustomer, (actor.organization_id, customer.id))
    if link is None:
        link = OrganizationCustomer(
            organization_id=actor.organization_id,
            customer_id=customer.id,
            created_by_member_id=actor.id,
            created_at=utcnow(),
        )
        session.add(link)
    if invite and link.invited_at is None:
        link.invited_at = utcnow()
    await session.flush()
    await record_admin_action(
        session,
        actor,
        actor.organization_id,
        f"customer.{'invited' if invite else 'created'}",
        "customer",
        customer.id,
        {"email": address},
    )
    return customer
