"""Downloads: always a download (never rendered inline), byte ranges, and signed URLs that
are bound to one file and one viewer, expire, and are re-checked when used."""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest
from sqlalchemy import update

from models import TeamMember
from tests.attachments.conftest import PNG, Files
from tests.attachments.helpers import TICKET_FILES, get, reply_with, uploaded
from tests.factories import World, create_world
from tests.graphql import global_id


@pytest.fixture
async def world(session) -> World:
    return await create_world(session)


async def attached_url(
    files: Files, world: World, data: bytes = PNG, *, who=None, internal: bool = False, **kw
) -> str:
    who = who or world.customer
    attachment_id = await uploaded(files, who, data, ticket=world.ticket, **kw)
    reply = await reply_with(files, who, world.ticket, [attachment_id], internal=internal)
    assert reply["userErrors"] == [], reply
    url: str = reply["response"]["attachments"][0]["url"]
    return url


async def test_an_agent_downloads_the_customers_screenshot(files: Files, world: World):
    await attached_url(files, world)
    body = await files.call(world.agent, TICKET_FILES, {"id": global_id("Ticket", world.ticket.id)})
    (attachment,) = body["data"]["ticket"]["attachments"]

    response = await get(files, attachment["url"])

    assert response.status_code == 200
    assert response.content == PNG
    assert response.headers["content-type"] == "image/png"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["content-disposition"].startswith("attachment;")
    assert response.headers["content-length"] == str(len(PNG))
    assert "sandbox" in response.headers["content-security-policy"]


async def test_unicode_names_use_rfc_6266_filename_star(files: Files, world: World):
    name = "Überweisung März 😀 (1).png"
    url = await attached_url(files, world, filename=name)

    disposition = (await get(files, url)).headers["content-disposition"]

    assert f"filename*=UTF-8''{quote(name, safe='')}" in disposition
    fallback = re.search(r'filename="([^"]*)"', disposition)
    assert fallback is not None
    assert fallback.group(1).isascii()


@pytest.mark.parametrize(
    ("data", "declared"),
    [
        (b"<!DOCTYPE html><html><body onload=alert(1)></body></html>", "text/html"),
        (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"></svg>', "image/svg+xml"),
    ],
)
async def test_html_and_svg_are_never_served_inline(files: Files, world: World, data, declared):
    settings = files.app.state.settings
    from dataclasses import replace

    async with files.stack.variant(
        **{
            f: getattr(settings, f)
            for f in (
                "attachment_storage_url",
                "attachment_s3_endpoint",
                "attachment_s3_region",
                "aws_access_key_id",
                "aws_secret_access_key",
            )
        },
        attachment_cleanup_interval_seconds=0,
        attachment_allowed_types=(*settings.attachment_allowed_types, "text/html", "image/*"),
    ) as app:
        permissive = replace(files, app=app)
        url = await attached_url(
            permissive, world, data, filename="page.html", content_type=declared
        )
        response = await get(permissive, url)

    assert response.status_code == 200
    assert response.content == data
    assert response.headers["content-type"] == "application/octet-stream"
    assert "html" not in response.headers["content-type"]
    assert response.headers["content-disposition"].startswith("attachment;")
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_the_sniffed_type_is_served_not_the_declared_one(files: Files, world: World):
    # Declared as a PDF, but the bytes are a PNG.
    url = await attached_url(files, world, PNG, content_type="application/pdf")

    assert (await get(files, url)).headers["content-type"] == "image/png"


@pytest.mark.parametrize(
    ("header", "start", "end"),
    [("bytes=0-9", 0, 10), ("bytes=10-", 10, None), ("bytes=-5", -5, None), ("bytes=3-3", 3, 4)],
)
async def test_byte_ranges(files: Files, world: World, header, start, end):
    data = PNG + bytes(range(200))
    url = await attached_url(files, world, data)

    response = await get(files, url, {"Range": header})

    assert response.status_code == 206
    expected = data[start:end]
    assert response.content == expected
    first = start % len(data)
    assert response.headers["content-range"] == (
        f"bytes {first}-{first + len(expected) - 1}/{len(data)}"
    )
    assert response.headers["content-disposition"].startswith("attachment;")


@pytest.mark.parametrize("header", ["bytes=5000-", "bytes=9-3", "bytes=-0"])
async def test_unsatisfiable_ranges_are_416(files: Files, world: World, header):
    url = await attached_url(files, world)

    response = await get(files, url, {"Range": header})

    assert response.status_code == 416
    assert response.headers["content-range"] == f"bytes */{len(PNG)}"
    assert response.content == b""


async def test_a_malformed_range_gets_the_whole_file(files: Files, world: World):
    url = await attached_url(files, world)

    response = await get(files, url, {"Range": "bytes=0-1,5-6"})

    assert response.status_code == 200
    assert response.content == PNG


@pytest.mark.parametrize(
    "mangle",
    [
        lambda url: url[:-1] + ("A" if url[-1] != "A" else "B"),
        lambda url: re.sub(r"/attachments/(\d+)/", lambda m: f"/attachments/{int(m[1]) + 1}/", url),
        lambda url: re.sub(r"\.c(\d+)\.", lambda m: f".c{int(m[1]) + 1}.", url),
        lambda url: re.sub(r"/(\d+)\.([cm]\d+)\.", lambda m: f"/{int(m[1]) + 999}.{m[2]}.", url),
        lambda url: url.rsplit("/", 1)[0] + "/garbage",
        lambda url: re.sub(r"/attachments/\d+/", "/attachments/abc/", url),
    ],
    ids=["signature", "attachment-id", "viewer", "expiry", "garbage", "non-numeric-id"],
)
async def test_tampered_download_urls_are_not_found(files: Files, world: World, mangle):
    url = await attached_url(files, world)
    # A second file, so a changed id points at something real.
    await attached_url(files, world, PNG + b"second")

    tampered = mangle(url)
    assert tampered != url
    response = await get(files, tampered)

    assert response.status_code == 404
    assert response.json()["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    assert PNG not in response.content


async def test_an_expired_download_url_is_refused(files: Files, world: World):
    from resolvers.signing import Purpose, Signer

    url = await attached_url(files, world)
    attachment_id, signature = url.rsplit("/", 2)[-2:]
    viewer = signature.split(".")[1]
    signer = Signer(files.app.state.settings.attachment_key())
    expired, _ = signer.sign(Purpose.DOWNLOAD, int(attachment_id), viewer, -1)

    response = await get(files, f"http://test/attachments/{expired.replace('.', '/', 1)}")

    assert response.status_code == 403
    assert response.json()["errors"][0]["extensions"]["code"] == "EXPIRED"


async def test_an_upload_token_is_no_download_token(files: Files, world: World):
    from tests.attachments.helpers import start_upload, upload_input

    payload = await start_upload(files, world.customer, upload_input(PNG, ticket=world.ticket))
    token = payload["uploadUrl"].rsplit("/", 1)[1]

    response = await get(files, f"http://test/attachments/{token.replace('.', '/', 1)}")

    assert response.status_code == 404


async def test_a_deactivated_members_url_stops_working(files: Files, world: World, session):
    url = await attached_url(files, world, who=world.agent)
    assert (await get(files, url)).status_code == 200

    await session.execute(
        update(TeamMember).where(TeamMember.id == world.agent.id).values(is_active=False)
    )
    await session.commit()

    response = await get(files, url)
    assert response.status_code == 404
    assert PNG not in response.content


async def test_expires_in_is_bounded(files: Files, world: World):
    await attached_url(files, world)
    query = "query($id: ID!, $s: Int!) { ticket(id: $id) { attachments { url(expiresIn: $s) } } }"

    for seconds in (0, 3601, -5):
        body = await files.call(
            world.customer, query, {"id": global_id("Ticket", world.ticket.id), "s": seconds}
        )
        assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
