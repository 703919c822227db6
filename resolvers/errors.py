"""Domain exceptions raised by use cases. The schema layer maps them to GraphQL errors by `code`."""

from __future__ import annotations


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
