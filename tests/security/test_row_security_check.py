"""A server whose database role skips row security says so (review, finding 9): a warning at
start in production, `rowSecurity` in /readyz, and with HELPDESK_REQUIRE_ROW_SECURITY it will
not start at all."""

from __future__ import annotations

import logging

import httpx
import pytest

from server.app import RowSecurityBypassedError, create_app
from tests.conftest import Stack, make_settings


async def readiness(app) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        return await c.get("/readyz")


async def test_the_test_apps_role_is_subject_to_row_security(db: Stack) -> None:
    answer = await readiness(db.app)

    expected = "enforced" if db.backend.is_postgres else "not_applicable"
    assert answer.status_code == 200
    assert answer.json()["rowSecurity"] == expected


def owner_settings(db: Stack, tmp_path, **overrides):
    # The suite's maintenance user owns the database and is a superuser: it bypasses every
    # policy, as a careless production setup would.
    return make_settings(db.database_url, db.broadcast_url, tmp_path, **overrides)


async def test_a_bypassing_role_is_reported_and_warned_about_in_production(
    db: Stack, tmp_path, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app(owner_settings(db, tmp_path, environment="production"))
    with caplog.at_level(logging.INFO, logger="helpdesk.app"):
        async with app.router.lifespan_context(app):
            answer = await readiness(app)

    warnings = [
        r for r in caplog.records if r.levelno == logging.WARNING and "BYPASSRLS" in r.getMessage()
    ]
    if db.backend.is_postgres:
        assert answer.json()["rowSecurity"] == "bypassed"
        assert answer.status_code == 200  # still serving: only the warning and the report
        assert len(warnings) == 1
    else:
        assert answer.json()["rowSecurity"] == "not_applicable"
        assert warnings == []


async def test_requiring_row_security_refuses_to_start_as_a_bypassing_role(
    db: Stack, tmp_path
) -> None:
    # On SQLite there is no row security to require at all.
    app = create_app(owner_settings(db, tmp_path, require_row_security=True))

    with pytest.raises(RowSecurityBypassedError, match="HELPDESK_REQUIRE_ROW_SECURITY"):
        async with app.router.lifespan_context(app):
            pass


async def test_requiring_row_security_starts_only_where_it_applies(db: Stack) -> None:
    if db.backend.is_postgres:
        async with db.variant(require_row_security=True) as app:
            answer = await readiness(app)
        assert answer.status_code == 200
        assert answer.json()["rowSecurity"] == "enforced"
    else:
        with pytest.raises(RowSecurityBypassedError, match="SQLite"):
            async with db.variant(require_row_security=True):
                pass
