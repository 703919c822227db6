"""The two-step upload and the download, as a client does them."""

from __future__ import annotations

from typing import Any

import httpx

from models import Customer, TeamMember, Ticket
from tests.attachments.conftest import Files, sha256
from tests.graphql import global_id

CREATE_UPLOAD = """
mutation Upload($input: CreateAttachmentUploadInput!) {
  createAttachmentUpload(input: $input) {
    attachment { id filename contentType byteSize url createdAt }
    uploadUrl uploadUrlExpiresAt
    userErrors { field message code }
  }
}
"""

ADD_RESPONSE = """
mutation Reply($input: AddResponseInput!) {
  addResponse(input: $input) {
    response { id isInternal attachments { id filename contentType byteSize url
      uploadedBy { __typename ... on Customer { name } ... on TeamMember { name } } } }
    userErrors { field message code }
  }
}
"""

TICKET_FILES = """
query Files($id: ID!) {
  ticket(id: $id) {
    attachments { id filename contentType byteSize url }
    responses { nodes { id isInternal attachments { id filename url } } }
  }
}
"""

Who = Customer | TeamMember


def upload_input(
    data: bytes,
    *,
    ticket: Ticket | None = None,
    organization_id: int | None = None,
    filename: str = "screenshot.png",
    content_type: str = "image/png",
    **overrides: Any,
) -> dict[str, Any]:
    values: dict[str, Any] = {
        "filename": filename,
        "contentType": content_type,
        "byteSize": len(data),
        "checksumSha256": sha256(data),
    }
    if ticket is not None:
        values["ticketId"] = global_id("Ticket", ticket.id)
    if organization_id is not None:
        values["organizationId"] = global_id("Organization", organization_id)
    return values | overrides


async def start_upload(files: Files, who: Who, values: dict[str, Any]) -> dict[str, Any]:
    body = await files.call(who, CREATE_UPLOAD, {"input": values})
    assert "errors" not in body, body
    payload: dict[str, Any] = body["data"]["createAttachmentUpload"]
    return payload


async def put_bytes(
    files: Files, url: str, data: bytes | Any, headers: dict[str, str] | None = None
) -> httpx.Response:
    async with files.client() as client:
        return await client.put(url, content=data, headers=headers or {})


async def uploaded(files: Files, who: Who, data: bytes, **kwargs: Any) -> str:
    """Both steps; the attachment's global id."""
    payload = await start_upload(files, who, upload_input(data, **kwargs))
    assert payload["userErrors"] == [], payload
    response = await put_bytes(files, payload["uploadUrl"], data)
    assert response.status_code == 200, response.text
    attachment_id: str = payload["attachment"]["id"]
    return attachment_id


async def reply_with(
    files: Files,
    who: Who,
    ticket: Ticket,
    ids: list[str],
    *,
    internal: bool = False,
    body: str = "See the attached file.",
) -> dict[str, Any]:
    variables = {
        "input": {
            "ticketId": global_id("Ticket", ticket.id),
            "body": body,
            "internal": internal,
            "attachmentIds": ids,
        }
    }
    result = await files.call(who, ADD_RESPONSE, variables)
    assert "errors" not in result, result
    payload: dict[str, Any] = result["data"]["addResponse"]
    return payload


async def get(files: Files, url: str, headers: dict[str, str] | None = None) -> httpx.Response:
    async with files.client() as client:
        return await client.get(url, headers=headers or {})
