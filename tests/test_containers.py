"""The container files, checked without Docker (it cannot run here): a pinned slim base, an
unprivileged user, a health check, and a compose file that runs PostgreSQL and Redis, the
migrations as the owning role, then the server as a plain role."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = (ROOT / "Dockerfile").read_text()
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text())
SERVICES: dict[str, Any] = COMPOSE["services"]
PINNED_TAG = re.compile(r"^[\w./-]+:\d+\.\d+(\.\d+)?[\w.-]*(@sha256:[0-9a-f]{64})?$")


def instructions() -> list[tuple[str, str]]:
    joined = re.sub(r"\\\n\s*", " ", DOCKERFILE)
    found = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            found.append((keyword.upper(), rest.strip()))
    return found


def final_stage() -> list[tuple[str, str]]:
    steps = instructions()
    last_from = max(i for i, (keyword, _) in enumerate(steps) if keyword == "FROM")
    return steps[last_from:]


def test_base_image_is_pinned_and_slim() -> None:
    args = dict(
        rest.split("=", 1) for keyword, rest in instructions() if keyword == "ARG" and "=" in rest
    )
    images = [
        rest.split()[0].replace("${PYTHON_IMAGE}", args.get("PYTHON_IMAGE", "?"))
        for keyword, rest in instructions()
        if keyword == "FROM"
    ]

    assert images
    for image in images:
        assert PINNED_TAG.match(image), image
        assert "slim" in image
        assert not image.endswith(":latest")


def test_runs_as_an_unprivileged_user_with_a_health_check() -> None:
    stage = final_stage()
    users = [rest for keyword, rest in stage if keyword == "USER"]
    health = [rest for keyword, rest in stage if keyword == "HEALTHCHECK"]
    command = next(rest for keyword, rest in reversed(stage) if keyword == "CMD")

    assert users, "the final stage must switch to a non-root user"
    assert users[-1].split(":")[0] not in ("root", "0")
    assert len(health) == 1
    assert "/healthz" in health[0]
    assert "--interval" in health[0]
    assert '["helpdesk", "serve", "--host", "0.0.0.0"' in command
    assert ("EXPOSE", "8000") in stage
    # Production is the image's default environment.
    assert any(k == "ENV" and "HELPDESK_ENV=production" in rest for k, rest in stage)


def test_the_image_gets_the_package_not_the_repo() -> None:
    copied = [rest for keyword, rest in instructions() if keyword == "COPY"]
    ignored = (ROOT / ".dockerignore").read_text().split()

    assert not any(rest.startswith(". ") for rest in copied), "COPY . would take everything"
    for folder in ("server", "schema", "resolvers", "models", "permissions", "subscriptions"):
        assert any(rest.startswith(f"{folder} ") for rest in copied), folder
    for never in (".git", ".venv", "clients/node_modules", "tests"):
        assert never in ignored


def test_compose_has_postgres_redis_migrate_and_api() -> None:
    assert set(SERVICES) == {"postgres", "redis", "migrate", "api"}
    for name in ("postgres", "redis"):
        assert PINNED_TAG.match(SERVICES[name]["image"]), SERVICES[name]["image"]
        assert "healthcheck" in SERVICES[name]


def test_migrations_run_first_as_the_owner_then_the_api_as_a_plain_role() -> None:
    migrate, api = SERVICES["migrate"], SERVICES["api"]
    steps = shlex.split(migrate["command"][-1])

    assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert api["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert api["depends_on"]["redis"]["condition"] == "service_healthy"
    assert steps[:3] == ["helpdesk", "db", "upgrade"]
    assert steps[3:] == ["&&", "helpdesk", "db", "grant", "helpdesk_app"]
    assert "helpdesk_owner" in migrate["environment"]["DATABASE_URL"]
    assert "://helpdesk_app:" in api["environment"]["DATABASE_URL"]
    assert api["environment"]["BROADCAST_URL"].startswith("redis://redis:")
    assert api["environment"]["HELPDESK_ENV"] == "production"
    # No secret in the file: it must come from the environment (.env).
    assert api["environment"]["JWT_SECRET"].startswith("${JWT_SECRET:?")
    init = (ROOT / "deploy" / "postgres-init.sh").read_text()
    assert "CREATE ROLE helpdesk_app LOGIN NOSUPERUSER NOBYPASSRLS" in init
    assert "CREATE DATABASE helpdesk OWNER helpdesk_owner" in init
