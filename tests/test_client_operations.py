"""The typed client starter: clients/operations/ holds the README's operations, each named
once, selecting `id` on every object that has one and `__typename` on every union or
interface, so that graphql-codegen and Apollo's normalized cache can use them as they are."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from graphql import (
    FieldNode,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLUnionType,
    OperationDefinitionNode,
    TypeInfo,
    Visitor,
    get_named_type,
    parse,
    print_ast,
    validate,
    visit,
)
from graphql.language import DocumentNode, InlineFragmentNode, SelectionSetNode
from graphql.utilities import TypeInfoVisitor

from schema import schema

ROOT = Path(__file__).resolve().parent.parent
OPERATIONS = sorted((ROOT / "clients" / "operations").glob("*.graphql"))
README_BLOCKS = re.findall(r"```graphql\n(.*?)```", (ROOT / "README.md").read_text(), re.DOTALL)


def operations(document: DocumentNode) -> dict[str, str]:
    return {
        d.name.value: print_ast(d)
        for d in document.definitions
        if isinstance(d, OperationDefinitionNode) and d.name is not None
    }


def readme_operations() -> list[tuple[str, str]]:
    return [item for block in README_BLOCKS for item in operations(parse(block)).items()]


class _CacheFriendly(Visitor):
    """Collects selections that lack `id` (where the type has one) or `__typename` (where
    the type is abstract)."""

    def __init__(self, type_info: TypeInfo) -> None:
        super().__init__()
        self.type_info = type_info
        self.problems: list[str] = []

    def enter_selection_set(
        self, node: SelectionSetNode, _key: object, owner: object, _path: object, ancestors: list
    ) -> None:
        parent = self.type_info.get_parent_type()
        if parent is None:
            return
        enclosing = next((a for a in reversed(ancestors) if isinstance(a, SelectionSetNode)), None)
        beside = set() if enclosing is None else enclosing.selections
        # A type's part of an abstract selection: an `id` selected beside it counts.
        if isinstance(owner, InlineFragmentNode) and any(
            isinstance(s, FieldNode) and s.name.value == "id" for s in beside
        ):
            return
        named = get_named_type(parent)
        fields = {s.name.value for s in node.selections if isinstance(s, FieldNode)}
        if isinstance(named, GraphQLUnionType | GraphQLInterfaceType):
            if "__typename" not in fields:
                self.problems.append(f"{named.name} without __typename")
        elif (
            isinstance(named, GraphQLObjectType)
            and "id" in named.fields
            and "id" not in fields
            and named.name not in ("Query", "Mutation", "Subscription")
        ):
            # Selections made only through fragments on a union member are checked there.
            self.problems.append(f"{named.name} without id")


def test_there_is_one_file_per_operation_with_a_unique_name() -> None:
    names = [name for path in OPERATIONS for name in operations(parse(path.read_text()))]

    assert len(OPERATIONS) >= 10
    assert len(names) == len(set(names)) == len(OPERATIONS)
    assert [p.stem for p in OPERATIONS] == sorted(names)


def test_the_readme_shows_exactly_these_operations() -> None:
    in_readme = readme_operations()
    files = {p.stem: print_ast(parse(p.read_text()).definitions[0]) for p in OPERATIONS}

    assert len({name for name, _ in in_readme}) == len(in_readme), "duplicate names in README"
    assert dict(in_readme) == files


@pytest.mark.parametrize("path", OPERATIONS, ids=lambda p: p.stem)
def test_operation_is_valid_and_cache_friendly(path: Path) -> None:
    document = parse(path.read_text())
    assert validate(schema._schema, document) == []
    type_info = TypeInfo(schema._schema)
    checker = _CacheFriendly(type_info)

    visit(document, TypeInfoVisitor(type_info, checker))

    assert checker.problems == []


def test_the_checker_finds_a_missing_id_and_typename() -> None:
    document = parse("query Bad { me { ... on Customer { name } } tickets { nodes { title } } }")
    type_info = TypeInfo(schema._schema)
    checker = _CacheFriendly(type_info)

    visit(document, TypeInfoVisitor(type_info, checker))

    assert sorted(checker.problems) == [
        "Customer without id",
        "Person without __typename",
        "Ticket without id",
    ]


def test_readme_possible_types_match_the_schema() -> None:
    readme = (ROOT / "README.md").read_text()
    match = re.search(r"possibleTypes: (\{.*?\}),\n", readme)
    assert match is not None
    documented = json.loads(match.group(1))
    abstract = {
        name: sorted(t.name for t in schema._schema.get_possible_types(graphql_type))
        for name, graphql_type in schema._schema.type_map.items()
        if isinstance(graphql_type, GraphQLUnionType | GraphQLInterfaceType)
        and not name.startswith("__")
    }

    assert documented == abstract
