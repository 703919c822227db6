"""CPU per request of the server process and of its PostgreSQL backends, from /proc.

pg_stat_statements is not assumed: the backends serving the bench database are found in
pg_stat_activity, and their user + system time is read from /proc/<pid>/stat (PostgreSQL runs
on this machine). Backends that exit during a run take their time with them, so the server
keeps a warm pool (the load is closed-loop and keep-alive).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import asyncpg

TICKS = os.sysconf("SC_CLK_TCK")


def process_cpu(pid: int) -> float:
    """Seconds of user + system CPU the process has used (0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS


async def backend_pids(dsn: str, database: str) -> list[int]:
    connection = await asyncpg.connect(dsn)
    try:
        rows = await connection.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
            database,
        )
    finally:
        await connection.close()
    return [row["pid"] for row in rows]


@dataclass
class CpuMeter:
    dsn: str
    database: str
    server_pid: int
    _server: float = 0.0
    _backends: dict[int, float] = field(default_factory=dict)

    async def start(self) -> None:
        self._server = process_cpu(self.server_pid)
        self._backends = {p: process_cpu(p) for p in await backend_pids(self.dsn, self.database)}

    async def stop(self, requests: int) -> tuple[float, float]:
        """(server, PostgreSQL) CPU milliseconds per request since start()."""
        server = process_cpu(self.server_pid) - self._server
        postgres = sum(
            process_cpu(p) - self._backends.get(p, 0.0)
            for p in await backend_pids(self.dsn, self.database)
        )
        n = max(requests, 1)
        return 1000 * server / n, 1000 * postgres / n
