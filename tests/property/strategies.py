"""Hypothesis strategies: sequences of helpdesk operations by random identities, and the values
that go into them (valid, borderline and hostile)."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from tests.property.harness import CUSTOMERS, META_MARKER, NOTE_MARKER, Huge

STATUSES = ("OPEN", "IN_PROGRESS", "WAITING_ON_CUSTOMER", "RESOLVED", "CLOSED")
PRIORITIES = ("LOW", "MEDIUM", "HIGH", "URGENT")
STAFF = ("agent", "agent2", "admin", "other_agent", "other_admin")


@dataclass(frozen=True)
class Ref:
    """A reference into the example's world, resolved to a global id when the operation runs.

    kind: ticket (key: index into the world's tickets, or "ghost" / "wrong_type" / "garbage"),
    own_ticket (key: index into the tickets the caller may see, if any), team, customer, org
    (key: index, None or "ghost"), member (also "self"), version (key: "current", "stale", or
    a literal int)."""

    kind: str
    key: int | str | None


@dataclass(frozen=True)
class Op:
    """One request: `actor` calls `action` (a mutation, or "view") with `input`."""

    actor: str
    action: str
    input: dict[str, Any]


# --- values --------------------------------------------------------------------------------

plain_text = st.text(
    st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1, max_size=24
)
edge_text = st.sampled_from(
    [
        "",
        "   ",
        "\t\n",
        "a\x00b",
        "\ud800",
        "x\udfffy",
        "x" * 301,
        " é ",
        "\u202e\u200b",
        "😀" * 10,
        "#1",
        "%_\\'\"",
    ]
)
title = st.one_of(*[plain_text] * 6, edge_text)
body_text = st.one_of(*[plain_text] * 8, edge_text, st.just(Huge(20_001, "y")))
status = st.sampled_from(STATUSES)
priority = st.sampled_from(PRIORITIES)

good_tag = st.one_of(
    st.sampled_from(["bug", "billing", "vip", "Urgent", " spaced ", "a_b-c", "seeded"]),
    st.from_regex(r"[a-z0-9][a-z0-9_-]{0,8}", fullmatch=True),
)
bad_tag = st.sampled_from(["bad tag", "ü", "x" * 51, "", "-lead", "\x00", "\ud800"])
tags = st.one_of(
    *[st.lists(st.one_of(*[good_tag] * 8, bad_tag), max_size=4)] * 6,
    st.just([f"t{i}" for i in range(21)]),
)

bad_json_leaf = st.sampled_from(
    [float("nan"), float("inf"), -float("inf"), 2**60, -(2**53), "a\x00", "\udc00"]
)
json_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**53) + 1, 2**53 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=8),
)
json_value = st.recursive(
    json_leaf,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)


def _nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {"secret": META_MARKER}
    for _ in range(depth):
        value = {"d": value}
    return value


_metadata_object = st.dictionaries(st.text(max_size=6), json_value, max_size=4).map(
    lambda d: {**d, "secret": META_MARKER}
)
metadata = st.one_of(
    *[_metadata_object] * 8,
    st.tuples(_metadata_object, bad_json_leaf).map(lambda pair: {**pair[0], "bad": [pair[1]]}),
    st.sampled_from([[], "text", 3, True, [{"secret": META_MARKER}], {"\ud800": META_MARKER}]),
    st.integers(14, 40).map(_nested),
    st.just({"secret": META_MARKER, "blob": Huge(17_000, "z")}),
)

# --- references ----------------------------------------------------------------------------

_index = st.integers(0, 15)
ticket = st.one_of(
    *[_index.map(lambda key: Ref("own_ticket", key))] * 4,
    *[_index.map(lambda key: Ref("ticket", key))] * 2,
    st.sampled_from(["ghost", "wrong_type", "garbage"]).map(lambda key: Ref("ticket", key)),
)
team = st.one_of(st.integers(0, 2), st.none(), st.just("ghost")).map(lambda k: Ref("team", k))
member = st.one_of(
    st.integers(0, 5), st.just("self"), st.just("self"), st.none(), st.just("ghost")
).map(lambda k: Ref("member", k))
customer = st.one_of(st.integers(0, 1), st.integers(0, 1), st.just("ghost")).map(
    lambda k: Ref("customer", k)
)
organization = st.one_of(st.integers(0, 1), st.integers(0, 1), st.just("ghost")).map(
    lambda k: Ref("org", k)
)
expected_version = st.one_of(
    st.just("current"), st.just("stale"), st.integers(-1, 40), st.just(2**31)
).map(lambda k: Ref("version", k))

# --- operations ----------------------------------------------------------------------------

actor = st.sampled_from(
    [
        "customer1",
        "customer1",
        "customer2",
        "customer2",
        "agent",
        "agent",
        "admin",
        "admin",
        "agent2",
        "other_agent",
        "other_admin",
        "anonymous",
        "inactive",
    ]
)


def _create(who: str) -> st.SearchStrategy[dict[str, Any]]:
    if who in CUSTOMERS:
        required = {"title": title, "organizationId": organization}
        optional = {
            "description": body_text,
            "priority": priority,
            "idempotencyKey": st.sampled_from(["k1", "k2", "", "x" * 101]),
        }
        rare = {"customerId": customer, "teamId": team, "tags": tags, "metadata": metadata}
    else:
        required = {"title": title, "customerId": customer}
        optional = {
            "description": body_text,
            "priority": priority,
            "teamId": team,
            "tags": tags,
            "metadata": metadata,
            "idempotencyKey": st.sampled_from(["k1", "k2"]),
        }
        rare = {"organizationId": organization}
    return st.tuples(
        st.fixed_dictionaries(required, optional=optional),
        st.fixed_dictionaries({}, optional=rare),
        st.integers(0, 4),
    ).map(lambda parts: {**parts[0], **(parts[1] if parts[2] == 0 else {})})


def _update(who: str) -> st.SearchStrategy[dict[str, Any]]:
    nullable = st.none()
    staff_fields = {
        "title": st.one_of(title, title, nullable),
        "description": body_text,
        "status": st.one_of(status, status, nullable),
        "priority": priority,
        "teamId": team,
        "tags": tags,
        "metadata": st.one_of(metadata, nullable),
    }
    if who in CUSTOMERS:
        return st.tuples(
            st.fixed_dictionaries(
                {"id": ticket, "status": status}, optional={"expectedVersion": expected_version}
            ),
            st.fixed_dictionaries({}, optional=staff_fields),
            st.integers(0, 4),
        ).map(lambda parts: {**parts[0], **(parts[1] if parts[2] == 0 else {})})
    return st.fixed_dictionaries(
        {"id": ticket}, optional={**staff_fields, "expectedVersion": expected_version}
    )


def _respond(who: str) -> st.SearchStrategy[dict[str, Any]]:
    internal = st.booleans() if who not in CUSTOMERS else st.sampled_from([False] * 5 + [True])
    return st.builds(
        lambda t, body, is_internal: {
            "ticketId": t,
            "body": f"{NOTE_MARKER} {body}" if is_internal and isinstance(body, str) else body,
            "internal": is_internal,
        },
        ticket,
        body_text,
        internal,
    )


def _assign(who: str) -> st.SearchStrategy[dict[str, Any]]:
    return st.one_of(
        *[st.fixed_dictionaries({"ticketId": ticket, "assigneeId": member})] * 5,
        st.fixed_dictionaries({"ticketId": ticket}),  # assigneeId is required, even if nullable
    )


def _bulk(who: str) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {"ticketIds": st.lists(ticket, min_size=1, max_size=4)},
        optional={
            "status": status,
            "priority": priority,
            "teamId": team,
            "assigneeId": member,
            "addTags": tags,
            "removeTags": tags,
        },
    )


def _view(who: str) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({"id": ticket})


ACTIONS = {
    "createTicket": _create,
    "updateTicket": _update,
    "addResponse": _respond,
    "assignTicket": _assign,
    "bulkUpdateTickets": _bulk,
    "view": _view,
}
# Weighted: updates and replies are where the rules are.
ACTION_CHOICES = [
    "createTicket",
    "createTicket",
    "updateTicket",
    "updateTicket",
    "updateTicket",
    "addResponse",
    "addResponse",
    "addResponse",
    "assignTicket",
    "assignTicket",
    "bulkUpdateTickets",
    "view",
]


def _op(who: str, action: str) -> st.SearchStrategy[Op]:
    if action == "bulkUpdateTickets" and who in STAFF and who not in ("admin", "other_admin"):
        action = "updateTicket"  # agents are refused at once; keep bulk mostly for admins
    return st.builds(Op, st.just(who), st.just(action), ACTIONS[action](who))


operation = st.tuples(actor, st.sampled_from(ACTION_CHOICES)).flatmap(lambda pair: _op(*pair))
operations = st.lists(operation, min_size=1, max_size=12)


# --- fuzzing -------------------------------------------------------------------------------

# Any character at all, lone surrogates included (they travel as \u escapes in the JSON).
any_char = st.characters(exclude_categories=())
any_text = st.text(any_char, max_size=40)
TYPE_NAMES = (
    "Ticket",
    "Response",
    "HistoryEntry",
    "Customer",
    "TeamMember",
    "Team",
    "Organization",
)
# Keys that look like numbers to str.isdigit() or int() but are not ASCII row ids: other
# scripts' digits, superscripts, signs, spaces, underscores, huge and zero-padded values.
odd_key = st.one_of(
    st.sampled_from(["\u00b9", "\u0661\u0662", "\uff11", "\u2460", "+1", "-1", " 1", "1 ", "1_0"]),
    st.sampled_from(["0", "00", "007", "9" * 19, "1e3", "0x10", "\u00b2\u00b3"]),
    st.text(st.characters(categories=["Nd", "No"]), min_size=1, max_size=4),
)
odd_global_id = st.builds(
    lambda type_name, key: base64.b64encode(f"{type_name}:{key}".encode()).decode(),
    st.sampled_from(TYPE_NAMES),
    odd_key,
)
# Timestamps that parse but fall outside years 1-9999 once converted to UTC, or nearly so.
odd_datetime = st.sampled_from(
    [
        "0001-01-01T00:00:00+14:00",
        "0001-01-01T00:00:00+00:01",
        "9999-12-31T23:59:59-14:00",
        "9999-12-31T23:59:59.999999-00:01",
        "0001-01-01T00:00:00Z",
        "9999-12-31T23:59:59Z",
        "2024-02-30T00:00:00Z",
        "2024-01-01T24:00:00Z",
        "2024-01-01T00:00:00+24:00",
    ]
)
# List cursors (base64 JSON [order, value, id]) carrying such timestamps or odd ids.
odd_cursor = st.builds(
    lambda order, value, row: base64.urlsafe_b64encode(
        json.dumps([order, value, row]).encode()
    ).decode(),
    st.sampled_from(["updated_at", "created_at", "priority", "number", "x"]),
    st.one_of(odd_datetime, odd_key, st.integers(-1, 2**64)),
    st.one_of(st.integers(-1, 2**64), odd_key),
)
hostile_text = st.one_of(
    any_text,
    edge_text,
    st.sampled_from(["\x00", "\ud800", "\udfff\ud800", "a\x00\ud83d", "\ufffe\uffff", "\u0085"]),
    st.integers(1_000, 250_000).map(Huge),
    odd_global_id,
    odd_datetime,
    odd_cursor,
)
hostile_number = st.one_of(
    st.integers(),
    st.integers(min_value=2**31 - 2, max_value=2**31 + 2),
    st.integers(min_value=2**63 - 1, max_value=2**64 + 1),
    st.sampled_from([10**400, -(10**400)]),
    st.floats(),  # NaN, Infinity and -Infinity too
)
hostile_json = st.recursive(
    st.one_of(st.none(), st.booleans(), hostile_number, hostile_text),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.one_of(any_text, st.sampled_from(["id", "input", "title"])), inner, max_size=4
        )
    ),
    max_leaves=12,
)
