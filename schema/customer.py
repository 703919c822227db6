"""The customer directory of staff, and bringing new customers in (createCustomer,
inviteCustomer)."""

from __future__ import annotations

from typing import Any

import strawberry

from permissions.fields import IsAuthenticated, IsStaff
from resolvers import customer as customers
from resolvers.pagination import PageRequest
from schema.context import Info
from schema.pagination import Connection, connection_from_page
from schema.people import Customer
from schema.user_errors import UserError, run_write


@strawberry.input(description="Which customers to list.")
class CustomerFilter:
    search: str | None = strawberry.field(
        default=None, description="Part of the name or email (case-insensitive)."
    )


@strawberry.input(description="A customer your organization knows, new or existing.")
class CustomerInput:
    email: str = strawberry.field(description="Their email; an existing customer's links them.")
    name: str = strawberry.field(description="Display name (kept for an existing customer).")
    company: str | None = None


@strawberry.type
class CustomerPayload:
    customer: Customer | None
    user_errors: list[UserError]


@strawberry.type
class CustomerQuery:
    @strawberry.field(
        description=(
            "Staff: the customers your organization knows (who have tickets with it, or whom "
            "it created or invited), oldest first."
        ),
        graphql_type=Connection[Customer] | None,
        permission_classes=[IsAuthenticated, IsStaff],
    )
    async def customers(
        self,
        info: Info,
        filter: CustomerFilter | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Any:
        ctx = info.context
        request = PageRequest(first=first, after=after)
        search = filter.search if filter else None
        page = await ctx.run(lambda s: customers.list_customers(s, ctx.actor, request, search))
        return connection_from_page(page)


@strawberry.type
class CustomerMutation:
    @strawberry.mutation(
        description=(
            "Staff: a customer to open tickets for (signs in later with a token whose verified "
            "email matches)."
        ),
        permission_classes=[IsAuthenticated],
    )
    async def create_customer(self, info: Info, input: CustomerInput) -> CustomerPayload | None:
        return await _add(info, input, invite=False)

    @strawberry.mutation(
        description=(
            "Staff: like createCustomer, and the customer may open tickets with your "
            "organization even when it is INVITE_ONLY."
        ),
        permission_classes=[IsAuthenticated],
    )
    async def invite_customer(self, info: Info, input: CustomerInput) -> CustomerPayload | None:
        return await _add(info, input, invite=True)


async def _add(info: Info, input: CustomerInput, *, invite: bool) -> CustomerPayload:
    ctx = info.context
    data = customers.NewCustomerInput(email=input.email, name=input.name, company=input.company)
    customer, errors = await run_write(
        info, lambda s: customers.add_customer(s, ctx.actor, data, invite=invite)
    )
    return CustomerPayload(customer=customer, user_errors=errors)  # type: ignore[arg-type]
