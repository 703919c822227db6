"""Strawberry's ASGI view with our authentication, scopes, close codes and JSON errors."""

from __future__ import annotations

import asyncio
import functools
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import strawberry
from cross_web import HTTPException
from graphql import (
    GraphQLError,
    GraphQLFormattedError,
    OperationDefinitionNode,
    OperationType,
    parse,
)
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http import GraphQLHTTPResponse
from strawberry.types import ExecutionResult

from permissions import Actor
from resolvers.attachment_transfer import AttachmentFiles
from resolvers.errors import DomainError, UnauthenticatedError
from schema.context import Context, request_id
from schema.errors import UNAVAILABLE_MESSAGE, is_database_unavailable
from server import negotiation
from server.access import (
    CLOSE_RATE_LIMITED,
    Directory,
    LiveSockets,
    SocketAccess,
    close_websocket,
)
from server.anonymous import AnonymousAccess, AuthenticationRequired
from server.auth import AuthenticationError, TokenVerifier, bearer_token, verified_email
from server.compiled_lane import CompiledLane
from server.fanout import Member, SharedFanout
from server.persisted import PersistedQueries, PersistedQueryError
from server.ratelimit import RateLimiter
from server.settings import Settings
from server.web import graphiql_page
from server.websocket import LegacyWSHandler, SendError, SocketRefusedError, TransportWSHandler
from subscriptions.events import TicketEventEnvelope
from subscriptions.hub import EventHub

logger = logging.getLogger("helpdesk.view")


@dataclass
class Resources:
    """What the lifespan opens and closes: one of each per process."""

    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    hub: EventHub
    write_gate: asyncio.Lock | None
    rate_limiter: RateLimiter
    directory: Directory
    sockets: LiveSockets
    persisted_queries: PersistedQueries
    # Groups of live subscribers that share one execution (None: SHARED_FANOUT=false).
    fanout: SharedFanout | None = None
    # "enforced", "bypassed", "not_applicable" or "unknown" (see check_row_security).
    row_security: str = "unknown"
    # Storage, signer and limits of attachments; the public base URL of signed links.
    attachment_files: AttachmentFiles | None = None
    public_url: str | None = None
    # Organization events (subscriptions/organization.py): admin changes, for staff.
    organization_hub: EventHub | None = None
    knowledge_base_language: str = "english"
    # The compiled read path's asyncpg pool (None: COMPILED_QUERIES=false, or SQLite).
    compiled_pool: Any = None
    # Compiled writes in the lane (COMPILED_WRITES, with the compiled pool).
    compiled_writes: bool = False

    async def publish(self, events: Sequence[Any]) -> None:
        """Committed envelopes to their hubs: ticket events, organization events."""
        tickets = [e for e in events if isinstance(e, TicketEventEnvelope)]
        if tickets:
            await self.hub.publish(tickets)
        others = [e for e in events if not isinstance(e, TicketEventEnvelope)]
        if others and self.organization_hub is not None:
            await self.organization_hub.publish(others)


@dataclass
class Runtime:
    """Filled by the lifespan; read by the GraphQL view and the probes."""

    resources: Resources | None = None

    def get(self) -> Resources:
        if self.resources is None:
            raise RuntimeError("the application lifespan has not started")
        return self.resources


class RequestTooLargeError(Exception):
    """The request body is larger than MAX_BODY_BYTES."""


def error_response(
    message: str,
    code: str,
    status_code: int,
    headers: Mapping[str, str] | None = None,
    **extensions: object,
) -> Response:
    """A GraphQL-shaped error body for failures that happen before execution."""
    extensions = {"code": code, **extensions}
    if rid := request_id.get():
        extensions["requestId"] = rid
    body = {"errors": [{"message": message, "extensions": extensions}]}
    return Response(
        orjson.dumps(body), status_code=status_code, media_type="application/json", headers=headers
    )


class HelpdeskGraphQL(GraphQL[Context, None]):
    graphql_transport_ws_handler_class = TransportWSHandler
    graphql_ws_handler_class = LegacyWSHandler

    def __init__(
        self, runtime: Runtime, verifier: TokenVerifier, settings: Settings, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self._runtime = runtime
        self._verifier = verifier
        self._settings = settings
        assert isinstance(self.schema, strawberry.Schema)
        self._anonymous = AnonymousAccess(self.schema)
        # Repeats of compiled queries skip the pipeline (server/compiled_lane.py).
        self._lane = (
            None
            if settings.tracing or not settings.compiled_queries
            else CompiledLane(self.schema._schema, settings.max_query_cost)
        )

    async def authenticate(self, context: Context, authorization: str | None) -> Actor:
        """The Actor for an Authorization value; anonymous without one."""
        token = bearer_token(authorization)
        if token is None:
            return Actor.anonymous()
        claims = await self._verifier.verify(token)
        context.token_expires_at = float(claims["exp"])
        directory = self._runtime.get().directory
        try:
            try:
                return await directory.actor(claims["sub"])
            except UnauthenticatedError:
                # Nobody has this subject yet: a first sign-in may claim an invitation.
                email = verified_email(self._settings, claims)
                if email is None or not await directory.claim(
                    claims["sub"],
                    email,
                    name=claims.get("name") if isinstance(claims.get("name"), str) else None,
                    self_signup=self._settings.customer_self_signup,
                ):
                    raise
                return await directory.actor(claims["sub"])
        except DomainError as exc:
            status_code = 403 if exc.code == "FORBIDDEN" else 401
            raise AuthenticationError(exc.message, code=exc.code, status_code=status_code) from None

    def new_context(self, request: Request | WebSocket | None) -> Context:
        resources = self._runtime.get()
        return Context(
            sessionmaker=resources.sessionmaker,
            actor=Actor.anonymous(),
            request=request,
            publish=resources.publish,
            write_gate=resources.write_gate,
            services=resources,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await self._websocket(WebSocket(scope, receive=receive, send=send))
            return
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        request = Request(scope, receive=self._limited(scope, receive))
        media = request.state.media_type = negotiation.negotiate(request.headers.get("accept"))
        if media is None and not self.should_render_graphql_ide(request):
            response = error_response(
                "Accept application/graphql-response+json or application/json",
                "NOT_ACCEPTABLE",
                406,
            )
            await response(scope, receive, send)
            return
        context = self.new_context(request)
        try:
            try:
                context.actor = await self.authenticate(
                    context, request.headers.get("authorization")
                )
                limited = await self._rate_limited(request, context.actor)
                context.rate_limit = await self._runtime.get().rate_limiter.state(
                    _rate_key(context.actor, f"ip:{_client_address(request)}")
                )
                response = (
                    limited
                    or await self._in_lane(request, context)
                    or await self.run(request, context=context)
                )
            except PersistedQueryError as exc:
                response = error_response(exc.message, exc.code, exc.status_code)
            except RequestTooLargeError:
                response = error_response(
                    f"the request body is larger than {self._settings.max_body_bytes} bytes",
                    "BAD_REQUEST",
                    413,
                )
            except AuthenticationRequired as exc:
                # No credentials at all: a challenge without an error code (RFC 6750 §3.1).
                response = error_response(
                    str(exc),
                    "UNAUTHENTICATED",
                    401,
                    {"WWW-Authenticate": 'Bearer realm="helpdesk"'},
                )
            except AuthenticationError as exc:
                challenge = f'Bearer error="invalid_token", error_description="{exc.message}"'
                headers = {"WWW-Authenticate": challenge}
                response = error_response(
                    exc.message,
                    exc.code,
                    exc.status_code,
                    headers if exc.status_code == 401 else None,
                )
            except HTTPException as exc:
                response = error_response(exc.reason, "BAD_REQUEST", exc.status_code)
            except RecursionError:
                response = error_response("the request is nested too deeply", "BAD_REQUEST", 400)
            except Exception as exc:
                if not is_database_unavailable(exc):
                    raise
                logger.warning("database unavailable: %s", exc)
                response = error_response(UNAVAILABLE_MESSAGE, "UNAVAILABLE", 503)
        finally:
            await context.close()
        if context.rate_limit is not None:
            response.headers.update(context.rate_limit.headers())
        request_error = getattr(request.state, "request_error", False)
        response = negotiation.adapt(response, media, request_error)
        await response(scope, receive, send)

    async def _in_lane(self, request: Request, context: Context) -> Response | None:
        if self._lane is None:
            return None
        persisted = self._runtime.get().persisted_queries
        return await self._lane.answer(request, context, persisted)

    def should_render_graphql_ide(self, request: Any) -> bool:
        # Only for a browser's page load: a GET that carries a persisted query (no `query`
        # parameter) with `Accept: */*` is an API call, not a visit.
        params = request.query_params
        return (
            request.method == "GET"
            and params.get("query") is None
            and params.get("extensions") is None
            and "text/html" in request.headers.get("accept", "")
        )

    async def render_graphql_ide(self, request: Request) -> Response:
        # Ours, with packaged assets: Strawberry's page loads GraphiQL from a public CDN.
        return graphiql_page()

    async def parse_http_body(self, request: Any) -> Any:
        try:
            return await super().parse_http_body(request)
        except UnicodeDecodeError as exc:
            raise HTTPException(400, "Unable to parse request body as JSON (not UTF-8)") from exc
        except (AttributeError, TypeError) as exc:
            # A JSON body that is not an object (null, a number, a string).
            raise HTTPException(400, "the request body must be a JSON object") from exc

    async def execute_single(self, *args: Any, **kwargs: Any) -> Any:
        data = kwargs.get("request_data")
        if data is not None and not all(
            isinstance(value, str | None) for value in (data.query, data.operation_name)
        ):
            raise HTTPException(400, "query and operationName must be strings")
        if data is not None:
            # Persisted queries resolve to their text before anything else looks at it.
            document = await self._runtime.get().persisted_queries.resolve(
                data.query, data.extensions
            )
            if document is not None:
                data.query = document.query
                kwargs["context"].document_id = document.id
        if data is not None and _is_subscription(data.query, data.operation_name):
            raise HTTPException(
                400, "subscriptions are served over WebSocket (graphql-transport-ws) on /graphql"
            )
        context = kwargs.get("context")
        if data is not None and isinstance(context, Context) and not context.actor.is_authenticated:
            self._anonymous.check(data.query, data.operation_name)
        return await super().execute_single(*args, **kwargs)

    def _limited(self, scope: Scope, receive: Receive) -> Receive:
        """`receive` that refuses bodies over MAX_BODY_BYTES (declared or actually sent)."""
        limit = self._settings.max_body_bytes
        declared = dict(scope.get("headers") or []).get(b"content-length", b"")
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            if declared.isdigit() and int(declared) > limit:
                raise RequestTooLargeError
            message = await receive()
            received += len(message.get("body", b""))
            if received > limit:
                raise RequestTooLargeError
            return message

        return limited_receive

    async def _spend(self, request: Request | WebSocket, actor: Actor) -> int | None:
        """Spend one request of the caller's minute budget (the user's, or the address's when
        anonymous; HTTP and WebSocket operations share it): the seconds to wait when over it."""
        retry_after = await self._runtime.get().rate_limiter.hit(
            _rate_key(actor, f"ip:{_client_address(request)}")
        )
        return None if retry_after is None else max(1, math.ceil(retry_after))

    def _rate_message(self, seconds: int) -> str:
        return (
            f"rate limit exceeded: at most {self._settings.rate_limit_per_minute} requests a "
            f"minute; retry in {seconds} s"
        )

    async def _rate_limited(self, request: Request, actor: Actor) -> Response | None:
        """A 429 once the caller is over its minute budget."""
        seconds = await self._spend(request, actor)
        if seconds is None:
            return None
        return error_response(
            self._rate_message(seconds),
            "RATE_LIMITED",
            429,
            {"Retry-After": str(seconds)},
            retryAfter=seconds,
        )

    async def _websocket(self, websocket: WebSocket) -> None:
        """One connection: its context lives as long as the socket; nothing outlives it."""
        context = self.new_context(websocket)
        try:
            await self.run(websocket, context=context)
        finally:
            if context.access is not None:
                self._runtime.get().sockets.discard(context.access)
            await context.close()

    async def on_ws_connect(self, context: Context) -> None:
        params = context.connection_params or {}
        if isinstance(params.get("headers"), dict):
            # Some clients nest their HTTP-style headers: {"headers": {"Authorization": ...}}.
            params = params["headers"]
        authorization = params.get("Authorization") or params.get("authorization")
        if authorization is None and isinstance(params.get("token"), str):
            authorization = f"Bearer {params['token']}"
        if not isinstance(authorization, str | None):
            raise ConnectionRejectionError({"message": "Authorization must be a string"})
        try:
            context.actor = await self.authenticate(context, authorization)
        except AuthenticationError as exc:
            raise ConnectionRejectionError({"message": exc.message, "code": exc.code}) from None
        assert context.request is not None
        seconds = await self._spend(context.request, context.actor)
        if seconds is not None:
            raise SocketRefusedError(CLOSE_RATE_LIMITED, self._rate_message(seconds))
        if context.actor.is_authenticated:
            context.access = SocketAccess(
                actor=context.actor,
                close=close_websocket(context.request),
                on_revoke=context.revoke_access,
                expires_at=context.token_expires_at,
            )
            self._runtime.get().sockets.add(context.access)

    def join_shared(
        self, context: Context, query: Any, variables: Any, operation_name: Any
    ) -> tuple[SharedFanout, Any, Member] | None:
        """A place in the group of a shareable live subscription (server/fanout.py), or None
        when it runs on its own (the reference path)."""
        fanout = self._runtime.get().fanout
        if fanout is None or not isinstance(operation_name, str | None):
            return None
        key = fanout.key(query, operation_name, variables, context.actor)
        if key is None:
            return None

        def start() -> tuple[str, Any, str | None, Context]:
            # The group runs as the subscriber who started it: every member sees the same.
            leader = self.new_context(None)
            leader.actor = context.actor
            return query, variables, operation_name, leader

        return fanout, key, fanout.join(key, start)

    async def admit_operation(self, context: Context, send_error: SendError) -> bool:
        """Before each operation on a socket: the user must still have the socket's rights
        (else the socket is closed with 4403), and the operation spends their rate budget
        like an HTTP request (over it, an `error` with RATE_LIMITED; the socket stays)."""
        resources = self._runtime.get()
        if context.access is not None and not await resources.sockets.confirm(context.access):
            return False
        assert context.request is not None
        seconds = await self._spend(context.request, context.actor)
        if seconds is None:
            return True
        extensions: dict[str, Any] = {"code": "RATE_LIMITED", "retryAfter": seconds}
        if rid := request_id.get():
            extensions["requestId"] = rid
        refusal: GraphQLFormattedError = {
            "message": self._rate_message(seconds),
            "extensions": extensions,
        }
        await send_error(refusal)
        return False

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        # Errors are finished in the schema (codes, request ids, hints) for every transport.
        body = await super().process_result(request, result)
        media = getattr(request.state, "media_type", None)
        if media is not None and negotiation.is_request_error(result):
            request.state.request_error = True
        return negotiation.shape(media, result, body)

    def encode_json(self, data: object) -> str:
        # Text, not bytes: the WebSocket adapter sends bytes as binary frames, which
        # graphql-ws clients refuse.
        return orjson.dumps(data).decode()


@functools.lru_cache(maxsize=1024)
def _is_subscription(query: str | None, operation_name: str | None) -> bool:
    """Whether the operation a plain HTTP request would run is a subscription."""
    if not query:
        return False
    try:
        document = parse(query, no_location=True, max_tokens=10_000)
    except GraphQLError:
        return False  # Strawberry answers the syntax error itself
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    for operation in operations:
        named = operation.name.value if operation.name else None
        if operation_name in (None, named) and operation.operation == OperationType.SUBSCRIPTION:
            return True
    return False


def _rate_key(actor: Actor, anonymous: str) -> str:
    """Whose budget a request spends: the user's, or the given key for anonymous callers."""
    return f"user:{actor.user_id}" if actor.user_id else anonymous


def _client_address(request: Request | WebSocket) -> str:
    return request.client.host if request.client else "unknown"
