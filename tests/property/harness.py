"""What the property tests share: a fresh world per example, raw requests through the real app,
database snapshots, and the checks every answer must pass."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select
from starlette.applications import Starlette

from models import Ticket, TicketHistory, TicketResponse
from models.enums import TeamRole
from tests.conftest import Stack, clear_tables
from tests.factories import (
    INTERNAL_MARKER,
    METADATA_MARKER,
    add_response,
    create_customer,
    create_member,
    create_organization,
    create_team,
    create_ticket,
)

README = Path(__file__).resolve().parents[2] / "README.md"

# Markers planted in staff-only data. Single words, so PostgreSQL full-text search finds them.
NOTE_MARKER = "xyzzynote"
META_MARKER = "xyzzymeta"
SECRET_MARKERS = (NOTE_MARKER, META_MARKER, INTERNAL_MARKER, METADATA_MARKER)

# The codes named by the brief of these tests (DESIGN §5 minus INTERNAL, plus the request-level
# ones); documented_error_codes() adds whatever README "### Errors" lists.
BASE_ERROR_CODES = frozenset(
    {
        "UNAUTHENTICATED",
        "FORBIDDEN",
        "NOT_FOUND",
        "BAD_USER_INPUT",
        "BAD_REQUEST",
        "GRAPHQL_PARSE_FAILED",
        "GRAPHQL_VALIDATION_FAILED",
    }
)

# Text that only an unmasked exception would put into an error.
LEAK_PATTERNS = (
    re.compile(r"Traceback"),
    re.compile(r"sqlalchemy", re.IGNORECASE),
    re.compile(r"asyncpg", re.IGNORECASE),
    re.compile(r"aiosqlite|sqlite3\.", re.IGNORECASE),
    re.compile(r'File "'),
    re.compile(r"\.py\", line \d+"),
    re.compile(r"Internal server error", re.IGNORECASE),
)


def documented_error_codes() -> frozenset[str]:
    """The codes README's "### Errors" section documents, except INTERNAL (never acceptable)."""
    text = README.read_text(encoding="utf-8")
    section = text.split("### Errors", 1)[1].split("\n#", 1)[0]
    return frozenset(re.findall(r"`([A-Z][A-Z_]+)`", section)) - {"INTERNAL"}


KNOWN_ERROR_CODES = BASE_ERROR_CODES | documented_error_codes()


def gid(type_name: str, pk: int | str) -> str:
    return base64.b64encode(f"{type_name}:{pk}".encode()).decode()


def pk_of(global_id: str) -> int:
    return int(base64.b64decode(global_id).decode().split(":", 1)[1])


# --- the world of one example --------------------------------------------------------------

# Who may call. Indexes into these tuples are what the generated operations carry.
ACTORS = (
    "anonymous",
    "customer1",
    "customer2",
    "agent",
    "agent2",
    "admin",
    "inactive",
    "other_agent",
    "other_admin",
)
CUSTOMERS = ("customer1", "customer2")
MEMBERS = ("admin", "agent", "agent2", "inactive", "other_admin", "other_agent")
TEAMS = ("team_a1", "team_a2", "team_b1")
ORGS = ("org", "other_org")
GHOST_PK = 987_654_321


@dataclass
class World:
    """Two organizations with staff and teams, two customers and a few seeded tickets (each with
    a public reply and an internal note, and staff-only metadata)."""

    orgs: dict[str, int]
    teams: dict[str, int]
    members: dict[str, int]
    customers: dict[str, int]
    subjects: dict[str, str]
    staff_org: dict[str, int]
    tickets: list[int] = field(default_factory=list)
    tokens: dict[str, str] = field(default_factory=dict)

    def token(self, db: Stack, actor: str) -> str | None:
        if actor == "anonymous":
            return None
        if actor not in self.tokens:
            self.tokens[actor] = db.token(self.subjects[actor])
        return self.tokens[actor]

    def ticket_gid(self, ref: int | str) -> str:
        if ref == "ghost":
            return gid("Ticket", GHOST_PK)
        if ref == "wrong_type":
            return gid("Team", self.teams["team_a1"])
        if ref == "garbage":
            return "not-a-global-id"
        assert isinstance(ref, int)
        return gid("Ticket", self.tickets[ref % len(self.tickets)])

    def ticket_pk(self, ref: int | str) -> int | None:
        if isinstance(ref, int):
            return self.tickets[ref % len(self.tickets)]
        return None

    def member_gid(self, ref: int | str | None, actor: str) -> str | None:
        if ref is None:
            return None
        if ref == "self":
            return gid("TeamMember", self.members.get(actor, self.members["agent"]))
        if ref == "ghost":
            return gid("TeamMember", GHOST_PK)
        assert isinstance(ref, int)
        return gid("TeamMember", self.members[MEMBERS[ref % len(MEMBERS)]])

    def team_gid(self, ref: int | str | None) -> str | None:
        if ref is None:
            return None
        if ref == "ghost":
            return gid("Team", GHOST_PK)
        assert isinstance(ref, int)
        return gid("Team", self.teams[TEAMS[ref % len(TEAMS)]])

    def customer_gid(self, ref: int | str | None) -> str | None:
        if ref is None:
            return None
        if ref == "ghost":
            return gid("Customer", GHOST_PK)
        assert isinstance(ref, int)
        return gid("Customer", self.customers[CUSTOMERS[ref % len(CUSTOMERS)]])

    def org_gid(self, ref: int | str | None) -> str | None:
        if ref is None:
            return None
        if ref == "ghost":
            return gid("Organization", GHOST_PK)
        assert isinstance(ref, int)
        return gid("Organization", self.orgs[ORGS[ref % len(ORGS)]])

    def actor_row(self, actor: str) -> tuple[str, int] | None:
        """How the actor is recorded in history (actor_type, actor_id)."""
        if actor in self.customers:
            return ("customer", self.customers[actor])
        if actor in self.members:
            return ("team_member", self.members[actor])
        return None

    def customer_of(self, customer_id: int) -> str:
        return next(name for name, pk in self.customers.items() if pk == customer_id)


async def fresh_world(db: Stack) -> World:
    """Empty every table, then seed the world. Called at the start of every example."""
    await clear_tables(db.engine)
    async with db.sessionmaker() as session:
        org = await create_organization(session)
        other_org = await create_organization(session)
        team_a1 = await create_team(session, org)
        team_a2 = await create_team(session, org)
        team_b1 = await create_team(session, other_org)
        admin = await create_member(session, org, TeamRole.ADMIN, team_id=team_a1.id)
        agent = await create_member(session, org, team_id=team_a1.id)
        agent2 = await create_member(session, org)
        inactive = await create_member(session, org, is_active=False)
        other_admin = await create_member(session, other_org, TeamRole.ADMIN)
        other_agent = await create_member(session, other_org, team_id=team_b1.id)
        customer1 = await create_customer(session)
        customer2 = await create_customer(session)
        seeded = [
            (org, customer1, {"assignee_id": agent.id, "team_id": team_a1.id}),
            (other_org, customer2, {"assignee_id": other_agent.id}),
            (org, customer2, {}),
        ]
        tickets = []
        for n, (owner, customer, values) in enumerate(seeded):
            ticket = await create_ticket(
                session,
                owner,
                customer,
                metadata_={"note": METADATA_MARKER, "n": n},
                tags=["seeded"],
                **values,
            )
            staff = agent if owner is org else other_agent
            await add_response(session, ticket, staff, "We are looking into it.")
            await add_response(session, ticket, staff, f"{INTERNAL_MARKER} {n}", internal=True)
            tickets.append(ticket.id)
        members = {
            "admin": admin,
            "agent": agent,
            "agent2": agent2,
            "inactive": inactive,
            "other_admin": other_admin,
            "other_agent": other_agent,
        }
        world = World(
            orgs={"org": org.id, "other_org": other_org.id},
            teams={"team_a1": team_a1.id, "team_a2": team_a2.id, "team_b1": team_b1.id},
            members={name: m.id for name, m in members.items()},
            customers={"customer1": customer1.id, "customer2": customer2.id},
            subjects={
                **{name: m.user_id for name, m in members.items()},
                "customer1": customer1.user_id,
                "customer2": customer2.user_id,
            },
            staff_org={name: m.organization_id for name, m in members.items()},
            tickets=tickets,
        )
        await session.commit()
    return world


# --- requests ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Huge:
    """A very long string, kept short in Hypothesis' reports; expanded when sent."""

    length: int
    char: str = "x"

    def __str__(self) -> str:
        return self.char * self.length


def expand(value: Any) -> Any:
    """JSON `default` hook: Huge values become their text."""
    if isinstance(value, Huge):
        return str(value)
    raise TypeError(f"not JSON: {type(value).__name__}")


def app_client(app: Starlette) -> httpx.AsyncClient:
    """A client on the real app that sees a crash as the 500 a real server would answer."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://test", timeout=60)


def encode_operation(
    document: str, variables: Mapping[str, Any] | None = None, **extra: Any
) -> bytes:
    """JSON the way a lenient client writes it: \\u escapes (so lone surrogates travel as
    escapes), NaN and Infinity allowed."""
    body = {"query": document, "variables": dict(variables or {}), **extra}
    return json.dumps(body, ensure_ascii=True, allow_nan=True, default=expand).encode("ascii")


async def post(
    client: httpx.AsyncClient,
    content: bytes | str,
    *,
    token: str | None = None,
    content_type: str = "application/json",
    headers: Mapping[str, str] | None = None,
) -> httpx.Response:
    all_headers = {"Content-Type": content_type, **(headers or {})}
    if token is not None:
        all_headers["Authorization"] = f"Bearer {token}"
    return await client.post("/graphql", content=content, headers=all_headers)


@dataclass
class Answer:
    status: int
    text: str
    body: dict[str, Any] | None

    @property
    def errors(self) -> list[dict[str, Any]]:
        return list((self.body or {}).get("errors") or [])

    @property
    def codes(self) -> list[str | None]:
        return [(e.get("extensions") or {}).get("code") for e in self.errors]


def check_answer(response: httpx.Response, *, what: str = "") -> Answer:
    """Invariant (d): never a 5xx, never an unmasked or uncoded error.

    Every error carries a documented `extensions.code` (never INTERNAL), and no error text
    shows a traceback, SQL or driver internals."""
    context = f"{what}\n--> HTTP {response.status_code}: {response.text[:2000]}"
    assert response.status_code < 500, f"server error{context}"
    content_type = response.headers.get("content-type", "")
    if content_type.startswith("text/html"):
        return Answer(response.status_code, response.text, None)
    assert content_type.startswith("application/json"), f"not a JSON answer{context}"
    body = response.json()
    assert isinstance(body, dict), f"not a JSON object{context}"
    errors = body.get("errors")
    if response.status_code != 200:
        assert errors, f"a non-200 answer must carry errors{context}"
    for error in errors or []:
        code = (error.get("extensions") or {}).get("code")
        assert code in KNOWN_ERROR_CODES, f"error code {code!r} not in the documented set{context}"
        shown = json.dumps(error, ensure_ascii=False)
        for pattern in LEAK_PATTERNS:
            assert not pattern.search(shown), f"error shows internals ({pattern.pattern}){context}"
    if "data" not in body:
        assert errors, f"neither data nor errors{context}"
    return Answer(response.status_code, response.text, body)


def assert_no_secrets(answer: Answer, *, what: str = "") -> None:
    """Invariant (b) for one answer to a customer: no internal note, no metadata, no staff-only
    history, anywhere in the body (data or errors)."""
    text = json.dumps(answer.body, ensure_ascii=False) if answer.body is not None else answer.text
    for marker in SECRET_MARKERS:
        assert marker not in text, f"a customer received {marker!r}: {what}\n{text[:3000]}"

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            assert node.get("isInternal") is not True, f"internal item sent to a customer: {what}"
            if "action" in node:
                assert node.get("field") != "metadata", f"metadata history to a customer: {what}"
            assert node.get("metadata") is None, f"metadata sent to a customer: {what}"
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk((answer.body or {}).get("data"))


# --- database snapshots --------------------------------------------------------------------

TICKET_COLUMNS = (
    "organization_id",
    "customer_id",
    "number",
    "title",
    "description",
    "status",
    "priority",
    "assignee_id",
    "team_id",
    "tags",
    "metadata_",
    "version",
    "created_at",
    "updated_at",
    "first_responded_at",
    "resolved_at",
    "closed_at",
    "idempotency_key",
)


@dataclass(frozen=True)
class HistoryRow:
    ticket_id: int
    actor: tuple[str, int] | None
    action: str
    field: str | None
    old: str | None
    new: str | None
    internal: bool


@dataclass
class Snapshot:
    tickets: dict[int, dict[str, Any]]
    responses: dict[int, tuple[int, bool, str]]  # id -> (ticket_id, is_internal, body)
    history: dict[int, HistoryRow]


async def snapshot(db: Stack) -> Snapshot:
    async with db.sessionmaker() as session:
        tickets = (await session.scalars(select(Ticket))).all()
        responses = (await session.scalars(select(TicketResponse))).all()
        history = (await session.scalars(select(TicketHistory))).all()
        return Snapshot(
            tickets={t.id: {c: getattr(t, c) for c in TICKET_COLUMNS} for t in tickets},
            responses={r.id: (r.ticket_id, r.is_internal, r.body) for r in responses},
            history={
                h.id: HistoryRow(
                    h.ticket_id,
                    (str(h.actor_type), h.actor_id) if h.actor_id is not None else None,
                    str(h.action),
                    h.field_name,
                    h.old_value,
                    h.new_value,
                    h.is_internal,
                )
                for h in history
            },
        )
