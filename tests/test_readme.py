"""Every GraphQL example in the README is valid against the schema in code."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from graphql import parse, validate

from schema import schema

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCKS = re.findall(r"```graphql\n(.*?)```", README.read_text(), flags=re.DOTALL)


def test_readme_has_examples() -> None:
    assert len(BLOCKS) >= 6


@pytest.mark.parametrize("document", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_readme_example_is_valid(document: str) -> None:
    errors = validate(schema._schema, parse(document))

    assert errors == [], [e.message for e in errors]


def test_every_setting_is_documented() -> None:
    settings_source = (README.parent / "server" / "settings.py").read_text()
    variables = set(re.findall(r'env\.get\("([A-Z_]+)"', settings_source))
    readme = README.read_text()

    assert len(variables) > 15
    assert {v for v in variables if f"`{v}`" not in readme} == set()
