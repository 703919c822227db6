"""Property tests: Hypothesis profiles (see profiles.py) and the app they drive."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

import pytest
from starlette.applications import Starlette

from tests.conftest import Stack
from tests.property.profiles import LONG_EXAMPLES, PROFILE


def pytest_report_header(config: pytest.Config) -> str:
    extra = f" ({LONG_EXAMPLES} examples per test)" if PROFILE.endswith("long") else ""
    return f"helpdesk property tests: hypothesis profile {PROFILE}{extra}"


@pytest.fixture
async def app(db: Stack) -> AsyncIterator[Starlette]:
    """The app under test, on the test's database, without the per-caller rate limit: these
    tests send thousands of requests a minute as the same few callers (and, anonymously, from
    the same address). Every other setting, query limits included, is the stack's own."""
    fields = {f.name for f in dataclasses.fields(db.settings)}
    if "rate_limit_per_minute" not in fields or not db.settings.rate_limit_per_minute:
        yield db.app
        return
    async with db.variant(rate_limit_per_minute=0) as unlimited:
        yield unlimited
