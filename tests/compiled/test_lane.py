"""The compiled lane (server/compiled_lane.py) answers repeats of compiled queries without the
schema's pipeline. It must leave to the pipeline everything the pipeline would answer
differently: a cost over the limit with other variables, variables that do not coerce, another
operation of the document, other bodies; and it must still count and log the operation."""

from __future__ import annotations

from typing import Any

import orjson
from prometheus_client import REGISTRY

from schema.compiled import outcomes
from tests.compiled.conftest import Differential, normalized
from tests.graphql import global_id

JSON = {"content-type": "application/json"}
PAGES = """query Pages($n: Int, $m: Int) {
  tickets(first: $n) { edges { node { id responses(first: $m) { nodes { id } } } } }
}"""


async def _post(differential: Differential, body: Any, **headers: str) -> tuple[Any, int]:
    before = outcomes["lane"]
    async with differential.stack.client(differential.tokens["agent"]) as client:
        response = await client.post("/graphql", content=body, headers=headers)
    return response, outcomes["lane"] - before


async def _as_reference(differential: Differential, response: Any, body: Any) -> None:
    """The answer is the reference path's (COMPILED_QUERIES=false), request ids aside."""
    async with differential.stack.client(
        differential.tokens["agent"], app=differential.reference
    ) as client:
        reference = await client.post("/graphql", content=body, headers=JSON)
    assert response.status_code == reference.status_code
    assert normalized(response.json()) == normalized(reference.json())


async def _admit(differential: Differential, body: dict[str, Any]) -> None:
    """Answer the body twice: the second time through the lane (PostgreSQL)."""
    await _post(differential, _encode(body), **JSON)
    response, laned = await _post(differential, _encode(body), **JSON)
    assert response.status_code == 200, response.text
    assert laned == int(differential.compiles), dict(outcomes)


def _encode(body: dict[str, Any]) -> bytes:
    return orjson.dumps(body)


async def test_a_cost_over_the_limit_is_refused_after_a_cheap_repeat(
    differential: Differential,
) -> None:
    await _admit(differential, {"query": PAGES, "variables": {"n": 2, "m": 2}})
    expensive = _encode({"query": PAGES, "variables": {"n": 100, "m": 100}})
    response, laned = await _post(differential, expensive, **JSON)
    assert laned == 0
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "QUERY_TOO_COMPLEX"
    await _as_reference(differential, response, expensive)


async def test_variables_that_do_not_coerce_get_the_pipelines_error(
    differential: Differential,
) -> None:
    await _admit(differential, {"query": PAGES, "variables": {"n": 1, "m": 1}})
    for variables in ({"n": "many"}, {"n": 1, "m": [1]}, {"n": 2**40}):
        wrong = _encode({"query": PAGES, "variables": variables})
        response, laned = await _post(differential, wrong, **JSON)
        assert laned == 0
        assert response.json()["errors"][0]["extensions"]["code"] in (
            "BAD_USER_INPUT",
            "QUERY_TOO_COMPLEX",
        )
        await _as_reference(differential, response, wrong)


async def test_another_operation_of_the_document_is_not_the_admitted_one(
    differential: Differential,
) -> None:
    ticket = global_id("Ticket", differential.world.ticket.id)
    document = (
        "query One($id: ID!) { ticket(id: $id) { title } }\n"
        "query Two($id: ID!) { ticket(id: $id) { number } }"
    )
    await _admit(
        differential, {"query": document, "operationName": "One", "variables": {"id": ticket}}
    )
    # Without a name the document has no single operation: whatever the pipeline makes of
    # that, the lane does not answer it with One's plan.
    unnamed = _encode({"query": document, "variables": {"id": ticket}})
    response, laned = await _post(differential, unnamed, **JSON)
    assert laned == 0
    await _as_reference(differential, response, unnamed)
    two = _encode({"query": document, "operationName": "Two", "variables": {"id": ticket}})
    response, _ = await _post(differential, two, **JSON)
    assert response.json()["data"] == {"ticket": {"number": differential.world.ticket.number}}


async def test_bodies_the_lane_does_not_read_go_to_the_pipeline(
    differential: Differential,
) -> None:
    query = "query Me { me { __typename } }"
    await _admit(differential, {"query": query})
    for body, content_type in (
        (b'{"query": "query Me { me { __typename } }", "variables": [1]}', "application/json"),
        (b'{"query": "query Me { me { __typename } }"', "application/json"),
        (b'{"query": "query Me { me { __typename } }", "extra": 1}', "application/json"),
        (b"query Me { me { __typename } }", "application/graphql"),
    ):
        response, laned = await _post(differential, body, **{"content-type": content_type})
        assert laned == 0, body
        assert response.status_code in (200, 400, 415), response.text
    # A plain repeat is still the lane's, and says what the pipeline says.
    response, laned = await _post(differential, _encode({"query": query}), **JSON)
    assert laned == int(differential.compiles)
    assert response.json()["data"] == {"me": {"__typename": "TeamMember"}}
    assert response.json()["extensions"]["cost"]["requested"] >= 1


async def test_lane_answers_are_counted_as_operations(differential: Differential) -> None:
    query = "query CountedRepeat { me { __typename } }"
    labels = {"operation": "CountedRepeat", "type": "query", "outcome": "ok"}

    def counted() -> float:
        return REGISTRY.get_sample_value("helpdesk_graphql_operations_total", labels) or 0.0

    before = counted()
    await _admit(differential, {"query": query})
    assert counted() - before == 2
