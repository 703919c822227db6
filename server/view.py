"""Strawberry's ASGI view with our authentication, scopes, close codes and JSON errors."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from cross_web import HTTPException
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketState
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http import GraphQLHTTPResponse
from strawberry.types import ExecutionResult

from permissions import Actor
from resolvers.errors import DomainError
from resolvers.identity import actor_for_subject
from schema.context import Context
from schema.errors import ensure_error_code
from server.auth import AuthenticationError, TokenVerifier, bearer_token
from subscriptions.hub import EventHub

logger = logging.getLogger("helpdesk.view")

CLOSE_TOKEN_EXPIRED = 4401


@dataclass
class Resources:
    """What the lifespan opens and closes: one of each per process."""

    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    hub: EventHub
    write_gate: asyncio.Lock | None


@dataclass
class Runtime:
    """Filled by the lifespan; read by the GraphQL view and the probes."""

    resources: Resources | None = None

    def get(self) -> Resources:
        if self.resources is None:
            raise RuntimeError("the application lifespan has not started")
        return self.resources


def error_response(
    message: str, code: str, status_code: int, headers: Mapping[str, str] | None = None
) -> Response:
    """A GraphQL-shaped error body for failures that happen before execution."""
    body = {"errors": [{"message": message, "extensions": {"code": code}}]}
    return Response(
        orjson.dumps(body), status_code=status_code, media_type="application/json", headers=headers
    )


class HelpdeskGraphQL(GraphQL[Context, None]):
    def __init__(self, runtime: Runtime, verifier: TokenVerifier, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._runtime = runtime
        self._verifier = verifier

    async def authenticate(self, context: Context, authorization: str | None) -> Actor:
        """The Actor for an Authorization value; anonymous without one."""
        token = bearer_token(authorization)
        if token is None:
            return Actor.anonymous()
        claims = await self._verifier.verify(token)
        exp = claims.get("exp")
        context.token_expires_at = float(exp) if isinstance(exp, int | float) else None
        try:
            async with self._runtime.get().sessionmaker() as session:
                return await actor_for_subject(session, claims["sub"])
        except DomainError as exc:
            status_code = 403 if exc.code == "FORBIDDEN" else 401
            raise AuthenticationError(exc.message, code=exc.code, status_code=status_code) from None

    def new_context(self, request: Request | WebSocket) -> Context:
        resources = self._runtime.get()
        return Context(
            sessionmaker=resources.sessionmaker,
            actor=Actor.anonymous(),
            request=request,
            publish=resources.hub.publish,
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
        request = Request(scope, receive=receive)
        context = self.new_context(request)
        try:
            try:
                context.actor = await self.authenticate(
                    context, request.headers.get("authorization")
                )
                response = await self.run(request, context=context)
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
        finally:
            await context.close()
        await response(scope, receive, send)

    async def _websocket(self, websocket: WebSocket) -> None:
        """One connection: its context lives as long as the socket; nothing outlives it."""
        context = self.new_context(websocket)
        try:
            await self.run(websocket, context=context)
        finally:
            watchdog = getattr(context, "_expiry_watchdog", None)
            if watchdog is not None:
                watchdog.cancel()
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
        if context.token_expires_at is not None:
            context._expiry_watchdog = asyncio.create_task(  # type: ignore[attr-defined]
                _close_at_expiry(context), name="helpdesk-token-expiry"
            )

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        for error in result.errors or ():
            ensure_error_code(error)
        return await super().process_result(request, result)

    def encode_json(self, data: object) -> str:
        # Text, not bytes: the WebSocket adapter sends bytes as binary frames, which
        # graphql-ws clients refuse.
        return orjson.dumps(data).decode()


async def _close_at_expiry(context: Context) -> None:
    """Tokens expire on long-lived sockets too: close with 4401 when this one does."""
    assert context.token_expires_at is not None
    await asyncio.sleep(max(0.0, context.token_expires_at - time.time()))
    websocket = context.request
    if (
        isinstance(websocket, WebSocket)
        and websocket.application_state != WebSocketState.DISCONNECTED
    ):
        with contextlib.suppress(RuntimeError, OSError):
            await websocket.close(code=CLOSE_TOKEN_EXPIRED, reason="token expired")
