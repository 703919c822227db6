"""Helpers to run the real `helpdesk` command and server processes."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import httpx

HELPDESK = [sys.executable, "-m", "server.cli"]
ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def helpdesk(env: dict[str, str], *args: str) -> str:
    """Run a `helpdesk` subcommand to completion and return its output."""
    done = subprocess.run(
        [*HELPDESK, *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, f"helpdesk {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def server_env(tmp_path: Path, database_url: str, broadcast_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HELPDESK_", "JWT_"))}
    env.update(
        DATABASE_URL=database_url,
        BROADCAST_URL=broadcast_url,
        HELPDESK_DATA_DIR=str(tmp_path / "data"),
        LOG_LEVEL="warning",
    )
    return env


@contextmanager
def running_server(env: dict[str, str], *extra: str, log_path: Path | None = None) -> Iterator[str]:
    """`helpdesk serve` on a free port; yields its base URL once /healthz answers. Its output
    goes to `log_path` when given (to read after it stopped), else to a temporary file."""
    port = free_port()
    opened = log_path.open("w+") if log_path else tempfile.TemporaryFile(mode="w+")  # noqa: SIM115
    with opened as log:
        process = subprocess.Popen(
            [*HELPDESK, "serve", "--port", str(port), *extra],
            env=env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            wait_healthy(process, base, log)
            yield base
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def wait_healthy(process: subprocess.Popen[str], base: str, log: IO[str]) -> None:
    # Generous: a loaded two-core CI machine has taken over 30 s to import and start a server.
    deadline = time.monotonic() + 60
    while True:
        if process.poll() is not None:
            log.seek(0)
            raise AssertionError(f"server exited early:\n{log.read()}")
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError("server did not become healthy within 60 s")
        time.sleep(0.1)


class RedisProcess:
    def __init__(self, port: int) -> None:
        self.port = port
        self.url = f"redis://127.0.0.1:{port}/0"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self._process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while True:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            if time.monotonic() > deadline:
                raise AssertionError(f"redis-server did not start on port {self.port}")
            time.sleep(0.05)

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(timeout=10)
            self._process = None


@contextmanager
def redis_server() -> Iterator[RedisProcess]:
    """A Redis of the test's own (not the shared one), so that it can be stopped and restarted."""
    process = RedisProcess(free_port())
    process.start()
    try:
        yield process
    finally:
        process.stop()
