"""Error masking: expected errors keep their message and code, everything else becomes INTERNAL."""

from __future__ import annotations

import logging
import re

from graphql import GraphQLError
from sqlalchemy.exc import (
    DBAPIError,
    DisconnectionError,
    InterfaceError,
    OperationalError,
)
from sqlalchemy.exc import TimeoutError as SATimeoutError
from strawberry.exceptions import StrawberryInputCoercionError
from strawberry.extensions import MaskErrors

from resolvers.errors import DomainError

logger = logging.getLogger("helpdesk.errors")

INTERNAL_MESSAGE = "Internal server error."
UNAVAILABLE_MESSAGE = "The database is unavailable right now; try again shortly."


def is_database_unavailable(exc: BaseException) -> bool:
    """A failure to reach the database (down, restarting, network), not a bug of ours."""
    if isinstance(exc, DisconnectionError | SATimeoutError):
        return True
    if isinstance(exc, DBAPIError) and (
        exc.connection_invalidated or isinstance(exc, OperationalError | InterfaceError)
    ):
        return True
    return isinstance(exc, ConnectionError | OSError) and not isinstance(exc, FileNotFoundError)


def is_unexpected(error: GraphQLError) -> bool:
    """Validation, permission and domain errors are expected; any other exception is a bug."""
    original = error.original_error
    if original is None or isinstance(original, (DomainError, GraphQLError)):
        return False
    if is_database_unavailable(original):
        logger.warning("database unavailable at %s: %s", error.path, original)
    else:
        logger.error("unexpected error at %s", error.path, exc_info=original)
    return True


class MaskUnexpectedErrors(MaskErrors):
    """MaskErrors that keeps expected errors and tags masked ones with a code: UNAVAILABLE
    when the database cannot be reached, INTERNAL for anything else (details only in logs)."""

    def __init__(self) -> None:
        super().__init__(should_mask_error=is_unexpected, error_message=INTERNAL_MESSAGE)

    def _process_result(self, result: object) -> None:
        # The base class checks a runtime Protocol with isinstance, which is slow enough to
        # show in subscription fan-out profiles; a plain attribute read does the same job.
        errors = getattr(result, "errors", None)
        if errors:
            result.errors = self._process_errors(errors)  # type: ignore[attr-defined]

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        masked = super().anonymise_error(error)
        if error.original_error is not None and is_database_unavailable(error.original_error):
            masked.message = UNAVAILABLE_MESSAGE
            masked.extensions = {"code": "UNAVAILABLE"}
        else:
            masked.extensions = {"code": "INTERNAL"}
        return masked


# graphql-core puts suggestions in the middle of messages too ("... Did you mean 'title'?
# Found: {...}"); GraphQL names never contain "?".
SUGGESTION = re.compile(r" ?Did you mean [^?]*\?")


def finished_error(
    error: GraphQLError, *, request_id: str | None, suggestions: bool
) -> GraphQLError:
    """The outgoing form of an error, on every transport: a code for graphql-core's own errors
    (parse, validation, coercion), the request id, and no "Did you mean" hints when they are off
    (they spell out the schema to someone probing it with introspection disabled).

    A copy: validation errors are cached and shared by concurrent requests.
    """
    extensions = dict(error.extensions or {})
    extensions.setdefault("code", request_error_code(error))
    if request_id:
        extensions["requestId"] = request_id
    message = error.message if suggestions else SUGGESTION.sub("", error.message)
    return GraphQLError(
        message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        original_error=error.original_error,
        extensions=extensions,
    )


def request_error_code(error: GraphQLError) -> str:
    """The code for an error that carries none (Apollo's spellings)."""
    if error.message.startswith("Syntax Error"):
        return "GRAPHQL_PARSE_FAILED"
    if error.message.startswith("Variable '$") or isinstance(
        error.original_error, StrawberryInputCoercionError
    ):
        return "BAD_USER_INPUT"
    return "GRAPHQL_VALIDATION_FAILED"
