"""Unattached uploads expire: the lifespan's task (and `helpdesk attachments cleanup`) deletes
the rows and their objects; attached files are never touched."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from sqlalchemy import update

from models import Attachment
from server.attachments import cleanup_once, open_attachment_storage
from tests.api.mutation_helpers import pk_of
from tests.attachments.conftest import PNG, Files
from tests.attachments.helpers import reply_with, uploaded
from tests.factories import World, create_world


@pytest.fixture
async def world(session) -> World:
    return await create_world(session)


async def expire(files: Files, *ids: str) -> None:
    async with files.stack.sessionmaker() as session:
        await session.execute(
            update(Attachment)
            .where(Attachment.id.in_([pk_of(i) for i in ids]))
            .values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
        )
        await session.commit()


async def test_expired_unattached_uploads_are_deleted_attached_ones_kept(
    files: Files, world: World
):
    stale = await uploaded(files, world.customer, PNG, ticket=world.ticket)
    fresh = await uploaded(files, world.customer, PNG + b"f", ticket=world.ticket)
    kept = await uploaded(files, world.customer, PNG + b"k", ticket=world.ticket)
    await reply_with(files, world.customer, world.ticket, [kept])
    # Attached files keep their (past) expiry: it only ever applies to unattached ones.
    await expire(files, stale, kept)
    assert len(await files.objects()) == 3

    deleted = await cleanup_once(files.stack.sessionmaker, files.storage)

    assert deleted == 1
    assert {r.id for r in await files.rows()} == {pk_of(fresh), pk_of(kept)}
    assert len(await files.objects()) == 2
    assert not any(
        key.startswith(f"{world.org.id}/{pk_of(stale)}/") for key in await files.objects()
    )


async def test_the_lifespan_runs_the_cleanup(files: Files, world: World):
    stale = await uploaded(files, world.customer, PNG, ticket=world.ticket)
    await expire(files, stale)
    settings = files.app.state.settings

    overrides = {
        name: getattr(settings, name)
        for name in (
            "attachment_storage_url",
            "attachment_s3_endpoint",
            "attachment_s3_region",
            "aws_access_key_id",
            "aws_secret_access_key",
        )
    }
    async with files.stack.variant(**overrides, attachment_cleanup_interval_seconds=3600) as app:
        assert open_attachment_storage(app.state.settings).description == files.storage.description

        async def gone() -> bool:
            return await files.rows() == [] and await files.objects() == []

        await wait_until_async(gone)


async def wait_until_async(condition, within: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not await condition():
        assert asyncio.get_running_loop().time() < deadline, "not done in time"
        await asyncio.sleep(0.05)
