"""Bad input to either upload step gets a clear error and stores nothing: no object, and (for
createAttachmentUpload) no row; a refused PUT leaves the attachment unusable."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import pytest

from resolvers.signing import Purpose, Signer
from tests.api.mutation_helpers import pk_of
from tests.attachments.conftest import PNG, Files, sha256
from tests.attachments.helpers import put_bytes, reply_with, start_upload, upload_input
from tests.factories import World, create_world
from tests.graphql import global_id


@pytest.fixture
async def world(session) -> World:
    return await create_world(session)


def codes(payload: dict[str, Any]) -> list[tuple[str | None, str]]:
    return [(e["field"], e["code"]) for e in payload["userErrors"]]


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"byteSize": 25 * 1024 * 1024 + 1}, ("byteSize", "TOO_LARGE")),
        ({"byteSize": 0}, ("byteSize", "INVALID")),
        ({"contentType": "application/x-msdownload"}, ("contentType", "UNSUPPORTED_TYPE")),
        ({"contentType": "text/html"}, ("contentType", "UNSUPPORTED_TYPE")),
        ({"contentType": "not a type"}, ("contentType", "INVALID")),
        ({"checksumSha256": "abc"}, ("checksumSha256", "INVALID")),
        ({"filename": ""}, ("filename", "REQUIRED")),
        ({"filename": "../../"}, ("filename", "REQUIRED")),
        ({"filename": "invoice\u202egnp.exe"}, ("filename", "INVALID")),
        ({"filename": "a\x00b.png"}, ("filename", "INVALID")),
        ({"filename": "line\nbreak.png"}, ("filename", "INVALID")),
        ({"filename": "zero\u200bwidth.png"}, ("filename", "INVALID")),
        ({"filename": "CON.png"}, ("filename", "INVALID")),
        ({"filename": "lpt1"}, ("filename", "INVALID")),
        ({"filename": "x" * 256}, ("filename", "TOO_LONG")),
        ({"ticketId": global_id("Ticket", 999_999)}, ("ticketId", "NOT_FOUND")),
        ({"ticketId": global_id("Customer", 1)}, ("ticketId", "NOT_FOUND")),
    ],
)
async def test_refused_at_creation(files: Files, world: World, overrides, expected):
    values = upload_input(PNG, ticket=world.ticket) | overrides

    payload = await start_upload(files, world.customer, values)

    assert expected in codes(payload), payload
    assert payload["attachment"] is None
    assert payload["uploadUrl"] is None
    assert all(e["message"] for e in payload["userErrors"])
    assert await files.rows() == []
    assert await files.objects() == []


async def test_another_customers_ticket_is_not_found(files: Files, world: World):
    payload = await start_upload(
        files, world.other_customer, upload_input(PNG, ticket=world.ticket)
    )

    assert codes(payload) == [("ticketId", "NOT_FOUND")]
    assert await files.rows() == []


async def test_another_organization_is_not_found_for_staff(files: Files, world: World):
    values = upload_input(PNG, organization_id=world.org.id)

    payload = await start_upload(files, world.other_agent, values)

    assert codes(payload) == [("organizationId", "NOT_FOUND")]
    assert await files.rows() == []


async def test_neither_or_both_targets_is_refused(files: Files, world: World):
    neither = await start_upload(files, world.customer, upload_input(PNG))
    both = await start_upload(
        files, world.customer, upload_input(PNG, ticket=world.ticket, organization_id=world.org.id)
    )

    assert codes(neither) == [("ticketId", "REQUIRED")]
    assert codes(both) == [("organizationId", "INVALID")]
    assert await files.rows() == []


async def test_path_parts_are_cut_and_windows_characters_replaced(files: Files, world: World):
    values = upload_input(PNG, ticket=world.ticket, filename="C:\\Users\\erin\\my:shot?.png")

    payload = await start_upload(files, world.customer, values)

    assert payload["attachment"]["filename"] == "my_shot_.png"


async def test_a_base64_checksum_is_accepted(files: Files, world: World):
    digest = base64.b64encode(hashlib.sha256(PNG).digest()).decode()
    payload = await start_upload(
        files, world.customer, upload_input(PNG, ticket=world.ticket, checksumSha256=digest)
    )

    assert payload["userErrors"] == []
    assert (await put_bytes(files, payload["uploadUrl"], PNG)).status_code == 200


# --- the PUT -----------------------------------------------------------------------------

ELF = b"\x7fELF\x02\x01\x01" + bytes(200)
PE = b"MZ\x90\x00" + bytes(200)
MACHO = b"\xcf\xfa\xed\xfe" + bytes(200)
SCRIPT = b"#!/bin/sh\nrm -rf ~\n"


async def refused_put(
    files: Files,
    world: World,
    declared: bytes,
    sent: bytes,
    *,
    content_type: str = "image/png",
    headers: dict[str, str] | None = None,
) -> tuple[int, str, str]:
    payload = await start_upload(
        files,
        world.customer,
        upload_input(declared, ticket=world.ticket, content_type=content_type),
    )
    assert payload["userErrors"] == []
    response = await put_bytes(files, payload["uploadUrl"], sent, headers)
    error = response.json()["errors"][0]
    # Nothing stored, and the attachment cannot be used.
    assert await files.objects() == []
    if files.moto is not None:
        assert b"<Upload>" not in files.moto.incomplete_multipart_uploads("helpdesk-test")
    reply = await reply_with(files, world.customer, world.ticket, [payload["attachment"]["id"]])
    assert reply["response"] is None
    assert reply["userErrors"], reply
    return response.status_code, error["extensions"]["code"], error["message"]


@pytest.mark.parametrize(
    ("data", "what"),
    [(ELF, "ELF"), (PE, "PE/MZ"), (MACHO, "Mach-O"), (SCRIPT, "#!")],
)
async def test_executables_are_refused_by_content_whatever_their_name(files, world, data, what):
    status, code, message = await refused_put(files, world, data, data)

    assert (status, code) == (415, "UNSUPPORTED_TYPE")
    assert what in message


async def test_a_type_not_allowed_by_content_is_refused(files: Files, world: World):
    html = b"<!DOCTYPE html><html><script>alert(1)</script></html>"

    status, code, _ = await refused_put(files, world, html, html, content_type="text/plain")

    assert (status, code) == (415, "UNSUPPORTED_TYPE")


async def test_a_checksum_mismatch_is_refused(files: Files, world: World):
    other = bytearray(PNG)
    other[-1] ^= 0xFF

    status, code, _ = await refused_put(files, world, PNG, bytes(other))

    assert (status, code) == (400, "CHECKSUM_MISMATCH")


async def test_a_truncated_body_is_refused(files: Files, world: World):
    big = PNG + bytes(10_000)

    async def short_body():
        yield big[:5000]

    status, code, _ = await refused_put(files, world, big, short_body())

    assert (status, code) == (400, "TRUNCATED")


async def test_a_longer_body_is_refused(files: Files, world: World):
    async def long_body():
        yield PNG
        yield b"more"

    status, code, _ = await refused_put(files, world, PNG, long_body())

    assert (status, code) == (413, "TOO_LARGE")


async def test_a_wrong_content_length_is_refused_before_reading(files: Files, world: World):
    big = PNG + bytes(100)

    status, code, _ = await refused_put(files, world, big, PNG)

    assert (status, code) == (400, "SIZE_MISMATCH")


async def test_a_large_upload_that_fails_at_the_end_stores_nothing(files: Files, world: World):
    """Past S3's 5 MiB part size the store uses a multipart upload; a checksum mismatch found
    only after the last byte must still abort it."""
    data = PNG + bytes(12 * 1024 * 1024)
    payload = await start_upload(
        files,
        world.customer,
        upload_input(data, ticket=world.ticket, checksumSha256=sha256(b"something else")),
    )

    response = await put_bytes(files, payload["uploadUrl"], data)

    assert response.status_code == 400
    assert await files.objects() == []
    if files.moto is not None:
        assert b"<Upload>" not in files.moto.incomplete_multipart_uploads("helpdesk-test")


@pytest.mark.parametrize(
    "mangle",
    [
        lambda url: url[:-1] + ("A" if url[-1] != "A" else "B"),  # signature
        lambda url: url.replace("/upload/", "/upload/9"),  # attachment id
        lambda url: url.rsplit("/", 1)[0] + "/not-a-token",
    ],
    ids=["signature", "attachment-id", "garbage"],
)
async def test_forged_upload_urls_are_not_found(files: Files, world: World, mangle):
    payload = await start_upload(files, world.customer, upload_input(PNG, ticket=world.ticket))

    response = await put_bytes(files, mangle(payload["uploadUrl"]), PNG)

    assert response.status_code == 404
    assert response.json()["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    assert await files.objects() == []


async def test_one_upload_token_cannot_fill_another_attachment(files: Files, world: World):
    mine = await start_upload(files, world.customer, upload_input(PNG, ticket=world.ticket))
    theirs = await start_upload(files, world.agent, upload_input(PNG + b"x", ticket=world.ticket))
    mine_token = mine["uploadUrl"].rsplit("/", 1)[1]
    their_id = theirs["attachment"]["id"]
    # My signature with their attachment id.
    forged = mine["uploadUrl"].replace(mine_token.split(".")[0], str(pk_of(their_id)), 1)

    response = await put_bytes(files, forged, PNG + b"x")

    assert response.status_code == 404
    assert await files.objects() == []


async def test_an_expired_upload_url_is_refused(files: Files, world: World):
    payload = await start_upload(files, world.customer, upload_input(PNG, ticket=world.ticket))
    token = payload["uploadUrl"].rsplit("/", 1)[1]
    signer = Signer(files.app.state.settings.attachment_key())
    attachment_id, _, viewer, _ = token.split(".")
    # A genuine signature whose expiry has passed.
    expired, _ = signer.sign(Purpose.UPLOAD, int(attachment_id), viewer, -10)
    response = await put_bytes(files, f"http://test/attachments/upload/{expired}", PNG)

    assert response.status_code == 403
    assert response.json()["errors"][0]["extensions"]["code"] == "EXPIRED"
    assert await files.objects() == []
