"""schema.graphql is the exported schema: a stale file fails."""

from __future__ import annotations

from pathlib import Path

from server.cli import exported_schema, main

ROOT = Path(__file__).resolve().parent.parent


def test_schema_graphql_matches_the_code() -> None:
    assert (ROOT / "schema.graphql").read_text() == exported_schema(), (
        "schema.graphql is stale: run `helpdesk schema export`"
    )


def test_schema_check_command_detects_a_stale_file(tmp_path: Path) -> None:
    stale = tmp_path / "schema.graphql"
    stale.write_text("type Query { old: Int }\n")

    assert main(["schema", "check", "--output", str(stale)]) == 1
    assert main(["schema", "export", "--output", str(stale)]) == 0
    assert main(["schema", "check", "--output", str(stale)]) == 0


def test_sdl_has_no_permission_directives() -> None:
    # Permission classes must not leak into the published SDL as directives.
    assert "@IsStaff" not in exported_schema()
    assert "@Is" not in exported_schema()
