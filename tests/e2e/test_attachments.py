"""The demo flow against a real `helpdesk serve`: a customer uploads a screenshot with a reply,
an agent downloads it. With the default local directory, and with S3 (moto's server)."""

from __future__ import annotations

import base64
import hashlib
import uuid
from pathlib import Path

import httpx
import pytest

from tests.attachments.moto import MOTO_KEY, MOTO_SECRET, start_moto
from tests.backends import configured_backends
from tests.e2e.conftest import helpdesk, running_server, server_env

pytestmark = pytest.mark.e2e

UPLOAD = """
mutation($input: CreateAttachmentUploadInput!) {
  createAttachmentUpload(input: $input) { attachment { id } uploadUrl userErrors { code } }
}"""
REPLY = """
mutation($ticket: ID!, $files: [ID!]) {
  addResponse(input: {ticketId: $ticket, body: "Here is the screenshot.", attachmentIds: $files}) {
    response { attachments { filename } } userErrors { code message }
  }
}"""
FILES = "query($id: ID!) { ticket(id: $id) { attachments { filename byteSize url } } }"
SCREENSHOT = (
    bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
        "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
    )
    + bytes(range(256)) * 40
)


async def graphql(client: httpx.AsyncClient, token: str, query: str, variables: dict) -> dict:
    response = await client.post(
        "/graphql",
        json={"query": query, "variables": variables},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200, response.text
    body: dict = response.json()
    assert "errors" not in body, body
    return body["data"]


@pytest.mark.parametrize("storage", ["local", "s3"])
async def test_a_customer_uploads_a_screenshot_and_an_agent_downloads_it(
    storage: str, fresh_database, tmp_path: Path
) -> None:
    backend = configured_backends()[-1]
    env = server_env(tmp_path, await fresh_database(backend), backend.broadcast or "memory://")
    moto = None
    if storage == "s3":
        moto = start_moto()
        moto.create_bucket("e2e")
        env |= {
            "ATTACHMENT_STORAGE_URL": f"s3://e2e/{uuid.uuid4().hex[:8]}",
            "ATTACHMENT_S3_ENDPOINT": moto.endpoint,
            "ATTACHMENT_S3_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": MOTO_KEY,
            "AWS_SECRET_ACCESS_KEY": MOTO_SECRET,
        }
    try:
        helpdesk(env, "db", "upgrade")
        helpdesk(env, "seed", "--demo", "--quiet")
        erin = helpdesk(env, "token", "erin@customer.example.com").strip()
        bob = helpdesk(env, "token", "bob@acme.example.com").strip()
        ticket = base64.b64encode(b"Ticket:7").decode()

        with running_server(env) as base:
            async with httpx.AsyncClient(base_url=base) as client:
                started = (
                    await graphql(
                        client,
                        erin,
                        UPLOAD,
                        {
                            "input": {
                                "ticketId": ticket,
                                "filename": "screenshot.png",
                                "contentType": "image/png",
                                "byteSize": len(SCREENSHOT),
                                "checksumSha256": hashlib.sha256(SCREENSHOT).hexdigest(),
                            }
                        },
                    )
                )["createAttachmentUpload"]
                assert started["userErrors"] == []
                assert started["uploadUrl"].startswith(f"{base}/attachments/upload/")
                put = await client.put(started["uploadUrl"], content=SCREENSHOT)
                assert put.status_code == 200, put.text
                replied = await graphql(
                    client, erin, REPLY, {"ticket": ticket, "files": [started["attachment"]["id"]]}
                )
                assert replied["addResponse"]["userErrors"] == []

                seen = await graphql(client, bob, FILES, {"id": ticket})
                (attachment,) = seen["ticket"]["attachments"]
                download = await client.get(attachment["url"])
                part = await client.get(attachment["url"], headers={"Range": "bytes=0-7"})

        assert attachment["filename"] == "screenshot.png"
        assert download.status_code == 200
        assert download.content == SCREENSHOT
        assert download.headers["content-type"] == "image/png"
        assert download.headers["content-disposition"].startswith("attachment;")
        assert download.headers["x-content-type-options"] == "nosniff"
        assert (part.status_code, part.content) == (206, SCREENSHOT[:8])
        if storage == "local":
            stored = list((tmp_path / "data" / "attachments").rglob("*"))
            assert [p.read_bytes() for p in stored if p.is_file()] == [SCREENSHOT]
        assert "deleted 0 expired" in helpdesk(env, "attachments", "cleanup")
    finally:
        if moto is not None:
            moto.stop()
