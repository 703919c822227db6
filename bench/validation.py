"""`make bench-validation`: the CPU that parsing and validating the worst documents within the
query limits costs, beside a real query (the floor), before and after the field-merge limit.

    python -m bench.validation [--repeat 5]

Each family is pushed to the largest document the limits accept (tokens, depth, aliases,
field merges); the search over nested repeats keeps the most expensive one. "before" validates
the same document with the rules main had before the limits (graphql-core's rules, the depth
and alias limits, 4,000 tokens), and the reviewer's document shows what that allowed.
"""

from __future__ import annotations

import argparse
import itertools
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from graphql import (
    DocumentNode,
    GraphQLError,
    GraphQLSyntaxError,
    get_introspection_query,
    parse,
    specified_rules,
    validate,
)

from schema import create_schema
from schema.limits import QueryLimits, document_size_rule, field_merges

LIMITS = QueryLimits()
SCHEMA = create_schema()._schema
AFTER = [document_size_rule(LIMITS), *specified_rules]
# Main before the limits: the same depth and alias limits, 4,000 tokens, no field-merge limit.
BEFORE_TOKENS = 4_000
BEFORE = [document_size_rule(replace(LIMITS, max_field_merges=10**12)), *specified_rules]

FLOOR = """query Queue($team: ID!, $after: String) {
  tickets(first: 50, after: $after, filter: { status: [OPEN, IN_PROGRESS], teamId: [$team] },
          orderBy: { field: PRIORITY, direction: DESC }) {
    totalCount pageInfo { hasNextPage endCursor }
    nodes { id number title status priority updatedAt tags customer { name email }
      responses(last: 3) { nodes { body isInternal
        author { __typename ... on Customer { name } ... on TeamMember { name } } } } }
  }
}"""


def repeated(times: int, selection: str) -> str:
    return "{ tickets { nodes { " + " ".join([selection] * times) + " } } }"


def via_fragments(times: int) -> str:
    spreads = " ".join(f"...F{i}" for i in range(times))
    fragments = " ".join(
        f"fragment F{i} on Ticket {{ responses {{ totalCount }} }}" for i in range(times)
    )
    return f"{{ tickets {{ nodes {{ {spreads} }} }} }} {fragments}"


def spreads_only(levels: int) -> str:
    """Fragments that only spread the next one twice: 2^levels expansions of one field."""
    fragments = [f"fragment L{i} on Query {{ ...L{i + 1} ...L{i + 1} }}" for i in range(levels)]
    fragments.append(f"fragment L{levels} on Query {{ me {{ __typename }} }}")
    return "{ ...L0 } " + " ".join(fragments)


def nested(repeats: tuple[int, ...]) -> str:
    """tickets > responses > author > team, each level repeated."""
    levels = [
        ("tickets { nodes { ", " } }"),
        ("responses { nodes { ", " } }"),
        ("author { ... on TeamMember { ", " } }"),
        ("team { ", " }"),
    ]

    def level(i: int) -> str:
        if i == len(levels):
            return "id name"
        opening, closing = levels[i]
        return " ".join([opening + level(i + 1) + closing] * repeats[i])

    return "{ " + level(0) + " }"


def distinct_fields(copies: int = 30) -> str:
    """A document without repeats: every ticket field, in `copies` aliased copies."""
    one = (
        "id number title description status priority tags version createdAt updatedAt "
        "firstRespondedAt resolvedAt closedAt customer { id name email } "
        "assignee { id name } team { id name } organization { id name slug } "
        "responses(first: 3) { totalCount nodes { id body isInternal createdAt } } "
        "history(first: 3) { totalCount nodes { id action field createdAt } }"
    )
    return "{ " + " ".join(f"a{i}: ticket(id: $id) {{ {one} }}" for i in range(copies)) + " }"


@dataclass
class Case:
    name: str
    text: str


def accepted(text: str) -> DocumentNode | None:
    try:
        document = parse(text, max_tokens=LIMITS.max_tokens)
    except GraphQLSyntaxError:
        return None
    errors = validate(SCHEMA, document, AFTER)
    return None if any(_refused(e) for e in errors) else document


def _refused(error: GraphQLError) -> bool:
    return (error.extensions or {}).get("code") == "QUERY_TOO_COMPLEX" or "exceeds" in str(error)


def largest(make: Callable[[int], str], top: int = 5000) -> str:
    """The largest n for which make(n) is accepted (accepted sizes are a prefix)."""
    low, high = 1, top
    while low < high:
        middle = (low + high + 1) // 2
        if accepted(make(middle)) is not None:
            low = middle
        else:
            high = middle - 1
    return make(low)


def cpu_ms(text: str, rules: list[type], repeat: int, max_tokens: int | None = None) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.process_time()
        try:
            document = parse(text, max_tokens=max_tokens or LIMITS.max_tokens)
            validate(SCHEMA, document, rules)
        except GraphQLSyntaxError:
            pass
        best = min(best, time.process_time() - started)
    return best * 1000


def worst_nested(samples: int = 400) -> str:
    """The most expensive accepted `nested` document among random repeat vectors."""
    rng = random.Random(7)
    best, found = -1.0, nested((1, 1, 1, 1))
    for _ in range(samples):
        repeats = tuple(rng.randint(1, 12) for _ in range(4))
        copies = list(itertools.accumulate(repeats, lambda a, b: a * b))
        # Cheap filters first: the token limit, then the field-merge limit.
        if sum(copies) * 8 > LIMITS.max_tokens * 2:
            continue
        text = nested(repeats)
        try:
            document = parse(text, max_tokens=LIMITS.max_tokens)
        except GraphQLSyntaxError:
            continue
        if field_merges(document, stop_above=LIMITS.max_field_merges) > LIMITS.max_field_merges:
            continue
        spent = cpu_ms(text, AFTER, 1)
        if spent > best:
            best, found = spent, text
    return found


def cases() -> list[Case]:
    return [
        Case("floor: README queue query", FLOOR),
        Case("introspection", get_introspection_query(descriptions=True)),
        Case(
            "largest without repeats (aliased copies)",
            largest(lambda n: "query($id: ID!) " + distinct_fields(n), top=LIMITS.max_aliases),
        ),
        Case("repeated leaf", largest(lambda n: repeated(n, "id"))),
        Case(
            "repeated field + sub-selection",
            largest(lambda n: repeated(n, "responses { totalCount }")),
        ),
        Case(
            "same, in inline fragments",
            largest(lambda n: repeated(n, "... on Ticket { responses { totalCount } }")),
        ),
        Case("same, in named fragments", largest(via_fragments, top=1000)),
        Case("fragments spreading fragments", largest(spreads_only, top=60)),
        Case("worst nested repeats (searched)", worst_nested()),
        Case("reviewer's document (450 repeats)", repeated(450, "responses { totalCount }")),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    found = cases()
    floor = cpu_ms(FLOOR, AFTER, args.repeat)
    print(
        f"Parse + validate CPU, best of {args.repeat} "
        f"(limits: {LIMITS.max_tokens} tokens, {LIMITS.max_aliases} aliases, "
        f"{LIMITS.max_field_merges} field merges)\n"
    )
    print("| document | bytes | merges | accepted | after ms | x floor | before ms |")
    print("|---|---|---|---|---|---|---|")
    for case in found:
        document = parse(case.text, max_tokens=10**6)
        merges = field_merges(document, stop_above=10**7)
        after = cpu_ms(case.text, AFTER, args.repeat)
        before = cpu_ms(case.text, BEFORE, args.repeat, BEFORE_TOKENS)
        print(
            f"| {case.name} | {len(case.text):,} | {merges:,} | "
            f"{'yes' if accepted(case.text) is not None else 'no'} | {after:.1f} | "
            f"{after / floor:.1f} | {before:.1f} |"
        )


if __name__ == "__main__":
    main()
