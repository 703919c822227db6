"""Domain exceptions raised by use cases. The schema layer maps them to GraphQL errors by `code`."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class DomainError(Exception):
    """An expected failure with a stable, client-facing code and a message safe to show."""

    code = "BAD_USER_INPUT"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    @property
    def extensions(self) -> dict[str, object]:
        # graphql-core copies `extensions` from the original exception onto the GraphQL error.
        return {"code": self.code}


class NotFoundError(DomainError):
    """The object does not exist, or the caller may not see it (indistinguishable on purpose)."""

    code = "NOT_FOUND"


class UnauthenticatedError(DomainError):
    code = "UNAUTHENTICATED"


class ForbiddenError(DomainError):
    code = "FORBIDDEN"


class BadUserInputError(DomainError):
    code = "BAD_USER_INPUT"


class UserErrorCode(enum.StrEnum):
    """Why an input was refused; part of the schema (`UserError.code`)."""

    REQUIRED = "required"
    INVALID = "invalid"
    TOO_LONG = "too_long"
    TOO_MANY = "too_many"
    NOT_FOUND = "not_found"
    FORBIDDEN = "forbidden"
    TOO_LARGE = "too_large"
    UNSUPPORTED_TYPE = "unsupported_type"
    ILLEGAL_TRANSITION = "illegal_transition"
    CONFLICT = "conflict"
    TICKET_CLOSED = "ticket_closed"
    IDEMPOTENCY_KEY_REUSED = "idempotency_key_reused"
    DUPLICATE = "duplicate"
    # A name or email already used (team names per organization, member emails anywhere).
    TAKEN = "taken"
    # The change would leave the organization without an active admin.
    LAST_ADMIN = "last_admin"
    # The team is archived: it takes no new tickets and cannot be assigned.
    ARCHIVED = "archived"


@dataclass(frozen=True)
class UserErrorData:
    """One expected failure of a mutation, returned in its payload's `userErrors`."""

    field: str | None
    message: str
    code: UserErrorCode


class UserInputError(Exception):
    """A mutation refused for expected reasons. The transaction is rolled back: nothing changed."""

    def __init__(self, errors: list[UserErrorData]) -> None:
        super().__init__("; ".join(e.message for e in errors))
        self.errors = errors


def user_error(field: str | None, message: str, code: UserErrorCode) -> UserInputError:
    """A UserInputError with a single error."""
    return UserInputError([UserErrorData(field=field, message=message, code=code)])


# Domain errors that are expected refusals of a mutation, and their userErrors code. The rest
# (UNAUTHENTICATED) stay top-level errors.
_REFUSALS = {
    "NOT_FOUND": UserErrorCode.NOT_FOUND,
    "FORBIDDEN": UserErrorCode.FORBIDDEN,
    "BAD_USER_INPUT": UserErrorCode.INVALID,
}


def as_user_error(exc: DomainError) -> UserErrorData | None:
    """A domain error raised while a mutation ran, as the userError that reports it (None for
    those that are not a refusal of this input: authentication)."""
    code = _REFUSALS.get(exc.code)
    return None if code is None else UserErrorData(field=exc.field, message=exc.message, code=code)
