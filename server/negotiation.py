"""Media types of the GraphQL-over-HTTP spec: `application/graphql-response+json` for clients
that ask for it, `application/json` (unchanged) for everyone else.

With `application/graphql-response+json` the status code tells what happened: a request that
never reached execution (unparsable, invalid, variables that do not coerce) is 400 and has no
`data` entry; once execution began it is 200, whatever the errors.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from starlette.responses import Response
from strawberry.http import GraphQLHTTPResponse
from strawberry.types.execution import PreExecutionError

GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"
CONTENT_TYPES = {
    GRAPHQL_RESPONSE: f"{GRAPHQL_RESPONSE}; charset=utf-8",
    JSON: JSON,
}


def _quality(parameters: Sequence[str]) -> float:
    for parameter in parameters:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "q":
            try:
                return max(0.0, min(1.0, float(value)))
            except ValueError:
                return 0.0
    return 1.0


def negotiate(accept: str | None) -> str | None:
    """The media type to answer with, or None when the client accepts neither.

    No Accept header, `*/*` and `application/*` get `application/json`, as old clients expect;
    `application/graphql-response+json` is chosen when the client prefers it (or ties).
    """
    if not accept or not accept.strip():
        return JSON
    scores = {GRAPHQL_RESPONSE: 0.0, JSON: 0.0}
    wildcard = 0.0
    for item in accept.split(","):
        media, *parameters = item.split(";")
        media = media.strip().lower()
        quality = _quality(parameters)
        if media in scores:
            scores[media] = max(scores[media], quality)
        elif media in ("*/*", "application/*"):
            wildcard = max(wildcard, quality)
    if scores[GRAPHQL_RESPONSE] > 0 and scores[GRAPHQL_RESPONSE] >= scores[JSON]:
        return GRAPHQL_RESPONSE
    if scores[JSON] > 0 or wildcard > 0:
        return JSON
    return None


def is_request_error(result: Any) -> bool:
    """True when execution never began: parse, validation or variable coercion errors (which
    carry no path), as opposed to field errors, even ones that null the whole `data`."""
    if isinstance(result, PreExecutionError):
        return True
    errors = getattr(result, "errors", None) or []
    return result.data is None and bool(errors) and all(e.path is None for e in errors)


def shape(media: str | None, result: Any, body: GraphQLHTTPResponse) -> GraphQLHTTPResponse:
    """The response body for the media type: no `data` entry on a request error."""
    if media == GRAPHQL_RESPONSE and is_request_error(result):
        body.pop("data", None)
    return body


def adapt(response: Response, media: str | None, request_error: bool) -> Response:
    """Give a JSON response the negotiated media type, and the status that goes with it."""
    if media != GRAPHQL_RESPONSE:
        return response
    content_type = response.headers.get("content-type", "")
    if not content_type.startswith(JSON):
        return response  # GraphiQL, streams, ...
    response.headers["content-type"] = CONTENT_TYPES[GRAPHQL_RESPONSE]
    if response.status_code == 200 and request_error:
        response.status_code = 400
    return response
