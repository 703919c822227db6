"""The compiled read path answers exactly like the reference path, for every identity of the
permission matrix: the README's queries, the bench's read workloads, hand-picked edge cases
(errors included) and generated documents. On SQLite the compiled path never runs."""

from __future__ import annotations

import re
from typing import Any

import pytest
from graphql import (
    FragmentDefinitionNode,
    OperationDefinitionNode,
    OperationType,
    parse,
    print_ast,
)
from hypothesis import given
from hypothesis import strategies as st

from bench.run import W1, W2, W3
from schema.compiled import outcomes
from tests.compiled.conftest import Differential, node_ids, ticket_ids
from tests.compiled.documents import documents
from tests.graphql import global_id
from tests.property.profiles import budget
from tests.security.world import IDENTITIES, World
from tests.test_readme import BLOCKS


def _readme_queries() -> list[str]:
    """Each query operation of the README alone, with its block's fragments (a block may
    also hold mutations, which must not run twice)."""
    found = []
    for block in BLOCKS:
        definitions = parse(block).definitions
        fragments = [d for d in definitions if isinstance(d, FragmentDefinitionNode)]
        for definition in definitions:
            if (
                isinstance(definition, OperationDefinitionNode)
                and definition.operation is OperationType.QUERY
            ):
                found.append(
                    "\n\n".join(print_ast(d) for d in [definition, *_used(definition, fragments)])
                )
    return found


def _used(
    operation: OperationDefinitionNode, fragments: list[FragmentDefinitionNode]
) -> list[FragmentDefinitionNode]:
    """The fragments the operation spreads, directly or through other fragments."""
    by_name = {f.name.value: f for f in fragments}
    used: dict[str, FragmentDefinitionNode] = {}
    pending = [operation]
    while pending:
        node = pending.pop()
        for name in re.findall(r"\.\.\.\s*([_A-Za-z]\w*)", print_ast(node)):
            if name in by_name and name not in used and name != "on":
                used[name] = by_name[name]
                pending.append(by_name[name])  # type: ignore[arg-type]
    return list(used.values())


def _variables(document: str, world: World) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for definition in parse(document).definitions:
        if not isinstance(definition, OperationDefinitionNode):
            continue
        for variable in definition.variable_definitions or ():
            name, kind = variable.variable.name.value, print_ast(variable.type)
            if name == "team":
                values[name] = global_id("Team", world.team.id)
            elif kind.startswith("ID"):
                values[name] = global_id("Ticket", world.ticket.id)
    return values


@pytest.mark.parametrize("identity", IDENTITIES)
@pytest.mark.parametrize("document", _readme_queries())
async def test_readme_queries(differential: Differential, document: str, identity: str) -> None:
    await differential.compare(identity, document, _variables(document, differential.world))


# The compiled path must serve these (not fall back) for everyone who may read them.
CORE = {
    "W1": W1,
    "W2": W2,
    "W3": W3,
    "paged": """query($id: ID!, $after: String) { ticket(id: $id) {
        id customer { id name email createdAt } team { name }
        first: responses(first: 2, after: $after) { totalCount edges { cursor node { id body } }
          pageInfo { hasNextPage hasPreviousPage startCursor endCursor } }
        latest: responses(last: 3) { nodes { id createdAt editedAt isInternal author {
          ... on Customer { name } ... on TeamMember { name role isActive avatarUrl } } }
          pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } } }""",
    "me and stats": """query { me { __typename ... on Customer { id name email }
        ... on TeamMember { id name role isActive team { name } organization { slug } } }
        ticketStats { total open inProgress waitingOnCustomer highPriority unassigned
          byStatus { status count } byPriority { __typename priority count } } }""",
    "counts": """query($id: ID!) { ticket(id: $id) { responses { totalCount __typename } }
        tickets(first: 1) { totalCount } empty: tickets(first: 1) { __typename } }""",
    "node": """query($id: ID!) { node(id: $id) { __typename id ... on Ticket { title
        responses(last: 1) { nodes { body } } } } }""",
    "fragments": """query Q($id: ID!) { a: ticket(id: $id) { ...T } __typename }
        fragment T on Ticket { __typename id ... on Node { id } status priority tags version
          createdAt updatedAt firstRespondedAt resolvedAt closedAt organization { id name slug }
          responses { __typename totalCount edges { __typename cursor } } }""",
    "filtered": """query($after: String) { tickets(first: 5, after: $after,
        filter: { status: [OPEN, IN_PROGRESS, WAITING_ON_CUSTOMER], priority: [LOW, MEDIUM, HIGH],
          createdAfter: "2000-01-01T00:00:00Z", updatedBefore: "2999-01-01T00:00:00+02:00" },
        orderBy: { field: PRIORITY, direction: DESC }) {
        totalCount edges { cursor node { id number priority } } pageInfo { endCursor } } }""",
    "searched": """query { tickets(first: 3, filter: { search: "printer #1" },
        orderBy: { field: NUMBER, direction: ASC }) {
        totalCount nodes { id number title } pageInfo { startCursor endCursor hasNextPage } } }""",
    "oldest": """query { tickets(last: 2, orderBy: { field: CREATED_AT, direction: ASC }) {
        nodes { id createdAt } pageInfo { hasPreviousPage startCursor } } }""",
}


@pytest.mark.parametrize("identity", IDENTITIES)
@pytest.mark.parametrize("name", sorted(CORE))
async def test_bench_and_core_documents(
    differential: Differential, name: str, identity: str
) -> None:
    world = differential.world
    variables = {"id": global_id("Ticket", world.ticket.id), "after": None}
    body, used = await differential.compare(identity, CORE[name], variables)
    readable = identity in ("customer", "agent", "admin") or name in ("W2", "W3")
    if differential.compiles and identity != "anonymous" and readable:
        assert used, body
        assert "errors" not in body, body


@pytest.mark.parametrize("identity", ["agent", "admin"])
async def test_the_readme_queue_is_compiled(differential: Differential, identity: str) -> None:
    """The README's agent queue (filter, search, priority order, latest replies) is answered by
    the compiled path, not only equal to the reference's answer."""
    (queue,) = [d for d in _readme_queries() if d.lstrip().startswith("query Queue")]
    body, used = await differential.compare(identity, queue, _variables(queue, differential.world))
    assert "errors" not in body, body
    assert used == differential.compiles


EDGE_CASES = [
    # Arguments the resolvers refuse, and objects that are not there: the reference's errors.
    ("query($id: ID!) { ticket(id: $id) { id } }", {"id": "bm90IGEgaWQ="}),
    ("query($id: ID!) { ticket(id: $id) { id } }", {"id": "%%%"}),
    ("query { tickets(first: 101) { totalCount } }", {}),
    ("query { tickets(first: 1, last: 1) { totalCount } }", {}),
    ('query { tickets(after: "garbage") { totalCount } }', {}),
    ("query($n: Int) { tickets(first: $n) { totalCount } }", {"n": "three"}),
    ("query($n: Int = 1) { tickets(first: $n) { nodes { id } pageInfo { hasNextPage } } }", {}),
    ("query { tickets(first: 0) { nodes { id } pageInfo { hasNextPage endCursor } } }", {}),
    ("query { tickets(last: 2) { nodes { id } pageInfo { hasPreviousPage startCursor } } }", {}),
    ("query { tickets { nodes { metadata customer { email } assignee { email } } } }", {}),
    ("query { tickets { nodes { id } } me { __typename } }", {}),
    ("query { tickets(filter: {status: [OPEN]}) { totalCount } }", {}),
    ("query($s: Boolean!) { tickets { nodes { id @include(if: $s) } } }", {"s": False}),
    ("mutation { __typename }", {}),
]


@pytest.mark.parametrize("identity", IDENTITIES)
@pytest.mark.parametrize(("query", "variables"), EDGE_CASES)
async def test_edge_cases(
    differential: Differential, query: str, variables: dict[str, Any], identity: str
) -> None:
    await differential.compare(identity, query, variables)


@pytest.mark.parametrize("identity", IDENTITIES)
async def test_every_ticket_id_and_every_cursor(differential: Differential, identity: str) -> None:
    """Each id (readable or not, wrong type, malformed) and each cursor, both directions."""
    world = differential.world
    for ticket_id in ticket_ids(world):
        await differential.compare(identity, CORE["paged"], {"id": ticket_id, "after": None})
    node = """query($id: ID!) { node(id: $id) { id __typename ... on Ticket { title }
      ... on Response { body isInternal author { __typename } } ... on Customer { name email }
      ... on TeamMember { name email team { name } } ... on Team { name }
      ... on Organization { slug } ... on Attachment { filename } } }"""
    for node_id in node_ids(world):
        await differential.compare(identity, node, {"id": node_id})
    query = """query($id: ID!, $c: String) { ticket(id: $id) {
      f: responses(first: 2, after: $c) { nodes { id } pageInfo { hasNextPage hasPreviousPage } }
      b: responses(last: 2, before: $c) { nodes { id } pageInfo { hasNextPage hasPreviousPage } }
    } }"""
    for cursor in differential.response_cursors + differential.ticket_cursors[:1]:
        variables = {"id": global_id("Ticket", world.ticket.id), "c": cursor}
        await differential.compare(identity, query, variables)
    tickets = """query($c: String) {
      f: tickets(first: 1, after: $c) { nodes { id } pageInfo { hasNextPage endCursor } }
      b: tickets(last: 1, before: $c) { edges { cursor } pageInfo { hasPreviousPage } } }"""
    for cursor in differential.ticket_cursors + differential.response_cursors[:1]:
        await differential.compare(identity, tickets, {"c": cursor})


@budget(40)
@given(data=st.data())
async def test_generated_documents(differential: Differential, data: st.DataObject) -> None:
    world = differential.world
    query, variables = data.draw(
        documents(
            ticket_ids(world),
            [*differential.response_cursors, None, "", "bm9wZQ=="],
            [*differential.ordered_ticket_cursors, None],
            node_ids(world),
        )
    )
    identity = data.draw(st.sampled_from(IDENTITIES))
    await differential.compare(identity, query, variables)


async def test_generated_documents_mostly_compile(differential: Differential) -> None:
    """The generated documents above are no vacuous comparison: on PostgreSQL most of them
    were answered by the compiled path."""
    # No request fell back because the compiled path broke (only because it must).
    assert outcomes["fallback: failure"] == 0, dict(outcomes)
    if differential.compiles:
        assert differential.compiled > 100, dict(outcomes)
        assert differential.laned > 100, dict(outcomes)
    else:
        assert differential.compiled == differential.laned == 0, dict(outcomes)
