"""Query limits that bound the server's work before execution (review, findings 2 and 3).

- Field merges: graphql-core's OverlappingFieldsCanBeMergedRule compares every pair of fields
  with one response path, so repeating one field with a sub-selection is quadratic; documents
  over MAX_QUERY_FIELD_MERGES are refused before that rule runs. These tests count work, they
  time nothing: refused documents cost the rule no comparison at all, and for every accepted
  document the rule's comparisons stay within a fixed multiple of the limit.
- Cost: the estimate uses the operation's coerced variables, defaults included, and counts a
  page size it cannot know as the largest page.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from graphql import GraphQLSyntaxError, get_introspection_query, parse, validate
from graphql.validation.rules import overlapping_fields_can_be_merged as overlap
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from bench.validation import repeated, spreads_only, via_fragments
from schema import create_schema
from schema.limits import QueryLimits, field_merges
from tests.conftest import Stack
from tests.factories import World, create_world
from tests.graphql import error_codes

LIMITS = QueryLimits()
GRAPHQL_SCHEMA = create_schema()._schema
README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
README_OPERATIONS = re.findall(r"```graphql\n(.*?)```", README, re.DOTALL)
SUBSELECTION = "responses { totalCount }"


def via_inline_fragments(times: int) -> str:
    return repeated(times, "... on Ticket { responses { totalCount } }")


ATTACKS = {
    # The reviewer's document had 450 repeats (11 KB); since MAX_QUERY_TOKENS is 1,500 the token
    # limit refuses it at parse (test below), so the field-merge limit is shown on 350.
    "350 repeats": repeated(350, SUBSELECTION),
    "150 repeats": repeated(150, SUBSELECTION),
    "through 120 fragments": via_fragments(120),
    "through 150 inline fragments": via_inline_fragments(150),
    "fragments spreading fragments": spreads_only(16),
}


@contextmanager
def overlap_work() -> Iterator[dict[str, int]]:
    """Counts what graphql-core's overlapping-fields rule does: the comparisons it meters
    (its complexity budget) and the selection sets whose fields it collects (which it does
    not meter)."""
    counts = {"budget": 0, "collected": 0}
    spend, collect = overlap.spend_complexity_budget, overlap.collect_fields_impl

    def spending(context: Any, cost: int) -> None:
        counts["budget"] += cost
        spend(context, cost)

    def collecting(*args: Any, **kwargs: Any) -> Any:
        counts["collected"] += 1
        return collect(*args, **kwargs)

    overlap.spend_complexity_budget = spending
    overlap.collect_fields_impl = collecting
    try:
        yield counts
    finally:
        overlap.spend_complexity_budget, overlap.collect_fields_impl = spend, collect


def validation_rules() -> list[Any]:
    from graphql import specified_rules

    from schema.limits import document_size_rule

    return [document_size_rule(LIMITS), *specified_rules]


@pytest.fixture
async def world(session) -> World:
    return await create_world(session)


# --- field merges ------------------------------------------------------------------------


@pytest.mark.parametrize("attack", ATTACKS)
async def test_repeated_fields_are_refused_before_the_quadratic_rule_runs(
    db: Stack, world: World, attack: str
) -> None:
    document = ATTACKS[attack]
    with overlap_work() as work:
        async with db.client(db.token(world.customer.user_id)) as client:
            answer = await client.post("/graphql", json={"query": document})

    body = answer.json()
    assert body["data"] is None
    assert error_codes(body) == ["QUERY_TOO_COMPLEX"]
    assert "field merges" in body["errors"][0]["message"]
    assert work == {"budget": 0, "collected": 0}


@pytest.mark.parametrize("attack", ATTACKS)
async def test_anonymous_callers_are_refused_before_validation(db: Stack, attack: str) -> None:
    # The reviewer sent these anonymously: such a request is now a 401 before validation.
    with overlap_work() as work:
        async with db.client() as client:
            answer = await client.post("/graphql", json={"query": ATTACKS[attack]})

    assert answer.status_code == 401
    assert work == {"budget": 0, "collected": 0}


async def test_the_reviewers_document_is_refused_while_parsing(db: Stack, world: World) -> None:
    with overlap_work() as work:
        async with db.client(db.token(world.customer.user_id)) as client:
            answer = await client.post("/graphql", json={"query": repeated(450, SUBSELECTION)})

    body = answer.json()
    assert error_codes(body) == ["GRAPHQL_PARSE_FAILED"]
    assert "tokens" in body["errors"][0]["message"]
    assert work == {"budget": 0, "collected": 0}


@pytest.mark.parametrize("attack", ATTACKS)
def test_the_attacks_are_within_the_other_limits(attack: str) -> None:
    # Otherwise the tests above would prove nothing about field merges.
    document = parse(ATTACKS[attack], max_tokens=LIMITS.max_tokens)
    assert len(ATTACKS[attack]) < 64_000
    assert field_merges(document, stop_above=10**9) > LIMITS.max_field_merges


def test_field_merges_count_squares_of_repeats_per_path() -> None:
    assert field_merges(parse("{ me { __typename } }"), stop_above=100) == 2
    # tickets, nodes: 1 each; responses and totalCount: 3 each, squared.
    assert field_merges(parse(repeated(3, SUBSELECTION)), stop_above=100) == 1 + 1 + 9 + 9
    # Aliases are other paths.
    aliased = "{ tickets { nodes { a: responses { totalCount } b: responses { totalCount } } } }"
    assert field_merges(parse(aliased), stop_above=100) == 1 + 1 + 1 + 1 + 1 + 1
    # Fragments count where they are spread (and each spread counts one).
    spread = "{ tickets { nodes { ...F ...F } } } fragment F on Ticket { id }"
    assert field_merges(parse(spread), stop_above=100) == 1 + 1 + 2 + 4 + 1


def test_counting_stops_once_over_the_limit() -> None:
    # 2^16 expansions would take long; the count gives up just past the limit (the last step
    # adds 2n + 1 for the n-th repeat of a path).
    assert 100 < field_merges(parse(ATTACKS["fragments spreading fragments"]), stop_above=100) < 130


LEGITIMATE = {
    "introspection": get_introspection_query(
        descriptions=True,
        specified_by_url=True,
        directive_is_repeatable=True,
        schema_description=True,
        input_value_deprecation=True,
    ),
    **{f"README #{i}": op for i, op in enumerate(README_OPERATIONS)},
    # A page built from many components, each spreading its fragment of one ticket.
    "twenty component fragments": "{ tickets { nodes { "
    + " ".join(f"...C{i}" for i in range(20))
    + " } } } "
    + " ".join(f"fragment C{i} on Ticket {{ id __typename status }}" for i in range(20)),
}


@pytest.mark.parametrize("name", LEGITIMATE)
def test_real_documents_stay_far_below_the_limit(name: str) -> None:
    document = parse(LEGITIMATE[name])
    assert validate(GRAPHQL_SCHEMA, document, validation_rules()) == []
    assert field_merges(document, stop_above=10**9) <= LIMITS.max_field_merges // 2


# Documents built from the schema's repeatable paths: a field with a sub-selection, repeated
# at each level, directly, through inline fragments, or through named fragments.
LEVELS = (
    ("tickets", "nodes"),
    ("responses", "nodes"),
    ("author", "... on TeamMember"),
    ("team", None),
)


def generated(repeats: list[int], style: str, leaf: str) -> str:
    fragments: list[str] = []
    names = itertools.count()

    def level(i: int) -> str:
        if i == len(LEVELS):
            return leaf
        field, inner = LEVELS[i]
        body = level(i + 1)
        one = f"{field} {{ {inner} {{ {body} }} }}" if inner else f"{field} {{ {body} }}"
        if style == "inline" and i > 0:
            one = f"... {{ {one} }}"
        elif style == "fragments" and i == 1:
            name = f"G{next(names)}"
            fragments.append(f"fragment {name} on Ticket {{ {one} }}")
            one = f"...{name}"
        return " ".join([one] * repeats[i])

    return "{ " + level(0) + " } " + " ".join(fragments)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    database=None,
)
@given(
    repeats=st.lists(st.integers(1, 30), min_size=len(LEVELS), max_size=len(LEVELS)),
    style=st.sampled_from(["plain", "inline", "fragments"]),
    leaf=st.sampled_from(["name", "id name", "__typename"]),
)
def test_accepted_documents_cost_the_rule_a_bounded_amount_of_work(
    repeats: list[int], style: str, leaf: str
) -> None:
    copies = list(itertools.accumulate(repeats, lambda a, b: a * b))
    assume(sum(copies) <= LIMITS.max_tokens // 4)
    try:  # within the token limit, as a request must be
        document = parse(generated(repeats, style, leaf), max_tokens=LIMITS.max_tokens)
    except GraphQLSyntaxError:
        assume(False)
    merges = field_merges(document, stop_above=LIMITS.max_field_merges)
    with overlap_work() as work:
        errors = validate(GRAPHQL_SCHEMA, document, validation_rules())

    if merges > LIMITS.max_field_merges:
        assert [e.extensions["code"] for e in errors] == ["QUERY_TOO_COMPLEX"]
        assert work == {"budget": 0, "collected": 0}
    else:
        assert errors == []
        # About one comparison per merge (at most 0.6 in these shapes); 3x leaves headroom for
        # graphql-core's versions while still catching a rule that does quadratic work.
        assert work["budget"] <= 3 * merges + 100, (merges, work)
        assert work["collected"] <= 3 * merges + 100, (merges, work)


# --- cost ----------------------------------------------------------------------------------

PAGES = """
query Pages($n: Int = 100) {
  %s
}
"""
ONE_PAGE = (
    "a%d: tickets(first: $n) { nodes { responses(first: $n) { nodes { body } } "
    "history(first: $n) { nodes { action } } } }"
)


def pages(aliases: int, header: str = "$n: Int = 100") -> str:
    return PAGES.replace("$n: Int = 100", header) % " ".join(ONE_PAGE % i for i in range(aliases))


async def post(db: Stack, token: str, query: str, variables: dict[str, Any] | None = None) -> Any:
    async with db.client(token) as client:
        answer = await client.post("/graphql", json={"query": query, "variables": variables})
    assert answer.status_code == 200, answer.text
    return answer.json()


async def test_variable_defaults_count_like_literals(db: Stack, world: World) -> None:
    token = db.token(world.agent.user_id)
    by_default = await post(db, token, pages(30))
    literal = await post(db, token, pages(30).replace("$n", "100").replace("(100: Int = 100)", ""))

    assert error_codes(by_default) == ["QUERY_TOO_COMPLEX"]
    assert error_codes(literal) == ["QUERY_TOO_COMPLEX"]
    assert (
        by_default["errors"][0]["extensions"]["cost"] == literal["errors"][0]["extensions"]["cost"]
    )


async def test_variable_values_count_like_literals(db: Stack, world: World) -> None:
    token = db.token(world.agent.user_id)
    given_value = await post(db, token, pages(30, "$n: Int"), {"n": 100})
    small = await post(db, token, pages(1, "$n: Int = 2"))
    small_literal = await post(
        db, token, pages(1, "$n: Int = 2").replace("$n", "2").replace("(2: Int = 2)", "")
    )

    assert error_codes(given_value) == ["QUERY_TOO_COMPLEX"]
    assert "errors" not in small
    assert small["extensions"]["cost"] == small_literal["extensions"]["cost"]


async def test_a_null_page_size_counts_as_the_default_page(db: Stack, world: World) -> None:
    token = db.token(world.agent.user_id)
    null = await post(db, token, "query($n: Int) { tickets(first: $n) { nodes { id } } }")
    absent = await post(db, token, "{ tickets { nodes { id } } }")

    assert "errors" not in null
    assert null["extensions"]["cost"] == absent["extensions"]["cost"]


async def test_a_page_size_that_cannot_be_known_counts_as_the_largest(
    db: Stack, world: World
) -> None:
    token = db.token(world.agent.user_id)
    # The variable does not coerce (execution refuses it), so its value is unknown: the
    # estimate must not take it for a small page.
    unknown = await post(db, token, pages(30, "$n: Int"), {"n": "a lot"})

    assert error_codes(unknown) == ["QUERY_TOO_COMPLEX"]
