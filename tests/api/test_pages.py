"""GraphiQL and the dashboard are served with every asset from the package: no external URL,
Subresource Integrity on every tag, hashes pinned in a manifest that matches the lock file."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import tomllib
from pathlib import Path

import pytest

from server.web import STATIC_DIR, vendor_manifest
from tests.conftest import Stack

ROOT = Path(__file__).resolve().parents[2]
HTML = {"Accept": "text/html"}
TAG = re.compile(r"<(?:script|link)\b[^>]*>")
URL_ATTRIBUTE = re.compile(r'\b(?:src|href|action|srcset)="([^"]*)"')


def sri(data: bytes) -> str:
    return "sha384-" + base64.b64encode(hashlib.sha384(data).digest()).decode()


def assets_of(page: str) -> list[tuple[str, str | None]]:
    found = []
    for tag in TAG.findall(page):
        url = re.search(r'(?:src|href)="([^"]*)"', tag)
        integrity = re.search(r'integrity="([^"]*)"', tag)
        if url:
            found.append((url.group(1), integrity.group(1) if integrity else None))
    return found


@pytest.mark.parametrize(("path", "headers"), [("/graphql", HTML), ("/dashboard", {})])
async def test_page_loads_only_packaged_assets_with_integrity(
    stack: Stack, path: str, headers: dict[str, str]
) -> None:
    async with stack.client() as client:
        page = await client.get(path, headers=headers)
        assets = assets_of(page.text)
        served = {url: await client.get(f"/{url}") for url, _ in assets if url != "data:,"}

    assert page.status_code == 200
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert not re.search(r"\bhttps?://|\bwss?://", page.text)
    assert [
        u for u in URL_ATTRIBUTE.findall(page.text) if not u.startswith(("static/", "data:"))
    ] == []
    assert len(assets) >= 3
    for url, integrity in assets:
        if url == "data:,":
            continue
        assert url.startswith("static/"), url
        assert served[url].status_code == 200, url
        assert integrity == sri(served[url].content), url
        assert integrity == sri((STATIC_DIR / url.removeprefix("static/")).read_bytes())


def test_vendored_files_match_their_manifest_and_the_lock_file() -> None:
    manifest = vendor_manifest()
    lock = json.loads((ROOT / "clients" / "package-lock.json").read_text())["packages"]

    assert {"graphiql.min.js", "react.production.min.js", "graphql-ws.min.js"} <= set(manifest)
    for name, entry in manifest.items():
        data = (STATIC_DIR / "vendor" / name).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"], name
        assert sri(data) == entry["integrity"], name
        assert lock[f"node_modules/{entry['package']}"]["version"] == entry["version"], name
    # Pinned exactly, so `npm ci` and `npm run vendor:check` reproduce these bytes.
    package = json.loads((ROOT / "clients" / "package.json").read_text())
    for entry in manifest.values():
        assert package["dependencies"][entry["package"]] == entry["version"]


def test_every_static_file_is_packaged() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = pyproject["tool"]["setuptools"]["package-data"]["server"]
    files = [p.relative_to(STATIC_DIR.parent) for p in STATIC_DIR.rglob("*") if p.is_file()]

    assert len(files) >= 12
    assert [f for f in files if not any(f.match(p) for p in patterns)] == []


async def test_dashboard_is_off_in_production_unless_enabled(stack: Stack) -> None:
    production = {"environment": "production", "dashboard": False, "graphiql": False}
    async with (
        stack.variant(**production) as off,
        stack.variant(**{**production, "dashboard": True}) as on,
    ):
        async with stack.client(app=off) as client:
            hidden = await client.get("/dashboard")
            no_ide = await client.get("/graphql", headers=HTML)
        async with stack.client(app=on) as client:
            shown = await client.get("/dashboard")

    assert hidden.status_code == 404
    assert no_ide.status_code == 404
    assert shown.status_code == 200
    assert 'id="stat-open"' in shown.text


async def test_static_files_cannot_escape_their_folder(stack: Stack) -> None:
    async with stack.client() as client:
        outside = await client.get("/static/../settings.py")
        encoded = await client.get("/static/%2e%2e/settings.py")
        missing = await client.get("/static/vendor/nothing.js")

    assert outside.status_code == 404
    assert encoded.status_code == 404
    assert missing.status_code == 404
