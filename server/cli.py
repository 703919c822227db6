"""The `helpdesk` command: serve, db, seed, token, schema, attachments."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import re
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from models import Customer, TeamMember, migrate
from models.engine import create_engine, create_sessionmaker, set_row_security
from server.observability import configure_logging
from server.seed import DemoUser, demo_users, seed_demo
from server.settings import Settings, SettingsError

T = TypeVar("T")
SCHEMA_FILE = Path("schema.graphql")


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except SettingsError as exc:
        raise SystemExit(f"helpdesk: configuration error: {exc}") from None


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
    import uvicorn

    settings = _settings()  # fail fast, before uvicorn spawns workers
    configure_logging(settings.log_level)
    uvicorn.run(
        "server.app:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level=settings.log_level,
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
    return 0


def cmd_db(args: argparse.Namespace) -> int:
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
        raise SystemExit("helpdesk: refusing to seed demo data with HELPDESK_ENV=production")
    inserted = _with_session(seed_demo)
    print("demo data seeded" if inserted else "demo data already present")
    if not args.quiet and settings.jwt_secret:
        _print_tokens(settings, _with_session(demo_users))
    return 0


def cmd_token(args: argparse.Namespace) -> int:
    from server.auth import issue_development_token

    settings = _settings()
    if settings.jwt_secret is None:
        raise SystemExit(
            "helpdesk: tokens come from your identity provider when JWT_JWKS_URL is set"
        )

    async def find_subject(session: AsyncSession) -> list[str]:
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
        raise SystemExit(f"helpdesk: {reason} the email {args.email!r}")
    print(issue_development_token(settings, subjects[0], _duration(args.ttl)))
    return 0


def _duration(text: str) -> dt.timedelta:
    match = re.fullmatch(r"(\d+)([smhd])", text.strip())
    if not match:
        raise SystemExit(f"helpdesk: --ttl must look like 30m, 12h or 7d, got {text!r}")
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
    code: int = args.handler(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
