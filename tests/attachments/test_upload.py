"""The two-step upload: createAttachmentUpload, then PUT the bytes to the signed URL."""

from __future__ import annotations

import pytest

from tests.attachments.conftest import PNG, Files
from tests.attachments.helpers import put_bytes, reply_with, start_upload, upload_input, uploaded
from tests.factories import World, create_world


@pytest.fixture
async def world(session) -> World:
    return await create_world(session)


async def test_a_customer_uploads_a_screenshot_and_replies_with_it(files: Files, world: World):
    payload = await start_upload(files, world.customer, upload_input(PNG, ticket=world.ticket))

    assert payload["userErrors"] == []
    assert payload["attachment"]["filename"] == "screenshot.png"
    assert payload["attachment"]["url"] is None  # not attached yet
    assert payload["uploadUrl"].startswith("http://test/attachments/upload/")
    response = await put_bytes(files, payload["uploadUrl"], PNG)
    assert response.status_code == 200, response.text
    assert response.json()["contentType"] == "image/png"
    assert len(await files.objects()) == 1

    reply = await reply_with(files, world.customer, world.ticket, [payload["attachment"]["id"]])

    assert reply["userErrors"] == []
    (attachment,) = reply["response"]["attachments"]
    assert attachment["filename"] == "screenshot.png"
    assert attachment["byteSize"] == len(PNG)
    assert attachment["uploadedBy"] == {"__typename": "Customer", "name": world.customer.name}
    assert attachment["url"].startswith(f"http://test/attachments/{attachment['id'] and ''}")


async def test_the_bytes_are_stored_exactly(files: Files, world: World):
    data = PNG + bytes(range(256)) * 100
    attachment_id = await uploaded(files, world.customer, data, ticket=world.ticket)

    (row,) = await files.rows()
    assert row.storage_key is not None
    stored = await files.storage.read(row.storage_key)
    assert b"".join([chunk async for chunk in stored.chunks]) == data
    assert attachment_id


async def test_a_second_put_to_the_same_url_is_a_conflict(files: Files, world: World):
    payload = await start_upload(files, world.customer, upload_input(PNG, ticket=world.ticket))
    assert (await put_bytes(files, payload["uploadUrl"], PNG)).status_code == 200

    again = await put_bytes(files, payload["uploadUrl"], PNG)

    assert again.status_code == 409
    assert again.json()["errors"][0]["extensions"]["code"] == "CONFLICT"
    assert len(await files.objects()) == 1
