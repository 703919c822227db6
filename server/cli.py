"""The `helpdesk` command: serve, db, seed, token, schema, attachments."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from models import Customer, TeamMember, migrate
from models.engine import create_engine, create_sessionmaker, set_row_security
from server.metrics import MULTIPROC_ENV
from server.observability import configure_logging, logging_config
from server.seed import DemoUser, demo_users, seed_demo
from server.settings import Settings, SettingsError, create_development_secret

T = TypeVar("T")
SCHEMA_FILE = Path("schema.graphql")


NO_DATABASE = "no database yet{where}: run `helpdesk db upgrade`"


class CommandError(Exception):
    """A failure the user can fix; printed as one line, without a traceback."""


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except SettingsError as exc:
        raise CommandError(f"configuration error: {exc}") from None


def _sqlite_file(database_url: str) -> Path | None:
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return Path(url.database).expanduser()


def _require_database(settings: Settings) -> None:
    """Refuse at once (instead of creating an empty SQLite file) when there is no database."""
    path = _sqlite_file(settings.database_url)
    if path is not None and not path.exists():
        raise CommandError(NO_DATABASE.format(where=f" at {path}"))


def _explain(exc: BaseException) -> str | None:
    """One line for the database failures a user meets, or None for a real bug."""
    text = str(getattr(exc, "orig", None) or exc)
    if "no such table" in text or ("relation" in text and "does not exist" in text):
        return NO_DATABASE.format(where=" (its tables are missing)")
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return f"lost the database connection: {text.splitlines()[0]}"
    if isinstance(exc, OSError | DBAPIError) or type(exc).__module__.startswith("asyncpg"):
        first = text.splitlines()[0] if text else type(exc).__name__
        return f"cannot use the database ({first})"
    return None


def _with_engine(work: Callable[[AsyncEngine], Awaitable[T]]) -> T:
    async def run() -> T:
        engine = create_engine(_settings().database_url)
        try:
            return await work(engine)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def _with_session(work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    async def run(engine: AsyncEngine) -> T:
        async with create_sessionmaker(engine)() as session:
            set_row_security(session, "system")
            result = await work(session)
            await session.commit()
            return result

    return _with_engine(run)


def cmd_serve(args: argparse.Namespace) -> int:
    settings = _settings()  # fail fast, before uvicorn spawns workers
    try:
        settings.require_token_key()
    except SettingsError as exc:
        raise CommandError(str(exc)) from None
    _require_database(settings)
    configure_logging(settings.log_level, settings.log_format)
    metrics_dir = _prepare_metrics_dir(args.workers)
    try:
        _run_uvicorn(args, settings)
    finally:
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)
    return 0


def _prepare_metrics_dir(workers: int) -> str | None:
    """With several workers, prometheus-client keeps samples in files that every worker's
    /metrics adds up: use PROMETHEUS_MULTIPROC_DIR (emptied now: samples of an earlier run
    would count again) or a temporary folder. Returns a folder to remove afterwards."""
    configured = os.environ.get(MULTIPROC_ENV)
    if configured:
        folder = Path(configured)
        folder.mkdir(parents=True, exist_ok=True)
        for stale in folder.glob("*.db"):
            stale.unlink()
        return None
    if workers <= 1:
        return None
    made = tempfile.mkdtemp(prefix="helpdesk-metrics-")
    os.environ[MULTIPROC_ENV] = made  # inherited by the worker processes
    return made


def _run_uvicorn(args: argparse.Namespace, settings: Settings) -> None:
    import uvicorn

    uvicorn.run(
        "server.app:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level=settings.log_level,
        # Applied by uvicorn in every worker process, not only here.
        log_config=logging_config(settings.log_level, settings.log_format),
        # Our own access log carries request ids (server.observability).
        access_log=False,
        proxy_headers=True,
        # Server pings reap dead clients (graphql-transport-ws servers never ping on their own).
        ws_ping_interval=20.0,
        ws_ping_timeout=20.0,
        ws_max_size=settings.ws_max_message_bytes,
        # Events are small; compressing each one for each subscriber costs more CPU than the
        # bytes are worth when one change fans out to thousands of sockets.
        ws_per_message_deflate=False,
    )


def cmd_db(args: argparse.Namespace) -> int:
    if args.db_command != "upgrade":
        _require_database(_settings())
    if args.db_command == "upgrade":
        _with_engine(lambda engine: migrate.upgrade(engine, args.revision))
        print(f"database at revision {_with_engine(migrate.current_revision)}")
    elif args.db_command == "downgrade":
        _with_engine(lambda engine: migrate.downgrade(engine, args.revision))
        print(f"database at revision {_with_engine(migrate.current_revision)}")
    elif args.db_command == "current":
        print(_with_engine(migrate.current_revision) or "(not migrated)")
    elif args.db_command == "revision":
        _with_engine(lambda engine: migrate.revision(engine, args.message))
    elif args.db_command == "grant":
        _with_engine(lambda engine: migrate.grant_app_role(engine, args.role))
        print(f"granted table access to {args.role}; row-level security applies to it")
    elif args.db_command == "check":
        changes = _with_engine(migrate.pending_model_changes)
        if changes:
            print("models differ from the migrations; run `helpdesk db revision -m ...`:")
            for change in changes:
                print(f"  {change}")
            return 1
        print("models and migrations agree")
    return 0


def _print_tokens(settings: Settings, users: Sequence[DemoUser]) -> None:
    from server.auth import issue_development_token

    print("\nDemo tokens, valid 7 days. Send one as the header  Authorization: Bearer <token>")
    for user in users:
        label = user.role if user.organization is None else f"{user.role} @ {user.organization}"
        token = issue_development_token(settings, user.subject, dt.timedelta(days=7))
        print(f"\n  {user.email} ({label})\n  {token}")
    print("\nMore: helpdesk token EMAIL [--ttl 7d]")


def cmd_seed(args: argparse.Namespace) -> int:
    if not args.demo:
        print("nothing to seed: pass --demo")
        return 2
    settings = _settings()
    if settings.is_production:
        raise CommandError("refusing to seed demo data with HELPDESK_ENV=production")
    _require_database(settings)
    if settings.jwt_secret is None and settings.jwt_jwks_url is None:
        # The one place (with `make run`, which calls this) that makes a development secret.
        create_development_secret(settings.data_dir)
        print(f"created a development JWT secret in {settings.data_dir}")
        settings = _settings()
    inserted = _with_session(seed_demo)
    print("demo data seeded" if inserted else "demo data already present")
    if not args.quiet and settings.jwt_secret:
        _print_tokens(settings, _with_session(demo_users))
    return 0


def cmd_token(args: argparse.Namespace) -> int:
    from server.auth import issue_development_token

    settings = _settings()
    if settings.jwt_jwks_url is not None:
        raise CommandError("tokens come from your identity provider when JWT_JWKS_URL is set")
    if settings.jwt_secret is None:
        raise CommandError(
            f"no development secret in {settings.data_dir}: run `helpdesk seed --demo` "
            "there first (or set JWT_SECRET, or HELPDESK_DATA_DIR to the folder that has one)"
        )
    _require_database(settings)

    async def find_subject(session: AsyncSession) -> list[str | None]:
        subjects = list(
            await session.scalars(select(Customer.user_id).where(Customer.email == args.email))
        )
        subjects += await session.scalars(
            select(TeamMember.user_id).where(TeamMember.email == args.email)
        )
        return subjects

    subjects = _with_session(find_subject)
    if len(subjects) != 1:
        reason = "no customer or team member has" if not subjects else "more than one account has"
        raise CommandError(f"{reason} the email {args.email!r}")
    subject, claims = subjects[0], None
    if subject is None:
        # Invited and never signed in: a token whose verified email claims the invitation.
        subject = f"local|{args.email.strip().lower()}"
        claims = {
            settings.jwt_email_claim: args.email.strip().lower(),
            **(
                {settings.jwt_email_verified_claim: True}
                if settings.jwt_email_verified_claim
                else {}
            ),
        }
    print(issue_development_token(settings, subject, _duration(args.ttl), claims))
    return 0


def cmd_org(args: argparse.Namespace) -> int:
    from resolvers.errors import UserInputError
    from resolvers.organization import create_organization

    settings = _settings()
    _require_database(settings)

    async def create(session: AsyncSession) -> tuple[int, int]:
        made = await create_organization(
            session, args.slug, args.name, args.admin_email, args.admin_name
        )
        return made.organization.id, made.admin.id

    try:
        _with_session(create)
    except UserInputError as exc:
        raise CommandError("; ".join(e.message for e in exc.errors)) from None
    print(
        f"created organization {args.slug!r} with admin {args.admin_email.strip().lower()}: "
        "they sign in with a token carrying that email, verified "
        f"({settings.jwt_email_claim} + {settings.jwt_email_verified_claim or 'no check'})"
    )
    return 0


def _duration(text: str) -> dt.timedelta:
    match = re.fullmatch(r"(\d+)([smhd])", text.strip())
    if not match:
        raise CommandError(f"--ttl must look like 30m, 12h or 7d, got {text!r}")
    amount, unit = int(match.group(1)), match.group(2)
    return dt.timedelta(seconds=amount * {"s": 1, "m": 60, "h": 3600, "d": 86400}[unit])


def exported_schema() -> str:
    from schema import schema

    return schema.as_str() + "\n"


def cmd_schema(args: argparse.Namespace) -> int:
    sdl = exported_schema()
    path = Path(args.output)
    if args.schema_command == "export":
        path.write_text(sdl)
        print(f"wrote {path}")
        return 0
    if not path.exists() or path.read_text() != sdl:
        print(f"{path} is stale: run `helpdesk schema export`", file=sys.stderr)
        return 1
    print(f"{path} matches the schema in code")
    return 0


def cmd_attachments(args: argparse.Namespace) -> int:
    from server.attachments import cleanup_once, open_attachment_storage

    settings = _settings()
    storage = open_attachment_storage(settings)

    async def run(engine: AsyncEngine) -> int:
        return await cleanup_once(create_sessionmaker(engine), storage)

    deleted = _with_engine(run)
    print(f"deleted {deleted} expired unattached uploads from {storage.description}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="helpdesk", description="Helpdesk GraphQL API")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the HTTP and WebSocket server")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    serve.set_defaults(handler=cmd_serve)

    db = commands.add_parser("db", help="database migrations")
    db_commands = db.add_subparsers(dest="db_command", required=True)
    upgrade = db_commands.add_parser("upgrade", help="migrate to the newest (or a given) revision")
    upgrade.add_argument("revision", nargs="?", default="head")
    downgrade = db_commands.add_parser(
        "downgrade", help="migrate back to a revision ('base': empty)"
    )
    downgrade.add_argument("revision")
    db_commands.add_parser("current", help="print the current revision")
    revision = db_commands.add_parser(
        "revision", help="autogenerate a migration from model changes"
    )
    revision.add_argument("-m", "--message", required=True)
    db_commands.add_parser("check", help="fail when the models differ from the migrations")
    grant = db_commands.add_parser(
        "grant", help="PostgreSQL: let the app's login role (no BYPASSRLS) use the tables"
    )
    grant.add_argument("role")
    db.set_defaults(handler=cmd_db)

    seed = commands.add_parser("seed", help="insert demo data (development only)")
    seed.add_argument(
        "--demo", action="store_true", help="the demo organizations, people and tickets"
    )
    seed.add_argument("--quiet", action="store_true", help="do not print demo tokens")
    seed.set_defaults(handler=cmd_seed)

    token = commands.add_parser("token", help="print a development token for a user's email")
    token.add_argument("email")
    token.add_argument("--ttl", default="24h", help="lifetime such as 30m, 12h, 7d (default 24h)")
    token.set_defaults(handler=cmd_token)

    org = commands.add_parser("org", help="organizations (everything else is in the API)")
    org_commands = org.add_subparsers(dest="org_command", required=True)
    org_create = org_commands.add_parser(
        "create", help="create an organization and its first admin (pending until sign-in)"
    )
    org_create.add_argument("slug", help="unique short name: lower-case letters, digits, dashes")
    org_create.add_argument("--name", required=True, help="display name")
    org_create.add_argument("--admin-email", required=True, help="the first admin's email")
    org_create.add_argument("--admin-name", default=None, help="the first admin's name")
    org.set_defaults(handler=cmd_org)

    schema_cmd = commands.add_parser("schema", help="export or check schema.graphql")
    schema_cmd.add_argument("schema_command", choices=["export", "check"])
    schema_cmd.add_argument("--output", default=str(SCHEMA_FILE))
    schema_cmd.set_defaults(handler=cmd_schema)

    files = commands.add_parser("attachments", help="attachment storage")
    files.add_argument(
        "attachments_command",
        choices=["cleanup"],
        help="cleanup: delete unattached uploads past their expiry, and their objects",
    )
    files.set_defaults(handler=cmd_attachments)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.handler(args)
    except CommandError as exc:
        print(f"helpdesk: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:
        message = _explain(exc)
        if message is None:
            raise
        print(f"helpdesk: {message}", file=sys.stderr)
        return 1
    return code


if __name__ == "__main__":
    sys.exit(main())
