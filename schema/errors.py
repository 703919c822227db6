"""Error masking: expected errors keep their message and code, everything else becomes INTERNAL."""

from __future__ import annotations

import logging

from graphql import GraphQLError
from strawberry.exceptions import StrawberryInputCoercionError
from strawberry.extensions import MaskErrors

from resolvers.errors import DomainError

logger = logging.getLogger("helpdesk.errors")

INTERNAL_MESSAGE = "Internal server error."


def is_unexpected(error: GraphQLError) -> bool:
    """Validation, permission and domain errors are expected; any other exception is a bug."""
    original = error.original_error
    if original is None or isinstance(original, (DomainError, GraphQLError)):
        return False
    logger.error("unexpected error at %s", error.path, exc_info=original)
    return True


class MaskUnexpectedErrors(MaskErrors):
    """MaskErrors that keeps expected errors and tags masked ones with code INTERNAL."""

    def __init__(self) -> None:
        super().__init__(should_mask_error=is_unexpected, error_message=INTERNAL_MESSAGE)

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        masked = super().anonymise_error(error)
        masked.extensions = {"code": "INTERNAL"}
        return masked


def ensure_error_code(error: GraphQLError) -> None:
    """Give graphql-core's own errors (parse, validation, coercion) a code like ours."""
    if not (error.extensions or {}).get("code"):
        error.extensions = {**(error.extensions or {}), "code": request_error_code(error)}


def request_error_code(error: GraphQLError) -> str:
    """The code for an error that carries none (Apollo's spellings)."""
    if error.message.startswith("Syntax Error"):
        return "GRAPHQL_PARSE_FAILED"
    if error.message.startswith("Variable '$") or isinstance(
        error.original_error, StrawberryInputCoercionError
    ):
        return "BAD_USER_INPUT"
    return "GRAPHQL_VALIDATION_FAILED"
