"""The `helpdesk` command run from any folder: paths follow HELPDESK_DATA_DIR, failures are
one clear line (never a traceback), and no command but `seed --demo` makes a secret."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.e2e.conftest import HELPDESK, free_port

pytestmark = pytest.mark.e2e


def run(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("HELPDESK_", "JWT_"))}
    base = {k: v for k, v in base.items() if k not in ("DATABASE_URL", "BROADCAST_URL")}
    return subprocess.run(
        [*HELPDESK, *args],
        cwd=cwd,
        env={**base, "LOG_LEVEL": "warning", **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def one_line_error(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("helpdesk: ")
    return lines[0]


def test_from_an_empty_folder_every_command_says_what_to_do(tmp_path: Path) -> None:
    token = one_line_error(run(tmp_path, "token", "erin@customer.example.com"))
    seed = one_line_error(run(tmp_path, "seed", "--demo"))
    current = one_line_error(run(tmp_path, "db", "current"))
    serve = one_line_error(run(tmp_path, "serve", "--port", str(free_port())))

    assert "no development secret" in token
    assert "helpdesk seed --demo" in token
    assert seed == (
        f"helpdesk: no database yet at {tmp_path}/.helpdesk/helpdesk.db: run `helpdesk db upgrade`"
    )
    assert "no database yet" in current
    assert "no JWT secret" in serve
    # Nothing was created on the way: no empty database, no secret.
    assert list(tmp_path.iterdir()) == []


def test_the_whole_flow_works_from_another_folder(tmp_path: Path) -> None:
    upgraded = run(tmp_path, "db", "upgrade")
    seeded = run(tmp_path, "seed", "--demo", "--quiet")
    token = run(tmp_path, "token", "erin@customer.example.com")
    again = run(tmp_path, "token", "erin@customer.example.com")

    assert upgraded.returncode == 0, upgraded.stderr
    assert seeded.returncode == 0, seeded.stderr
    assert f"created a development JWT secret in {tmp_path}/.helpdesk" in seeded.stdout
    assert token.returncode == 0, token.stderr
    assert token.stdout.count(".") == 2  # a JWT
    assert again.returncode == 0
    data = tmp_path / ".helpdesk"
    assert sorted(p.name for p in data.iterdir() if not p.name.endswith(("-wal", "-shm"))) == [
        "dev-jwt-secret",
        "helpdesk.db",
    ]
    assert (data / "dev-jwt-secret").read_text().strip()


def test_data_dir_moves_the_database_and_the_secret(tmp_path: Path) -> None:
    elsewhere = tmp_path / "state"
    work = tmp_path / "work"
    work.mkdir()

    assert run(work, "db", "upgrade", HELPDESK_DATA_DIR=str(elsewhere)).returncode == 0
    seeded = run(work, "seed", "--demo", "--quiet", HELPDESK_DATA_DIR=str(elsewhere))
    token = run(work, "token", "bob@acme.example.com", HELPDESK_DATA_DIR=str(elsewhere))

    assert seeded.returncode == 0, seeded.stderr
    assert token.returncode == 0, token.stderr
    assert (elsewhere / "helpdesk.db").is_file()
    assert (elsewhere / "dev-jwt-secret").is_file()
    assert list(work.iterdir()) == []


def test_database_without_tables_is_explained(tmp_path: Path) -> None:
    empty = tmp_path / "empty.db"
    empty.touch()

    message = one_line_error(
        run(tmp_path, "seed", "--demo", DATABASE_URL=f"sqlite:///{empty}", JWT_SECRET="s" * 40)
    )

    assert message == (
        "helpdesk: no database yet (its tables are missing): run `helpdesk db upgrade`"
    )


def test_unreachable_database_is_one_line(tmp_path: Path) -> None:
    url = f"postgresql://nobody@127.0.0.1:{free_port()}/nothing"

    message = one_line_error(run(tmp_path, "db", "upgrade", DATABASE_URL=url))

    assert message.startswith("helpdesk: cannot use the database (")
    assert "Connect call failed" in message


def test_bad_setting_is_one_line(tmp_path: Path) -> None:
    message = one_line_error(run(tmp_path, "db", "upgrade", DB_POOL_SIZE="zero"))

    assert message == (
        "helpdesk: configuration error: DB_POOL_SIZE must be a whole number, got 'zero'"
    )
