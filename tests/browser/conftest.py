"""A real headless browser (Debian's chromium through its chromedriver) against real servers.

CI always runs these (it installs chromium and chromium-driver); elsewhere they run wherever
both are installed (`apt-get install chromium chromium-driver`).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import httpx
import pytest

from tests.backends import IN_CI
from tests.e2e.conftest import HELPDESK, ROOT, free_port, helpdesk, server_env, wait_healthy

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
BROWSER_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=1280,900",
]

if not IN_CI and not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
    pytest.skip(
        "chromium and chromium-driver are not installed (CI installs and runs them)",
        allow_module_level=True,
    )


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in [*BROWSER_FLAGS, f"--user-data-dir={tmp_path / 'chromium-profile'}"]:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


class DemoServer:
    """A migrated, seeded database and `helpdesk serve` on a port it keeps across restarts."""

    def __init__(self, env: dict[str, str], tokens: dict[str, str]) -> None:
        self.env = env
        self.tokens = tokens
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self._process: subprocess.Popen[str] | None = None
        self._log: IO[str] | None = None

    def token(self, email: str) -> str:
        return self.tokens[email]

    def start(self) -> None:
        self._log = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 - closed in stop()
        self._process = subprocess.Popen(
            [*HELPDESK, "serve", "--port", str(self.port)],
            env=self.env,
            cwd=ROOT,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            text=True,
        )
        wait_healthy(self._process, self.base, self._log)

    def start_if_stopped(self) -> None:
        if self._process is None:
            self.start()

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def graphql(self, email: str, query: str, variables: dict[str, Any] | None = None) -> Any:
        response = httpx.post(
            f"{self.base}/graphql",
            json={"query": query, "variables": variables or {}},
            headers={"Authorization": f"Bearer {self.token(email)}"},
            timeout=10,
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert "errors" not in body, body
        return body["data"]


@contextmanager
def another_server(server: DemoServer) -> Iterator[DemoServer]:
    """A second instance on the same database."""
    other = DemoServer(server.env, server.tokens)
    other.start()
    try:
        yield other
    finally:
        other.stop()


def _demo_tokens(seed_output: str) -> dict[str, str]:
    """The tokens `helpdesk seed --demo` prints: "  email (role ...)" then "  token"."""
    lines = [line.strip() for line in seed_output.splitlines()]
    return {
        line.split(" ")[0]: lines[i + 1]
        for i, line in enumerate(lines)
        if "@" in line and line.endswith(")") and i + 1 < len(lines)
    }


@pytest.fixture(scope="module")
async def demo(fresh_database: Any, tmp_path_factory: pytest.TempPathFactory):
    """A seeded SQLite database and a server on it, shared by a module's tests (each reads
    the numbers it expects from the API first). The browser tests exercise the pages; the
    backends are covered by the rest of the suite."""
    from tests.backends import Backend

    database = await fresh_database(Backend("sqlite", "sqlite", None))
    env = server_env(tmp_path_factory.mktemp("demo"), database, "memory://")
    helpdesk(env, "db", "upgrade")
    server = DemoServer(env, _demo_tokens(helpdesk(env, "seed", "--demo")))
    server.start()
    try:
        yield server
    finally:
        server.stop()
