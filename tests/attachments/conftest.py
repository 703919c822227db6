"""Attachment fixtures: every test runs on the local-directory backend and on S3 (moto's
standalone server, a real process speaking the S3 HTTP API), for every database backend."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from starlette.applications import Starlette

from models import Attachment
from resolvers.storage import ObjectStorage
from server.attachments import open_attachment_storage
from tests.attachments.moto import MOTO_KEY, MOTO_SECRET, MotoServer, start_moto
from tests.conftest import Stack
from tests.graphql import execute

STORAGE_BACKENDS = ["local", "s3"]
BUCKET = "helpdesk-test"


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoServer]:
    server = start_moto()
    try:
        server.create_bucket(BUCKET)
        yield server
    finally:
        server.stop()


@dataclass
class Files:
    """A running app on the stack's database with one storage backend."""

    stack: Stack
    app: Starlette
    storage: ObjectStorage
    backend: str
    moto: MotoServer | None = None

    def client(self, token: str | None = None) -> httpx.AsyncClient:
        return self.stack.client(token, app=self.app)

    async def call(
        self, who: Any, document: str, variables: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        token = self.stack.token(who.user_id) if who is not None else None
        async with self.client(token) as client:
            return await execute(client, document, variables)

    async def objects(self) -> list[str]:
        return await self.storage.keys()

    async def rows(self) -> list[Attachment]:
        async with self.stack.sessionmaker() as session:
            return list(await session.scalars(select(Attachment).order_by(Attachment.id)))


@pytest.fixture(scope="session", params=STORAGE_BACKENDS)
async def files_stack(
    request: pytest.FixtureRequest, stack: Stack, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Files]:
    backend: str = request.param
    overrides: dict[str, Any] = {"attachment_cleanup_interval_seconds": 0}
    moto = None
    if backend == "s3":
        moto = request.getfixturevalue("moto_server")
        overrides |= {
            "attachment_storage_url": f"s3://{BUCKET}/run-{uuid.uuid4().hex[:8]}",
            "attachment_s3_endpoint": moto.endpoint,
            "attachment_s3_region": "us-east-1",
            "aws_access_key_id": MOTO_KEY,
            "aws_secret_access_key": MOTO_SECRET,
        }
    else:
        directory: Path = tmp_path_factory.mktemp("attachments")
        overrides["attachment_storage_url"] = str(directory)
    async with stack.variant(**overrides) as app:
        settings = app.state.settings
        yield Files(stack, app, open_attachment_storage(settings), backend, moto)


@pytest.fixture
async def files(files_stack: Files, db: Stack) -> AsyncIterator[Files]:
    """The attachment stack, with tables and storage emptied after the test."""
    try:
        yield files_stack
    finally:
        for key in await files_stack.storage.keys():
            await files_stack.storage.delete(key)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# A real (tiny) PNG: 1x1 pixel.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)
