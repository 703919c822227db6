"""Hypothesis strategies for query documents over what the compiled path covers (and a little
beyond it): random selections, aliases, inline and named fragments, variables, page arguments
and cursors."""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import strategies as st

SCALARS = {
    "Ticket": [
        "id",
        "number",
        "title",
        "description",
        "status",
        "priority",
        "tags",
        "version",
        "createdAt",
        "updatedAt",
        "firstRespondedAt",
        "resolvedAt",
        "closedAt",
        "metadata",
        "__typename",
    ],
    "Response": ["id", "body", "isInternal", "createdAt", "editedAt", "__typename"],
    "Customer": ["id", "name", "company", "avatarUrl", "email", "createdAt", "__typename"],
    "TeamMember": ["id", "name", "role", "avatarUrl", "isActive", "email", "__typename"],
    "Team": ["id", "name", "__typename"],
    "Organization": ["id", "name", "slug", "__typename"],
    "PageInfo": ["hasNextPage", "hasPreviousPage", "startCursor", "endCursor", "__typename"],
}
RELATIONS = {
    "Ticket": {
        "organization": "Organization",
        "customer": "Customer",
        "assignee": "TeamMember",
        "team": "Team",
    },
    "TeamMember": {"team": "Team", "organization": "Organization"},
}
SIZES = [None, 0, 1, 2, 3, 20, 101]


class Builder:
    """Collects the variables and fragments a drawn document needs."""

    def __init__(self, draw: Any, response_cursors: list[Any], ticket_cursors: list[Any]):
        self.draw = draw
        self.variables: dict[str, Any] = {}
        self.definitions: list[str] = []
        self.fragments: list[str] = []
        self.cursors = {"Response": response_cursors, "Ticket": ticket_cursors}

    def name(self, prefix: str) -> str:
        return f"{prefix}{len(self.variables) + len(self.fragments)}"

    def value(self, graphql_type: str, value: Any) -> str:
        """A literal, or a variable holding the value."""
        if self.draw(st.booleans()):
            variable = self.name("v")
            self.definitions.append(f"${variable}: {graphql_type}")
            self.variables[variable] = value
            return f"${variable}"
        if value is None:
            return "null"
        if isinstance(value, str):
            return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
        return str(value)

    def page_arguments(self, node_type: str) -> str:
        arguments = []
        direction = self.draw(st.sampled_from(["first", "last", "none"]))
        if direction != "none":
            arguments.append(f"{direction}: {self.value('Int', self.draw(st.sampled_from(SIZES)))}")
        for cursor_name in ("after", "before"):
            if self.draw(st.integers(0, 3)) == 0:
                cursor = self.draw(st.sampled_from(self.cursors[node_type]))
                arguments.append(f"{cursor_name}: {self.value('String', cursor)}")
        return f"({', '.join(arguments)})" if arguments else ""

    def literal_or_variable(self, graphql_type: str, value: Any, literal: str) -> str:
        """`literal` in the document, or a variable of that type holding `value`."""
        if self.draw(st.booleans()):
            variable = self.name("v")
            self.definitions.append(f"${variable}: {graphql_type}")
            self.variables[variable] = value
            return f"${variable}"
        return literal

    def ticket_list_arguments(self, node_ids: list[str]) -> list[str]:
        """`filter:` and `orderBy:` of `tickets`, each part drawn (literals or variables)."""
        arguments = []
        if self.draw(st.booleans()):
            parts = []
            names = self.draw(st.lists(st.sampled_from(sorted(FILTERS)), max_size=3, unique=True))
            for name in names:
                graphql_type, choices = FILTERS[name]
                pool = st.sampled_from(node_ids) if choices is None else st.sampled_from(choices)
                listed = graphql_type.startswith("[")
                value = self.draw(st.lists(pool, max_size=3)) if listed else self.draw(pool)
                items = value if listed else [value]
                enum = graphql_type.strip("[]!") in (
                    "TicketStatus",
                    "TicketPriority",
                    "AssigneeScope",
                )
                rendered = [v if enum else orjson.dumps(v).decode() for v in items]
                literal = f"[{', '.join(rendered)}]" if listed else rendered[0]
                parts.append(f"{name}: {self.literal_or_variable(graphql_type, value, literal)}")
            arguments.append(f"filter: {{ {', '.join(parts)} }}")
        if self.draw(st.booleans()):
            field = self.draw(st.sampled_from(["UPDATED_AT", "CREATED_AT", "PRIORITY", "NUMBER"]))
            direction = self.draw(st.sampled_from(["ASC", "DESC"]))
            arguments.append(f"orderBy: {{ field: {field}, direction: {direction} }}")
        return arguments

    def alias(self) -> str:
        return self.draw(st.sampled_from(["", "", "", "a1: ", "b2: "]))

    def selection(self, type_name: str, depth: int) -> str:
        parts = [
            self.alias() + field
            for field in self.draw(
                st.lists(st.sampled_from(SCALARS[type_name]), min_size=1, max_size=5)
            )
        ]
        if depth < 3:
            for field, target in RELATIONS.get(type_name, {}).items():
                if self.draw(st.integers(0, 3)) == 0:
                    parts.append(f"{self.alias()}{field} {{ {self.selection(target, depth + 1)} }}")
            if type_name == "Ticket" and self.draw(st.booleans()):
                parts.append(
                    self.alias()
                    + "responses"
                    + self.page_arguments("Response")
                    + f" {{ {self.connection('Response', depth + 1)} }}"
                )
            if type_name == "Response" and self.draw(st.booleans()):
                parts.append(f"author {{ {self.person(depth + 1)} }}")
        wrap = self.draw(st.sampled_from(["plain", "plain", "inline", "fragment"]))
        body = " ".join(parts)
        if wrap == "inline":
            return f"... on {type_name} {{ {body} }}"
        if wrap == "fragment":
            name = self.name("F")
            self.fragments.append(f"fragment {name} on {type_name} {{ {body} }}")
            return f"...{name}"
        return body

    def person(self, depth: int) -> str:
        parts = ["__typename"] if self.draw(st.booleans()) else []
        for type_name in self.draw(
            st.lists(st.sampled_from(["Customer", "TeamMember"]), min_size=1, unique=True)
        ):
            parts.append(f"... on {type_name} {{ {self.selection(type_name, depth)} }}")
        return " ".join(parts)

    def connection(self, node_type: str, depth: int) -> str:
        parts = []
        for part in self.draw(
            st.lists(
                st.sampled_from(["nodes", "edges", "pageInfo", "totalCount", "__typename"]),
                min_size=1,
                max_size=3,
                unique=True,
            )
        ):
            if part == "nodes":
                parts.append(f"{self.alias()}nodes {{ {self.selection(node_type, depth)} }}")
            elif part == "edges":
                node = (
                    f"node {{ {self.selection(node_type, depth)} }}"
                    if self.draw(st.booleans())
                    else ""
                )
                parts.append(f"edges {{ cursor {node} }}")
            elif part == "pageInfo":
                parts.append(f"pageInfo {{ {self.selection('PageInfo', depth)} }}")
            else:
                parts.append(part)
        return " ".join(parts)


ENUM_TYPES = ("TicketStatus", "TicketPriority", "AssigneeScope")
# tickets(filter:) fields: their type and values to draw from (None: the ids of node_ids).
FILTERS: dict[str, tuple[str, list[Any] | None]] = {
    "status": ("[TicketStatus!]", ["OPEN", "IN_PROGRESS", "WAITING_ON_CUSTOMER", "CLOSED"]),
    "priority": ("[TicketPriority!]", ["LOW", "HIGH", "URGENT"]),
    "assignee": ("AssigneeScope", ["ME", "UNASSIGNED"]),
    "assigneeId": ("ID", None),
    "teamId": ("[ID!]", None),
    "customerId": ("ID", None),
    "organizationId": ("ID", None),
    "tags": ("[String!]", ["billing", "urgent", " Billing ", "vip"]),
    "createdAfter": ("DateTime", ["2020-01-01T00:00:00Z", "2026-01-05T09:00:00+02:00"]),
    "updatedBefore": ("DateTime", ["2099-01-01T00:00:00Z", "2026-01-05T09:01:00Z"]),
    "search": (
        "String",
        ["printer", "#1", "1", "Pagingreply", "fire #2 printer", "", "export -nothing", "x" * 201],
    ),
}
NODE_TYPES = ["Ticket", "Response", "Customer", "TeamMember", "Team", "Organization"]
STATS = ["total", "open", "inProgress", "waitingOnCustomer", "highPriority", "unassigned"]


@st.composite
def documents(
    draw: Any,
    ids: list[str],
    response_cursors: list[Any],
    ticket_cursors: list[Any],
    node_ids: list[str],
) -> tuple[str, dict[str, Any]]:
    builder = Builder(draw, response_cursors, ticket_cursors)
    roots = []
    kinds = st.sampled_from(["ticket", "tickets", "node", "me", "ticketStats"])
    for root in draw(st.lists(kinds, min_size=1, max_size=3)):
        alias = f"r{len(roots)}: "
        if root == "node":
            node_id = builder.value("ID!", draw(st.sampled_from(node_ids)))
            parts = ["__typename"] if draw(st.booleans()) else []
            for type_name in draw(st.lists(st.sampled_from(NODE_TYPES), min_size=1, unique=True)):
                parts.append(f"... on {type_name} {{ {builder.selection(type_name, 1)} }}")
            roots.append(f"{alias}node(id: {node_id}) {{ id {' '.join(parts)} }}")
        elif root == "me":
            roots.append(f"{alias}me {{ {builder.person(1)} }}")
        elif root == "ticketStats":
            fields = draw(st.lists(st.sampled_from(STATS), min_size=1, max_size=4))
            if draw(st.booleans()):
                fields.append("byStatus { status count __typename }")
            if draw(st.booleans()):
                fields.append("byPriority { count priority }")
            roots.append(f"{alias}ticketStats {{ {' '.join(fields)} }}")
        elif root == "ticket":
            ticket_id = builder.value("ID!", draw(st.sampled_from(ids)))
            roots.append(f"{alias}ticket(id: {ticket_id}) {{ {builder.selection('Ticket', 0)} }}")
        else:
            arguments = builder.page_arguments("Ticket")
            listed = builder.ticket_list_arguments(node_ids)
            if listed:
                inner = arguments[1:-1] if arguments else ""
                arguments = f"({', '.join([*filter(None, [inner]), *listed])})"
            roots.append(f"{alias}tickets{arguments} {{ {builder.connection('Ticket', 0)} }}")
    definitions = f"({', '.join(builder.definitions)})" if builder.definitions else ""
    document = f"query Generated{definitions} {{ {' '.join(roots)} }} " + " ".join(
        builder.fragments
    )
    return document, builder.variables
