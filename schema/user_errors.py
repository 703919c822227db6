"""How every mutation reports an expected refusal: a `userErrors` entry in its (nullable) payload.

The rule (README, "Errors"): FORBIDDEN, NOT_FOUND of an input id (missing, another tenant's or
customer's, or a global id of another type), validation, ILLEGAL_TRANSITION, CONFLICT and
IDEMPOTENCY_KEY_REUSED are userErrors with `field` naming the input field; only
UNAUTHENTICATED, documents and values that do not parse or coerce, RATE_LIMITED,
QUERY_TOO_COMPLEX, INTERNAL and UNAVAILABLE are top-level errors. Mutations of every domain
use `run_write` and `input_id` so that they follow it without thinking about it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession
from strawberry import relay

from resolvers.errors import DomainError, UserErrorData, UserInputError, as_user_error
from resolvers.errors import UserErrorCode as DomainUserErrorCode
from schema.context import Info
from schema.ids import decode_id

T = TypeVar("T")

# What a global id of the wrong type (or one that decodes to no row id) becomes: a row id that
# no table holds, so the use case reports it as NOT_FOUND at the point where it checks that
# input, after it checked who may do what.
NO_ROW = 0

UserErrorCode = strawberry.enum(
    DomainUserErrorCode, name="UserErrorCode", description="Why an input was refused."
)


@strawberry.type(description="An expected failure of a mutation: nothing was changed.")
class UserError:
    field: str | None = strawberry.field(
        description=(
            "The input field at fault (e.g. `assigneeId`); null when the whole request is "
            "refused (this role may not use the mutation)."
        )
    )
    message: str = strawberry.field(description="What is wrong, for people.")
    code: UserErrorCode = strawberry.field(description="What is wrong, for programs.")  # type: ignore[valid-type]

    @classmethod
    def of(cls, error: UserErrorData) -> UserError:
        return cls(field=error.field, message=error.message, code=error.code)

    @classmethod
    def all_of(cls, errors: Sequence[UserErrorData]) -> list[UserError]:
        return [cls.of(error) for error in errors]


async def run_write(
    info: Info, use_case: Callable[[AsyncSession], Awaitable[T]]
) -> tuple[T | None, list[UserError]]:
    """Run a write in its own transaction; every expected refusal comes back as userErrors
    (and the transaction is rolled back: nothing changed)."""
    try:
        return await info.context.write(use_case), []
    except UserInputError as exc:
        return None, UserError.all_of(exc.errors)
    except DomainError as exc:
        # A safety net: use cases raise UserInputError, but a NOT_FOUND or FORBIDDEN raised
        # by a shared read helper is a refusal of this input all the same.
        refusal = as_user_error(exc)
        if refusal is None:
            raise
        return None, [UserError.of(refusal)]


def input_id(node_id: relay.GlobalID, type_name: str) -> int:
    """The row id in a mutation's input id; NO_ROW for a global id of another type."""
    try:
        return decode_id(node_id, type_name)
    except DomainError:
        return NO_ROW


def optional_input_id(node_id: relay.GlobalID | None, type_name: str) -> int | None:
    return None if node_id is None else input_id(node_id, type_name)


def refused(field: str | None, message: str, code: DomainUserErrorCode) -> list[UserError]:
    """A single userError, for refusals found before the use case runs."""
    return [UserError(field=field, message=message, code=code)]


def given(value: Any, unset: Any) -> Any:
    """`unset` for an input field the client did not send, else its value."""
    return unset if value is strawberry.UNSET else value
