"""The ASGI application: GraphQL over HTTP and WebSocket, health and readiness probes."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute

from models import migrate
from models.engine import create_engine, create_sessionmaker, set_row_security
from resolvers.audit import OrganizationChange, latest_audit_position, load_organization_changes
from resolvers.compiled import run as compiled_run
from resolvers.events import (
    Position,
    TicketChange,
    latest_position,
    load_changes,
    undelivered,
)
from schema import create_schema
from schema.errors import is_database_unavailable
from schema.limits import QueryLimits
from server import metrics
from server.access import Directory, LiveSockets
from server.attachments import attachment_files, attachment_routes, run_cleanup
from server.auth import TokenVerifier
from server.fanout import SharedFanout
from server.observability import RequestIdMiddleware, ensure_logging
from server.persisted import create_persisted_queries
from server.ratelimit import create_rate_limiter
from server.settings import Settings, SettingsError
from server.telemetry import create_extensions
from server.view import HelpdeskGraphQL, Resources, Runtime
from server.web import dashboard_page, static_files
from subscriptions.backends import create_backend
from subscriptions.hub import EventHub
from subscriptions.organization import (
    ORGANIZATION_CHANNEL_PATTERN,
    OrganizationEventEnvelope,
    organization_events_channel,
)

logger = logging.getLogger("helpdesk.app")


def create_hub(settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]) -> EventHub:
    """The event hub, reading changes back from the history table."""

    # The hub loads each change once for all subscribers (as the system) and every
    # subscriber's stream then applies that subscriber's policies.
    async def load_after(position: Position) -> list[TicketChange]:
        async with sessionmaker() as session:
            set_row_security(session, "system")
            return await load_changes(session, after=position)

    async def latest() -> Position:
        async with sessionmaker() as session:
            set_row_security(session, "system")
            return await latest_position(session)

    async def waiting() -> bool:
        async with sessionmaker() as session:
            set_row_security(session, "system")
            return await undelivered(session)

    return EventHub(
        create_backend(settings.broadcast_url),
        load_after,
        latest,
        waiting,
        queue_size=settings.subscriber_queue_size,
    )


def create_organization_hub(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]
) -> EventHub:
    """The hub of organization events, reading them back from the audit log (as the system;
    each subscriber's stream applies its policy)."""

    async def load_after(position: Position) -> list[OrganizationChange]:
        async with sessionmaker() as session:
            set_row_security(session, "system")
            return await load_organization_changes(session, position)

    async def latest() -> Position:
        async with sessionmaker() as session:
            set_row_security(session, "system")
            return await latest_audit_position(session)

    return EventHub(
        create_backend(settings.broadcast_url, ORGANIZATION_CHANNEL_PATTERN),
        load_after,
        latest,
        queue_size=settings.subscriber_queue_size,
        parse=OrganizationEventEnvelope.from_json,
        channel_of=organization_events_channel,
    )


class RowSecurityBypassedError(RuntimeError):
    """HELPDESK_REQUIRE_ROW_SECURITY is on and the database role skips row security."""


async def check_row_security(settings: Settings, resources: Resources) -> None:
    """Say loudly when the app's database role bypasses PostgreSQL row security (a superuser
    or BYPASSRLS role): the policies below the resolvers then guard nothing. With
    HELPDESK_REQUIRE_ROW_SECURITY the server refuses to start."""
    try:
        resources.row_security = await migrate.row_security(resources.engine)
    except Exception as exc:
        if not is_database_unavailable(exc):
            raise
        logger.warning("row security: the database cannot be reached yet; checked again later")
        resources.row_security = "unknown"
        return
    if resources.row_security == "enforced":
        return
    if resources.row_security == "bypassed":
        message = (
            "the database role is a superuser or has BYPASSRLS, so PostgreSQL row-level "
            "security does not apply to this server; serve as a plain role (helpdesk db grant)"
        )
    else:
        message = "SQLite has no row-level security"
    if settings.require_row_security:
        raise RowSecurityBypassedError(message + " (HELPDESK_REQUIRE_ROW_SECURITY is on)")
    if resources.row_security == "bypassed":
        logger.log(logging.WARNING if settings.is_production else logging.INFO, message)


def create_app(settings: Settings | None = None) -> Starlette:
    """The application for these settings (default: from the environment)."""
    settings = settings or Settings.from_env()
    # Here, not only in `helpdesk serve`: this runs in every worker process.
    ensure_logging(settings.log_level, settings.log_format)
    settings.require_token_key()
    try:
        # Built now, so that a bad manifest stops the start (in every worker) with its reason.
        persisted_queries = create_persisted_queries(
            settings.persisted_queries,
            settings.persisted_queries_manifest,
            settings.broadcast_url,
            settings.persisted_queries_cache_size,
        )
    except ValueError as exc:
        raise SettingsError(str(exc)) from None
    verifier = TokenVerifier(settings)
    runtime = Runtime()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        engine = create_engine(
            settings.database_url,
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
        )
        pool_limit = settings.db_pool_size + settings.db_max_overflow
        metrics.instrument_pool(engine, pool_limit)
        sessionmaker = create_sessionmaker(engine)
        hub = create_hub(settings, sessionmaker)
        await hub.connect()
        organization_hub = create_organization_hub(settings, sessionmaker)
        await organization_hub.connect()
        rate_limiter = create_rate_limiter(settings.broadcast_url, settings.rate_limit_per_minute)
        directory = Directory(sessionmaker, settings.actor_cache_seconds)
        sockets = LiveSockets(directory, settings.actor_cache_seconds)
        files = attachment_files(settings)
        runtime.resources = Resources(
            engine=engine,
            sessionmaker=sessionmaker,
            hub=hub,
            organization_hub=organization_hub,
            write_gate=asyncio.Lock() if engine.dialect.name == "sqlite" else None,
            rate_limiter=rate_limiter,
            directory=directory,
            sockets=sockets,
            attachment_files=files,
            public_url=settings.public_url,
            knowledge_base_language=settings.knowledge_base_language,
            persisted_queries=persisted_queries,
            fanout=SharedFanout(
                lambda query, variables, name, context: graphql_app.schema.subscribe(
                    query, variable_values=variables, context_value=context, operation_name=name
                ),
                graphql_app.encode_json,
                settings.subscriber_queue_size,
            )
            if settings.shared_fanout
            else None,
            compiled_pool=await compiled_run.create_pool(settings.database_url, pool_limit)
            if settings.compiled_queries and engine.dialect.name == "postgresql"
            else None,
        )
        runtime.resources.compiled_writes = (
            settings.compiled_writes and runtime.resources.compiled_pool is not None
        )
        sockets.start()
        interval = settings.attachment_cleanup_interval_seconds
        cleanup = (
            asyncio.create_task(
                run_cleanup(sessionmaker, files.storage, interval, runtime.resources.write_gate)
            )
            if interval > 0
            else None
        )
        try:
            await check_row_security(settings, runtime.resources)
            yield
        finally:
            if cleanup is not None:
                cleanup.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await cleanup
            resources, runtime.resources = runtime.resources, None
            if resources is not None and resources.fanout is not None:
                await resources.fanout.close()
            await sockets.stop()
            await rate_limiter.close()
            await persisted_queries.close()
            await hub.disconnect()
            await organization_hub.disconnect()
            if resources is not None and resources.compiled_pool is not None:
                await resources.compiled_pool.close()
            await engine.dispose()
            metrics.uninstrument_pool(pool_limit)
            metrics.worker_exited()

    limits = QueryLimits(
        max_depth=settings.max_query_depth,
        max_aliases=settings.max_query_aliases,
        max_tokens=settings.max_query_tokens,
        max_cost=settings.max_query_cost,
        max_field_merges=settings.max_query_field_merges,
    )
    graphql_app = HelpdeskGraphQL(
        runtime=runtime,
        verifier=verifier,
        settings=settings,
        schema=create_schema(
            introspection=settings.introspection,
            limits=limits,
            field_suggestions=settings.field_suggestions,
            observers=create_extensions(tracing=settings.tracing),
        ),
        graphql_ide="graphiql" if settings.graphiql else None,
        allow_queries_via_get=True,
        # Legacy graphql-ws clients get keep-alives; graphql-transport-ws relies on pings
        # (clients', and uvicorn's ws_ping_interval from `helpdesk serve`).
        keep_alive=True,
        keep_alive_interval=15,
        connection_init_wait_timeout=dt.timedelta(seconds=10),
        max_subscriptions_per_connection=settings.ws_max_subscriptions,
        allowed_origins=settings.cors_origins,
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
        checks["broadcast"] = "ok" if await resources.hub.is_ready() else "unreachable"
        ready = all(value == "ok" for value in checks.values())
        if resources.row_security == "unknown" and checks["database"] == "ok":
            await check_row_security(settings, resources)
        if settings.require_row_security and resources.row_security != "enforced":
            ready = False
        return JSONResponse(
            {
                "status": "ready" if ready else "unavailable",
                **checks,
                "rowSecurity": resources.row_security,
            },
            status_code=200 if ready else 503,
        )

    async def dashboard(request: Request) -> Response:
        return dashboard_page()

    middleware = [Middleware(RequestIdMiddleware)]
    if settings.cors_origins:
        middleware.append(
            Middleware(
                CORSMiddleware,
                allow_origins=list(settings.cors_origins),
                allow_methods=["GET", "POST", "PUT", "OPTIONS"],
                allow_headers=["Authorization", "Content-Type", "X-Request-ID", "Range"],
                expose_headers=[
                    "X-Request-ID",
                    "Retry-After",
                    "Content-Disposition",
                    "Content-Range",
                ],
                max_age=600,
            )
        )
    pages = [Route("/dashboard", dashboard)] if settings.dashboard else []
    if settings.metrics:
        pages.append(Route("/metrics", metrics.metrics_endpoint))
    app = Starlette(
        routes=[
            *pages,
            Route("/graphql", graphql_app),
            WebSocketRoute("/graphql", graphql_app),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            *attachment_routes(runtime),
            Mount("/static", static_files(), name="static"),
        ],
        middleware=middleware,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.runtime = runtime
    return app
