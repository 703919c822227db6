"""The ASGI application: GraphQL over HTTP and WebSocket, health and readiness probes."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import orjson
from cross_web import HTTPException
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http import GraphQLHTTPResponse
from strawberry.types import ExecutionResult

from models.engine import create_engine, create_sessionmaker
from permissions import Actor
from resolvers.errors import DomainError
from resolvers.identity import actor_for_subject
from schema import create_schema
from schema.context import Context
from schema.errors import ensure_error_code
from server.auth import AuthenticationError, TokenVerifier, bearer_token
from server.settings import Settings
from subscriptions.broadcast import EventBus

logger = logging.getLogger("helpdesk.app")


@dataclass
class Resources:
    """What the lifespan opens and closes: one of each per process."""

    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    bus: EventBus
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
    """Strawberry's ASGI view with our authentication, session lifetime and JSON errors."""

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
            publish=resources.bus.publish,
            write_gate=resources.write_gate,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
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
        finally:
            await context.close()
        await response(scope, receive, send)

    async def get_context(self, request: Request | WebSocket, response: Any) -> Context:
        # Only WebSockets get here (HTTP passes its own context); the actor is set on connect.
        return self.new_context(request)

    async def on_ws_connect(self, context: Context) -> None:
        params = context.connection_params or {}
        authorization = params.get("Authorization") or params.get("authorization")
        if authorization is None and isinstance(params.get("token"), str):
            authorization = f"Bearer {params['token']}"
        try:
            context.actor = await self.authenticate(context, authorization)
        except AuthenticationError as exc:
            raise ConnectionRejectionError({"message": exc.message, "code": exc.code}) from None
        finally:
            await context.close()

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        for error in result.errors or ():
            ensure_error_code(error)
        return await super().process_result(request, result)

    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data)


def create_app(settings: Settings | None = None) -> Starlette:
    """The application for these settings (default: from the environment)."""
    settings = settings or Settings.from_env()
    verifier = TokenVerifier(settings)
    runtime = Runtime()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        engine = create_engine(
            settings.database_url,
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
        )
        bus = EventBus(settings.broadcast_url)
        await bus.connect()
        runtime.resources = Resources(
            engine=engine,
            sessionmaker=create_sessionmaker(engine),
            bus=bus,
            write_gate=asyncio.Lock() if engine.dialect.name == "sqlite" else None,
        )
        try:
            yield
        finally:
            runtime.resources = None
            await bus.disconnect()
            await engine.dispose()

    graphql_app = HelpdeskGraphQL(
        runtime=runtime,
        verifier=verifier,
        schema=create_schema(introspection=settings.introspection),
        graphql_ide="graphiql" if settings.graphiql else None,
        allow_queries_via_get=True,
    )

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        resources = runtime.get()
        checks: dict[str, str] = {}
        try:
            async with resources.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
            checks["database"] = "ok"
        except Exception:
            logger.warning("readiness: database unreachable", exc_info=True)
            checks["database"] = "unreachable"
        checks["broadcast"] = "ok" if await resources.bus.is_ready() else "unreachable"
        ready = all(value == "ok" for value in checks.values())
        return JSONResponse(
            {"status": "ready" if ready else "unavailable", **checks},
            status_code=200 if ready else 503,
        )

    middleware = []
    if settings.cors_origins:
        middleware.append(
            Middleware(
                CORSMiddleware,
                allow_origins=list(settings.cors_origins),
                allow_methods=["GET", "POST", "OPTIONS"],
                allow_headers=["Authorization", "Content-Type"],
                max_age=600,
            )
        )
    app = Starlette(
        routes=[
            Route("/graphql", graphql_app),
            WebSocketRoute("/graphql", graphql_app),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
        ],
        middleware=middleware,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.runtime = runtime
    return app
