"""Fixtures the security suites share: one stack per backend, emptied as each suite needs."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.conftest import Stack, clear_tables
from tests.security.world import empty_tables


@pytest.fixture(scope="module")
async def backend(stack: Stack) -> AsyncIterator[Stack]:
    """The stack of one backend; its tables are truncated (identities restart) at the end."""
    yield stack
    await clear_tables(stack.engine)


@pytest.fixture
async def fresh(backend: Stack) -> AsyncIterator[Stack]:
    """The stack, with every row deleted after the test."""
    try:
        yield backend
    finally:
        await empty_tables(backend.engine)
