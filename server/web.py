"""Browser pages the API serves itself: GraphiQL and the live dashboard, with every asset
(vendored GraphiQL, React and graphql-ws, and our own scripts) packaged with the app and
loaded with Subresource Integrity under a Content-Security-Policy that allows this origin only.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import html
import json
from pathlib import Path

from starlette.responses import HTMLResponse
from starlette.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).resolve().parent / "static"
VENDOR_MANIFEST = STATIC_DIR / "vendor" / "manifest.json"
# Pages are served at the top level (/graphql, /dashboard), so relative asset paths work
# behind a proxy that mounts the whole app under a prefix.
STATIC_URL = "static/"

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        # GraphiQL and React set inline styles.
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ]
)


def vendor_manifest() -> dict[str, dict[str, object]]:
    """The vendored files: package, version, sha256 and SRI hash of each (clients/vendor.mjs)."""
    files: dict[str, dict[str, object]] = json.loads(VENDOR_MANIFEST.read_text())["files"]
    return files


@functools.cache
def integrity(relative: str) -> str:
    """The SRI hash of a packaged asset (vendored ones are also pinned in the manifest)."""
    data = (STATIC_DIR / relative).read_bytes()
    return "sha384-" + base64.b64encode(hashlib.sha384(data).digest()).decode()


def _script(relative: str) -> str:
    src = html.escape(STATIC_URL + relative)
    return f'<script src="{src}" integrity="{integrity(relative)}"></script>'


def _stylesheet(relative: str) -> str:
    href = html.escape(STATIC_URL + relative)
    return f'<link rel="stylesheet" href="{href}" integrity="{integrity(relative)}">'


def _page(title: str, head: list[str], body: str, scripts: list[str]) -> HTMLResponse:
    document = "\n".join(
        [
            "<!doctype html>",
            '<html lang="en">',
            "<head>",
            '<meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{html.escape(title)}</title>",
            # No favicon request (and no 404 in the console).
            '<link rel="icon" href="data:,">',
            *head,
            "</head>",
            "<body>",
            body,
            *[_script(s) for s in scripts],
            "</body>",
            "</html>",
        ]
    )
    return HTMLResponse(
        document,
        headers={
            "Content-Security-Policy": CONTENT_SECURITY_POLICY,
            "Referrer-Policy": "no-referrer",
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "no-cache",
        },
    )


def graphiql_page() -> HTMLResponse:
    """GraphiQL, working without internet access."""
    return _page(
        "Helpdesk API · GraphiQL",
        [
            _stylesheet("vendor/graphiql.min.css"),
            _stylesheet("graphiql/graphiql.css"),
        ],
        '<div id="graphiql">Loading GraphiQL…</div>',
        [
            "vendor/react.production.min.js",
            "vendor/react-dom.production.min.js",
            "vendor/graphql-ws.min.js",
            "vendor/graphiql.min.js",
            "graphiql/init.js",
        ],
    )


_CARDS = [
    ("stat-open", "Open"),
    ("stat-in-progress", "In progress"),
    ("stat-waiting", "Waiting on customer"),
    ("stat-high-priority", "High priority"),
    ("stat-unassigned", "Unassigned"),
    ("stat-total", "All tickets"),
]

_DASHBOARD_BODY = """<header>
  <h1>Helpdesk · live dashboard</h1>
  <span id="status" data-state="idle">paste a token to start</span>
  <span id="who"></span>
  <form id="token-form" autocomplete="off">
    <input id="token" type="password" placeholder="Bearer token (helpdesk token EMAIL)"
      aria-label="token">
    <button type="submit">Connect</button>
  </form>
</header>
<section class="cards">
{cards}
</section>
<h2>Live events</h2>
<p id="feed-empty">No events yet: they appear here as tickets change.</p>
<ol id="feed"></ol>"""


def dashboard_page() -> HTMLResponse:
    """Stats cards and a live feed of ticket events, over the public API (graphql-ws)."""
    cards = "\n".join(
        f'  <div class="card"><div class="value" id="{id_}">&ndash;</div>'
        f'<div class="label">{label}</div></div>'
        for id_, label in _CARDS
    )
    return _page(
        "Helpdesk · live dashboard",
        [_stylesheet("dashboard/dashboard.css")],
        _DASHBOARD_BODY.format(cards=cards),
        ["vendor/graphql-ws.min.js", "dashboard/dashboard.js"],
    )


def static_files() -> StaticFiles:
    return StaticFiles(directory=STATIC_DIR)
