"""Which database and broadcast backends the suite runs against.

- Embedded: SQLite + memory:// broadcast, always.
- Production: PostgreSQL + Redis, when HELPDESK_TEST_POSTGRES_URL / HELPDESK_TEST_REDIS_URL are
  set, and always in CI (CI=true), where they default to the services on 127.0.0.1. A configured
  backend that cannot be reached fails the run; it is never skipped.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
POSTGRES_URL = os.environ.get("HELPDESK_TEST_POSTGRES_URL") or (
    "postgresql://postgres@127.0.0.1:5432/postgres" if IN_CI else None
)
REDIS_URL = os.environ.get("HELPDESK_TEST_REDIS_URL") or (
    "redis://127.0.0.1:6379/0" if IN_CI else None
)


@dataclass(frozen=True)
class Backend:
    name: str
    # For PostgreSQL, a maintenance database URL; the suite creates and drops its own database.
    database: str
    broadcast: str | None

    @property
    def is_postgres(self) -> bool:
        return self.name == "postgresql"


def configured_backends() -> list[Backend]:
    backends = [Backend("sqlite", "sqlite", "memory://")]
    if POSTGRES_URL:
        backends.append(Backend("postgresql", POSTGRES_URL, REDIS_URL or "memory://"))
    return backends
