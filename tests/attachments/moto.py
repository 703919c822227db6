"""moto's standalone S3 server, started as a real process on a free port."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import closing
from dataclasses import dataclass
from typing import IO

MOTO_KEY = "testing-access-key"
MOTO_SECRET = "testing-secret-key"


def free_port() -> int:
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class MotoServer:
    endpoint: str
    process: subprocess.Popen[bytes]
    log: IO[bytes]

    def create_bucket(self, name: str) -> None:
        request = urllib.request.Request(f"{self.endpoint}/{name}", method="PUT")
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200

    def incomplete_multipart_uploads(self, bucket: str) -> bytes:
        with urllib.request.urlopen(f"{self.endpoint}/{bucket}?uploads", timeout=10) as response:
            body: bytes = response.read()
        return body

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


def start_moto(timeout: float = 30.0) -> MotoServer:
    """Start `moto.server` and wait until it answers; RuntimeError (never a skip) if it
    cannot start, so CI fails instead of silently testing one backend."""
    port = free_port()
    env = {**os.environ, "AWS_ACCESS_KEY_ID": MOTO_KEY, "AWS_SECRET_ACCESS_KEY": MOTO_SECRET}
    # A file, not a pipe: an unread pipe that fills up would block the server.
    log = tempfile.TemporaryFile()  # noqa: SIM115 (closed by MotoServer.stop)
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log.seek(0)
            error = log.read().decode(errors="replace")
            log.close()
            raise RuntimeError(f"moto's S3 server exited at start: {error[-2000:]}")
        try:
            with urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1):
                return MotoServer(endpoint, process, log)
        except OSError:
            time.sleep(0.1)
    process.kill()
    process.wait()
    log.close()
    raise RuntimeError(f"moto's S3 server did not answer on {endpoint} within {timeout} s")
