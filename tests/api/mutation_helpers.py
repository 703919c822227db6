"""Shared helpers for the mutation tests: call as someone, then read what the database says."""

from __future__ import annotations

import base64
import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import func, select

from models import Customer, TeamMember, Ticket, TicketHistory, TicketResponse
from tests.conftest import Stack
from tests.graphql import error_codes, execute, global_id

Caller = Customer | TeamMember | None

# Fields every mutation test reads back from a returned ticket.
TICKET_FIELDS = """
  id number title description status priority tags version
  firstRespondedAt resolvedAt closedAt
  customer { name }
  assignee { id }
  team { id }
"""

MEGABYTE = "x" * 1_000_000


async def call(
    db: Stack, caller: Caller, document: str, variables: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Send one operation as `caller` (None: anonymous) through the real app."""
    token = db.token(caller.user_id) if caller is not None else None
    async with db.client(token) as client:
        return await execute(client, document, variables)


async def post_leniently(db: Stack, caller: Caller, text: str) -> httpx.Response:
    """POST a JSON body as given (Python's json writes \\u escapes, NaN and Infinity, which
    httpx refuses to), and see a crash of the app as the 500 a real server would answer."""
    headers = {"Content-Type": "application/json"}
    if caller is not None:
        headers["Authorization"] = f"Bearer {db.token(caller.user_id)}"
    transport = httpx.ASGITransport(app=db.app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.post("/graphql", content=text, headers=headers)


def operation_text(document: str, variables: dict[str, Any], **raw_json: str) -> str:
    """The JSON text of an operation; each `raw_json` name, used as a string value in the
    variables, is replaced by the given JSON text (for values Python cannot even encode)."""
    text = json.dumps({"query": document, "variables": variables})
    for name, raw in raw_json.items():
        text = text.replace(json.dumps(name), raw)
    return text


def payload_of(body: dict[str, Any], mutation: str) -> dict[str, Any]:
    """The mutation's payload; the request itself must have succeeded."""
    assert "errors" not in body, body["errors"]
    result: dict[str, Any] = body["data"][mutation]
    return result


def assert_refused_as_bad_input(body: dict[str, Any], mutation: str, field: str) -> None:
    """Refused with a top-level BAD_USER_INPUT or a userError on `field`; never INTERNAL."""
    codes = error_codes(body)
    assert codes in ([], ["BAD_USER_INPUT"]), body["errors"]
    if not codes:
        assert [error["field"] for error in body["data"][mutation]["userErrors"]] == [field]


def user_error_codes(payload: dict[str, Any]) -> list[tuple[str | None, str]]:
    return [(error["field"], error["code"]) for error in payload["userErrors"]]


def refusal_of(body: dict[str, Any], mutation: str) -> list[tuple[str | None, str]]:
    """The (field, code) userErrors of a refused mutation: no top-level error, no object."""
    payload = payload_of(body, mutation)
    for name in ("ticket", "response"):
        assert payload.get(name) is None, payload
    return user_error_codes(payload)


async def call_anonymously(
    db: Stack, document: str, variables: dict[str, Any] | None = None
) -> httpx.Response:
    """Send one operation without a token; the raw HTTP response."""
    async with db.client() as client:
        return await client.post("/graphql", json={"query": document, "variables": variables or {}})


def ticket_id(ticket: Ticket | int) -> str:
    return global_id("Ticket", ticket if isinstance(ticket, int) else ticket.id)


def pk_of(node_id: str) -> int:
    """The database id inside a global id."""
    return int(base64.b64decode(node_id).decode().split(":", 1)[1])


def actor_of(person: Customer | TeamMember) -> tuple[str, int]:
    """How a person is recorded as the actor of a history entry."""
    return ("customer" if isinstance(person, Customer) else "team_member", person.id)


@dataclass(frozen=True)
class Change:
    """One history row, as the tests compare it."""

    action: str
    field: str | None = None
    old: str | None = None
    new: str | None = None
    internal: bool = False
    actor: tuple[str, int] | None = None


def change(
    by: Customer | TeamMember,
    action: str,
    field: str | None = None,
    old: Any = None,
    new: Any = None,
    *,
    internal: bool = False,
) -> Change:
    """The history row a person's change should write (values as text, like the table)."""
    return Change(
        action,
        field,
        None if old is None else str(old),
        None if new is None else str(new),
        internal,
        actor_of(by),
    )


async def history_of(db: Stack, ticket: Ticket | int) -> list[Change]:
    """A ticket's history rows, oldest first, straight from the database."""
    pk = ticket if isinstance(ticket, int) else ticket.id
    async with db.sessionmaker() as session:
        rows = await session.scalars(
            select(TicketHistory).where(TicketHistory.ticket_id == pk).order_by(TicketHistory.id)
        )
        return [
            Change(
                str(row.action),
                row.field_name,
                row.old_value,
                row.new_value,
                row.is_internal,
                (str(row.actor_type), row.actor_id) if row.actor_id is not None else None,
            )
            for row in rows
        ]


async def load_ticket(db: Stack, ticket: Ticket | int) -> Ticket:
    """A fresh copy of the ticket row."""
    pk = ticket if isinstance(ticket, int) else ticket.id
    async with db.sessionmaker() as session:
        found = await session.get(Ticket, pk)
        assert found is not None
        return found


async def count_rows(db: Stack, model: Any) -> int:
    async with db.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


TICKET_COLUMNS = (
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
    "updated_at",
    "first_responded_at",
    "resolved_at",
    "closed_at",
    "idempotency_key",
)


async def database_state(db: Stack) -> dict[str, Any]:
    """Everything a refused mutation must leave alone: row counts and every ticket's fields."""
    async with db.sessionmaker() as session:
        tickets = (await session.scalars(select(Ticket).order_by(Ticket.id))).all()
        counts = {
            model.__tablename__: await session.scalar(select(func.count()).select_from(model))
            for model in (Ticket, TicketResponse, TicketHistory)
        }
        return {
            "counts": counts,
            "tickets": {t.id: {c: getattr(t, c) for c in TICKET_COLUMNS} for t in tickets},
        }


def is_recent(moment: dt.datetime | None, within: dt.timedelta = dt.timedelta(minutes=1)) -> bool:
    return moment is not None and dt.datetime.now(dt.UTC) - moment < within
